"""The ``load_test`` fixture's function: one Locust run, judged, recorded, returned.

:func:`load_test_function` builds what the fixture gives a test: it picks the profile, the
time limit and the master for workers from elsewhere (announced with :func:`announcer`), runs
Locust (:func:`pytest_tempo.load.locust.run_locust`), samples the watched server, records the
results on the test's report with the baseline's verdict, and raises
:class:`~pytest_tempo.load.locust.LoadTestFailed` with the tables when the run fails.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

import pytest

from .distributed import check_distribution
from .profiles import build_profile

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pytest import Config

    from .locust import LoadMetrics
    from .profiles import Profile
    from .state import LoadState

__all__ = ["announcer", "load_test_function"]


def announcer(config: Config) -> Callable[[str], None]:
    """Print a line at once, past pytest's output capture (to stderr, which also reaches the
    terminal from an xdist worker), and into the test's captured output."""

    def announce(line: str) -> None:
        print(line)  # shown with the test's report
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stderr.write(f"\n{line}\n")
            sys.stderr.flush()

    return announce


def load_test_function(
    state: LoadState, request: pytest.FixtureRequest
) -> Callable[..., LoadMetrics]:
    """The function the ``load_test`` fixture gives the test of ``request``."""
    from .locust import LoadTestFailed, locust_available, run_locust

    item = request.node
    reason = state.skip_reason(item)
    if reason:
        pytest.skip(reason)
    unavailable = locust_available()
    # A missing engine under load_require fails the test when it calls load_test (a
    # failure, not a set-up error); otherwise the test skips.
    blocked = state.missing_engine(unavailable) if unavailable else None
    if unavailable and not blocked:
        pytest.skip(unavailable)
    base = request.path.parent
    calls = [0]
    announce = announcer(request.config)

    def load_test(
        user: object,
        *,
        host: str | None = None,
        thresholds: Mapping[str, object] | None = None,
        profile: str | Profile | None = None,
        processes: int = 1,
        timeout: float | None = None,
        allow_empty: bool = False,
        watch: object = None,
        workers: int | None = None,
    ) -> LoadMetrics:
        __tracebackhide__ = True
        if blocked:
            pytest.fail(blocked, pytrace=False)
        problem = check_distribution(processes, workers)
        if problem:
            pytest.fail(problem, pytrace=False)
        external = workers if workers is not None else state.workers
        master = state.master(external, processes) if external else None
        active = state.profile
        assert active is not None
        if isinstance(profile, str):
            chosen = build_profile(profile, active.vus, state.time_scale)
        else:
            chosen = profile or active
        # Starting Python, Locust and its workers takes a few seconds of its own; workers
        # from elsewhere have their own time to join.
        wait = master.wait if master is not None else 0.0
        limit = timeout if timeout is not None else chosen.time_limit(state.time_scale) + 10 + wait
        calls[0] += 1
        key = item.nodeid if calls[0] == 1 else f"{item.nodeid}#{calls[0]}"
        with state.watching(watch) as watcher:
            metrics, report = run_locust(
                user,
                base=base,
                profile=chosen,
                host=host,
                thresholds=thresholds,
                processes=processes,
                timeout=limit,
                allow_empty=allow_empty,
                master=master,
                announce=announce,
            )
        problem = None
        if metrics is not None:
            from .baseline import locust_groups

            metrics.usage = state.usage(watcher, chosen)
            problem = state.record(
                item,
                "locust",
                None,
                metrics.results,
                metrics.seconds,
                summary=metrics.summary(),
                key=key,
                groups=locust_groups(metrics.entries, metrics.seconds),
                usage=metrics.usage,
                passed=report is None and chosen == active,
                timeline=metrics.timeline(),
            )
        if problem is not None:  # a server that leaked or died, shown with any threshold
            report = problem if report is None else f"{report}\n\n{problem}"
        if report is not None:
            raise LoadTestFailed(report)
        assert metrics is not None
        return metrics

    return load_test
