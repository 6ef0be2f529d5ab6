"""``NamedTuple`` for the tuples defined at every start-up, without checking their annotations,
and :class:`Slotted`, a base for the mutable records of a run, without generated code.

``typing.NamedTuple`` checks each field's annotation when the class is defined; under
``from __future__ import annotations`` each one is a string, which it compiles into a
``ForwardRef``: for the settings' 35 fields that is about a millisecond of every start-up.
This base builds the same ``collections.namedtuple`` (fields, defaults, methods, properties
and docstring) and leaves the annotations as written. Type checkers see
``typing.NamedTuple`` itself.
"""

from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["NamedTuple", "Slotted"]

#: What the class body holds that is not for the tuple's class.
_SKIPPED = frozenset(("__module__", "__qualname__", "__annotations__", "__dict__", "__weakref__"))
#: What a class body may not replace (as ``typing.NamedTuple`` refuses it).
_PROHIBITED = frozenset(
    (
        *("__new__", "__init__", "__slots__", "__getnewargs__"),
        *("_fields", "_field_defaults", "_make", "_replace", "_asdict", "_source"),
    )
)

if TYPE_CHECKING:
    from typing import NamedTuple
else:

    class _NamedTupleMeta(type):
        def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
            if not bases:  # NamedTuple itself
                return super().__new__(mcs, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            if defaults and any(field not in namespace for field in fields[-len(defaults) :]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            tuple_class = namedtuple(
                name, fields, defaults=defaults, module=namespace["__module__"]
            )
            tuple_class.__qualname__ = namespace.get("__qualname__", name)
            tuple_class.__annotations__ = dict(namespace.get("__annotations__", {}))
            for key, value in namespace.items():
                if key in _SKIPPED or key in fields:
                    continue
                if key in _PROHIBITED:
                    raise AttributeError(f"{name}: cannot overwrite the namedtuple's {key}")
                setattr(tuple_class, key, value)
            return tuple_class

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Subclassed like ``typing.NamedTuple``: ``class Point(NamedTuple): x: int = 0``."""


class Slotted:
    """A base for mutable records with ``__slots__``: equality, ``repr`` and :meth:`replaced`
    read the fields, so a class costs no generated code at import (a ``dataclass`` compiles
    its ``__init__``, ``__repr__`` and ``__eq__`` when its module is imported). Subclasses
    name their fields in order in ``_fields``, set ``__slots__ = _fields`` and write their
    ``__init__``; like a ``dataclass`` with ``eq=True``, they are not hashable."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Slotted)
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def replaced(self, **changes: Any) -> Any:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        copy = object.__new__(self.__class__)
        for name in self._fields:
            object.__setattr__(copy, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"{self.__class__.__name__} has no field {', '.join(changes)}")
        return copy
