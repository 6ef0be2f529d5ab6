"""The configuration reference is generated from the code, and lists everything a real
pytest session registers: every flag and ini key, marker, fixture, plugin name and hook."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Literal

import pytest

from pytest_tempo.cli import main
from pytest_tempo.load.profiles import PROFILE_NAMES
from pytest_tempo.reference import (
    PLACEHOLDER,
    fill_reference,
    fixture_docs,
    markdown_of,
    option_rows,
    render_reference,
)
from pytest_tempo.settings import DIST_MODES, HYGIENE_MODES, OPTIONS, ORDER_MODES

from .conftest import HAS_XDIST

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest import Parser

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGE = (DOCS / "reference.md").read_text()


def _docs_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tempo_docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built_page() -> str:
    """The reference page as the docs build turns it into HTML: through the MkDocs hook."""
    page = SimpleNamespace(file=SimpleNamespace(src_uri="reference.md"))
    built: str = _docs_hook().on_page_markdown(PAGE, page=page, config={}, files=[])
    return built


def _section(markdown: str, title: str) -> list[list[str]]:
    """The rows of the table under ``## title``, as lists of cells, header dropped."""
    _, found, rest = ("\n" + markdown).partition(f"\n## {title}\n")
    assert found, f"no section {title!r}"
    rows = []
    for line in rest.splitlines():
        if line.startswith("## "):
            break
        if line.startswith("| "):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows[1:]


def _code(cell: str) -> str:
    """The first code span of a cell: `--slow-report=N` (repeatable) -> --slow-report=N."""
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1) if match else ""


def _first_column(markdown: str, title: str) -> list[str]:
    return [_code(row[0]) for row in _section(markdown, title)]


# --- what a real pytest session registers ---------------------------------------------------


class _KeepParser:
    """A plugin that keeps the parser pytest hands to every pytest_addoption."""

    parser: Parser | None = None

    def pytest_addoption(self, parser: Parser) -> None:
        self.parser = parser


def _registered_options(pytester: pytest.Pytester, *args: str) -> tuple[set[str], set[str]]:
    """The flags of the "tempo" group and every ini key, of a session run with ``args``."""
    keep = _KeepParser()
    pytester.plugins.append(keep)
    pytester.parseconfig(*args)
    pytester.plugins.remove(keep)
    assert keep.parser is not None
    flags = {
        name.partition("=")[0]
        for option in keep.parser.getgroup("tempo").options
        for name in option.names()
    }
    # The ini keys have no public listing; _inidict is the parser's table of them (pytest 8
    # and 9, _pytest/config/argparsing.py).
    return flags, set(keep.parser._inidict)


def test_options_table_matches_the_registered_options(pytester: pytest.Pytester) -> None:
    flags, ini_keys = _registered_options(pytester)
    _, other_ini_keys = _registered_options(pytester, "-p", "no:tempo")
    ours = ini_keys - other_ini_keys
    assert flags
    assert ours

    rows = _section(render_reference(), "Options")
    table_flags = {_code(row[0]).partition("=")[0] for row in rows if row[0]}
    table_ini = {_code(row[1]) for row in rows if row[1]}
    # Both ways: an option without a row, or a row for an option that does not exist, fails.
    assert table_flags == flags
    assert table_ini == ours


@pytest.mark.parametrize("row", option_rows(), ids=[o.field for o in OPTIONS])
def test_every_option_row_is_complete(row: list[str]) -> None:
    flag, ini, kind, default, description, example = row
    assert flag or ini
    for cell in (kind, default, description, example):
        assert cell.strip()
    assert description.endswith(".")
    assert example.startswith("`")
    assert example.endswith("`")
    # The example uses the option itself.
    assert (flag and _code(flag).partition("=")[0] in example) or (ini and _code(ini) in example)


@pytest.mark.parametrize(
    ("field", "choices"),
    [
        ("order", ORDER_MODES),
        ("dist", DIST_MODES),
        ("hygiene", HYGIENE_MODES),
        ("load_profile", PROFILE_NAMES),
    ],
    ids=["order", "dist", "hygiene", "load_profile"],
)
def test_choice_options_name_every_choice(field: str, choices: Sequence[str]) -> None:
    (option,) = (o for o in OPTIONS if o.field == field)
    assert re.findall(r"`([^`]+)`", option.kind) == list(choices)


def test_help_shows_the_description_and_the_default(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    # argparse and pytest wrap the help at any blank and after hyphens: compare without them.
    shown = re.sub(r"\s", "", result.stdout.str())
    for option in OPTIONS:
        assert re.sub(r"\s", "", option.help_text) in shown
        assert option.help_text.endswith(f" Default: {option.default_text.replace('`', '')}.")
    assert "Default: 1.0." in result.stdout.str()  # --slow-threshold


def test_markers_table_matches_the_registered_markers(pytester: pytest.Pytester) -> None:
    def names(*args: str) -> set[str]:
        lines = pytester.parseconfigure(*args).getini("markers")
        return {re.split(r"[:(]", line, maxsplit=1)[0].strip() for line in lines}

    ours = names() - names("-p", "no:tempo")
    assert ours == set(_first_column(render_reference(), "Markers"))


def _session_fixtures(pytester: pytest.Pytester) -> dict[str, str]:
    """Name -> scope of the fixtures a real session has from pytest-tempo (``--fixtures``)."""
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--fixtures")
    assert result.ret == 0
    found: dict[str, str] = {}
    ours = False
    for line in result.stdout.lines:
        header = re.match(r"-+ fixtures defined from (\S+) -+$", line)
        if header:
            ours = header.group(1).startswith("pytest_tempo")
            continue
        fixture = re.match(r"(\w+)(?: \[(\w+) scope\])? -- ", line)
        if ours and fixture:
            found[fixture.group(1)] = fixture.group(2) or "function"
    return found


def test_fixtures_table_matches_the_session(pytester: pytest.Pytester) -> None:
    session = _session_fixtures(pytester)
    assert "worker_database" in session
    assert "load_test" in session
    assert {f.name: f.scope for f in fixture_docs()} == session
    table = {_code(row[0]): row[1] for row in _section(render_reference(), "Fixtures")}
    assert table == session
    for doc in fixture_docs():
        assert doc.text.strip(), f"{doc.name} has no docstring"


def test_plugin_names_table_matches_the_registered_plugins(pytester: pytest.Pytester) -> None:
    # Every conditional feature on: floors, a shard, duration scheduling, a load profile and
    # the HTML page.
    config = pytester.parseconfigure(
        "--cov-floor=total:0",
        "--shard=1/1",
        "--tempo-dist=duration",
        "--load-profile=smoke",
        "--tempo-html=page.html",
        "-p",
        "no:terminal",
    )
    # Without the terminal reporter, the timing registers its hook per report at the start
    # of the session.
    timing = config.pluginmanager.get_plugin("tempo-timing")
    assert timing is not None
    timing.pytest_sessionstart(SimpleNamespace(config=config))
    # Without the timing, hygiene registers wrappers of its own.
    untimed = pytester.parseconfigure("-p", "no:tempo-timing")
    registered = {
        name
        for manager in (config.pluginmanager, untimed.pluginmanager)
        for name, obj in manager.list_name_plugin()
        if obj is not None and name.split("-")[0] == "tempo"
    }
    table = set(_first_column(render_reference(), "Plugin names"))
    if not HAS_XDIST:
        table -= {"tempo-xdist", "tempo-scheduling"}
    assert registered == table


def test_hooks_table_matches_the_registered_hooks(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    hooks = vars(config.pluginmanager.hook)
    ours = {name for name in hooks if name.startswith("pytest_tempo_")}
    table = {_code(row[0]).partition("(")[0] for row in _section(render_reference(), "Hooks")}
    assert ours == table == {"pytest_tempo_build_template"}


# --- the page the docs build makes ---------------------------------------------------------


def test_built_page_has_every_name_and_keeps_the_introduction() -> None:
    built = _built_page()
    assert PLACEHOLDER not in built
    assert built.startswith(PAGE.partition(PLACEHOLDER)[0])
    for option in OPTIONS:
        if option.flag:
            assert f"`{option.flag}" in built
        if option.ini:
            assert f"`{option.ini}`" in built
    for section in ("Markers", "Fixtures", "Plugin names", "Hooks"):
        names = _first_column(render_reference(), section)
        assert names
        assert all(f"| `{name}" in built for name in names)


def test_hook_leaves_other_pages_alone() -> None:
    page = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    text = f"# Quick start\n{PLACEHOLDER}\n"
    assert _docs_hook().on_page_markdown(text, page=page, config={}, files=[]) == text


@pytest.mark.parametrize("text", ["# Reference\n", f"{PLACEHOLDER}\n{PLACEHOLDER}\n"])
def test_fill_reference_needs_one_placeholder(text: str) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        fill_reference(text)


def test_cli_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference"]) == 0
    assert capsys.readouterr().out == render_reference()


def test_docs_nav_lists_every_page() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == set(re.findall(r": (\S+\.md)$", nav, flags=re.MULTILINE))


# --- docstrings to Markdown ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("docstring", "markdown"),
    [
        ("The ``db_url`` of\n    the run.", "The `db_url` of the run."),
        ("Returns :class:`~pytest_tempo.load.locust.LoadMetrics`.", "Returns `LoadMetrics`."),
        ("See :func:`pytest_tempo.workers.db_name`.", "See `pytest_tempo.workers.db_name`."),
        ("See :ref:`the guide <guide-target>`.", "See `the guide`."),
        ("One.\n\nTwo.", "One. Two."),
        ("Use it::\n\n    code()\n\nMore.", ""),
        ("Summary.\n\nExample::\n\n    code()\n", "Summary."),
        (None, ""),
    ],
)
def test_markdown_of(docstring: str | None, markdown: str) -> None:
    assert markdown_of(docstring) == markdown


def test_render_refuses_a_plugin_name_without_description(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_tempo import plugin

    monkeypatch.setattr(plugin, "EXTRA", "tempo-extra", raising=False)
    with pytest.raises(ValueError, match="tempo-extra"):
        render_reference()


def test_fixture_docs_skip_fixtures_imported_from_elsewhere() -> None:
    from pytest_tempo.databases import fixtures

    source = SimpleNamespace(__name__="elsewhere", tempo_worker=fixtures.tempo_worker)
    assert fixture_docs([source]) == []


def _dynamic_scope(fixture_name: str, config: pytest.Config) -> Literal["session"]:
    return "session"


def test_fixture_docs_dynamic_scope() -> None:
    @pytest.fixture(scope=_dynamic_scope)
    def dynamic() -> int:
        """Picks its scope at run time."""
        return 1

    source = SimpleNamespace(__name__=__name__, dynamic=dynamic)
    assert fixture_docs([source])[0][:2] == ("dynamic", "dynamic")
