"""The configuration reference, rendered from the definitions in the code.

Every table comes from the object that defines what it lists, so the reference cannot drift
from the code: options from :data:`pytest_tempo.options.OPTIONS`, markers from
:data:`pytest_tempo.markers.MARKERS`, fixtures from the fixture functions themselves (scope
and docstring), plugin names from the constants in :mod:`pytest_tempo.plugin`, hooks from
the hook specifications. The docs build fills the page with :func:`fill_reference`;
``pytest-tempo reference`` prints the same tables.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from . import plugin
from .databases import fixtures as database_fixtures
from .databases import hookspecs
from .load.hooks import LoadHooks
from .markers import MARKERS
from .settings import OPTIONS, Option

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = [
    "PLACEHOLDER",
    "FixtureDoc",
    "fill_reference",
    "fixture_docs",
    "plugin_names",
    "render_reference",
]

#: The comment in ``docs/reference.md`` that the rendered tables replace.
PLACEHOLDER = "<!-- tempo-reference -->"

#: Where the fixtures are defined: modules and plugin classes. A fixture defined anywhere
#: else is missing from the reference, which the test suite catches.
FIXTURE_SOURCES: tuple[object, ...] = (database_fixtures, LoadHooks)

#: The name of the whole plugin: its ``pytest11`` entry point.
ENTRY_POINT = "tempo"

#: What each plugin does, by the name it is registered under (the upper-case ``tempo-*``
#: constants of :mod:`pytest_tempo.plugin`). A name without a line here stops the render.
PLUGIN_FEATURES: dict[str, str] = {
    ENTRY_POINT: "the whole plugin: `-p no:tempo` turns every feature off",
    plugin.ORDERING: "ordering: smoke first, slow last (`--tempo-order`)",
    plugin.TYPES: "test types: markers from the path of the test file (`test_types`)",
    plugin.COVERAGE: "coverage floors (registered only when floors are configured)",
    plugin.TIMING: "the Slow Tests Report, the durations store and the `--tempo-html` page",
    plugin.TIMING_REPORTS: "the timing's hook per test report, registered only where pytest's "
    "terminal reporter does not keep the reports: on pytest-xdist workers, with `-p no:terminal`",
    plugin.SUMMARY: 'the "test types" summary: tests, outcomes and seconds per test type',
    plugin.XDIST: "ships the recorded durations to pytest-xdist workers, so every worker "
    "orders alike (registered only with pytest-xdist)",
    plugin.SCHEDULING: "`--tempo-dist=duration` (registered only with it and pytest-xdist)",
    plugin.SHARDING: "`--shard` (registered only with it)",
    plugin.DATABASES: "per-worker databases and Redis namespaces: the fixtures above",
    plugin.LOAD: 'load tests: k6 items, the `load_test` fixture, the "load" summary',
    plugin.LOAD_REPORTS: "reads load tests' metrics off their reports (registered only with "
    "`--load-profile`)",
    plugin.LOAD_PAGE: "each load test over time and against its baseline, on the `--tempo-html` "
    "page and in `--slow-report-json` (registered only with `--load-profile` and one of them)",
    plugin.HYGIENE: "hygiene checks and their section (registered unless `tempo_hygiene = off`)",
    plugin.HYGIENE_CALLS: "hygiene's wrappers of a test's call and fixture set-ups, which "
    "notice a bare `pytest.skip()` (registered only with `-p no:tempo-timing`: the timing's "
    "wrappers tell hygiene otherwise)",
    plugin.ADVICE: 'the "advice" section: fixture scope, sleeping tests, what `-n` buys, '
    "tests that got slower, flaky tests (registered unless `tempo_advice = off`)",
    "tempo-sections": "writes the features' sections after pytest's summary, in one order",
    plugin.CLOSING: "repeats failed gates and the files written in the last lines before "
    "pytest's summary line",
    plugin.SIGNALS: "SIGTERM and SIGHUP stop the run with the clean-up of Ctrl-C, then exit "
    "with 128 + the signal (143, 129)",
}


class FixtureDoc(NamedTuple):
    """One fixture as the reference shows it."""

    name: str
    scope: str
    text: str


# --- from reStructuredText docstrings to Markdown -----------------------------------------

_LITERAL = re.compile(r"``(.+?)``")
_ROLE = re.compile(r":[a-z:]+:`(~?)([^`<]+?)(\s*<[^>]*>)?`")


def _role_text(match: re.Match[str]) -> str:
    """:role:`a.b.C` as `a.b.C`, :role:`~a.b.C` as `C` (as Sphinx shows it), and
    :role:`text <target>` as `text`."""
    tilde, target, explicit = match.groups()
    if tilde and not explicit:
        target = target.rsplit(".", 1)[-1]
    return f"`{target.strip()}`"


def markdown_of(docstring: str | None) -> str:
    """The prose of a docstring as one Markdown paragraph: its paragraphs up to the first
    code block, joined, with ``literal`` and :role:`target` written as code spans."""
    paragraphs = []
    for block in inspect.cleandoc(docstring or "").split("\n\n"):
        if not block.strip() or block.startswith(" "):
            break
        text = " ".join(line.strip() for line in block.splitlines())
        if text.endswith("::"):
            break
        paragraphs.append(text)
    text = _ROLE.sub(_role_text, " ".join(paragraphs))
    return _LITERAL.sub(r"`\1`", text)


# --- what the tables list ------------------------------------------------------------------


def _fixture_marker(obj: object) -> Any:
    """pytest's marker of a fixture function, or None for anything else.

    pytest 8.4 and later wrap the function in a ``FixtureFunctionDefinition`` that keeps the
    marker as ``_fixture_function_marker``; pytest 8.0 to 8.3 set ``_pytestfixturefunction``
    on a wrapper function (``_pytest/fixtures.py``). Both keep the function's docstring. The
    test suite checks the names and scopes found here against a real session.
    """
    for attribute in ("_fixture_function_marker", "_pytestfixturefunction"):
        marker = getattr(obj, attribute, None)
        if marker is not None:
            return marker
    return None


def fixture_docs(sources: Iterable[object] = FIXTURE_SOURCES) -> list[FixtureDoc]:
    """The fixtures defined in ``sources`` (modules and classes), in definition order."""
    found = []
    for source in sources:
        home = getattr(source, "__name__", "")
        if inspect.isclass(source):
            home = source.__module__
        for attribute, obj in vars(source).items():
            marker = _fixture_marker(obj)
            if marker is None or getattr(obj, "__module__", None) != home:
                continue
            scope = marker.scope if isinstance(marker.scope, str) else "dynamic"
            found.append(FixtureDoc(marker.name or attribute, scope, markdown_of(obj.__doc__)))
    return found


def plugin_names() -> list[str]:
    """``tempo`` and the names the feature plugins are registered under, in plugin.py's order."""
    names = [ENTRY_POINT]
    for constant, value in vars(plugin).items():
        if constant.isupper() and isinstance(value, str) and value.startswith("tempo-"):
            names.append(value)
    return names


def _hooks() -> Iterator[tuple[str, str]]:
    for name in hookspecs.__all__:
        spec = getattr(hookspecs, name)
        params = ", ".join(inspect.signature(spec).parameters)
        yield f"{name}({params})", markdown_of(spec.__doc__)


# --- rendering -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def flag_text(option: Option) -> str:
    """``--slow-threshold=SECONDS``, ``--slow-strict``, or "" for an ini-only option."""
    if option.flag is None:
        return ""
    shown = f"`{option.flag}`" if option.metavar is None else f"`{option.flag}={option.metavar}`"
    return shown + " (repeatable)" if option.action == "append" else shown


def option_rows() -> list[list[str]]:
    """flag, ini key, type, default, description, example: one row per option."""
    return [
        [
            flag_text(option),
            f"`{option.ini}`" if option.ini else "",
            option.kind,
            option.default_text,
            option.help,
            option.example,
        ]
        for option in OPTIONS
    ]


def render_reference() -> str:
    """The reference tables in Markdown: options, markers, fixtures, plugin names, hooks."""
    unknown = [name for name in plugin_names() if name not in PLUGIN_FEATURES]
    if unknown:
        raise ValueError(f"plugin names without a description in PLUGIN_FEATURES: {unknown}")
    lines = ["## Options", ""]
    header = ["flag", "ini key", "type", "default", "description", "example"]
    lines += _table(header, option_rows())
    lines += ["", "## Markers", ""]
    lines += _table(["marker", "description"], ([f"`{n}`", t] for n, t in MARKERS.items()))
    lines += ["", "## Fixtures", ""]
    rows = ([f"`{f.name}`", f.scope, f.text] for f in fixture_docs())
    lines += _table(["fixture", "scope", "gives"], rows)
    lines += ["", "## Plugin names", ""]
    rows = ([f"`{name}`", PLUGIN_FEATURES[name]] for name in plugin_names())
    lines += _table(["name", "feature"], rows)
    lines += ["", "## Hooks", ""]
    lines += _table(["hook", "does"], ([f"`{s}`", t] for s, t in _hooks()))
    return "\n".join(lines) + "\n"


def fill_reference(markdown: str) -> str:
    """``markdown`` with :data:`PLACEHOLDER` replaced by the rendered tables."""
    if markdown.count(PLACEHOLDER) != 1:
        raise ValueError(f"the reference page must contain {PLACEHOLDER} exactly once")
    return markdown.replace(PLACEHOLDER, render_reference().rstrip("\n"))
