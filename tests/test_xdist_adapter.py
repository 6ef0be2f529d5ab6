"""Each capability of ``pytest_tempo._xdist``, checked against the installed pytest-xdist.

These are the tests that fail first when an xdist release changes what the adapter relies
on; the upstream workflow runs them against xdist's development branch.
"""

from __future__ import annotations

import json

import pytest

from pytest_tempo import _xdist

from .conftest import HAS_XDIST

pytestmark = pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")


def test_planned_workers_counts_as_xdist_does(pytester: pytest.Pytester) -> None:
    # xdist turns -n N into N popen specs before it makes the scheduler.
    tx = ["--tx", "2*popen", "--tx", "popen"]
    assert _xdist.planned_workers(pytester.parseconfig(*tx)) == 3
    assert _xdist.planned_workers(pytester.parseconfig("--tx", "popen")) == 1


def test_collection_diff_words_a_difference_only() -> None:
    assert _xdist.collection_diff(["a", "b"], ["a", "b"], "gw0", "gw1") is None
    message = _xdist.collection_diff(["a", "b"], ["a", "c"], "gw0", "gw1")
    assert message is not None
    assert "gw0" in message
    assert "gw1" in message
    assert "+c" in message or "c" in message.splitlines()[-1]


def test_off_a_worker_nothing_is_sent(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    assert not _xdist.is_worker(config)
    assert _xdist.worker_input(config) is None
    assert _xdist.to_controller(config, "key", 1) is False
    assert not hasattr(config, "workeroutput")


def test_a_value_travels_to_the_workers_and_back(pytester: pytest.Pytester) -> None:
    """Controller -> worker -> controller, through a real ``-n 2`` run."""
    pytester.makeconftest(
        """
        import json
        import pytest
        from pytest_tempo import _xdist

        seen = {}

        @pytest.hookimpl(optionalhook=True)
        def pytest_configure_node(node):
            _xdist.to_worker(node, "probe", {"sent": 7})

        def pytest_sessionfinish(session):
            config = session.config
            if _xdist.is_worker(config):
                given = _xdist.worker_input(config)
                sent = _xdist.to_controller(
                    config, "probe", {"got": given["probe"]["sent"], "id": given["workerid"]}
                )
                assert sent is True
            else:
                with open("seen.json", "w") as f:
                    json.dump(seen, f)

        @pytest.hookimpl(optionalhook=True)
        def pytest_testnodedown(node, error):
            value = _xdist.from_worker(node, "probe")
            missing = _xdist.from_worker(node, "absent", "default")
            seen[node.gateway.id] = [value, missing]
        """
    )
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass\n")
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=2)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen == {
        "gw0": [{"got": 7, "id": "gw0"}, "default"],
        "gw1": [{"got": 7, "id": "gw1"}, "default"],
    }


def test_from_a_crashed_worker_the_default() -> None:
    class Node:  # a worker that died before sending anything has no workeroutput
        pass

    assert _xdist.from_worker(Node(), "key", ()) == ()


REPORTING_PROBE = """
import os
from pytest_tempo import _xdist

def pytest_sessionfinish(session):
    config = session.config
    name = (_xdist.worker_input(config) or {}).get("workerid", "controller")
    with open(os.path.join(str(config.rootpath), "reports-" + name), "w") as f:
        f.write(str(_xdist.is_reporting_process(config)))
"""


REPORTERS = {
    "run": ([], {"reports-controller": "True", "reports-gw0": "False", "reports-gw1": "False"}),
    # xdist starts no worker to only collect
    "collect-only": (["--collect-only"], {"reports-controller": "False"}),
}


@pytest.mark.parametrize(("extra", "expected"), REPORTERS.values(), ids=REPORTERS.keys())
def test_only_the_controller_of_a_run_reports(
    pytester: pytest.Pytester, extra: list[str], expected: dict[str, str]
) -> None:
    pytester.makeconftest(REPORTING_PROBE)
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass\n")
    result = pytester.runpytest("-n", "2", "-p", "no:randomly", *extra)
    assert result.ret == pytest.ExitCode.OK
    assert {p.name: p.read_text() for p in pytester.path.glob("reports-*")} == expected


def test_a_run_without_xdist_reports_unless_it_only_collects(pytester: pytest.Pytester) -> None:
    assert _xdist.is_reporting_process(pytester.parseconfig()) is True
    assert _xdist.is_reporting_process(pytester.parseconfig("--collect-only")) is False
