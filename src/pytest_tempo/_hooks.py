"""What registering one of the plugin's hook objects costs: only its hooks are looked at.

Registering an object makes pluggy look up every name ``dir()`` lists for a hook
implementation, and pytest every name for a fixture definition (``parsefactories``, with
several lookups per name under pytest 9). For an ordinary instance that is each method and
each attribute inherited from ``object``: about fifty names per object, a dozen objects per
run. :class:`HookObject` lists the hooks alone.
"""

from __future__ import annotations

__all__ = ["HookObject", "hook_names"]

_NAMES: dict[type, list[str]] = {}


def hook_names(cls: type) -> list[str]:
    """The names of ``cls`` that pytest and pluggy look at: its hooks (``pytest_*``) and
    the fixtures it defines (named in ``_fixtures``); found once per class."""
    names = _NAMES.get(cls)
    if names is None:
        fixtures: tuple[str, ...] = getattr(cls, "_fixtures", ())
        names = _NAMES[cls] = [n for n in dir(cls) if n.startswith("pytest_") or n in fixtures]
    return names


class HookObject:
    """Base of the plugin's hook objects: ``dir()`` of one lists its hooks and fixtures
    (:func:`hook_names`), so that registering it looks at those alone."""

    __slots__ = ()

    def __dir__(self) -> list[str]:
        return list(hook_names(type(self)))
