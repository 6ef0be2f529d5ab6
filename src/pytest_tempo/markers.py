"""The markers pytest-tempo registers, so ``--strict-markers`` suites just work."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _pytest.nodes import Node
    from pytest import Config, Item

    from .settings import Settings

__all__ = [
    "MARKERS",
    "PYTEST_MARKERS",
    "RECORDED_MARKS",
    "MarkerIndex",
    "marker_lines",
    "register_markers",
]

#: Markers recorded per test in the durations store, so the controller knows them without
#: collecting: they decide a test's tier.
RECORDED_MARKS = ("smoke", "slow")

#: Every built-in marker with its one-line description.
MARKERS: dict[str, str] = {
    "smoke": "quick check that the system basically works; runs first",
    "slow": "long-running test; runs last, deselect with -m 'not slow'",
    "integration": "test that crosses a boundary (database, network, another process)",
    "unit": "fast, isolated test of one unit of code",
    "e2e": "end-to-end test of a whole user journey",
    "db": "test that needs a database",
    "load": "load test (a test type): runs under every --load-profile",
    "stress": "stress test: 2 to 3 times the expected traffic, in steps",
    "spike": "spike test: a sudden jump to about 10 times the traffic, then back",
    "soak": "soak test: the expected traffic for hours, to find leaks",
    "load_profiles": "load_profiles(*names): the load profiles this load test runs under "
    "(smoke runs every load test)",
}

#: The markers pytest itself registers (``pytest --markers``); ``tempo_markers`` leaves them be.
PYTEST_MARKERS = frozenset(
    ("filterwarnings", "parametrize", "skip", "skipif", "tryfirst", "trylast", "usefixtures",
     "xfail")
)  # fmt: skip


def marker_lines(settings: Settings) -> list[str]:
    """The ``markers`` ini lines to add: built-ins, ``tempo_markers``, and test-type markers."""
    described: dict[str, str] = dict(MARKERS)
    described.update(settings.extra_markers)
    for rule in settings.test_types:
        for name in rule.markers:
            described.setdefault(name, f"test type given by test_types to tests under {rule.glob}")
    return [f"{name}: {text}" for name, text in described.items()]


def register_markers(config: Config, lines: Iterable[str]) -> None:
    for line in lines:
        config.addinivalue_line("markers", line)


class MarkerIndex:
    """Names of the markers on items, with the markers of shared parents read once.

    ``item.iter_markers()`` walks the whole node chain for every call; over 100,000 items
    that alone costs seconds. Module, class and package markers are shared, so they are
    read once per parent node here.
    """

    def __init__(self) -> None:
        self._parents: dict[int, frozenset[str]] = {}

    def _chain(self, node: Node | None) -> frozenset[str]:
        if node is None:
            return frozenset()
        key = id(node)
        try:
            return self._parents[key]
        except KeyError:
            names = self._chain(node.parent) | {mark.name for mark in node.own_markers}
            self._parents[key] = names
            return names

    def parent_has(self, item: Item, names: frozenset[str]) -> bool:
        """Whether a parent of ``item`` (class, module, package...) has one of ``names``."""
        return not self._chain(item.parent).isdisjoint(names)

    def names(self, item: Item) -> frozenset[str]:
        own = {mark.name for mark in item.own_markers}
        inherited = self._chain(item.parent)
        return inherited.union(own) if own else inherited
