"""The steps of the Locust child, each on its own, without Locust: plain data and stand-ins
for the runner (the real runs are in test_load_locust.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load._locust_child import (
    ABORT_CHECK_EVERY,
    Drive,
    _users_at,
    host_problem,
    pick_classes,
    wait_for_workers,
)


class Hosted:
    host = "http://127.0.0.1:1"


class Hostless:
    host = None


FOUND = {"Hosted": Hosted, "Hostless": Hostless}


def test_pick_classes_named_all_or_missing() -> None:
    assert pick_classes(FOUND, ["Hostless"], "lf.py") == ([Hostless], None)
    assert pick_classes(FOUND, [], "lf.py") == ([Hosted, Hostless], None)
    assert pick_classes(FOUND, ["Nope"], "lf.py") == (
        [],
        "no User class 'Nope' in lf.py; found: Hosted, Hostless",
    )
    assert pick_classes({}, [], "lf.py") == ([], "no User class in lf.py")
    assert pick_classes({}, ["A"], "lf.py")[1] == "no User class 'A' in lf.py; found: none"


def test_host_problem_needs_a_host_somewhere() -> None:
    assert host_problem([Hosted], None) is None
    assert host_problem([Hosted, Hostless], "http://x") is None
    problem = host_problem([Hosted, Hostless], None)
    assert problem is not None
    assert problem.startswith("no host: pass host=")


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_for_workers_returns_when_all_joined() -> None:
    clock = Clock()
    arrivals = [0.2, 0.5]  # seconds at which the two workers join
    count = wait_for_workers(
        lambda: sum(t <= clock.now for t in arrivals), 2, 10.0, sleep=clock.sleep,
        clock=lambda: clock.now,
    )  # fmt: skip
    assert count == 2
    assert 0.5 <= clock.now < 0.6


def test_wait_for_workers_gives_up_at_the_timeout_with_the_count() -> None:
    clock = Clock()
    count = wait_for_workers(
        lambda: 1 if clock.now >= 0.3 else 0, 2, 3.0, sleep=clock.sleep, clock=lambda: clock.now
    )
    assert count == 1
    assert 3.0 < clock.now < 3.2


class Runner:
    """What Drive uses of a Locust runner: start(), user_count, stats.entries."""

    def __init__(self, entries: list[dict[str, Any]] | None = None) -> None:
        self.started: list[tuple[int, float]] = []
        self.user_count = 0
        self.stats = self
        self._entries = entries or []

    def start(self, users: int, spawn_rate: float) -> None:
        self.started.append((users, spawn_rate))
        self.user_count = users

    @property
    def entries(self) -> dict[str, Any]:
        return {str(i): Entry(e) for i, e in enumerate(self._entries)}


class Entry:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.num_requests = data["num_requests"]

    def serialize(self) -> dict[str, Any]:
        return self.data


SPEC = {"stages": [[1.0, 4], [1.0, 4], [1.0, 0]], "spawn_rate": 100}


def test_drive_follows_the_stages_and_records_the_history() -> None:
    runner = Runner()
    out: dict[str, Any] = {"history": []}
    steps = Drive(runner, SPEC, out)
    assert [steps.step(t) for t in (0.0, 0.5, 1.0, 1.5, 2.5)] == [True] * 5
    assert steps.step(3.0) is False  # the profile is over
    assert [users for users, _ in runner.started] == [0, 2, 4, 2]  # a new target only
    assert out["history"] == [
        [0.0, 0, 0], [0.5, 2, 2], [1.0, 4, 4], [1.5, 4, 4], [2.5, 2, 2],
    ]  # fmt: skip


FAILING = {
    "name": "x",
    "method": "GET",
    "num_requests": 10,
    "num_failures": 5,
    "total_response_time": 10,
    "response_times": {"1": 10},
}


def test_drive_stops_at_an_abort_threshold_checked_every_quarter_second() -> None:
    runner = Runner([FAILING])
    out: dict[str, Any] = {"history": [], "aborted": None}
    rules = [{"metric": "http_req_failed", "threshold": "rate<0.1", "delay": 0.0}]
    steps = Drive(runner, {**SPEC, "abort": rules}, out)
    assert steps.step(0.0) is True
    assert steps.step(ABORT_CHECK_EVERY - 0.01) is True  # not checked yet
    assert steps.step(ABORT_CHECK_EVERY) is False
    assert out["aborted"] == "http_req_failed: rate<0.1"


@given(
    st.lists(st.tuples(st.floats(0, 100), st.integers(0, 1000)).map(list), min_size=1, max_size=6),
    st.floats(0, 700),
)
def test_users_at_stays_between_the_stage_targets(stages: list[list[float]], t: float) -> None:
    users = _users_at(stages, t)
    targets = [0.0, *(target for _, target in stages)]
    assert min(targets) <= users <= max(targets)
    end = 0.0
    for seconds, _ in stages:  # the end as the stages add up, not sum()'s compensated total
        end += seconds
    assert _users_at(stages, end) == 0.0


@pytest.mark.parametrize(("t", "users"), [(0.0, 0.0), (0.5, 2.0), (1.0, 4.0), (2.5, 2.0)])
def test_users_at_interpolates_linearly(t: float, users: float) -> None:
    assert _users_at(SPEC["stages"], t) == users  # type: ignore[arg-type]
