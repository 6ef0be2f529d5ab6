"""The server's CPU and RSS during load: the least-squares trend, the plateau, the sampler."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.profiles import PROFILE_NAMES, build_profile
from pytest_tempo.load.resources import (
    MB,
    Sample,
    Trend,
    Watcher,
    WatchError,
    fit,
    plateau,
    resolve,
    summarize,
    window_for,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def test_fit_exact_and_noisy_lines() -> None:
    slope, r2 = fit([(0, 1), (1, 3), (2, 5), (3, 7)]) or (0, 0)
    assert slope == pytest.approx(2)
    assert r2 == pytest.approx(1)
    slope, r2 = fit([(0, 5), (1, 5), (2, 5)]) or (1, 1)
    assert (slope, r2) == (0, 0)  # flat: explains nothing, grows nothing
    slope, r2 = fit([(0, 0), (1, 2), (2, 0), (3, 2)]) or (0, 0)
    assert r2 < 0.3
    assert fit([(1, 1)]) is None
    assert fit([(1, 1), (1, 2)]) is None


@given(
    st.floats(-1e3, 1e3),
    st.floats(-1e3, 1e3),
    st.lists(st.floats(0, 1e4), min_size=2, max_size=30, unique=True),
)
def test_fit_recovers_any_line(slope: float, intercept: float, xs: list[float]) -> None:
    if max(xs) - min(xs) < 1e-3:
        return
    found = fit([(x, slope * x + intercept) for x in xs])
    assert found is not None
    assert found[0] == pytest.approx(slope, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_plateau_holds_the_peak(name: str) -> None:
    profile = build_profile(name, 10)
    start, end = plateau(profile)
    assert 0 < start < end < profile.duration
    middle = (start + end) / 2
    assert profile.users_at(middle) == profile.peak


def test_plateau_values() -> None:
    assert plateau(build_profile("soak", 10)) == (300, 300 + 4 * 3600)
    assert plateau(build_profile("smoke", 2)) == (10, 45)
    start, end = window_for(build_profile("smoke", 2), stopped=60.0)  # 5 s to start up
    assert (start, end) == (15.0, 50.0)


def _samples(rss_mb: list[float], step: float = 1.0) -> list[Sample]:
    return [Sample(i * step, 10.0 * i, v * MB) for i, v in enumerate(rss_mb)]


def test_summarize_peak_mean_and_trend_on_the_window() -> None:
    # growth of 1 MB per second inside the window, a jump outside it
    samples = _samples([50, 200, 10, 11, 12, 13, 14, 15, 300])
    usage = summarize(7, samples, ended=False, window=(2, 7))
    assert usage.peak_rss_mb == 300
    assert usage.peak_cpu == 80
    assert usage.mean_cpu == 40
    assert usage.trend is not None
    assert usage.trend.samples == 6
    assert usage.trend.mb_per_hour == pytest.approx(3600)
    assert usage.trend.steady
    assert usage.describe().endswith("RSS grew 3600 MB/h, r² 1.00 over 6 samples (steady growth)")
    assert usage.failure(None) is None
    assert usage.failure(5000) is None
    failure = usage.failure(100)
    assert failure is not None
    assert failure.splitlines()[0] == (
        "load: RSS grew 3600 MB/h, r² 1.00 over 6 samples, above the limit of 100 MB/h "
        "(ini load_rss_growth_limit)"
    )
    # too few samples on the plateau: no trend, no verdict
    short = summarize(7, samples, ended=False, window=(2, 4))
    assert short.trend is None
    assert short.failure(1) is None


def test_noise_is_not_steady_growth_and_a_dead_server_fails() -> None:
    noisy = summarize(3, _samples([100, 104, 99, 103, 100, 104, 100]), ended=False, window=None)
    assert noisy.trend is not None
    assert not noisy.trend.steady
    assert noisy.failure(1) is None
    assert Trend(-5, 0.99, 9).describe() == "RSS shrank 5 MB/h, r² 0.99"
    dead = summarize(3, _samples([1, 1]), ended=True, window=None)
    failure = dead.failure(None)
    assert failure is not None
    assert failure.startswith("load: the watched process 3 ended during the load\npid 3: ")


def test_resolve_targets(tmp_path: Path) -> None:
    me = psutil.Process()
    assert resolve(me) is me
    assert resolve(me.pid).pid == me.pid
    assert resolve(str(me.pid)).pid == me.pid
    pidfile = tmp_path / "server.pid"
    pidfile.write_text(f"{me.pid}\n")
    assert resolve(pidfile).pid == me.pid
    assert resolve(str(pidfile)).pid == me.pid
    pidfile.write_text("nope")
    with pytest.raises(WatchError, match=r"the PID file holds 'nope', not a PID"):
        resolve(pidfile)
    with pytest.raises(WatchError, match=r"cannot read the PID file"):
        resolve(tmp_path / "missing.pid")
    with pytest.raises(WatchError, match=r"expected a PID, a psutil.Process or a PID file"):
        resolve(1.5)
    with pytest.raises(WatchError, match=r"expected a PID"):
        resolve(True)


def test_resolve_a_process_that_is_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with pytest.raises(WatchError, match=rf"watch: no process {proc.pid} to watch"):
        resolve(proc.pid)


LEAKER = """\
import sys, time
keep = []
step = int(sys.argv[1])
while True:
    keep.append(bytearray(step * 1024 * 1024))
    time.sleep(0.05)
"""


@pytest.fixture
def leaker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """A process that grows 2 MB every 50 ms and one that stays put, both real."""
    script = tmp_path / "leak.py"
    script.write_text(LEAKER)
    procs = (
        subprocess.Popen([sys.executable, str(script), "2"]),
        subprocess.Popen([sys.executable, str(script), "0"]),
    )
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_watcher_samples_real_processes(
    leaker: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]],
) -> None:
    """Sampled every 0.1 s for about 1.2 s: +40 MB/s against a flat line (huge margins)."""
    leaking, flat = leaker
    with (
        Watcher(psutil.Process(leaking.pid), interval=0.1) as grow,
        Watcher(psutil.Process(flat.pid), interval=0.1) as still,
    ):
        done = psutil.Process(leaking.pid).memory_info().rss + 40 * MB
        while psutil.Process(leaking.pid).memory_info().rss < done:
            time.sleep(0.02)
    leak, steady = grow.usage(), still.usage()
    assert len(leak.samples) >= 5
    assert leak.trend is not None
    assert leak.trend.steady
    assert leak.trend.mb_per_hour > 10_000  # about 140,000 MB/h
    assert steady.trend is not None
    assert not steady.trend.steady or steady.trend.mb_per_hour < 100
    assert leak.peak_rss_mb > steady.peak_rss_mb


def test_watcher_sees_the_process_end() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    with Watcher(psutil.Process(proc.pid), interval=0.05) as watcher:
        proc.wait()
    usage = watcher.usage()
    assert usage.ended
    assert usage.failure(None) is not None
