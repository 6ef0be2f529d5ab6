from __future__ import annotations

import importlib.util
import json
import os
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HAS_XDIST = importlib.util.find_spec("xdist") is not None
HAS_COV = importlib.util.find_spec("pytest_cov") is not None
HAS_RANDOMLY = importlib.util.find_spec("pytest_randomly") is not None

if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import settings

    # No example may fail for taking long: on two busy cores a first example that imports a
    # module can take longer than hypothesis's 200 ms deadline, and a test must not race the
    # wall clock.
    settings.register_profile("tempo", deadline=None)
    settings.load_profile("tempo")


def read_store(path: Path) -> dict[str, Any]:
    """A durations store file as written (version 2, every entry usable), its entries
    decoded: node id -> phase -> recent seconds (and ``at``, ``marks``)."""
    from pytest_tempo.durations_entry import check_text, decode_entry

    value: dict[str, Any] = json.loads(path.read_text())
    assert value["version"] == 2
    for nodeid, text in value["tests"].items():
        assert check_text(nodeid, text) is None, (nodeid, text)
    value["tests"] = {nodeid: decode_entry(text) for nodeid, text in value["tests"].items()}
    return value


@pytest.fixture(scope="session", autouse=True)
def _no_coverage_in_subprocesses() -> Iterator[None]:
    """Python processes a test starts are not measured by the outer run.

    pytest-cov 6 measures every Python subprocess of a ``--cov`` run through ``COV_CORE_*``
    variables. The suite's subprocesses (inner pytest runs, load targets, chaos runs) are
    sessions of their own: their data, measured with another configuration, would break the
    outer run's combine, and a measured process grows in memory as it runs.
    """
    saved = {
        name: os.environ.pop(name) for name in list(os.environ) if name.startswith("COV_CORE_")
    }
    yield
    os.environ.update(saved)


#: Runs a pytester test once without xdist and once with two workers.
xdist_params = pytest.mark.parametrize(
    "xdist_args",
    [
        pytest.param([], id="serial"),
        pytest.param(
            ["-n", "2"],
            id="xdist",
            marks=pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed"),
        ),
    ],
)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Inner runs keep their collection order: pytest-randomly is off unless a test asks.

    pytester clears PYTEST_ADDOPTS, so it is set here, after pytester's own set-up. Inner
    runs print output in the classic style so the order of result lines can be asserted.
    """
    # Hypothesis's plugin costs each inner xdist worker about a second to load; inner runs
    # do not use it.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly -p no:hypothesispytest")
    pytester.makeini("[pytest]\nconsole_output_style = classic\n")
    return pytester


def assert_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> pytest.RunResult:
    """Run a one-test project with ``args``: the run stops with a usage error (exit code 4)
    whose message matches the ``fnmatch`` pattern ``message``, and shows no traceback."""
    pytester.makepyfile(test_usage="def test_a(): pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()
    return result
