from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.classify import BUILTIN_TYPES, markers_for_path, type_markers
from pytest_tempo.settings import DEFAULT_TEST_TYPES, Settings, TypeRule, parse_test_types

from .conftest import xdist_params

DEFAULTS = parse_test_types(DEFAULT_TEST_TYPES)


def test_type_markers_are_the_builtin_types_then_those_of_the_rules() -> None:
    rules = (TypeRule("checks/*", ("contract", "unit")), TypeRule("api/*", ("api",)))
    assert type_markers(Settings(test_types=rules)) == (*BUILTIN_TYPES, "contract", "api")
    assert type_markers(Settings(test_types=())) == BUILTIN_TYPES


@pytest.mark.parametrize(
    ("path", "markers"),
    [
        ("tests/unit/test_a.py", ("unit",)),
        ("tests/unit/deep/er/test_a.py", ("unit",)),
        ("tests/integration/test_db.py", ("integration",)),
        ("tests/e2e/test_flow.py", ("e2e",)),
        ("tests/smoke/test_up.py", ("smoke",)),
        ("tests/load/test_api.py", ("load",)),
        ("tests/test_top.py", ()),
        ("src/unit/test_a.py", ()),
        ("tests/units/test_a.py", ()),
    ],
    ids=lambda v: ("+".join(v) or "none") if isinstance(v, tuple) else None,
)
def test_default_rules(path: str, markers: tuple[str, ...]) -> None:
    assert markers_for_path(path, DEFAULTS) == markers


def test_folder_glob_without_star_and_overlapping_rules() -> None:
    rules = (
        TypeRule("tests/api", ("integration",)),
        TypeRule("tests/api/*", ("integration", "db")),
        TypeRule("*/test_health.py", ("smoke",)),
    )
    assert markers_for_path("tests/api/v1/test_health.py", rules) == (
        "integration",
        "db",
        "smoke",
    )


@given(st.lists(st.sampled_from(["tests", "unit", "a", "b"]), min_size=1, max_size=5))
def test_under_tests_unit_is_always_unit(parts: list[str]) -> None:
    path = "/".join(["tests", "unit", *parts]) + ".py"
    assert "unit" in markers_for_path(path, DEFAULTS)


LAYOUT = {
    "tests/unit/test_u.py": "def test_u(): pass\n",
    "tests/integration/test_i.py": (
        "import pytest\n@pytest.mark.integration\ndef test_explicit(): pass\ndef test_i(): pass\n"
    ),
    "tests/test_other.py": "import pytest\n@pytest.mark.unit\ndef test_decorated(): pass\n",
}


@xdist_params
def test_select_by_path_type(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(**LAYOUT)
    deselected = 0 if xdist_args else 2  # the xdist controller does not count deselections
    result = pytester.runpytest("-m", "integration", "--strict-markers", *xdist_args)
    result.assert_outcomes(passed=2, deselected=deselected)
    result = pytester.runpytest("-m", "unit", "-rA", *xdist_args)
    result.assert_outcomes(passed=2, deselected=deselected)
    result.stdout.fnmatch_lines_random(
        ["PASSED tests/unit/test_u.py::test_u", "PASSED tests/test_other.py::test_decorated"]
    )


def test_explicit_marker_kept_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**LAYOUT)
    pytester.makeconftest(
        """
        def pytest_collection_finish(session):
            for item in session.items:
                names = [m.name for m in item.iter_markers()]
                print("MARKS", item.nodeid, ",".join(sorted(names)))
        """
    )
    result = pytester.runpytest("-s", "--collect-only", "-q")
    result.stdout.fnmatch_lines_random(
        [
            "MARKS tests/integration/test_i.py::test_explicit integration",
            "MARKS tests/integration/test_i.py::test_i integration",
            "MARKS tests/unit/test_u.py::test_u unit",
            "MARKS tests/test_other.py::test_decorated unit",
        ]
    )


def test_custom_rules_replace_defaults(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntest_types =\n    checks/*: smoke db\n")
    pytester.makepyfile(**LAYOUT, **{"checks/test_c.py": "def test_c(): pass\n"})
    result = pytester.runpytest("-m", "smoke and db", "-rA")
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["PASSED checks/test_c.py::test_c"])
    # tests/integration/ is no longer a type by its path: only the decorated test is one.
    result = pytester.runpytest("-m", "integration", "-rA")
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["PASSED tests/integration/test_i.py::test_explicit"])


def test_types_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**LAYOUT)
    result = pytester.runpytest("-m", "unit", "-p", "no:tempo-types", "-rA")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["PASSED tests/test_other.py::test_decorated"])
