"""The findings of the hygiene report as plain data: what a finding is, how findings are
counted once each (:class:`Tally`) and merged across xdist workers (:func:`merge`).

Nothing here touches pytest; a worker ships findings to the controller through
:meth:`Finding.to_plain` and :meth:`Finding.from_plain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .._tuples import NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["EXAMPLES", "RULES", "Finding", "Rule", "Tally", "merge"]

Rule = Literal["reason", "strict", "marker", "ids"]
#: The rules in the order they are shown, with their titles.
RULES: dict[Rule, str] = {
    "reason": "skips and xfails without a reason",
    "strict": "xfails that are not strict",
    "marker": "markers that are not registered",
    "ids": "parametrized tests with unreadable ids",
}
#: How many example tests a finding keeps.
EXAMPLES = 2


class Finding(NamedTuple):
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
