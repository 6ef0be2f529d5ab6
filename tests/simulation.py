"""Drive pytest-xdist schedulers through their protocol with fake workers and a virtual clock.

The fake workers behave like ``xdist/remote.py``: a worker starts a test only once it knows
the next one (or was told to shut down), reports each finished test with
``mark_test_complete``, answers ``steal`` requests (all or nothing, from its queue), and a
crash replaces the worker with a new one under a new id, as ``DSession.worker_errordown``
does. No process is started and no time passes: durations are virtual seconds.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pytest_tempo.forecast import QUIET

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FAULTS",
    "QUIET",
    "SHAPES",
    "Case",
    "FakeConfig",
    "FakeNode",
    "Shape",
    "SimResult",
    "Suite",
    "apply_fault",
    "duration_maker",
    "limit",
    "lpt_oracle",
    "real_suite",
    "run_cell",
    "simulate",
    "skewed_mix",
]


class FakeConfig:
    """What the schedulers read from a pytest config."""

    def __init__(self, workers: int) -> None:
        self._values: dict[str, Any] = {"tx": [f"{workers}*popen"], "maxschedchunk": None}
        self.hook = SimpleNamespace(pytest_collectreport=lambda report: None)
        self.option = SimpleNamespace(loadscopereorder=True)

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
        self.batches: list[int] = []  # the size of every send_runtest_some
        #: crashed, not yet reported down: sending fails as on a closed execnet channel
        self.closed = False

    def __repr__(self) -> str:
        return f"<FakeNode {self.gateway.id}>"

    @property
    def shutting_down(self) -> bool:
        return self.down or self.shutdown_sent

    def _check_open(self) -> None:
        if self.closed:
            raise OSError("cannot send (already closed?)")

    def send_runtest_some(self, indices: list[int]) -> None:
        self._check_open()
        self.batches.append(len(indices))
        self.queue.extend(indices)

    def send_runtest_all(self) -> None:
        self.queue.extend(range(len(self.sim.collection)))

    def send_steal(self, indices: list[int]) -> None:
        self._check_open()
        self.sim.steals.append((self, list(indices)))
        self.sim.result.steals += 1

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
    steals: int = 0
    #: the largest number of tests queued on a worker at once
    deepest_queue: int = 0

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
        nodeids: list[str] | None = None,
        report_delay: float = 0.0,
    ) -> None:
        #: seconds between a worker's crash and xdist reporting it down
        self.report_delay = report_delay
        self.collection = nodeids or [f"test_mod.py::test_{i}" for i in range(len(durations))]
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

    def can_start(self, node: FakeNode) -> bool:
        if node.down or node.closed or node.running is not None or not node.queue:
            return False
        # A worker waits until it knows the next test, or that there is none.
        return len(node.queue) >= 2 or node.shutdown_sent

    def try_start(self, node: FakeNode) -> None:
        if not self.can_start(node):
            return
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
        node.queue.insert(0, index)
        if self.report_delay and not node.closed:
            node.closed = True
            self.seq += 1
            down = (self.clock + self.report_delay, self.seq, "down", node, index)
            heapq.heappush(self.events, down)
            return
        node.down = True
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
                # A crash may have brought up a replacement that can start right away.
                if any(self.can_start(node) for node in self.nodes) or self.steals:
                    continue
                break
            self.clock, _, kind, node, index = heapq.heappop(self.events)
            if kind == "down":
                node.queue.pop(0)  # crash() puts the test back at the head again
                self.crash(node, index)
                continue
            node.running = None
            deepest = max(len(n.queue) for n in self.nodes)
            self.result.deepest_queue = max(self.result.deepest_queue, deepest)
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
    nodeids: list[str] | None = None,
    report_delay: float = 0.0,
) -> SimResult:
    """Run ``durations`` (one per test, in collection order) on ``workers`` fake workers."""
    return Simulator(make, durations, workers, crash_on, max_restarts, nodeids, report_delay).run()


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


# --- suites shaped like real ones, faults, and the comparison matrix ----------------------


@dataclass(frozen=True)
class Shape:
    """A suite shape: how many tests, how many record (near) zero, how skewed the rest is."""

    name: str
    tests: int
    zero_share: float  # tests recorded at zero or a few microseconds
    slow_share: float  # of the total time, carried by the slowest 1% of tests
    longest_share: float  # of the total time, carried by the longest test


#: Shapes measured on large open-source suites: 20-65% of tests at (near) zero, the slowest
#: 1% carrying 55-75% of the time, the longest test 1-12% of the total.
SHAPES = (
    Shape("A 2k, 65% zero, 1%=75%, max 12%", 2000, 0.65, 0.75, 0.12),
    Shape("B 5k, 40% zero, 1%=65%, max 4%", 5000, 0.40, 0.65, 0.04),
    Shape("C 10k, 20% zero, 1%=55%, max 1%", 10000, 0.20, 0.55, 0.01),
)


@dataclass
class Suite:
    """True durations per test, in collection order, and the node ids."""

    nodeids: list[str]
    durations: list[float]


def real_suite(shape: Shape, seed: int) -> Suite:
    """A generated suite of ``shape``: modules, classes and parametrized functions.

    Parametrizations of one function cost alike (a common base, 30% spread), as do the
    tests of a module more loosely, so siblings say something about each other, as in real
    suites. The slowest 1% is rescaled to carry ``slow_share`` of the total and the longest
    test ``longest_share``.
    """
    rng = random.Random(seed)
    nodeids: list[str] = []
    bases: list[float] = []
    module = 0
    while len(nodeids) < shape.tests:
        module_scale = rng.lognormvariate(-5.5, 0.8)  # ~4 ms
        in_class = rng.random() < 0.3
        for function in range(rng.randint(2, 12)):
            params = rng.choice((1, 1, 1, 2, 3, 5, 8))
            trivial = rng.random() < shape.zero_share
            base = rng.uniform(2e-6, 3e-5) if trivial else module_scale * rng.lognormvariate(0, 0.7)
            prefix = f"tests/test_m{module:04d}.py::" + ("TestC::" if in_class else "")
            for p in range(params):
                suffix = f"[{p}]" if params > 1 else ""
                nodeids.append(f"{prefix}test_f{function}{suffix}")
                bases.append(base if trivial else base * rng.lognormvariate(0, 0.3))
        module += 1
    nodeids, durations = nodeids[: shape.tests], bases[: shape.tests]
    slow_count = max(shape.tests // 100, 2)
    # Slow tests come in families: a few functions' parametrizations, and loners.
    order = sorted(range(len(durations)), key=lambda i: -durations[i])
    slow = set(order[: slow_count // 2])
    while len(slow) < slow_count:
        slow.add(rng.randrange(len(durations)))
    fast_total = sum(d for i, d in enumerate(durations) if i not in slow)
    total = fast_total / (1 - shape.slow_share)
    longest = shape.longest_share * total
    rest = total - fast_total - longest
    slow_list = sorted(slow)
    weights = [rng.uniform(0.2, 1.0) for _ in slow_list[1:]]
    cap = longest * 0.95  # the longest test stays the longest
    values = [min(rest * w / sum(weights), cap) for w in weights]
    # What the cap cut off goes to the fast tests, keeping the total.
    spill = rest - sum(values)
    if spill > 0:
        scale = 1 + spill / fast_total
        durations = [d * scale if i not in slow else d for i, d in enumerate(durations)]
    longest_index = rng.choice(slow_list)
    others = [i for i in slow_list if i != longest_index]
    durations[longest_index] = longest
    for i, v in zip(others, values, strict=True):
        durations[i] = v
    return Suite(nodeids, durations)


#: The faults of the matrix: how the record and the run differ from the truth.
FAULTS = ("complete", "50% unrecorded", "30% run 5x", "1 ms overhead", "crash", "fewer than 2n")


@dataclass
class Case:
    """One cell's inputs: what runs (true seconds) and what the store says."""

    nodeids: list[str]
    durations: list[float]
    recorded: dict[str, float]
    crash_on: set[int] = field(default_factory=set)


def apply_fault(suite: Suite, fault: str, workers: int, seed: int) -> Case:
    """The case for ``fault``: the record has 10% noise unless the fault says otherwise."""
    rng = random.Random(seed * 7919 + workers)
    nodeids, true = list(suite.nodeids), list(suite.durations)
    if fault == "fewer than 2n":
        picked = sorted(rng.sample(range(len(true)), max(2 * workers - 1, 1)))
        nodeids, true = [nodeids[i] for i in picked], [true[i] for i in picked]
    recorded = {n: d * rng.uniform(0.9, 1.1) for n, d in zip(nodeids, true, strict=True)}
    crash_on: set[int] = set()
    if fault == "50% unrecorded":
        for n in rng.sample(nodeids, len(nodeids) // 2):
            del recorded[n]
    elif fault == "30% run 5x":
        true = [d * 5 if rng.random() < 0.3 else d for d in true]
    elif fault == "1 ms overhead":
        true = [d + 0.001 for d in true]
    elif fault == "crash":
        crash_on = {rng.randrange(len(true))}
    return Case(nodeids, true, recorded, crash_on)


def lpt_oracle(durations: list[float], workers: int) -> float:
    """Greedy longest-first list scheduling with the true durations: the makespan."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads, default=0.0)


#: "Never worse than" allows for the last printed digit: runs within a thousandth are ties.
TIE = 1e-3


def limit(fault: str, ratios: dict[str, float]) -> float:
    """The most ``duration``'s makespan / lower bound may reach in one run of ``fault``.

    Complete data: 1.05 and never above the better of ``load`` and ``worksteal``; 50%
    unrecorded: 1.10 or 1.02 times the better built-in, whichever is larger; every other
    fault: never above the better built-in (reported by the benchmark, not one of its rules:
    with a noisy record and fewer than 2n tests, near-equal tests can swap).
    """
    better = min(ratios["load"], ratios["worksteal"])
    if fault == "complete":
        return min(1.05, better + TIE)
    if fault == "50% unrecorded":
        return max(1.10, 1.02 * better)
    return better + TIE


def xdist_makers() -> dict[str, Callable[[FakeConfig, int], Any]]:
    """xdist's own schedulers, as ``simulate`` makes them."""
    import xdist.scheduler

    return {
        "load": lambda config, n: xdist.scheduler.LoadScheduling(config, QUIET),
        "worksteal": lambda config, n: xdist.scheduler.WorkStealingScheduling(config, QUIET),
        "loadscope": lambda config, n: xdist.scheduler.LoadScopeScheduling(config, QUIET),
    }


def duration_maker(recorded: dict[str, float]) -> Callable[[FakeConfig, int], Any]:
    """``DurationScheduling`` planning from ``recorded``, as ``--tempo-dist=duration`` does."""
    from pytest_tempo.scheduling import DurationScheduling, plan_units

    def make(config: FakeConfig, workers: int) -> Any:
        def plan_for(collection: list[str], n: int) -> Any:
            return plan_units(collection, recorded, (), None, n)

        return DurationScheduling(config, QUIET, plan_for, workers)

    return make


def run_cell(case: Case, workers: int, modes: tuple[str, ...]) -> dict[str, float]:
    """Makespan / lower bound per mode (and ``oracle``) for one case."""
    ran = [d for i, d in enumerate(case.durations) if i not in case.crash_on]
    bound = lower_bound(ran, workers)
    makers = xdist_makers()
    ratios: dict[str, float] = {}
    for mode in modes:
        if mode == "oracle":
            ratios[mode] = lpt_oracle(ran, workers) / bound
            continue
        make = duration_maker(case.recorded) if mode == "duration" else makers[mode]
        try:
            result = simulate(make, case.durations, workers, set(case.crash_on), 4, case.nodeids)
        except RuntimeError:
            if mode == "duration":
                raise
            # xdist's loadscope puts every group of a crashed worker back, finished ones
            # too (xdist/scheduler/loadscope.py, remove_node); handing out a finished group
            # sends nothing, and a worker left holding one test waits for ever.
            ratios[mode] = math.nan
            continue
        expected = [i for i in range(len(case.durations)) if i not in case.crash_on]
        # (xdist's loadscope runs the test that crashed its worker again: not checked.)
        if mode != "loadscope" and result.executed() != expected:
            raise AssertionError(f"{mode}: tests lost or run twice")
        ratios[mode] = result.makespan / bound
    return ratios
