"""Child processes that take signals as a terminal's would: with the default dispositions.

A suite started under ``nohup``, or as a background job of a non-interactive shell, inherits
SIGHUP, SIGINT and SIGQUIT ignored, and so would every process it starts. A test that sends
one of them to a child gives the child the default dispositions first; otherwise it would
check what the child inherited, not what the plugin does.
"""

from __future__ import annotations

import signal

__all__ = ["default_signals"]

_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)


def default_signals() -> None:
    """``preexec_fn`` for :class:`subprocess.Popen`: the default disposition of each signal."""
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
