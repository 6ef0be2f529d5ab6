"""The server's CPU and memory during a load test, and a verdict on steady RSS growth.

A :class:`Watcher` samples a process (and every process it started) once a second, in a
thread of the test's own process, while k6 or Locust sends the load: CPU percent (100 is one
core) and resident memory. :func:`fit` draws the least-squares line through RSS over time on
the profile's *plateau* (the stages that hold the peak users, so the ramp up, when memory
grows with the number of connections, does not count). Growth is *steady* when the line rises
and explains most of the points (r² of :data:`STEADY_R2` or more) and rose by a megabyte at
least over the samples (a few pages in a short run are not a leak); a steady growth faster
than ini ``load_rss_growth_limit`` (MB per hour) fails the item.

psutil (in the ``[load]`` extra) is imported only when a process is watched. All but the
:class:`Watcher` and :func:`resolve` is pure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from .profiles import Profile

__all__ = [
    "INTERVAL",
    "MIN_FIT_SAMPLES",
    "STEADY_R2",
    "Sample",
    "Trend",
    "Usage",
    "WatchError",
    "Watcher",
    "fit",
    "plateau",
    "resolve",
    "summarize",
]

#: Seconds between two samples.
INTERVAL = 1.0
#: Fewer samples on the plateau than this give no trend.
MIN_FIT_SAMPLES = 5
#: A rising line with at least this r² is steady growth...
STEADY_R2 = 0.8
#: ... when it rose by this many MB over the samples at least (a page here and there is not).
MIN_RISE_MB = 1.0
MB = 1024 * 1024

SKIP_NO_PSUTIL = "watching a process needs psutil: pip install 'pytest-tempo[load]'"


class WatchError(Exception):
    """The process to watch cannot be found or read; the message says which and why."""


@dataclass(frozen=True)
class Sample:
    """One sample: seconds since the watch started, CPU percent, resident memory in bytes."""

    t: float
    cpu: float
    rss: float


@dataclass(frozen=True)
class Trend:
    """RSS over time as a line: MB per hour, its r², how many samples it was fitted on."""

    mb_per_hour: float
    r2: float
    samples: int

    #: Seconds between the first and the last sample fitted.
    seconds: float = 0.0

    @property
    def steady(self) -> bool:
        """A rising line that explains the points and rose by :data:`MIN_RISE_MB` at least."""
        rise = self.mb_per_hour * self.seconds / 3600
        return self.mb_per_hour > 0 and self.r2 >= STEADY_R2 and rise >= MIN_RISE_MB

    def describe(self) -> str:
        verb = "grew" if self.mb_per_hour >= 0 else "shrank"
        return f"RSS {verb} {abs(self.mb_per_hour):.0f} MB/h, r² {self.r2:.2f}"


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares through ``(x, y)`` points: ``(slope, r²)``; None for fewer than two
    distinct ``x``. A flat line through identical ``y`` has r² 0 (it explains nothing)."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    syy = sum((y - mean_y) ** 2 for _, y in points)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 0.0
    return slope, min(1.0, max(0.0, r2))


def plateau(profile: Profile) -> tuple[float, float]:
    """The longest stretch ``(start, end)`` in seconds where the profile holds its peak."""
    best = (0.0, profile.duration)
    best_len = -1.0
    start = 0.0
    previous = 0
    peak = profile.peak
    for stage in profile.stages:
        end = start + stage.seconds
        if stage.target == peak and previous == peak and stage.seconds > best_len:
            best, best_len = (start, end), stage.seconds
        start, previous = end, stage.target
    return best


@dataclass(frozen=True)
class Usage:
    """What a watch saw: the samples, the process id, and whether the process ended."""

    pid: int
    samples: tuple[Sample, ...]
    ended: bool = False
    trend: Trend | None = None
    #: Epoch seconds when the watch began (a sample's time is ``started_at + t``).
    started_at: float = 0.0

    @property
    def peak_cpu(self) -> float:
        return max((s.cpu for s in self.samples), default=0.0)

    @property
    def mean_cpu(self) -> float:
        return sum(s.cpu for s in self.samples) / len(self.samples) if self.samples else 0.0

    @property
    def peak_rss_mb(self) -> float:
        return max((s.rss for s in self.samples), default=0.0) / MB

    @property
    def mean_rss_mb(self) -> float:
        return sum(s.rss for s in self.samples) / len(self.samples) / MB if self.samples else 0.0

    def describe(self) -> str:
        """``pid 12: CPU peak 85% mean 40%, RSS peak 120 MB mean 110 MB; RSS grew ...``."""
        text = (
            f"pid {self.pid}: CPU peak {self.peak_cpu:.0f}% mean {self.mean_cpu:.0f}%, "
            f"RSS peak {self.peak_rss_mb:.1f} MB mean {self.mean_rss_mb:.1f} MB, "
            f"{len(self.samples)} samples"
        )
        if self.trend is not None:
            flag = " (steady growth)" if self.trend.steady else ""
            text += f"; {self.trend.describe()} over {self.trend.samples} samples{flag}"
        if self.ended:
            text += "; the process ended during the load"
        return text

    def summary(self) -> dict[str, float | None]:
        """Plain data for the report (it travels from xdist workers)."""
        return {
            "watched_pid": float(self.pid),
            "cpu_peak": round(self.peak_cpu, 1),
            "cpu_mean": round(self.mean_cpu, 1),
            "rss_peak_mb": round(self.peak_rss_mb, 2),
            "rss_mean_mb": round(self.mean_rss_mb, 2),
            "rss_mb_per_hour": round(self.trend.mb_per_hour, 2) if self.trend else None,
            "rss_r2": round(self.trend.r2, 3) if self.trend else None,
        }

    def failure(self, limit: float | None) -> str | None:
        """Why the item fails (the process died, or grew steadily past ``limit`` MB/h)."""
        if self.ended:
            return f"load: the watched process {self.pid} ended during the load\n{self.describe()}"
        trend = self.trend
        if limit is not None and trend is not None and trend.steady and trend.mb_per_hour > limit:
            return (
                f"load: {trend.describe()} over {trend.samples} samples, above the limit of "
                f"{limit:g} MB/h (ini load_rss_growth_limit)\n{self.describe()}"
            )
        return None


def summarize(
    pid: int,
    samples: Sequence[Sample],
    ended: bool,
    window: tuple[float, float] | None,
    started_at: float = 0.0,
) -> Usage:
    """The usage of ``samples``, with the RSS trend fitted on those inside ``window``."""
    chosen = [s for s in samples if window is None or window[0] <= s.t <= window[1]]
    trend = None
    if len(chosen) >= MIN_FIT_SAMPLES:
        line = fit([(s.t, s.rss / MB) for s in chosen])
        if line is not None:
            trend = Trend(line[0] * 3600, line[1], len(chosen), chosen[-1].t - chosen[0].t)
    return Usage(pid, tuple(samples), ended, trend, started_at)


# --- the process and the sampling thread -----------------------------------------------------


def resolve(target: object) -> Any:
    """A ``psutil.Process`` for a PID, a ``psutil.Process`` or a PID file's path."""
    try:
        import psutil
    except ImportError:
        raise WatchError(SKIP_NO_PSUTIL) from None
    if isinstance(target, psutil.Process):
        return target
    pid: int
    if isinstance(target, bool):
        raise WatchError(f"watch={target!r}: expected a PID, a psutil.Process or a PID file")
    if isinstance(target, int):
        pid = target
    elif isinstance(target, (str, Path)):
        text = str(target).strip()
        if text.isdigit():
            pid = int(text)
        else:
            try:
                content = Path(text).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise WatchError(
                    f"watch={text!r}: cannot read the PID file: {exc.strerror or exc}"
                ) from None
            if not content.isdigit():
                raise WatchError(f"watch={text!r}: the PID file holds {content[:40]!r}, not a PID")
            pid = int(content)
    else:
        raise WatchError(f"watch={target!r}: expected a PID, a psutil.Process or a PID file")
    try:
        return psutil.Process(pid)
    except psutil.Error as exc:
        raise WatchError(f"watch: no process {pid} to watch ({type(exc).__name__})") from None


class Watcher:
    """Samples a process and its children every :data:`INTERVAL` seconds in a thread.

    ``with Watcher(process) as watcher: ...`` then ``watcher.usage(window)``; ``window`` is
    in seconds since the sampling started.
    """

    def __init__(self, process: Any, interval: float = INTERVAL) -> None:
        self._process = process
        self._interval = interval
        self._samples: list[Sample] = []
        self._ended = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: dict[int, Any] = {}
        self.started = 0.0
        self.started_at = 0.0
        self.stopped = 0.0

    def _members(self) -> list[Any]:
        import psutil

        members = [self._process]
        with contextlib.suppress(psutil.Error):
            members += self._process.children(recursive=True)
        # Keep one Process object per pid: cpu_percent() measures since its previous call.
        known = {}
        for member in members:
            known[member.pid] = self._known.get(member.pid, member)
        self._known = known
        return list(known.values())

    def _alive(self) -> bool:
        import psutil

        try:
            return bool(self._process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    def _sample(self) -> bool:
        import psutil

        if not self._alive():
            self._ended = True
            return False
        cpu = rss = 0.0
        for member in self._members():
            try:
                with member.oneshot():
                    cpu += member.cpu_percent(None)
                    rss += member.memory_info().rss
            except psutil.Error:
                continue
        self._samples.append(Sample(time.monotonic() - self.started, cpu, rss))
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._sample():
                return

    def __enter__(self) -> Watcher:
        self.started = time.monotonic()
        self.started_at = time.time()
        for member in self._members():  # the first cpu_percent() call only starts counting
            try:
                member.cpu_percent(None)
            except Exception:
                continue
        from ..signals import start_thread

        self._thread = start_thread(self._run, "tempo-load-watch")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopped = time.monotonic() - self.started
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def usage(self, window: tuple[float, float] | None = None) -> Usage:
        samples = list(self._samples)
        ended = self._ended or not self._alive()
        return summarize(int(self._process.pid), samples, ended, window, self.started_at)


def window_for(profile: Profile, stopped: float) -> tuple[float, float]:
    """The plateau in watch time: the load ended ``stopped`` seconds after the watch began."""
    start, end = plateau(profile)
    offset = stopped - profile.duration
    return start + offset, end + offset
