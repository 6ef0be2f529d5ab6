"""Drive an xdist scheduler through its protocol with virtual workers and a virtual clock.

A minimal, pure simulation of how pytest-xdist runs a collection: each worker starts a test
only once it knows the next one (or was told to shut down), as ``xdist/remote.py`` does, and
reports each finished test with ``mark_test_complete``. No process is started and no time
passes: durations are virtual seconds. The advice's parallelism forecast runs the real
schedulers (pytest-tempo's :class:`~pytest_tempo.scheduling.DurationScheduling`, xdist's
``LoadScheduling``) on it; the tests' fuller simulator (crashes, steals) agrees with it on
every run without faults.
"""

from __future__ import annotations

import heapq
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["QUIET", "VirtualConfig", "VirtualNode", "makespan"]


class _Quiet:
    """A silent stand-in for xdist's log Producer (``log.loadsched(...)`` and so on)."""

    def __call__(self, *args: object) -> None:
        pass

    def __getattr__(self, name: str) -> _Quiet:
        return self


QUIET: Any = _Quiet()


class VirtualConfig:
    """What the schedulers read from a pytest config (``tx``, ``maxschedchunk``, ``dist``)."""

    def __init__(self, workers: int) -> None:
        self._values: dict[str, Any] = {
            "tx": [f"{workers}*popen"],
            "maxschedchunk": None,
            "dist": "load",
            "numprocesses": workers,
        }
        self.option = SimpleNamespace(**self._values, loadscopereorder=True)
        self.hook = SimpleNamespace(pytest_collectreport=lambda report: None)

    def getvalue(self, name: str) -> Any:
        return self._values.get(name)

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)


class VirtualNode:
    """A worker: a queue of test indices and the commands a scheduler may send."""

    def __init__(self, name: str, collection_size: int) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.queue: list[int] = []
        self.shutdown_sent = False
        self.running: int | None = None
        self.steals: list[list[int]] = []
        self._size = collection_size

    def __repr__(self) -> str:
        return f"<VirtualNode {self.gateway.id}>"

    @property
    def shutting_down(self) -> bool:
        return self.shutdown_sent

    def send_runtest_some(self, indices: Sequence[int]) -> None:
        self.queue.extend(indices)

    def send_runtest_all(self) -> None:
        self.queue.extend(range(self._size))

    def send_steal(self, indices: Sequence[int]) -> None:
        self.steals.append(list(indices))

    def shutdown(self) -> None:
        self.shutdown_sent = True


def makespan(
    make: Callable[[VirtualConfig, int], Any],
    nodeids: Sequence[str],
    durations: Sequence[float],
    workers: int,
    start_up: float = 0.0,
) -> float:
    """Virtual seconds from the start of the workers to the end of the last test.

    ``make(config, workers)`` returns a scheduler; ``durations`` are the tests' seconds in
    collection order; each worker first spends ``start_up`` seconds (start and collection).
    Steals are answered as xdist's workers answer them. Raises RuntimeError when the
    scheduler does not finish within a generous number of steps.
    """
    config = VirtualConfig(workers)
    sched = make(config, workers)
    nodes = [VirtualNode(f"gw{i}", len(nodeids)) for i in range(workers)]
    collection = list(nodeids)
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    clock = start_up
    events: list[tuple[float, int, int, int]] = []  # end, sequence, node, index
    sequence = 0
    end = start_up
    shutting_down = False

    bound = 100 * len(collection) + 10_000
    answered = [0]

    def answer_steals() -> None:
        # As xdist/remote.py does: all the indices asked for, if all are still queued;
        # otherwise none.
        for node in nodes:
            while node.steals:
                answered[0] += 1
                if answered[0] > bound:
                    raise RuntimeError("the scheduler kept asking for steals")
                indices = node.steals.pop(0)
                if all(i in node.queue for i in indices):
                    node.queue = [i for i in node.queue if i not in indices]
                    sched.remove_pending_tests_from_node(node, indices)
                else:
                    sched.remove_pending_tests_from_node(node, [])

    # A scheduler that never finishes would hang the run: give up past a generous bound.
    for _ in range(bound):
        answer_steals()
        if not shutting_down and sched.tests_finished:
            shutting_down = True
            for node in nodes:
                node.shutdown()
        for n, node in enumerate(nodes):
            if node.running is not None or not node.queue:
                continue
            if len(node.queue) < 2 and not node.shutdown_sent:
                continue  # a worker waits until it knows the next test
            index = node.queue.pop(0)
            node.running = index
            sequence += 1
            heapq.heappush(events, (clock + durations[index], sequence, n, index))
        answer_steals()
        if not events:
            return end
        clock, _, n, index = heapq.heappop(events)
        end = max(end, clock)
        node = nodes[n]
        node.running = None
        sched.mark_test_complete(node, index, durations[index])
    raise RuntimeError("the scheduler did not finish the simulated run")
