from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.settings import (
    DEFAULT_TEST_TYPES,
    OPTIONS,
    SettingError,
    TypeRule,
    parse_bool,
    parse_markers,
    parse_order,
    parse_seconds,
    parse_test_types,
)

from .conftest import assert_usage_error


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
