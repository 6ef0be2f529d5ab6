"""The judges of the hygiene report: pure functions over plain data (a mark's name, args and
kwargs; a parametrized test's id and values; a skip's message; an exception) that say what
is wrong, if anything. Nothing here reads a pytest session.

What pytest does, checked against pytest 9.2 and 8.4 (``_pytest/skipping.py``,
``_pytest/mark/structures.py``, ``_pytest/python.py``):

- ``skipif``/``xfail`` with a condition and no ``reason``: a bool condition is an error when
  the test runs ("you need to specify reason=STRING"), so it is left to pytest; a string
  condition gets the reason ``condition: <the condition>``, which says when, not why, and is
  reported here.
- An id part pytest cannot make from a value is ``argname + index`` (``IdMaker``
  ``_idval_from_argname``); on pytest 9 strings over 100 characters get one too. The parts
  of a test's id are ``item.callspec.id`` split on ``-``. (``callspec.indices`` is no
  help: pytest renumbers it across the whole function, ``_recompute_direct_params_indices``.)

:func:`natural_id` re-implements ``IdMaker._idval_from_value``, and has to: pytest has no
public way to render a value as an id part (``IdMaker`` lives in the private
``_pytest.python`` and its signature changed between pytest 8 and 9), and the callspec keeps
only the joined id, not which of its parts were the fallback. It is used for one thing only:
telling the fallback ``a0`` from a value that renders as ``a0`` itself. The suite checks it
against pytest's own ``IdMaker`` on generated parametrizations.
"""

from __future__ import annotations

import enum
import os
import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from .findings import Rule

__all__ = [
    "bare_call",
    "bare_skip_message",
    "explicit_id",
    "mark_problems",
    "natural_id",
    "registered_markers",
    "relative",
    "unreadable_args",
]

#: Longest condition text shown for a skipif/xfail string condition.
CONDITION_WIDTH = 40


# --- marks -----------------------------------------------------------------------------------


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


def registered_markers(lines: Iterable[str]) -> frozenset[str]:
    """Marker names of ``markers`` ini lines, split as pytest does (``name(args): text``)."""
    return frozenset(line.split(":", 1)[0].split("(")[0].strip() for line in lines)


# --- parametrize ids -------------------------------------------------------------------------


def natural_id(value: object) -> str | None:
    """The id pytest makes from a value by itself (``IdMaker._idval_from_value``), or None
    when it makes none (then the id part is ``argname + index``). See the module doc for why
    this cannot be asked of pytest.

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


# --- skips and xfails at run time ------------------------------------------------------------


def bare_skip_message(message: str) -> bool:
    """Whether a skip's message ("Skipped: why", in a collect report) has no reason."""
    if not message.startswith("Skipped"):
        return False
    rest = message.removeprefix("Skipped")
    return not rest or (rest.startswith(":") and not rest[1:].strip())


def bare_call(exc: BaseException) -> str:
    """``pytest.skip()``/``pytest.xfail()`` when ``exc`` is one raised without a reason."""
    if isinstance(exc, pytest.skip.Exception) and _blank(exc.msg):
        return "pytest.skip()"
    if isinstance(exc, pytest.xfail.Exception) and _blank(exc.msg):
        return "pytest.xfail()"
    return ""


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` with forward slashes (unchanged on another drive)."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        rel = path
    return rel.replace(os.sep, "/")
