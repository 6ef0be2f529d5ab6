from __future__ import annotations

import pytest

from pytest_tempo.markers import MARKERS, marker_lines
from pytest_tempo.settings import Settings, TypeRule

USES_EVERY_MARKER = "\n".join(
    ["import pytest", ""]
    + [f"@pytest.mark.{name}\ndef test_{name}(): pass\n" for name in MARKERS]
    + ["@pytest.mark.llm\ndef test_llm(): pass\n"]
)


def test_marker_lines_cover_builtins_extras_and_types() -> None:
    settings = Settings(
        extra_markers=(("llm", "calls a model"),),
        test_types=(TypeRule("tests/api/*", ("api", "unit")),),
    )
    lines = marker_lines(settings)
    names = [line.split(":", 1)[0] for line in lines]
    assert names == [*MARKERS, "llm", "api"]
    assert "llm: calls a model" in lines
    assert "api: test type given by test_types to tests under tests/api/*" in lines


def test_builtin_markers_include_the_design_list() -> None:
    assert set(MARKERS) == {
        "smoke", "slow", "integration", "unit", "e2e", "db", "load", "stress", "spike", "soak",
        "load_profiles",
    }  # fmt: skip


def test_markers_listed(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntempo_markers =\n    llm: calls a language model\n")
    result = pytester.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"@pytest.mark.{name}: {text}" for name, text in MARKERS.items()])
    result.stdout.fnmatch_lines(["@pytest.mark.llm: calls a language model"])


# pytest caches known marker names process-wide (``MARK_GEN._markers``, never cleared): a
# marker an earlier run in this process registered passes --strict-markers in any later run.
# So every run that checks what is registered runs in a subprocess of its own.
def test_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntempo_markers =\n    llm: calls a language model\n")
    pytester.makepyfile(USES_EVERY_MARKER)
    result = pytester.runpytest_subprocess("--strict-markers", "--strict-config")
    result.assert_outcomes(passed=len(MARKERS) + 1)


def test_strict_mode_of_pytest_9(pytester: pytest.Pytester) -> None:
    if int(pytest.__version__.split(".")[0]) < 9:
        pytest.skip("the 'strict' ini option is new in pytest 9")
    pytester.makeini("[pytest]\nstrict = true\ntempo_markers =\n    llm: calls a language model\n")
    pytester.makepyfile(USES_EVERY_MARKER)
    pytester.runpytest_subprocess().assert_outcomes(passed=len(MARKERS) + 1)


def test_unregistered_marker_still_fails_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.llm\ndef test_a(): pass\n")
    result = pytester.runpytest_subprocess("--strict-markers")
    result.stdout.fnmatch_lines(["*'llm' not found in `markers` configuration option*"])


def test_test_type_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntest_types =\n    checks/*: contract\n")
    pytester.makepyfile(
        **{"checks/test_c.py": "import pytest\n@pytest.mark.contract\ndef test_c(): pass\n"}
    )
    pytester.runpytest_subprocess("--strict-markers").assert_outcomes(passed=1)


def test_markers_not_registered_with_plugin_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_a(): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:tempo", "--strict-markers")
    result.stdout.fnmatch_lines(["*'smoke' not found in `markers` configuration option*"])
