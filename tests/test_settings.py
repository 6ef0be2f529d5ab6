from __future__ import annotations

import fnmatch
import json
import math
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.markers import MARKERS
from pytest_tempo.parsers import is_marker_name
from pytest_tempo.settings import (
    DEFAULT_TEST_TYPES,
    MAX_LOAD_VUS,
    MAX_REPORT_ROWS,
    MAX_SLOW_THRESHOLD,
    MAX_TIME_SCALE,
    OPTIONS,
    SHOWN_CHARS,
    Option,
    SettingError,
    TypeRule,
    glob_problem,
    parse_bool,
    parse_k6_globs,
    parse_markers,
    parse_order,
    parse_percent,
    parse_report_rows,
    parse_scale,
    parse_seconds,
    parse_test_types,
    parse_vus,
    read_option,
    shown,
)

from .conftest import assert_usage_error, xdist_params

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.mark.parametrize("mode", ["tiers", "durations", "off", " off "])
def test_parse_order_accepts_modes(mode: str) -> None:
    assert parse_order(mode) == mode.strip()


@pytest.mark.parametrize("mode", ["", "Tiers", "random", "tiers,off"])
def test_parse_order_rejects_others(mode: str) -> None:
    with pytest.raises(SettingError, match="expected one of tiers, durations, off"):
        parse_order(mode)


def test_parse_test_types_defaults() -> None:
    rules = parse_test_types(DEFAULT_TEST_TYPES)
    assert rules[0] == TypeRule("tests/unit/*", ("unit",))
    assert [r.markers for r in rules] == [
        ("unit",),
        ("integration",),
        ("e2e",),
        ("smoke",),
        ("load",),
    ]


def test_parse_test_types_several_markers_comments_and_blanks() -> None:
    lines = ["", "# api tests", "tests\\api\\*: integration db", "tests/x/*: a, b"]
    assert parse_test_types(lines) == (
        TypeRule("tests/api/*", ("integration", "db")),
        TypeRule("tests/x/*", ("a", "b")),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tests/unit", "line 'tests/unit' is not of the form 'PATH_GLOB: MARKER"),
        (": unit", "line ': unit' is not of the form"),
        ("tests/x/*:", "line 'tests/x/\\*:' names no marker"),
        ("tests/x/*: 9lives", "'9lives' is not a marker name"),
    ],
)
def test_parse_test_types_errors(line: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        parse_test_types([line])


def test_parse_markers() -> None:
    assert parse_markers(["llm: calls a language model", "network:talks to the net"]) == (
        ("llm", "calls a language model"),
        ("network", "talks to the net"),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("llm", "is not of the form 'NAME: description'"),
        ("bad name: x", "'bad name' is not a marker name"),
        ("llm:", "has no description"),
    ],
)
def test_parse_markers_errors(line: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        parse_markers([line])


@pytest.mark.parametrize(("raw", "value"), [("1", 1.0), ("0.25", 0.25), ("2s", 2.0), ("0", 0.0)])
def test_parse_seconds(raw: str, value: float) -> None:
    assert parse_seconds(raw) == value


@pytest.mark.parametrize("raw", ["-1", "abc", "nan", "inf", ""])
def test_parse_seconds_rejects(raw: str) -> None:
    with pytest.raises(SettingError, match="expected a number of seconds"):
        parse_seconds(raw)


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("False", False), ("1", True)])
def test_parse_bool(raw: str, value: bool) -> None:
    assert parse_bool(raw) is value


def test_parse_bool_rejects() -> None:
    with pytest.raises(SettingError, match="expected true or false"):
        parse_bool("maybe")


@given(st.lists(st.text(max_size=40), max_size=8))
def test_line_parsers_accept_or_reject_cleanly(lines: list[str]) -> None:
    for parser in (parse_test_types, parse_markers):
        message = ""
        try:
            parsed = parser(lines)
        except SettingError as exc:
            message = str(exc)
        if message:
            assert message.startswith("line ")
        else:
            assert len(parsed) <= len(lines)


@given(st.text(max_size=20))
def test_parse_seconds_accepts_or_rejects_cleanly(raw: str) -> None:
    try:
        value = parse_seconds(raw)
    except SettingError:
        return
    assert value >= 0


def test_option_table_is_consistent() -> None:
    fields = [o.field for o in OPTIONS]
    assert len(fields) == len(set(fields))
    for option in OPTIONS:
        assert option.flag is None or option.flag.startswith("--")
        assert option.help.strip()
        assert option.flag or option.ini


# --- through pytest -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "order"),
    [
        ("tiers", ["test_smoke", "test_recorded_slower", "test_recorded_faster"]),
        ("durations", ["test_smoke", "test_recorded_faster", "test_recorded_slower"]),
        ("off", ["test_recorded_slower", "test_recorded_faster", "test_smoke"]),
    ],
    ids=["tiers", "durations", "off"],
)
def test_order_flag_and_ini_valid(pytester: pytest.Pytester, mode: str, order: list[str]) -> None:
    """Each mode, given by flag or by ini, orders the run as that mode does."""
    pytester.makepyfile(
        test_a="""
        import pytest
        def test_recorded_slower(): pass
        def test_recorded_faster(): pass
        @pytest.mark.smoke
        def test_smoke(): pass
        """
    )
    store = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    store.parent.mkdir(parents=True)
    seeded = {"test_a.py::test_recorded_slower": 0.5, "test_a.py::test_recorded_faster": 0.1}
    tests = {n: {"setup": [0.0], "call": [s], "teardown": [0.0]} for n, s in seeded.items()}
    for args in ([f"--tempo-order={mode}"], ["-o", f"tempo_order={mode}"]):
        # Seeded afresh: each run orders by the same durations, not by the last run's.
        store.write_text(json.dumps({"version": 1, "tests": tests}))
        result = pytester.runpytest("-v", *args)
        result.assert_outcomes(passed=3)
        ran = [line.split()[0] for line in result.outlines if line.endswith(" PASSED")]
        assert ran == [f"test_a.py::{name}" for name in order], args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--tempo-order=bogus"],
            "ERROR: --tempo-order: 'bogus' is not valid: expected one of tiers, durations, off",
        ),
        (
            ["-o", "tempo_order=fast"],
            "ERROR: tempo_order (ini): 'fast' is not valid: expected one of tiers, durations, off",
        ),
        (
            ["-o", "tempo_markers=llm"],
            "ERROR: tempo_markers (ini): line 'llm' is not of the form 'NAME: description'",
        ),
        (
            ["-o", "test_types=tests/x"],
            "ERROR: test_types (ini): line 'tests/x' is not of the form "
            "'PATH_GLOB: MARKER [[]MARKER...[]]'",
        ),
    ],
    ids=["tempo-order-bogus", "tempo_order-fast", "tempo_markers-no-colon", "test_types-no-colon"],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    assert_usage_error(pytester, args, message)


def test_flag_overrides_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntempo_order = bogus\n")
    pytester.makepyfile("def test_a(): pass")
    assert pytester.runpytest("--tempo-order=off").ret == pytest.ExitCode.OK
    assert pytester.runpytest().ret == pytest.ExitCode.USAGE_ERROR


def test_pyproject_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        tempo_order = "off"
        tempo_markers = ["llm: calls a language model"]
        test_types = ["checks/*: smoke"]
        """
    )
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--strict-config")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["tempo *: order=off, test-types=1, slow-threshold=1.0s"])


# --- bad input: every value parses or stops the run with one clear line ---------------------

#: Values a hostile CI or a slip of the keyboard gives any option: digits of other scripts,
#: huge, negative and not-a-number values, blanks, very long text, control characters,
#: globs and marker lines that can never do what they say, URLs with out-of-range parts, and
#: the TOML types pyproject.toml allows where text was meant.
HOSTILE: tuple[object, ...] = (
    *("\u00b2", "\u0661\u0662", "\uff11\uff10", "\u0669\u0660", "\u2075", "\u00bd"),
    *("1e308", "1e309", "-1e308", "100000000000000000000", "9" * 5000, "1e-400"),
    *("-1", "-0", "-0.5", "+3", "0", "1", "all", "ALL", "true"),
    *("nan", "NaN", "inf", "-inf", "infinity", "1_000", "0x10", "1,5", "1.5.5", ".", "e5"),
    *("", " ", "\t", "\n", "  \n  ", "x" * 30_000, "1" * 30_000),
    *("\x00", "\x1b[31mred", "a\rb", "a\u2028b", "\udcff", "\u202e", "s" + "\u0301" * 50),
    *("[unclosed", "../../*.js", "/abs/*.js", "C:/x/*.js", "[z-a].js", "perf//x.js", "./x.js"),
    *("smoke: mine", "skip: mine", "a: \x00", "a: b", "tests/x/*: smoke", "x: 9lives"),
    *("total: 1e308", "total: \u0669\u0660", "src/|x: 90", "total: 90", "a\nb: 5"),
    "postgresql://u:s3cret@h:99999999/db",
    "postgresql://u:s3cret@h/db?sslmode=\x00",
    "mysql://u:s3cret@[::1/db",
    "redis://u:s3cret@h/99999999999999999999",
    "redis://h/\u00b2",
    "sqlite:///\x00",
    *(0, -1, 1.5, 1e308, True, [], ["a", 1], [["x"]], {"a": 1}, ["s3cret", 2]),
)

#: Bounds a parsed number must respect, by field.
BOUNDS = {
    "slow_threshold": (0, MAX_SLOW_THRESHOLD),
    "slow_report": (0, MAX_REPORT_ROWS),
    "load_vus": (1, MAX_LOAD_VUS),
    "load_time_scale": (0, MAX_TIME_SCALE),
}


def _sources(option: Option) -> list[str]:
    """Every place a value of ``option`` can come from, as messages name them."""
    names = [option.flag] if option.flag else []
    names += [f"{option.ini} (ini)"] if option.ini else []
    return names + [f"{name} (env)" for name in option.env]


def _raw(option: Option, value: object) -> object:
    """``value`` in the shape pytest hands over: a list of lines for a line-list option."""
    return [value] if option.ini_type == "linelist" and isinstance(value, str) else value


def _check_message(message: str, source: str, secret: bool) -> None:
    assert len(message.splitlines()) == 1, message
    assert message.isprintable(), message
    assert message.startswith(f"{source}: "), message
    assert len(message) < 400, message
    assert not secret or "s3cret" not in message, message


def read_cleanly(option: Option, raw: object, source: str) -> bool:
    """Read one value: it parses to a usable value, or stops with one clean line (True).

    Any other exception propagates, failing the test that asked.
    """
    try:
        value, deferred = read_option(option, raw, source)
    except pytest.UsageError as exc:
        _check_message(str(exc), source, option.secret)
        return True
    if deferred is not None:
        _check_message(deferred, source, option.secret)
    if option.field in BOUNDS and value is not None:  # slow_report: None is "all"
        low, high = BOUNDS[option.field]
        assert math.isfinite(value)
        assert low <= value <= high
    if option.field == "k6_scripts":
        assert all(glob_problem(glob) is None for glob in value)
    if option.field == "extra_markers":
        assert not {name for name, _ in value} & set(MARKERS)
    return False


def hostile_tally(option: Option) -> tuple[int, int]:
    """(values tried, of them stopped with one clean line) for every source of ``option``."""
    tried = stopped = 0
    for source in _sources(option):
        for value in HOSTILE:
            tried += 1
            stopped += read_cleanly(option, _raw(option, value), source)
    return tried, stopped


@pytest.mark.parametrize("option", OPTIONS, ids=[o.field for o in OPTIONS])
def test_every_hostile_value_parses_or_gets_one_line(option: Option) -> None:
    tried, stopped = hostile_tally(option)
    assert tried == len(HOSTILE) * len(_sources(option))
    assert stopped >= len([v for v in HOSTILE if not isinstance(v, str)])


#: Text a hostile value is made of: digits of every script, signs, exponents, blanks,
#: control characters, separators of lines and globs.
_PIECES = st.one_of(
    st.characters(categories=["Nd", "No", "Nl"]),
    st.sampled_from(["e", "E", ".", "+", "-", "%", "s", ":", "/", "[", "]", "*", "!", "\\"]),
    st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x1b", "\u2028", "\udcff", "\u00a0"]),
    st.sampled_from(["nan", "inf", "all", "total", "smoke", "..", "1e308", "9" * 30]),
    st.characters(),
)
_HOSTILE_TEXT = st.lists(_PIECES, max_size=12).map("".join)
_HOSTILE_RAW = st.one_of(
    _HOSTILE_TEXT,
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=30),
    st.lists(_HOSTILE_TEXT, max_size=4),
    st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2)),
)


@given(st.sampled_from(OPTIONS), _HOSTILE_RAW, st.integers(min_value=0, max_value=3))
def test_hostile_values_never_raise_anything_else(option: Option, raw: object, pick: int) -> None:
    sources = _sources(option)
    read_cleanly(option, _raw(option, raw), sources[pick % len(sources)])


@pytest.mark.parametrize("digits", ["\u00b2", "\u0661", "\uff11", "\u0969", "\u00bd", "1\u00b2"])
@pytest.mark.parametrize(
    "parse",
    [parse_seconds, parse_report_rows, parse_vus, parse_scale, parse_percent],
    ids=["seconds", "report_rows", "vus", "scale", "percent"],
)
def test_numbers_take_ascii_digits_only(parse: Callable[[str], object], digits: str) -> None:
    with pytest.raises(SettingError, match=r"expected|percentage"):
        parse(digits)


@pytest.mark.parametrize(
    ("parse", "highest", "over"),
    [
        (parse_seconds, MAX_SLOW_THRESHOLD, "86400.001"),
        (parse_report_rows, MAX_REPORT_ROWS, str(MAX_REPORT_ROWS + 1)),
        (parse_vus, MAX_LOAD_VUS, "100000000000000000000"),
        (parse_scale, MAX_TIME_SCALE, "1e308"),
        (parse_percent, 100, "100.5"),
    ],
    ids=["seconds", "report_rows", "vus", "scale", "percent"],
)
def test_numbers_have_an_upper_bound(
    parse: Callable[[str], object], highest: float, over: str
) -> None:
    assert parse(str(highest)) == highest
    with pytest.raises(SettingError, match=f"{highest}"):
        parse(over)
    with pytest.raises(SettingError):
        parse("9" * 5000)  # past int()'s 4300 digits: still one clean error


@pytest.mark.parametrize(
    ("raw", "value"), [("0.5", 0.5), (".5", 0.5), ("1e-3", 0.001), ("+2", 2.0), ("2.", 2.0)]
)
def test_decimals_in_ascii(raw: str, value: float) -> None:
    assert parse_scale(raw) == value


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("smoke: my own", "'smoke' is a built-in marker of pytest-tempo"),
        ("slow: long", "'slow' is a built-in marker of pytest-tempo"),
        ("skip: mine", "'skip' is one of pytest's own markers"),
        ("llm: a\x1bb", "the description has characters that are not printable"),
    ],
)
def test_markers_keep_the_builtin_descriptions(line: str, message: str) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        parse_markers([line])


def test_a_marker_described_twice_is_refused() -> None:
    with pytest.raises(SettingError, match="'llm' is already described above"):
        parse_markers(["llm: one", "llm: two"])


@pytest.mark.parametrize(
    ("glob", "problem"),
    [
        ("[unclosed", "has an unclosed '['"),
        ("perf/[!x.js", "has an unclosed '['"),
        ("../../*.js", "has an empty, '.' or '..' part"),
        ("./perf/*.js", "has an empty, '.' or '..' part"),
        ("perf//*.js", "has an empty, '.' or '..' part"),
        ("perf/", "has an empty, '.' or '..' part"),
        ("/srv/perf/*.js", "is absolute"),
        ("C:/perf/*.js", "is absolute"),
        ("[z-a].js", "has a character range that is empty"),
        ("a\x00.js", "not printable"),
    ],
)
def test_globs_that_can_never_match(glob: str, problem: str) -> None:
    assert problem in (glob_problem(glob) or "")
    with pytest.raises(SettingError, match=re.escape(problem)):
        parse_k6_globs([glob])


@pytest.mark.parametrize("glob", ["*.k6.js", "perf/*.js", "[[]x].js", "[]].js", "[!]]*.js", "*"])
def test_globs_that_can_match(glob: str) -> None:
    assert glob_problem(glob) is None
    assert parse_k6_globs([glob]) == (glob,)


def test_k6_globs_with_backslashes_are_paths() -> None:
    assert parse_k6_globs(["perf\\*.js  *.k6.js"]) == ("perf/*.js", "*.k6.js")


def test_several_globs_on_a_line_name_the_bad_one() -> None:
    with pytest.raises(SettingError, match=r"line 'a\.js \.\./b\.js': the glob '\.\./b\.js' "):
        parse_k6_globs(["a.js ../b.js"])


def test_test_types_globs_are_checked_too() -> None:
    with pytest.raises(SettingError, match=r"the glob '\.\./x/\*' has an empty"):
        parse_test_types(["../x/*: unit"])


def test_long_values_are_cut_in_messages() -> None:
    assert shown("x" * 1000) == f"{'x' * SHOWN_CHARS!r}... (1000 characters)"
    assert shown("a\nb") == "'a\\nb'"
    assert len(shown(list(range(1000)))) <= SHOWN_CHARS + 3


def test_a_list_for_one_value_is_refused() -> None:
    # pyproject.toml's `slow_threshold = [1, 2]`: pytest hands the list over (9.2 warns that
    # it will refuse it one day).
    (option,) = (o for o in OPTIONS if o.field == "slow_threshold")
    with pytest.raises(pytest.UsageError) as excinfo:
        read_option(option, [1, 2], "slow_threshold (ini)")
    assert str(excinfo.value) == (
        "slow_threshold (ini): [1, 2] is not valid: expected one value, such as "
        "--slow-threshold=0.5"
    )


def test_a_secret_value_of_the_wrong_type_is_not_shown() -> None:
    (option,) = (o for o in OPTIONS if o.field == "db_url")
    with pytest.raises(pytest.UsageError) as excinfo:
        read_option(option, ["postgresql://u:s3cret@h/db"], "db_url (ini)")
    assert str(excinfo.value) == (
        "db_url (ini): a list is not valid: expected one value, such as "
        'db_url = "postgresql+psycopg://app@localhost/app"'
    )


# --- bad input through pytest: the run stops at start-up with one line ------------------------


def _one_line_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> pytest.RunResult:
    result = assert_usage_error(pytester, args, message)
    assert [line for line in result.stderr.lines if line.strip()] == [
        line for line in result.stderr.lines if line.startswith("ERROR: ")
    ], result.stderr.str()
    return result


BAD_FLAGS = [
    (["--slow-report=\u00b2"], "ERROR: --slow-report: '\u00b2' is not valid: expected a whole "
     "number from 0 to 100000, or 'all'"),
    (["--load-vus=\u00b2"], "ERROR: --load-vus: '\u00b2' is not valid: expected a whole number "
     "from 1 to 10000"),
    (["--slow-threshold=\u0661"], "ERROR: --slow-threshold: '\u0661' is not valid: *"),
    (["--load-time-scale=1e308"], "ERROR: --load-time-scale: '1e308' is not valid: expected a "
     "number over 0 and up to 100, such as 0.01"),
    (["--load-vus=100000000000000000000"], "ERROR: --load-vus: '100000000000000000000' is not "
     "valid: expected a whole number from 1 to 10000"),
    (["--slow-report=" + "9" * 5000], "ERROR: --slow-report: '99999*'... (5000 characters) is "
     "not valid: *"),
    (["--cov-floor=total:\u0669\u0660"], "ERROR: --cov-floor: line 'total:\u0669\u0660': *"),
    (["-o", "tempo_markers=smoke: my own"], "ERROR: tempo_markers (ini): line 'smoke: my own': "
     "'smoke' is a built-in marker of pytest-tempo, whose description stays; choose another "
     "name"),
    (["-o", "k6_scripts=[unclosed"], "ERROR: k6_scripts (ini): '[[]unclosed' has an unclosed "
     "'[[]'; write '[[][[]]' for a literal '[[]'"),
    (["-o", "k6_scripts=../../*.js"], "ERROR: k6_scripts (ini): '../../[*].js' has an empty, "
     "'.' or '..' part; paths are matched relative to the rootdir, as in tests/load/[*].js"),
    (["--tempo-html=run.html", "-p", "no:tempo-timing"], "ERROR: --tempo-html: has no effect "
     "with -p no:tempo-timing, which turns off the timing feature that writes the HTML page"),
    (["--slow-strict", "-p", "no:tempo-timing"], "ERROR: --slow-strict: has no effect with "
     "-p no:tempo-timing, *"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    BAD_FLAGS,
    ids=[
        "slow-report-superscript", "load-vus-superscript", "slow-threshold-arabic-digit",
        "load-time-scale-1e308", "load-vus-1e20", "slow-report-5000-digits",
        "cov-floor-arabic-digits", "tempo_markers-builtin", "k6_scripts-unclosed",
        "k6_scripts-parent", "tempo-html-timing-off", "slow-strict-timing-off",
    ],
)  # fmt: skip
def test_bad_input_is_one_line_at_start_up(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    _one_line_usage_error(pytester, args, message)


@xdist_params
def test_bad_input_stops_the_controller_before_workers(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    result = _one_line_usage_error(
        pytester, ["--load-vus=\u00b2", *xdist_args], "ERROR: --load-vus: '\u00b2' is not valid*"
    )
    assert "gw0" not in result.stdout.str()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("tempo_markers = [1, 2]", "ERROR: tempo_markers (ini): 1 is not valid: expected text, "
         'such as tempo_markers = ["llm: calls a language model"]'),
        ("k6_scripts = [true]", "ERROR: k6_scripts (ini): True is not valid: expected text, *"),
        ("cov_floors = [90]", "ERROR: cov_floors (ini): 90 is not valid: expected text, *"),
        ("test_types = [[\"x\"]]", "ERROR: test_types (ini): [[]'x'] is not valid: *"),
        ('k6_scripts = ["/srv/perf/*.js"]', "ERROR: k6_scripts (ini): '/srv/perf/[*].js' is "
         "absolute; paths are matched relative to the rootdir"),
        ('slow_threshold = "1e999"', "ERROR: slow_threshold (ini): '1e999' is not valid: "
         "expected a number of seconds from 0 to 86400, such as 0.5"),
    ],
    ids=["markers-ints", "k6-bool", "floors-number", "types-nested", "k6-absolute",
         "threshold-inf"],
)  # fmt: skip
def test_bad_pyproject_values_are_one_line(
    pytester: pytest.Pytester, toml: str, message: str
) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{toml}\n")
    _one_line_usage_error(pytester, [], message)


@pytest.mark.parametrize("key", ["tempo_html = page.html", "slow_report_json = slow.json"])
def test_timing_outputs_in_the_ini_warn_when_timing_is_off(
    pytester: pytest.Pytester, key: str
) -> None:
    pytester.makeini(f"[pytest]\nconsole_output_style = classic\n{key}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("-p", "no:tempo-timing")
    result.assert_outcomes(passed=1, warnings=1)
    name = key.partition(" ")[0]
    result.stdout.fnmatch_lines(
        [f"*PytestConfigWarning: {name} (ini): has no effect with -p no:tempo-timing, *"]
    )
    assert not (pytester.path / key.rpartition(" ")[2]).exists()
    # With the timing feature on, the same ini writes the file and warns of nothing.
    pytester.runpytest().assert_outcomes(passed=1)
    assert (pytester.path / key.rpartition(" ")[2]).exists()


def test_timing_settings_that_change_nothing_do_not_warn(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nslow_report = 20\nslow_strict = false\n")
    pytester.makepyfile("def test_a(): pass")
    pytester.runpytest("-p", "no:tempo-timing").assert_outcomes(passed=1, warnings=0)


@given(st.text(alphabet=st.sampled_from("aZ_09é-.\n ²"), max_size=6) | st.text(max_size=6))
def test_marker_names_are_what_the_identifier_pattern_took(name: str) -> None:
    """Checked without a regular expression, which would be compiled on every start."""
    assert is_marker_name(name) is bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name))


@given(st.text(alphabet=st.sampled_from("aZé9:/[]!-*\\"), max_size=8))
def test_glob_checks_agree_with_their_regular_expressions(glob: str) -> None:
    """Only a set can be empty, so ``translate`` is asked only about a glob with a '[';
    the drive letter is read without ``re``: the verdicts of the patterns they replace."""
    if "(?!)" in fnmatch.translate(glob):
        assert "[" in glob
    problem = glob_problem(glob) or ""
    drive = "/" in glob and re.match(r"[A-Za-z]:", glob) is not None
    if glob.isprintable() and "[" not in glob and (drive or glob.startswith("/")):
        assert problem.startswith("is absolute")
    if problem.startswith("is absolute"):
        assert glob.startswith("/") or drive


_DECIMAL_TEXT = st.text(alphabet="0123456789+-.eE \u00b2\u0661_", max_size=8)


@given(_DECIMAL_TEXT)
def test_decimal_and_whole_match_their_grammar_without_a_regex(text: str) -> None:
    """``is_decimal``/``is_whole`` accept exactly what the ``_DECIMAL``/``_WHOLE`` patterns
    do (settings are read on every run, so the patterns are not compiled)."""
    import re

    from pytest_tempo import parsers

    assert parsers.is_decimal(text) == bool(re.fullmatch(parsers._DECIMAL, text))
    assert parsers.is_whole(text) == bool(re.fullmatch(parsers._WHOLE, text))


@given(st.text(alphabet="ab/.*?[]!", max_size=6), st.text(alphabet="ab/.", max_size=6))
def test_glob_match_is_fnmatchcase(glob: str, text: str) -> None:
    from fnmatch import fnmatchcase

    from pytest_tempo.parsers import glob_match

    assert glob_match(text, glob) == fnmatchcase(text, glob)
    assert glob_match(text + "x", glob) == fnmatchcase(text + "x", glob)
