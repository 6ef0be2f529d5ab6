"""The "test types" summary: per test type, how many tests ran, how they ended, how long.

One row per test type (``unit``, ``integration``, ``e2e``, ``smoke``, ``load`` and the types of
``test_types``) plus ``other`` for tests without a type, built on the controller from the
timing feature's per-test data, so it is the same with and without pytest-xdist.

A coverage column is added when the run's coverage data says which test ran each line: that
is pytest-cov's ``--cov-context=test``, whose contexts are ``NODEID|setup``, ``NODEID|run`` and
``NODEID|teardown`` (checked against pytest-cov 7.1's
``TestContextPlugin``; the contexts survive pytest-xdist's combine). For a type, the column is
the share of the statements of the files its tests ran that those tests ran (or that ran
when the files were imported). Without such contexts the column is left out rather than
guessed.

The hooks that collect the coverage and write the section are in :mod:`.types_hooks`,
which loads this module only when there is a section to write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._tuples import Slotted

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from coverage import Coverage

    from .timing import TestTiming

__all__ = [
    "OTHER",
    "TypeRow",
    "context_nodeid",
    "coverage_by_type",
    "render_markdown",
    "render_terminal",
    "type_rows",
]

#: The row of tests that carry no type marker.
OTHER = "other"
#: pytest-cov's test contexts end with the phase: ``NODEID|run``.
PHASES = ("|setup", "|run", "|teardown")
#: Said when coverage ran without test contexts.
NO_CONTEXTS = "coverage per type: run with pytest-cov's --cov-context=test"


class TypeRow(Slotted):
    """One test type's totals in this run.

    ``failed``: failures in the call; ``errors``: failures in set-up or teardown (pytest's
    "error"); ``skipped``: skipped at run time or when its module was collected;
    ``statements``: of the files this type's tests ran, and ``covered``: of those, the ones
    they ran.
    """

    _fields = ("name", "tests", "passed", "failed", "errors", "skipped", "xfailed",
                 "xpassed", "seconds", "statements", "covered")  # fmt: skip
    __slots__ = _fields

    def __init__(
        self,
        name: str,
        tests: int = 0,
        passed: int = 0,
        failed: int = 0,
        errors: int = 0,
        skipped: int = 0,
        xfailed: int = 0,
        xpassed: int = 0,
        seconds: float = 0.0,
        statements: int = 0,
        covered: int = 0,
    ) -> None:
        self.name = name
        self.tests = tests
        self.passed = passed
        self.failed = failed
        self.errors = errors
        self.skipped = skipped
        self.xfailed = xfailed
        self.xpassed = xpassed
        self.seconds = seconds
        self.statements = statements
        self.covered = covered

    @property
    def coverage(self) -> float | None:
        return 100.0 * self.covered / self.statements if self.statements else None


#: The row's count of each outcome but passed (xpassed and xfailed counted apart).
_OUTCOME_FIELDS = {"skipped": "skipped", "failed": "failed", "error": "errors",
                   "xfailed": "xfailed", "xpassed": "xpassed"}  # fmt: skip


def type_rows(
    timings: Iterable[TestTiming], types: Sequence[str], every: str | None = None
) -> list[TypeRow]:
    """The rows of ``types`` (in that order) that had tests, then ``other``.

    A test carrying two type markers counts in both rows. With ``every``, each test counts
    once, in the one row of that name, whatever its types (the total of the run).
    """
    rows = {name: TypeRow(name) for name in (*types, OTHER)}
    # Tests of one kind (the same types and outcome) are counted together: a run has few.
    kinds: dict[tuple[tuple[str, ...], str], list[Any]] = {}
    alone = (every,) if every is not None else None
    for t in timings:
        kind = (alone or t.types, t.outcome)
        counted = kinds.get(kind)
        if counted is None:
            counted = kinds[kind] = [0, 0.0]
        counted[0] += 1
        counted[1] += t.setup + t.call + t.teardown
    for (names, outcome), (tests, seconds) in kinds.items():
        field = _OUTCOME_FIELDS.get(outcome, "passed")
        for name in names or (OTHER,):
            row = rows.get(name)
            if row is None:  # a type marker the settings no longer name
                row = rows[name] = TypeRow(name)
            row.tests += tests
            row.seconds += seconds
            setattr(row, field, getattr(row, field) + tests)
    return [row for row in rows.values() if row.tests]


def context_nodeid(context: str) -> str | None:
    """The test of a pytest-cov test context (``NODEID|run``), or None for any other."""
    for phase in PHASES:
        if context.endswith(phase):
            return context[: -len(phase)]
    return None


def coverage_by_type(
    files: Iterable[tuple[Iterable[int], Mapping[int, Iterable[str]]]],
    types_of: Mapping[str, Sequence[str]],
) -> dict[str, tuple[int, int]]:
    """Per type, (covered, statements) over the files its tests ran.

    ``files`` gives, per measured file, its statements and the contexts that ran each line;
    ``types_of`` the types of each test node id (a test without a type is ``other``; a
    context of a test not in ``types_of`` is ignored). Lines run outside any test (the
    module's import during collection, under the empty context) count as covered for every
    type that ran the file: its tests need them as much as the lines they ran themselves.
    """
    totals: dict[str, list[int]] = {}
    for statements, contexts_by_line in files:
        lines = set(statements)
        outside: set[int] = set()
        ran: dict[str, set[int]] = {}
        for lineno, contexts in contexts_by_line.items():
            if lineno not in lines:
                continue
            for context in contexts:
                nodeid = context_nodeid(context)
                if nodeid is None:
                    outside.add(lineno)
                elif nodeid in types_of:
                    for name in types_of[nodeid] or (OTHER,):
                        ran.setdefault(name, set()).add(lineno)
        for name, covered in ran.items():
            total = totals.setdefault(name, [0, 0])
            total[0] += len(covered | outside)
            total[1] += len(lines)
    return {name: (covered, statements) for name, (covered, statements) in totals.items()}


def _pc(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}%" if value in (0, 100) else f"{value:.1f}%"


def _table(rows: Sequence[TypeRow], with_coverage: bool) -> list[list[str]]:
    """Heading and rows; "errors", "xfailed" and "xpassed" columns only when a test ended so,
    as in pytest's summary line."""
    with_errors = any(row.errors for row in rows)
    extra = [name for name in ("xfailed", "xpassed") if any(getattr(r, name) for r in rows)]
    head = ["type", "tests", "passed", "failed", *(["errors"] if with_errors else [])]
    head += ["skipped", *extra, "seconds", *(["coverage"] if with_coverage else [])]
    table = [head]
    for row in rows:
        cells = [row.name, str(row.tests), str(row.passed), str(row.failed)]
        if with_errors:
            cells.append(str(row.errors))
        cells += [str(row.skipped), *(str(getattr(row, name)) for name in extra)]
        cells.append(f"{row.seconds:.2f}s")
        if with_coverage:
            cells.append(_pc(row.coverage))
        table.append(cells)
    return table


def _notes(rows: Sequence[TypeRow], tests: int, with_coverage: bool, note: str) -> list[str]:
    notes = []
    if sum(row.tests for row in rows) > tests:
        notes.append("a test carrying two type markers counts under each")
    if with_coverage:
        notes.append("coverage: of the files a type's tests ran, the statements they ran")
    elif note:
        notes.append(note)
    return notes


def render_terminal(
    rows: Sequence[TypeRow], tests: int, with_coverage: bool, note: str = ""
) -> list[str]:
    """The lines of the "test types" section; ``tests`` is the number of distinct tests."""
    table = _table(rows, with_coverage)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in table
    ]
    return lines + [f"({n})" for n in _notes(rows, tests, with_coverage, note)]


def render_markdown(
    rows: Sequence[TypeRow], tests: int, with_coverage: bool, note: str = ""
) -> str:
    """The same table in Markdown, for GitHub's step summary."""
    from .step_summary import md_cell

    head, *body = _table(rows, with_coverage)
    out = ["### Test types", "", "| " + " | ".join(head) + " |"]
    out.append("|---|" + "---:|" * (len(head) - 1))
    out += [
        f"| {md_cell(cells[0], code=True)} | " + " | ".join(map(md_cell, cells[1:])) + " |"
        for cells in body
    ]
    notes = _notes(rows, tests, with_coverage, note)
    if notes:
        out += ["", *(md_cell(n[0].upper() + n[1:]) + "." for n in notes)]
    return "\n".join(out) + "\n\n"


def measure_contexts(
    cov: Coverage, types_of: Mapping[str, Sequence[str]]
) -> dict[str, tuple[int, int]] | None:
    """:func:`coverage_by_type` of the run's data; None when it has no test contexts."""
    from ._coverage import contexts_by_file, measured_contexts

    if not any(context_nodeid(c) is not None for c in measured_contexts(cov)):
        return None
    return coverage_by_type(contexts_by_file(cov), types_of)
