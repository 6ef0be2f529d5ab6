"""Sleep counting where tests run: ``time.sleep`` and ``asyncio.sleep`` wrapped once a run.

The wrappers are installed when the run starts (before collection, so a test module's
``from time import sleep`` gets one) and put back when it ends. Each wall second spent
inside them is added to :attr:`SleepCounter.slept`; the advice's report hook zeroes it when
a test's setup has been reported and reads it when its call has, so what it reads is what
the call slept. No hook runs per test for this, and a run that never sleeps pays nothing.

A test that mocks ``sleep`` itself (``mock.patch("time.sleep")``, ``monkeypatch``) replaces
the wrapper for its own duration and gets every call; the mocked sleeps count nothing, since
what is counted is the time spent.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["SleepCounter"]

#: Marks a wrapper this module made, and holds what it wraps.
WRAPS = "_tempo_sleep_counter"


class SleepCounter:
    """The seconds slept by every wrapper this counter installed, since :attr:`slept` was
    last zeroed (by the advice's report hook)."""

    __slots__ = ("_installed", "slept")

    def __init__(self) -> None:
        self.slept = 0.0
        #: (owner, attribute, what was there, our wrapper), in the order installed
        self._installed: list[tuple[Any, str, Any, Any]] = []

    def _wrap(self, original: Callable[..., Any], coroutine: bool) -> Callable[..., Any]:
        clock = time.perf_counter
        counter = self

        if coroutine:

            async def counting(*args: Any, **kwargs: Any) -> Any:
                start = clock()
                try:
                    return await original(*args, **kwargs)
                finally:
                    counter.slept += clock() - start
        else:

            def counting(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                start = clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    counter.slept += clock() - start

        setattr(counting, WRAPS, original)
        return counting

    def _install(self, owner: Any, coroutine: bool, wrapper: Any = None) -> Any:
        current = getattr(owner, "sleep", None)
        if current is None:
            return None
        if wrapper is None:
            wrapper = self._wrap(current, coroutine)
        owner.sleep = wrapper
        self._installed.append((owner, "sleep", current, wrapper))
        return wrapper

    def install(self) -> None:
        """Wrap ``time.sleep``, and ``asyncio.sleep`` when asyncio is loaded."""
        self._install(time, False)
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None:
            self._install(asyncio, True)

    def install_late(self, modules: Callable[[], Iterable[Any]]) -> None:
        """After collection: wrap ``asyncio.sleep`` if asyncio was loaded meanwhile, and the
        ``sleep`` that ``modules()`` (the test modules) imported from it before that."""
        asyncio = sys.modules.get("asyncio")
        if asyncio is None or any(owner is asyncio for owner, *_ in self._installed):
            return
        original = asyncio.sleep
        wrapper = self._install(asyncio, True)
        for module in modules():
            if getattr(module, "sleep", None) is original:
                self._install(module, True, wrapper)

    def uninstall(self) -> None:
        """Put back what was there, newest first, where our wrapper is still in place (a
        test that replaced it for good keeps its own)."""
        while self._installed:
            owner, name, original, wrapper = self._installed.pop()
            if getattr(owner, name, None) is wrapper:
                setattr(owner, name, original)
