"""Test types: markers given to tests by the path of their file (ini ``test_types``)."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import pytest

from ._hooks import HookObject
from .markers import MarkerIndex
from .parsers import glob_match

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence
    from pathlib import Path

    from .settings import Settings, TypeRule

__all__ = ["BUILTIN_TYPES", "TypesPlugin", "markers_for_path", "type_markers"]

#: The test types every suite has, whatever its ``test_types``.
BUILTIN_TYPES = ("unit", "integration", "e2e", "smoke", "load")


def markers_for_path(relpath: str, rules: Sequence[TypeRule]) -> tuple[str, ...]:
    """The markers every matching rule gives a file at ``relpath`` (posix, rootdir-relative).

    A glob matches the path itself or any folder above it, so ``tests/unit`` and
    ``tests/unit/*`` both cover ``tests/unit/a/test_x.py``. Order follows the rules; a
    marker named twice is given once.
    """
    found: dict[str, None] = {}
    parents = [str(p.as_posix()) for p in PurePath(relpath).parents][:-1]
    for rule in rules:
        if glob_match(relpath, rule.glob) or any(glob_match(p, rule.glob) for p in parents):
            found.update(dict.fromkeys(rule.markers))
    return tuple(found)


def type_markers(settings: Settings) -> tuple[str, ...]:
    """The markers that name a test type: the usual ones and those of ``test_types``."""
    names = dict.fromkeys(BUILTIN_TYPES)
    for rule in settings.test_types:
        names.update(dict.fromkeys(rule.markers))
    return tuple(names)


class TypesPlugin(HookObject):
    """Adds the ``test_types`` markers to collected items, before ``-m`` selects."""

    def __init__(self, rules: Sequence[TypeRule], rootpath: Path) -> None:
        self._rules = tuple(rules)
        self._rootpath = rootpath

    def _markers_for(self, path: Path, cache: dict[Path, tuple[str, ...]]) -> tuple[str, ...]:
        try:
            return cache[path]
        except KeyError:
            pass
        try:
            rel = path.relative_to(self._rootpath).as_posix()
        except ValueError:
            names: tuple[str, ...] = ()
        else:
            names = markers_for_path(rel, self._rules)
        cache[path] = names
        return names

    # A tryfirst wrapper runs before every plain implementation, so markers are in place
    # before the mark plugin applies -m and before any plugin orders by markers.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None]:
        if self._rules:
            cache: dict[Path, tuple[str, ...]] = {}
            marks: dict[str, pytest.MarkDecorator] = {}  # one decorator per name, not per test
            index = MarkerIndex()
            for item in items:
                names = self._markers_for(item.path, cache)
                if not names:
                    continue
                present = index.names(item)
                for name in names:
                    if name not in present:
                        mark = marks.get(name)
                        if mark is None:
                            mark = marks[name] = getattr(pytest.mark, name)
                        item.add_marker(mark)
        return (yield)
