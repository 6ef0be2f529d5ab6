"""The start-up ``NamedTuple`` base builds what ``typing.NamedTuple`` builds."""

from __future__ import annotations

import pickle
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo._tuples import NamedTuple, Slotted
from pytest_tempo.settings import Settings


class Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str | None = None

    @property
    def norm(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)


class TypedPoint(typing.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str | None = None


@given(st.integers(), st.integers(), st.none() | st.text(max_size=3))
def test_a_tuple_is_built_as_typing_builds_it(x: int, y: int, label: str | None) -> None:
    point, typed = Point(x, y, label), TypedPoint(x, y, label)
    assert tuple(point) == tuple(typed) == (x, y, label)
    assert Point._fields == TypedPoint._fields
    assert Point._field_defaults == TypedPoint._field_defaults
    assert tuple(Point(x)) == tuple(TypedPoint(x))
    assert repr(point) == repr(typed).replace("TypedPoint", "Point")
    assert point.norm == abs(x) + abs(y)
    assert point.moved(1) == (x + 1, y, label)
    assert pickle.loads(pickle.dumps(point)) == point


def test_the_class_keeps_its_names_docstring_and_annotations() -> None:
    assert Point.__doc__ == "A point."
    assert Point.__qualname__ == "Point"
    assert Point.__module__ == __name__
    assert Point.__annotations__ == {"x": "int", "y": "int", "label": "str | None"}
    assert issubclass(Point, tuple)
    with pytest.raises(AttributeError):
        Point(1).x = 2  # type: ignore[misc]


def test_what_typing_refuses_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(NamedTuple):
            x: int = 0
            y: int  # type: ignore[misc]

    with pytest.raises(AttributeError, match="_replace"):

        class Replaced(NamedTuple):
            x: int

            def _replace(self) -> None:  # type: ignore[misc]
                pass


def test_the_settings_are_such_a_tuple() -> None:
    settings = Settings()
    assert settings._replace(order="off").order == "off"
    assert settings == Settings(**settings._asdict())
    assert len(Settings._fields) == len(settings)


class Spot(Slotted):
    _fields = ("x", "y")
    __slots__ = _fields

    def __init__(self, x: int, y: int = 0) -> None:
        self.x = x
        self.y = y


def test_slotted_compares_shows_and_copies_by_its_fields() -> None:
    point = Spot(1, 2)
    assert point == Spot(1, 2)
    assert point != Spot(1, 3)
    assert point != (1, 2)  # another class is never equal
    assert repr(point) == "Spot(x=1, y=2)"
    moved = point.replaced(y=5)
    assert (moved.x, moved.y) == (1, 5)
    assert (point.x, point.y) == (1, 2)  # the original is left alone
    with pytest.raises(TypeError, match="Spot has no field z"):
        point.replaced(z=1)
    with pytest.raises(TypeError):
        hash(point)  # mutable, like a dataclass with eq=True
    with pytest.raises(AttributeError):
        point.z = 1  # type: ignore[attr-defined]
