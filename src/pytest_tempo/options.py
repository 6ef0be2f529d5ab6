"""The option table: every flag and ini key of pytest-tempo, defined once.

:data:`OPTIONS` registers the options with pytest (:func:`pytest_tempo.settings.add_options`),
names each one's parser (:mod:`pytest_tempo.parsers`) and feeds the configuration reference
in the docs. The load options are defined beside the load feature
(:mod:`pytest_tempo.load.options`) and take their place in the table here.
"""

from __future__ import annotations

from .load.options import LOAD_OPTIONS
from .parsers import (
    MAX_IDENTIFIER,
    MAX_REPORT_ROWS,
    MAX_SLOW_THRESHOLD,
    Option,
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

__all__ = ["DEFAULT_TEST_TYPES", "OPTIONS"]


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
    *LOAD_OPTIONS,
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
