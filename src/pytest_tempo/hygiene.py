"""Hygiene: skips and xfails without a reason, xfails that are not strict, markers that are
not registered, and parametrize ids pytest could not make readable.

The pure part takes plain data: :func:`mark_problems` judges one mark (its name, args and
kwargs), :func:`unreadable_args` one parametrized id, :class:`Tally` counts findings once
each, and :func:`render_terminal` / :func:`render_markdown` show them. :class:`HygienePlugin`
is the thin layer over pytest.

Where the findings come from:

- Collection findings (marks, ids) are computed where tests are collected: the only process
  without pytest-xdist, each worker with it. A worker ships them as plain data through
  ``config.workeroutput``; the controller merges them in ``pytest_testnodedown``. Each worker
  collects the whole suite, so merging keeps one of each.
- Run-time findings (``pytest.skip()`` and ``pytest.xfail()`` with no reason) are noticed in a
  ``pytest_runtest_makereport`` wrapper where the test runs and attached to the report as
  plain data, which pytest-xdist carries to the controller (it serialises
  ``report.__dict__``); the controller counts them in ``pytest_runtest_logreport``.

What pytest does, checked against pytest 9.2 and 8.4 (``_pytest/skipping.py``,
``_pytest/mark/structures.py``, ``_pytest/main.py``, ``_pytest/python.py``):

- ``skipif``/``xfail`` with a condition and no ``reason``: a bool condition is an error when
  the test runs ("you need to specify reason=STRING"), so it is left to pytest; a string
  condition gets the reason ``condition: <the condition>``, which says when, not why, and is
  reported here.
- The default of ``xfail(strict=...)`` is the ini ``xfail_strict`` (``strict_xfail`` is its
  pytest 9 name), and on pytest 9 the ini ``strict`` when that is unset.
- Unknown markers are an error under ``--strict-markers`` (pytest 8: the options
  ``strict_markers`` or ``strict``; pytest 9: the ini ``strict_markers``, which the flag sets,
  else the ini ``strict``), so the marker check is silent then.
- An id part pytest cannot make from a value is ``argname + index`` (``IdMaker``
  ``_idval_from_argname``); on pytest 9 strings over 100 characters get one too. The parts
  of a test's id are ``item.callspec.id`` split on ``-``. (``callspec.indices`` is no
  help: pytest renumbers it across the whole function, ``_recompute_direct_params_indices``.)
- A skip mark is raised as ``pytest.skip.Exception`` from ``_pytest/skipping.py``; a skip in a
  fixture gets the same ``_use_item_location`` flag (``_pytest/fixtures.py``), so a call is
  told from a mark by the module that raised it, not by that flag.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import pytest

from .step_summary import append_step_summary, md_cell

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Mapping, Sequence
    from types import TracebackType

    from pytest import CallInfo, Config, Item, Session, TerminalReporter, TestReport

    from .settings import HygieneMode

__all__ = [
    "RULES",
    "CollectionScan",
    "Finding",
    "HygienePlugin",
    "Tally",
    "bare_skip_message",
    "describe",
    "explicit_id",
    "mark_problems",
    "markers_strict",
    "merge",
    "natural_id",
    "raise_site",
    "registered_markers",
    "relative",
    "render_markdown",
    "render_terminal",
    "summary_line",
    "unreadable_args",
    "xfail_strict_default",
]

Rule = Literal["reason", "strict", "marker", "ids"]
#: The rules in the order they are shown, with their titles.
RULES: dict[Rule, str] = {
    "reason": "skips and xfails without a reason",
    "strict": "xfails that are not strict",
    "marker": "markers that are not registered",
    "ids": "parametrized tests with unreadable ids",
}
#: The rules as counted in the last line.
SHORT: dict[Rule, str] = {
    "reason": "without a reason",
    "strict": "not strict",
    "marker": "not registered",
    "ids": "unreadable ids",
}
#: The key of the collection findings in a worker's workeroutput.
WORKEROUTPUT_KEY = "tempo_hygiene"
#: The attribute of a test report that says the test called pytest.skip()/xfail() bare.
REPORT_ATTR = "tempo_hygiene"
#: How many example tests a finding keeps.
EXAMPLES = 2
#: Longest condition text shown for a skipif/xfail string condition.
CONDITION_WIDTH = 40


@dataclass(frozen=True)
class Finding:
    """One problem, listed once, with how many tests it affects.

    ``location`` is a node id (a test, its function, class or module) for a mark, or
    ``path:line`` for a call; ``path`` and ``line`` (1-based) place it for sorting.
    """

    rule: Rule
    location: str
    what: str
    path: str = ""
    line: int = 0
    tests: int = 0
    examples: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.location, self.what)

    def to_plain(self) -> list[Any]:
        return [
            self.rule,
            self.location,
            self.what,
            self.path,
            self.line,
            self.tests,
            list(self.examples),
        ]

    @classmethod
    def from_plain(cls, value: object) -> Finding | None:
        """The finding of :meth:`to_plain`; None for anything else."""
        if not isinstance(value, (list, tuple)) or len(value) != 7:
            return None
        rule, location, what, path, line, tests, examples = value
        if (
            rule not in RULES
            or not all(isinstance(s, str) for s in (location, what, path))
            or not all(isinstance(n, int) for n in (line, tests))
            or not isinstance(examples, (list, tuple))
        ):
            return None
        return cls(
            rule,
            location,
            what,
            path,
            line,
            tests,
            tuple(str(e) for e in examples[:EXAMPLES]),
        )


def _sort_key(finding: Finding) -> tuple[int, str, int, str, str]:
    rule_index = list(RULES).index(finding.rule)
    return (rule_index, finding.path, finding.line, finding.location, finding.what)


class Tally:
    """Findings counted once per key (rule, location, what), each test counted once."""

    def __init__(self) -> None:
        # key -> [path, line, tests, examples, last test counted]
        self._entries: dict[tuple[Rule, str, str], list[Any]] = {}

    def add(
        self, rule: Rule, location: str, what: str, test: str, path: str = "", line: int = 0
    ) -> None:
        """Count ``test`` under the finding (a test already counted last is not counted again)."""
        key = (rule, location, what)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = [path, line, 1 if test else 0, [test] if test else [], test]
            return
        if not test or entry[4] == test:
            return
        entry[2] += 1
        entry[4] = test
        if len(entry[3]) < EXAMPLES:
            entry[3].append(test)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def findings(self) -> list[Finding]:
        return [
            Finding(rule, location, what, path, line, tests, tuple(examples))
            for (rule, location, what), (path, line, tests, examples, _) in self._entries.items()
        ]


def merge(*groups: Iterable[Finding]) -> list[Finding]:
    """One finding per key, in the order shown; a key seen twice (one per xdist worker, which
    all collect the whole suite) keeps the count of the one that saw the most tests."""
    merged: dict[tuple[str, str, str], Finding] = {}
    for group in groups:
        for finding in group:
            seen = merged.get(finding.key)
            if seen is None or finding.tests > seen.tests:
                merged[finding.key] = finding
    return sorted(merged.values(), key=_sort_key)


# --- judging marks, ids and reports (plain data) ---------------------------------------------


def _blank(reason: object) -> bool:
    return reason is None or (isinstance(reason, str) and not reason.strip())


def _conditions(args: Sequence[object], kwargs: Mapping[str, object]) -> tuple[object, ...]:
    """The conditions of a skipif/xfail mark, as pytest reads them."""
    if "condition" in kwargs:
        return (kwargs["condition"],)
    return tuple(args)


def _shorten(text: str, width: int = CONDITION_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _may_hold(condition: object) -> bool:
    """Whether a skipif/xfail condition may be true: a string is evaluated only when the
    test runs, so it may; any other value is true or not now."""
    if isinstance(condition, str):
        return True
    try:
        return bool(condition)
    except Exception:  # pytest fails the test on such a condition; say it may
        return True


def _shown(condition: object) -> str:
    if isinstance(condition, str):
        return repr(_shorten(condition))
    return repr(condition) if isinstance(condition, bool) else "..."


def _reason_problem(name: str, args: Sequence[object], kwargs: Mapping[str, object]) -> str:
    """How a skip, skipif or xfail mark lacks a reason ("" when it has one, or when a
    missing reason cannot matter)."""
    if name == "skip":
        reason = kwargs.get("reason", args[0] if args else None)
        return "@pytest.mark.skip" if _blank(reason) else ""
    conditions = _conditions(args, kwargs)
    reason = kwargs.get("reason")
    if not conditions:
        return f"@pytest.mark.{name}" if _blank(reason) else ""
    if not _blank(reason):
        return ""
    if reason is None and not all(isinstance(c, str) for c in conditions):
        # A condition that is not a string without a reason: pytest fails the test itself.
        return ""
    if not any(_may_hold(c) for c in conditions):
        # reason="" with false conditions (such as reason=PROBLEM or ""): it never applies.
        return ""
    shown = ", ".join(_shown(c) for c in conditions)
    if reason is not None:
        shown += f", reason={reason!r}"
    return f"@pytest.mark.{name}({shown})"


def mark_problems(
    name: str,
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    registered: frozenset[str] | None,
    xfail_strict: bool,
) -> list[tuple[Rule, str]]:
    """The (rule, what) problems of one mark.

    ``registered``: the registered marker names, or None when pytest enforces them itself
    (strict markers). ``xfail_strict``: the default of ``xfail(strict=...)``.
    """
    problems: list[tuple[Rule, str]] = []
    if name in ("skip", "skipif", "xfail"):
        what = _reason_problem(name, args, kwargs)
        if what:
            problems.append(("reason", what))
    if name == "xfail" and kwargs.get("run", True):
        strict = kwargs.get("strict")
        if strict is None:
            strict = xfail_strict
        if not strict:
            said = "(strict=False)" if "strict" in kwargs else ""
            problems.append(("strict", f"@pytest.mark.xfail{said}"))
    if registered is not None and name not in registered:
        problems.append(("marker", f"@pytest.mark.{name}"))
    return problems


def natural_id(value: object) -> str | None:
    """The id pytest makes from a value by itself (``IdMaker._idval_from_value``), or None
    when it makes none (then the id part is ``argname + index``).

    Non-ASCII text is escaped by pytest; the escaped form can never equal the ASCII
    ``argname + index`` it is compared with, so it is not reproduced here.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("ascii", "backslashreplace")
    if value is None or isinstance(value, (bool, int, float, complex)):
        return str(value)
    if isinstance(value, re.Pattern):
        return natural_id(value.pattern)
    if isinstance(value, enum.Enum):
        # pytest's NOTSET sentinel is an Enum that gets no id; its str() is never an argname.
        return str(value)
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else None


def unreadable_args(call_id: str, params: Mapping[str, object]) -> dict[str, int]:
    """The arguments whose part of a parametrized test's id is pytest's fallback
    ``argname + index`` (``a0`` in ``test_x[a0-b1]``: pytest could not render the value),
    with that index (the position in the ``parametrize`` values).

    A part that is the value's own rendering (the string ``"a0"``) is readable. The index
    is read from the part: ``callspec.indices`` numbers every test of the function instead.
    """
    if not call_id:
        return {}
    parts = call_id.split("-")
    unreadable: dict[str, int] = {}
    for arg, value in params.items():
        for part in parts:
            index = part[len(arg) :]
            if (
                part.startswith(arg)
                and index.isascii()
                and index.isdigit()
                and natural_id(value) != part
            ):
                unreadable[arg] = int(index)
                break
    return unreadable


def _argnames(value: object) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, (list, tuple)):
        return [str(name) for name in value]
    return []


def explicit_id(
    arg: str, index: int, marks: Iterable[tuple[Sequence[object], Mapping[str, object]]]
) -> bool:
    """Whether the user named parameter set ``index`` of ``arg`` (``ids=[...]`` or
    ``pytest.param(..., id=...)``), given the (args, kwargs) of the ``parametrize`` marks."""
    for args, kwargs in marks:
        names = _argnames(kwargs.get("argnames", args[0] if args else None))
        if arg not in names:
            continue
        values = kwargs.get("argvalues", args[1] if len(args) > 1 else None)
        if isinstance(values, (list, tuple)) and index < len(values):
            # pytest.param(...) gives a ParameterSet: a named tuple (values, marks, id).
            value = values[index]
            if isinstance(value, tuple) and getattr(value, "id", None) is not None:
                return True
        ids = kwargs.get("ids", args[3] if len(args) > 3 else None)
        return isinstance(ids, (list, tuple)) and index < len(ids) and ids[index] is not None
    return False


def bare_skip_message(message: str) -> bool:
    """Whether a skip's message ("Skipped: why", in a collect report) has no reason."""
    if not message.startswith("Skipped"):
        return False
    rest = message.removeprefix("Skipped")
    return not rest or (rest.startswith(":") and not rest[1:].strip())


def raise_site(tb: TracebackType | None) -> tuple[str, int, str] | None:
    """(file, 1-based line, module) of the last frame of a traceback that does not hide
    itself with ``__tracebackhide__``, as pytest's own report locations: the caller of
    ``pytest.skip()``, not pytest's code."""
    site = None
    while tb is not None:
        frame = tb.tb_frame
        if not frame.f_locals.get("__tracebackhide__") and not frame.f_globals.get(
            "__tracebackhide__"
        ):
            site = (frame.f_code.co_filename, tb.tb_lineno, str(frame.f_globals.get("__name__")))
        tb = tb.tb_next
    return site


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` with forward slashes (unchanged on another drive)."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        rel = path
    return rel.replace(os.sep, "/")


# --- what pytest is configured to enforce ---------------------------------------------------


def _ini(config: Config, name: str) -> object:
    try:
        return config.getini(name)
    except ValueError:  # not an ini key of this pytest version
        return None


def markers_strict(config: Config) -> bool:
    """Whether pytest itself rejects unregistered markers (see the module doc)."""
    try:
        value = config.getini("strict_markers")
    except ValueError:  # pytest 8: only the options --strict-markers and --strict
        option = config.option
        return bool(getattr(option, "strict_markers", False) or getattr(option, "strict", False))
    if value is None:
        value = _ini(config, "strict")
    return bool(value)


def xfail_strict_default(config: Config) -> bool:
    """The ``strict`` of an xfail mark that does not say (see the module doc)."""
    value = _ini(config, "xfail_strict")  # on pytest 9 an alias of strict_xfail
    if value is None:
        value = _ini(config, "strict")
    return bool(value)


def registered_markers(lines: Iterable[str]) -> frozenset[str]:
    """Marker names of ``markers`` ini lines, split as pytest does (``name(args): text``)."""
    return frozenset(line.split(":", 1)[0].split("(")[0].strip() for line in lines)


# --- rendering -------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _example(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 4] + "...]"


def describe(finding: Finding) -> str:
    """One finding as a line of text (without indentation)."""
    text = f"{finding.location}: {finding.what}"
    if finding.rule == "ids":
        such = f", such as {_example(finding.examples[0])}" if finding.examples else ""
        return f"{text} ({_plural(finding.tests, 'test')}{such})"
    if finding.tests > 1:
        text += f" ({finding.tests} tests)"
    elif finding.examples and finding.examples[0] != finding.location:
        text += f" (in {finding.examples[0]})"
    return text


def summary_line(findings: Sequence[Finding]) -> str:
    """``6 hygiene findings: 3 without a reason, ...``."""
    counts = {rule: sum(1 for f in findings if f.rule == rule) for rule in RULES}
    parts = [f"{n} {SHORT[rule]}" for rule, n in counts.items() if n]
    return f"{_plural(len(findings), 'hygiene finding')}: {', '.join(parts)}"


def render_terminal(findings: Sequence[Finding]) -> list[str]:
    """The lines of the "hygiene" section: a block per rule, then a count."""
    lines: list[str] = []
    for rule, title in RULES.items():
        block = [f for f in findings if f.rule == rule]
        if block:
            lines.append(f"{title}:")
            lines.extend(f"  {describe(f)}" for f in block)
    lines.append(summary_line(findings))
    return lines


def render_markdown(findings: Sequence[Finding]) -> str:
    """The same findings as Markdown tables, for GitHub's step summary."""
    out = ["### Hygiene", ""]
    for rule, title in RULES.items():
        block = [f for f in findings if f.rule == rule]
        if not block:
            continue
        out += [f"#### {title[0].upper()}{title[1:]}", "", "| where | what | tests |"]
        out.append("|---|---|---|")
        for f in block:
            what = md_cell(f.what, code=True)
            if f.rule == "ids" and f.examples:
                example = md_cell(_example(f.examples[0]), code=True)
                what = f"{md_cell(f.what)}, such as {example}"
            out.append(f"| {md_cell(f.location, code=True)} | {what} | {f.tests or ''} |")
        out.append("")
    out.append(summary_line(findings) + ".")
    return "\n".join(out) + "\n\n"


# --- collection ------------------------------------------------------------------------------


class CollectionScan:
    """The mark and id findings of collected items, marks of shared parents judged once."""

    def __init__(self, registered: frozenset[str] | None, xfail_strict: bool) -> None:
        self._registered = registered
        self._xfail_strict = xfail_strict
        self._marks: dict[int, list[tuple[Rule, str]]] = {}
        self._parents: dict[int, list[tuple[Rule, str, str, Any]]] = {}
        self._ids: dict[str, dict[str, None]] = {}  # function -> unreadable argnames
        self.tally = Tally()

    def findings(self) -> list[Finding]:
        """The findings so far; those of ids name the arguments of the function."""
        result = []
        for finding in self.tally.findings():
            if finding.rule == "ids":
                names = list(self._ids.get(finding.location, ()))
                what = f"ids of argument{'s' if len(names) > 1 else ''} {', '.join(names)}"
                finding = replace(finding, what=what)
            result.append(finding)
        return result

    def _problems(self, mark: pytest.Mark) -> list[tuple[Rule, str]]:
        key = id(mark)  # the marks live as long as the items: ids are not reused meanwhile
        problems = self._marks.get(key)
        if problems is None:
            problems = self._marks[key] = mark_problems(
                mark.name,
                mark.args,
                mark.kwargs,
                registered=self._registered,
                xfail_strict=self._xfail_strict,
            )
        return problems

    def _parent_keys(self, node: Any) -> list[tuple[Rule, str, str, Any]]:
        """(rule, location, what, node) of the marks of ``node`` and its parents."""
        if node is None:
            return []
        cached = self._parents.get(id(node))
        if cached is None:
            cached = list(self._parent_keys(node.parent))
            for mark in node.own_markers:
                found = self._problems(mark)
                cached.extend((rule, node.nodeid, what, node) for rule, what in found)
            self._parents[id(node)] = cached
        return cached

    def add(self, item: Item) -> None:
        keys = list(self._parent_keys(item.parent))
        nodeid = item.nodeid
        callspec = getattr(item, "callspec", None)
        function = nodeid
        per_param: Sequence[pytest.Mark] = ()
        if callspec is not None:
            function = nodeid.removesuffix(f"[{callspec.id}]")
            per_param = callspec.marks
        for mark in item.own_markers:
            problems = self._problems(mark)
            if problems:
                where = nodeid if any(mark is m for m in per_param) else function
                keys.extend((rule, where, what, None) for rule, what in problems)
        if callspec is not None:
            args = unreadable_args(callspec.id, callspec.params)
            if args:
                marks = [(m.args, m.kwargs) for m in item.iter_markers("parametrize")]
                named = [a for a, i in args.items() if not explicit_id(a, i, marks)]
                if named:
                    keys.append(("ids", function, "", None))
                    self._ids.setdefault(function, {}).update(dict.fromkeys(named))
        if not keys:
            return
        place: tuple[str, int] | None = None
        for rule, location, what, node in dict.fromkeys(keys):
            example = item.name if rule == "ids" else nodeid
            if (rule, location, what) in self.tally:
                self.tally.add(rule, location, what, example)
                continue
            if place is None:  # item.location costs: read once a new finding
                place = _place(item)
            # A mark of a class or module sorts at the class, or the top of the file.
            line = place[1] if node is None else _line_of(node)
            self.tally.add(rule, location, what, example, place[0], line)


def _line_of(node: Any) -> int:
    """The 1-based line of a class node; 0 for a module, package or directory."""
    if not isinstance(node, pytest.Class):
        return 0
    try:
        line = node.reportinfo()[1]
    except Exception:  # a class whose source cannot be read
        return 0
    return (line or 0) + 1


def _place(item: Item) -> tuple[str, int]:
    location = item.location
    return location[0].replace(os.sep, "/"), (location[1] or 0) + 1


# --- the plugin ------------------------------------------------------------------------------


class HygienePlugin:
    """Finds, reports and (``strict``) fails the run on hygiene problems."""

    def __init__(self, config: Config, mode: HygieneMode) -> None:
        self._config = config
        self._mode = mode
        self._controller = not hasattr(config, "workerinput")
        self._root = str(config.rootpath)
        self._collected: list[Finding] = []
        self._remote: list[Finding] = []
        self._module_skips = Tally()
        self._calls = Tally()
        self._findings: list[Finding] | None = None
        self._failed = False
        self._error = ""

    # --- where tests are collected -------------------------------------------------------

    def pytest_collection_finish(self, session: Session) -> None:
        config = session.config
        registered = None
        if not markers_strict(config):
            registered = registered_markers(config.getini("markers"))
        scan = CollectionScan(registered, xfail_strict_default(config))
        for item in session.items:
            scan.add(item)
        self._collected = scan.findings()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        longrepr = report.longrepr
        if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
            path, line, message = longrepr
            if bare_skip_message(str(message)):
                where = relative(str(path), self._root)
                self._module_skips.add(
                    "reason",
                    f"{where}:{line}",
                    "pytest.skip() at module level",
                    report.nodeid,
                    where,
                    int(line),
                )

    def pytest_sessionfinish(self, session: Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports
            findings = merge(self._collected, self._module_skips.findings())
            workeroutput[WORKEROUTPUT_KEY] = [f.to_plain() for f in findings]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        for value in output.get(WORKEROUTPUT_KEY, ()):
            finding = Finding.from_plain(value)
            if finding is not None:
                self._remote.append(finding)

    # --- where tests run ----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: Item, call: CallInfo[None]
    ) -> Generator[None, TestReport, TestReport]:
        report = yield
        excinfo = call.excinfo
        if excinfo is not None:
            what = _bare_call(excinfo.value)
            site = raise_site(excinfo.tb) if what else None
            # Raised by pytest itself: a skip mark (judged at collection), not a call.
            if site is not None and not _is_pytest(site[2]):
                path = relative(site[0], self._root)
                setattr(report, REPORT_ATTR, [what, path, site[1]])
        return report

    def pytest_runtest_logreport(self, report: TestReport) -> None:
        if not self._controller:
            return
        value = report.__dict__.get(REPORT_ATTR)
        if isinstance(value, list) and len(value) == 3:
            what, path, line = value
            self._calls.add("reason", f"{path}:{line}", str(what), report.nodeid, path, line)

    # --- the controller -----------------------------------------------------------------

    def _final(self) -> list[Finding]:
        if self._findings is None:
            self._findings = merge(
                self._collected,
                self._remote,
                self._module_skips.findings(),
                self._calls.findings(),
            )
        return self._findings

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: Session) -> Generator[None, object, object]:
        result = yield
        # After the loop (the workers are down, their findings merged), before the session
        # ends: the exit code still follows testsfailed, as for --slow-strict.
        if self._controller and self._mode == "strict" and self._final():
            self._failed = True
            session.testsfailed += 1
        return result

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "hygiene" section and, in strict mode, the line that fails the run."""
        if not self._controller:
            return
        findings = self._final()
        if findings:
            terminalreporter.write_sep("=", "hygiene")
            for line in render_terminal(findings):
                terminalreporter.write_line(line)
            # Here rather than at session finish: the step summary keeps the sections' order.
            self._error = append_step_summary(render_markdown(findings))
        if self._failed:
            terminalreporter.write_line(
                f"FAIL tempo_hygiene=strict: {_plural(len(findings), 'hygiene finding')}",
                red=True,
                bold=True,
            )
        if self._error:
            terminalreporter.write_line(f"tempo: {self._error}", red=True, bold=True)


def _bare_call(exc: BaseException) -> str:
    """``pytest.skip()``/``pytest.xfail()`` when ``exc`` is one raised without a reason."""
    if isinstance(exc, pytest.skip.Exception) and _blank(exc.msg):
        return "pytest.skip()"
    if isinstance(exc, pytest.xfail.Exception) and _blank(exc.msg):
        return "pytest.xfail()"
    return ""


def _is_pytest(module: str) -> bool:
    return module == "_pytest" or module.startswith("_pytest.")
