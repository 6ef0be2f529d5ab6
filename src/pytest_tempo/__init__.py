"""pytest-tempo: fast, ordered, parallel-safe and gated test runs."""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__version__ = "0.1.0"


def _lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` (PEP 562) for the names in ``modules`` (name ->
    the submodule that defines it): each submodule loads when one of its names is first
    asked for, and the name is then kept on the package."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


class _OwnModules:
    """Finds this package's submodules with Python's own path finder, ahead of pytest's
    assertion rewriting hook (a :data:`sys.meta_path` finder; every other name goes on to
    the next finder).

    pytest rewrites the asserts of every module of a plugin's distribution, and its loader
    reads their cached bytecode several times slower than Python's (it unmarshals from the
    open file): most of what starting the plugin cost. The plugin's modules hold no assert
    that a test's failure report would show.
    """

    def __init__(self) -> None:
        self.prefixes: tuple[str, ...] = (f"{__name__}.",)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.startswith(self.prefixes):
            return None
        return PathFinder.find_spec(fullname, path, target)


# Once, even if the package is imported again (its class is then another object).
_FINDER: Any = next(
    (
        f
        for f in sys.meta_path
        if type(f).__module__ == __name__ and type(f).__name__ == "_OwnModules"
    ),
    None,
)
if _FINDER is None:
    _FINDER = _OwnModules()
    sys.meta_path.insert(0, _FINDER)


def _import_plainly(name: str) -> ModuleType:
    """Import ``name``, a submodule of another plugin's package that the plugin only drives
    (pytest-xdist's schedulers, which the advice's forecast replays), with Python's loader,
    as the plugin's own modules are: it and the modules of that package it imports, where
    they are not imported yet."""
    before = _FINDER.prefixes
    _FINDER.prefixes = (*before, name.partition(".")[0] + ".")
    try:
        return import_module(name)
    finally:
        _FINDER.prefixes = before
