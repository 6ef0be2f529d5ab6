"""The ``--shard=K/N`` plugin: deselects every test outside shard K, and keeps the record.

Splits where tests are collected (the process, or each xdist worker alike, from the saved
record the controller ships them); records and writes on the controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .._hooks import HookObject
from .._xdist import from_worker, to_controller, to_worker, worker_input
from ..timing import REPORT_EXTRAS
from .basis import Basis, choose_basis, split
from .record import RECORD_VERSION, numbers, parse_saved, read_saved, write_saved

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..settings import ShardSpec

__all__ = ["ShardPlugin"]

#: The key of the saved record in what the controller ships a worker, and of a worker's record in
#: what it sends back.
WORKERINPUT_SAVED = "tempo_shard_saved"
WORKEROUTPUT_RECORD = "tempo_shard"


def _seconds(microseconds: int) -> str:
    return f"{microseconds / 1e6:.1f}s"


class ShardPlugin(HookObject):
    """``--shard=K/N``: deselects every test outside shard K, as ``-k`` does.

    Splits where tests are collected (the process, or each xdist worker alike); records and
    writes on the controller.
    """

    def __init__(self, config: pytest.Config, spec: ShardSpec, totals: Mapping[str, float]) -> None:
        self.spec = spec
        self._config = config
        self._totals = totals
        shipped = worker_input(config)
        self._controller = shipped is None
        cache = getattr(config, "cache", None)
        if shipped is not None:
            self._saved = parse_saved(shipped.get(WORKERINPUT_SAVED))
        else:
            self._saved = read_saved(cache) if cache is not None else None
        #: the record of this shard: the cache value, and what the run selected and ran
        self.value: dict[str, Any] | None = None
        self.selected: list[str] = []
        self._ran: dict[str, None] = {}
        self._line: str | None = None
        self._error: str | None = None
        config.stash.setdefault(REPORT_EXTRAS, {})["shard"] = self.report

    # --- pure-ish steps ---------------------------------------------------------------------

    def select(self, nodeids: Sequence[str]) -> set[str]:
        """The node ids of this shard; also prepares the record and the header line."""
        fresh = Basis.of(nodeids, self._totals)
        basis, earlier = choose_basis(fresh, self._saved, self.spec)
        costs = basis.costs()
        shards = split(costs, self.spec.count, basis.spread())
        k = self.spec.index - 1
        mine = [n for n, s in zip(basis.tests, shards, strict=True) if s == k]
        self.selected = mine
        self.value = {
            "version": RECORD_VERSION,
            "count": self.spec.count,
            "collection": basis.collection_id,
            "basis": basis.basis_id,
            "tests": list(basis.tests),
            "recorded": list(basis.recorded),
            "shards": earlier,
        }
        expected = sum(c for c, s in zip(costs, shards, strict=True) if s == k)
        head = f"tempo shard {self.spec.index}/{self.spec.count}: {len(mine)} tests"
        if not mine:
            self._line = (
                f"{head}: this shard is empty ({len(basis.tests)} tests collected "
                f"for {self.spec.count} shards)"
            )
            return set()
        known = (
            "recorded durations" if basis.any_recorded else "test counts (no durations recorded)"
        )
        kept = f", kept from shards {numbers([int(e) for e in earlier])}" if earlier else ""
        self._line = (
            f"{head}, ~{_seconds(expected)} of ~{_seconds(sum(costs))}, balanced by {known} "
            f"(split basis {basis.basis_id}{kept})"
        )
        return set(mine)

    def report(self) -> dict[str, Any] | None:
        """This shard's record for ``--slow-report-json``."""
        if self.value is None:
            return None
        return {
            "index": self.spec.index,
            "count": self.spec.count,
            "collection": self.value["collection"],
            "tests": len(self.value["tests"]),
            "basis": self.value["basis"],
            "selected": list(self.selected),
            "ran": list(self._ran),
        }

    def cache_value(self) -> dict[str, Any] | None:
        if self.value is None:
            return None
        shards = dict(self.value["shards"])
        shards[str(self.spec.index)] = {"selected": list(self.selected), "ran": list(self._ran)}
        return {**self.value, "shards": shards}

    # --- hooks --------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        mine = self.select([item.nodeid for item in items])
        keep = [item for item in items if item.nodeid in mine]
        drop = [item for item in items if item.nodeid not in mine]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        to_controller(config, WORKEROUTPUT_RECORD, self.value)

    def pytest_report_collectionfinish(self) -> str | None:
        return self._line

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        to_worker(node, WORKERINPUT_SAVED, self._saved)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        # The xdist controller does not collect; its workers deselected already.
        if self._line is not None:
            return
        self.selected = sorted(set(ids))
        head = f"tempo shard {self.spec.index}/{self.spec.count}: {len(self.selected)} tests"
        if not ids:
            self._line = f"{head}: this shard is empty"
        else:
            known = [self._totals[n] for n in self.selected if n in self._totals]
            mean = sum(known) / len(known) if known else 0.0
            seconds = sum(self._totals.get(n, mean) for n in self.selected)
            self._line = f"{head}, ~{seconds:.1f}s expected"
        reporter = node.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(self._line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        value = parse_saved(from_worker(node, WORKEROUTPUT_RECORD))
        if self.value is None and value is not None:
            self.value = value

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self._controller and report.when == "setup":
            self._ran[report.nodeid] = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._controller:
            return
        cache = getattr(self._config, "cache", None)
        value = self.cache_value()
        if cache is not None and value is not None:
            self._error = write_saved(cache, value)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._error:
            terminalreporter.write_line(f"tempo: {self._error}", red=True, bold=True)
