"""What pytest tells the hygiene report: the collected items' marks and parametrize ids
(:class:`CollectionScan`), the strictness pytest is configured with
(:func:`markers_strict`, :func:`xfail_strict_default`) and where a skip was raised
(:func:`raise_site`). Each reads pytest's objects into the plain data the judges of
:mod:`.rules` take.

What pytest does, checked against pytest 9.2 and 8.4 (``_pytest/skipping.py``,
``_pytest/main.py``, ``_pytest/fixtures.py``, ``_pytest/_code/code.py``):

- The default of ``xfail(strict=...)`` is the ini ``xfail_strict`` (``strict_xfail`` is its
  pytest 9 name), and on pytest 9 the ini ``strict`` when that is unset.
- Unknown markers are an error under ``--strict-markers`` (pytest 8: the options
  ``strict_markers`` or ``strict``; pytest 9: the ini ``strict_markers``, which the flag sets,
  else the ini ``strict``), so the marker check is silent then.
- A skip mark is raised as ``pytest.skip.Exception`` from ``_pytest/skipping.py``; a skip in a
  fixture gets the same ``_use_item_location`` flag (``_pytest/fixtures.py``), so a call is
  told from a mark by the module that raised it, not by that flag.
- The frame that raised is the last traceback entry that does not hide itself: pytest's
  public ``ExceptionInfo.traceback`` and its entries' ``ishidden(excinfo)`` decide that, as
  for pytest's own report locations (a ``__tracebackhide__`` callable included).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from .findings import Tally
from .rules import explicit_id, mark_problems, unreadable_args

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest import Config, Item

    from .findings import Finding, Rule

__all__ = ["CollectionScan", "markers_strict", "raise_site", "xfail_strict_default"]

#: A finding's key and the parent node whose mark it came from (None: the item itself).
_Key = tuple["Rule", str, str, Any]


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


def raise_site(excinfo: pytest.ExceptionInfo[BaseException] | None) -> tuple[str, int, str] | None:
    """(file, 1-based line, module) of the last traceback entry that pytest does not hide
    (``__tracebackhide__``): the caller of ``pytest.skip()``, not pytest's code."""
    if excinfo is None:
        return None
    for entry in reversed(excinfo.traceback):
        if not entry.ishidden(excinfo):
            module = entry.frame.f_globals.get("__name__")
            return str(entry.path), entry.lineno + 1, str(module)
    return None


class CollectionScan:
    """The mark and id findings of collected items, marks of shared parents judged once."""

    def __init__(self, registered: frozenset[str] | None, xfail_strict: bool) -> None:
        self._registered = registered
        self._xfail_strict = xfail_strict
        self._marks: dict[int, list[tuple[Rule, str]]] = {}
        self._parents: dict[int, list[_Key]] = {}
        self._ids: dict[str, dict[str, None]] = {}  # function -> unreadable argnames
        self.tally = Tally()

    def findings(self) -> list[Finding]:
        """The findings so far; those of ids name the arguments of the function."""
        result = []
        for finding in self.tally.findings():
            if finding.rule == "ids":
                names = list(self._ids.get(finding.location, ()))
                what = f"ids of argument{'s' if len(names) > 1 else ''} {', '.join(names)}"
                finding = finding._replace(what=what)
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

    def _parent_keys(self, node: Any) -> list[_Key]:
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

    def _own_keys(self, item: Item, function: str, per_param: Sequence[pytest.Mark]) -> list[_Key]:
        """The findings of the item's own marks: at the test for a ``pytest.param`` mark,
        else at its function."""
        keys: list[_Key] = []
        for mark in item.own_markers:
            problems = self._problems(mark)
            if problems:
                where = item.nodeid if any(mark is m for m in per_param) else function
                keys.extend((rule, where, what, None) for rule, what in problems)
        return keys

    def _id_keys(self, item: Item, function: str, callspec: Any) -> list[_Key]:
        """The "ids" finding of a parametrized item, when pytest could not render a value
        the user did not name either."""
        args = unreadable_args(callspec.id, callspec.params)
        if not args:
            return []
        marks = [(m.args, m.kwargs) for m in item.iter_markers("parametrize")]
        named = [a for a, i in args.items() if not explicit_id(a, i, marks)]
        if not named:
            return []
        self._ids.setdefault(function, {}).update(dict.fromkeys(named))
        return [("ids", function, "", None)]

    def add(self, item: Item) -> None:
        callspec = getattr(item, "callspec", None)
        parents = self._parent_keys(item.parent)
        if callspec is None and not parents and not item.own_markers:
            return  # no mark of its own or above it, no parameters: nothing to judge
        nodeid = item.nodeid
        function = nodeid
        per_param: Sequence[pytest.Mark] = ()
        if callspec is not None:
            function = nodeid.removesuffix(f"[{callspec.id}]")
            per_param = callspec.marks
        keys = [*parents, *self._own_keys(item, function, per_param)]
        if callspec is not None:
            keys += self._id_keys(item, function, callspec)
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
