"""The ``tempo-load`` feature's hooks that every run has: cheap to import and to register.

A run without ``--load-profile`` (the default) only needs to find k6 scripts, to skip them
and the tests using ``load_test`` with a reason, and to sweep the folders of killed
engines. :class:`LoadHooks` does that and imports the rest of the feature (the run's
:class:`~pytest_tempo.load.state.LoadState`, the k6 items, the fixture) on first use: the
first k6 script collected, the first ``load_test`` requested. With a profile,
:class:`~pytest_tempo.load.plugin.LoadPlugin` adds the baselines, the report hook and the
"load" section.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import TYPE_CHECKING

import pytest

from .._hooks import HookObject
from .._xdist import is_worker
from ..parsers import glob_match
from ..settings import SETTINGS_KEY

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from pytest import Collector, Config

    from .locust import LoadMetrics
    from .state import LoadState

__all__ = ["FOLDER_PREFIXES", "LoadHooks", "is_k6_script", "may_have_stale_folders"]

#: The temporary folders of the engines: ``PREFIX + PID + "-" + random``.
FOLDER_PREFIXES = ("tempo-k6-", "tempo-locust-")


def is_k6_script(globs: Sequence[str], file_path: Path, root: Path) -> bool:
    """Whether ``file_path`` matches one of the ``k6_scripts`` globs: by its name, or by its
    path relative to ``root`` for a glob with a ``/``."""
    name = file_path.name
    try:
        rel = file_path.relative_to(root).as_posix()
    except ValueError:
        rel = name
    return any(glob_match(name, glob) or ("/" in glob and glob_match(rel, glob)) for glob in globs)


def may_have_stale_folders(folder: str | None = None) -> bool:
    """Whether ``folder`` (the temp dir) holds an engine folder at all: only then is the
    sweep (:func:`pytest_tempo.load.process.sweep_stale`) worth importing."""
    if sys.platform == "win32":  # pragma: no cover - nothing is swept there
        return False
    try:
        names = os.listdir(folder or tempfile.gettempdir())
    except OSError:
        return False
    return any(name.startswith(FOLDER_PREFIXES) for name in names)


class LoadHooks(HookObject):
    """Finds k6 scripts, provides ``load_test``, sweeps stale engine folders; the load
    state is built when a load item or the fixture first needs it."""

    _fixtures = ("load_test",)

    def __init__(self, config: Config) -> None:
        self._config = config
        self._globs = config.stash[SETTINGS_KEY].k6_scripts
        self._state: LoadState | None = None

    @property
    def state(self) -> LoadState:
        """The run's load state, built on first use and kept in ``config.stash``."""
        return self.ensure_state()

    def ensure_state(self) -> LoadState:
        """Build the run's load state unless it exists, and put it in ``config.stash``, where
        load items read it."""
        if self._state is None:
            from .state import LOAD_KEY, LoadState

            self._state = LoadState.from_settings(self._config.stash[SETTINGS_KEY])
            self._state.root = self._config.rootpath
            self._config.stash[LOAD_KEY] = self._state
        return self._state

    def pytest_sessionstart(self) -> None:
        # The folders of engines whose pytest and supervisor were both killed (a supervisor
        # removes them otherwise): once per run, by the controller.
        if not is_worker(self._config) and may_have_stale_folders():
            from .process import sweep_stale

            sweep_stale()

    def pytest_collect_file(self, file_path: Path, parent: Collector) -> Collector | None:
        if not is_k6_script(self._globs, file_path, self._config.rootpath):
            return None
        self.ensure_state()
        from .k6 import K6Script

        script: Collector = K6Script.from_parent(parent, path=file_path)
        return script

    @pytest.fixture
    def load_test(self, request: pytest.FixtureRequest) -> Callable[..., LoadMetrics]:
        """Run Locust users headless under the load profile, judged by k6-style thresholds.

        ``load_test(user, host=..., thresholds=..., profile=None, processes=1, timeout=None,
        allow_empty=False, watch=None, workers=None)`` returns the measured
        :class:`~pytest_tempo.load.locust.LoadMetrics` and fails the test with the threshold
        table when a threshold fails or no request was made, and with the baseline table on
        a regression. ``user`` is a locustfile path (``"locustfile.py"`` or
        ``"locustfile.py:UserClass"``) or a User class. ``watch`` (a PID, a
        ``psutil.Process`` or a PID file) is the server whose CPU and RSS are sampled.
        ``workers=N`` (default ``--load-workers``) runs only Locust's master, which waits
        for N workers started elsewhere.
        """
        from .fixture import load_test_function

        return load_test_function(self.state, request)
