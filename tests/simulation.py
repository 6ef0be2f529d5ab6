"""Drive pytest-xdist schedulers through their protocol with fake workers and a virtual clock.

The fake workers behave like ``xdist/remote.py``: a worker starts a test only once it knows
the next one (or was told to shut down), reports each finished test with
``mark_test_complete``, answers ``steal`` requests (all or nothing, from its queue), and a
crash replaces the worker with a new one under a new id, as ``DSession.worker_errordown``
does. No process is started and no time passes: durations are virtual seconds.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["QUIET", "FakeConfig", "FakeNode", "SimResult", "simulate", "skewed_mix"]


class _Quiet:
    """A silent stand-in for xdist's log Producer (``log.loadsched(...)`` and so on)."""

    def __call__(self, *args: object) -> None:
        pass

    def __getattr__(self, name: str) -> _Quiet:
        return self


QUIET: Any = _Quiet()


class FakeConfig:
    """What the schedulers read from a pytest config."""

    def __init__(self, workers: int) -> None:
        self._values: dict[str, Any] = {"tx": [f"{workers}*popen"], "maxschedchunk": None}
        self.hook = SimpleNamespace(pytest_collectreport=lambda report: None)

    def getvalue(self, name: str) -> Any:
        return self._values[name]

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)


class FakeNode:
    """A worker: a queue of test indices and the commands a scheduler may send."""

    def __init__(self, sim: Simulator, name: str) -> None:
        self.sim = sim
        self.gateway = SimpleNamespace(id=name)
        self.queue: list[int] = []
        self.shutdown_sent = False
        self.down = False
        self.running: int | None = None

    def __repr__(self) -> str:
        return f"<FakeNode {self.gateway.id}>"

    @property
    def shutting_down(self) -> bool:
        return self.down or self.shutdown_sent

    def send_runtest_some(self, indices: list[int]) -> None:
        self.queue.extend(indices)

    def send_runtest_all(self) -> None:
        self.queue.extend(range(len(self.sim.collection)))

    def send_steal(self, indices: list[int]) -> None:
        self.sim.steals.append((self, list(indices)))

    def shutdown(self) -> None:
        self.shutdown_sent = True


@dataclass
class SimResult:
    makespan: float
    runs: list[tuple[int, str, float, float]] = field(
        default_factory=list
    )  # index, node, start, end
    crashed: list[str] = field(default_factory=list)
    idle_tail: dict[str, float] = field(default_factory=dict)

    def executed(self) -> list[int]:
        return sorted(r[0] for r in self.runs)


class Simulator:
    def __init__(
        self,
        make: Callable[[FakeConfig, int], Any],
        durations: list[float],
        workers: int,
        crash_on: set[int] | None = None,
        max_restarts: int = 4,
    ) -> None:
        self.collection = [f"test_mod.py::test_{i}" for i in range(len(durations))]
        self.durations = durations
        self.config = FakeConfig(workers)
        self.sched = make(self.config, workers)
        self.steals: list[tuple[FakeNode, list[int]]] = []
        self.crash_on = set(crash_on or ())
        self.restarts_left = max_restarts
        self.next_id = 0
        self.nodes: list[FakeNode] = []
        self.clock = 0.0
        self.events: list[tuple[float, int, str, FakeNode, int]] = []
        self.seq = 0
        self.result = SimResult(0.0)
        self.shutting_down = False
        self.aborted = False
        for _ in range(workers):
            self.start_node()

    def start_node(self) -> FakeNode:
        node = FakeNode(self, f"gw{self.next_id}")
        self.next_id += 1
        self.nodes.append(node)
        self.sched.add_node(node)
        self.sched.add_node_collection(node, list(self.collection))
        if self.sched.collection_is_completed:
            self.sched.schedule()
        return node

    def answer_steals(self) -> None:
        while self.steals:
            node, indices = self.steals.pop(0)
            if node.down:
                continue
            if all(i in node.queue for i in indices):
                node.queue = [i for i in node.queue if i not in indices]
                self.sched.remove_pending_tests_from_node(node, indices)
            else:
                self.sched.remove_pending_tests_from_node(node, [])

    def try_start(self, node: FakeNode) -> None:
        if node.down or node.running is not None or not node.queue:
            return
        if len(node.queue) < 2 and not node.shutdown_sent:
            return  # a worker waits until it knows the next test
        index = node.queue.pop(0)
        if index in self.crash_on:
            self.crash_on.discard(index)
            self.crash(node, index)
            return
        node.running = index
        end = self.clock + self.durations[index]
        self.seq += 1
        heapq.heappush(self.events, (end, self.seq, "done", node, index))
        self.result.runs.append((index, node.gateway.id, self.clock, end))

    def crash(self, node: FakeNode, index: int) -> None:
        node.down = True
        node.queue.insert(0, index)
        crashed = self.sched.remove_node(node)
        if crashed is not None:
            self.result.crashed.append(crashed)
        if self.restarts_left > 0:
            self.restarts_left -= 1
            self.start_node()
        else:  # "maximum crashed workers reached": xdist shuts the run down
            self.aborted = True
            for other in self.nodes:
                other.queue.clear()
                other.shutdown()

    def run(self, limit: int = 10_000_000) -> SimResult:
        for _ in range(limit):
            self.answer_steals()
            if self.sched.tests_finished and not self.shutting_down:
                self.shutting_down = True
                for node in self.nodes:
                    if not node.down:
                        node.shutdown()
            for node in list(self.nodes):
                self.try_start(node)
            self.answer_steals()
            if not self.events:
                break
            self.clock, _, _, node, index = heapq.heappop(self.events)
            node.running = None
            if not node.down:
                self.sched.mark_test_complete(node, index, self.durations[index])
        stalled = [n for n in self.nodes if not n.down and n.queue]
        unfinished = self.sched.has_pending and not self.sched.tests_finished
        if not self.aborted and (stalled or unfinished):
            raise RuntimeError(f"stalled at {self.clock:.3f}s: {stalled}")
        self.result.makespan = max((r[3] for r in self.result.runs), default=0.0)
        for node in self.nodes:
            ends = [r[3] for r in self.result.runs if r[1] == node.gateway.id]
            if not node.down:
                self.result.idle_tail[node.gateway.id] = self.result.makespan - max(ends, default=0)
        return self.result


def simulate(
    make: Callable[[FakeConfig, int], Any],
    durations: list[float],
    workers: int,
    crash_on: set[int] | None = None,
    max_restarts: int = 4,
) -> SimResult:
    """Run ``durations`` (one per test, in collection order) on ``workers`` fake workers."""
    return Simulator(make, durations, workers, crash_on, max_restarts).run()


def lower_bound(durations: list[float], workers: int) -> float:
    return max(max(durations, default=0.0), sum(durations) / workers)


def skewed_mix(
    seed: int, tests: int = 3000, slow_share: float = 0.68, longest_share: float = 0.08
) -> list[float]:
    """Durations shaped like real suites, in a shuffled collection order.

    Most tests take about a millisecond; the slowest 1% carry ``slow_share`` of the total, the
    longest test ``longest_share`` of it.
    """
    rng = random.Random(seed)
    slow_count = max(tests // 100, 2)
    fast = [rng.lognormvariate(-7.0, 0.5) for _ in range(tests - slow_count)]  # ~1 ms
    fast_total = sum(fast)
    total = fast_total / (1 - slow_share)
    slow_total = total - fast_total
    longest = longest_share * total
    weights = [rng.uniform(0.2, 1.0) for _ in range(slow_count - 1)]
    rest = slow_total - longest
    slow = [longest] + [rest * w / sum(weights) for w in weights]
    durations = fast + slow
    rng.shuffle(durations)
    return durations
