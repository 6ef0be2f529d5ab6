"""Parsers of the load-test options: profile, users, time scale, k6 globs, baselines,
regression limits, the watched server and its memory growth limit.

Pure, like :mod:`.parse`, whose :class:`~.parse.SettingError` they raise. The profiles
and the regression grammar are imported only when such a value is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import BASELINE_MODES
from .parse import (
    MAX_GROWTH,
    MAX_LOAD_VUS,
    MAX_PID,
    MAX_TIME_SCALE,
    SettingError,
    content_lines,
    decimal,
    glob_problem,
    line_named,
    one_of,
    shown,
    whole,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..load.limits import Limit


def parse_load_profile(raw: str) -> str | None:
    """A profile name from :data:`~pytest_tempo.load.profiles.PROFILE_NAMES`; empty is unset."""
    from ..load.profiles import PROFILE_NAMES

    value = raw.strip()
    if not value:
        return None
    if value not in PROFILE_NAMES:
        raise SettingError(f"expected one of {', '.join(PROFILE_NAMES)}")
    return value


def parse_vus(raw: str) -> int:
    """A number of virtual users from 1 to :data:`MAX_LOAD_VUS`."""
    value = whole(raw)
    if not isinstance(value, int) or not 1 <= value <= MAX_LOAD_VUS:
        raise SettingError(f"expected a whole number from 1 to {MAX_LOAD_VUS}")
    return value


def parse_scale(raw: str) -> float:
    """A factor over 0 and up to :data:`MAX_TIME_SCALE`, such as ``0.01``."""
    value = decimal(raw)
    if value is None or not 0 < value <= MAX_TIME_SCALE:
        raise SettingError(f"expected a number over 0 and up to {MAX_TIME_SCALE}, such as 0.01")
    return value


def glob_where(line: str, glob: str) -> str:
    return shown(glob) if line == glob else f"{line_named(line)}: the glob {shown(glob)}"


def parse_k6_globs(lines: Sequence[str]) -> tuple[str, ...]:
    """Globs, several per line or one per line; one that can never match is an error."""
    globs = []
    for line in content_lines(lines):
        for glob in line.split():
            glob = glob.replace("\\", "/")
            problem = glob_problem(glob)
            if problem:
                raise SettingError(f"{glob_where(line, glob)} {problem}")
            globs.append(glob)
    return tuple(globs)


parse_baseline = one_of(BASELINE_MODES)


def parse_load_regression(raw: str) -> tuple[Limit, ...]:
    """``p95:+20%, rps:-15%, error_rate:+0.5pp``: see :mod:`pytest_tempo.load.baseline`."""
    from ..load.limits import RegressionSpecError, parse_regression

    try:
        return parse_regression(raw)
    except RegressionSpecError as exc:
        raise SettingError(str(exc)) from None


def parse_watch(raw: str) -> str | None:
    """A PID (whole number of 1 or more) or the path of a PID file; empty is unset."""
    value = raw.strip()
    if not value:
        return None
    number = whole(value)
    if number is not None and not 1 <= number <= MAX_PID:
        raise SettingError(f"expected a PID from 1 to {MAX_PID}, or the path of a PID file")
    return value


def parse_growth(raw: str) -> float | None:
    """MB per hour, such as ``50``, ``50MB/h`` or ``1GB/h``; empty is unset."""
    value = raw.strip().replace(" ", "")
    if not value:
        return None
    factor = 1.0
    lowered = value.lower()
    if lowered.endswith("gb/h"):
        factor, value = 1024.0, value[:-4]
    elif lowered.endswith("mb/h"):
        value = value[:-4]
    number = decimal(value)
    if number is None:
        raise SettingError("expected MB per hour such as 50 or 50MB/h (or 1GB/h)")
    if not 0 <= number <= MAX_GROWTH:
        raise SettingError(f"expected MB per hour from 0 to {MAX_GROWTH}, such as 50MB/h")
    return number * factor
