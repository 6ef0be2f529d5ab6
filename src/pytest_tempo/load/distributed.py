"""Locust's master for workers on other machines: where it listens, how workers join.

``load_test(..., workers=N)`` (or ``--load-workers=N``) runs only Locust's master in the
test; ``N`` workers started elsewhere (``locust -f FILE --worker --master-host=HOST
--master-port=PORT``) join it within ``--load-workers-timeout`` seconds, and the run is
judged as a local one. Pure: the bind address's grammar, the checks of the fixture's
arguments, and the line that says how to join; the child (:mod:`._locust_child`) does the
rest.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BIND_HOST",
    "MAX_WORKERS",
    "Master",
    "check_distribution",
    "count_worker_report",
    "parse_bind",
]

#: The most workers a master waits for: past it, a value is a typo.
MAX_WORKERS = 1_000
#: The master listens here unless told otherwise: only this machine can join.
DEFAULT_BIND_HOST = "127.0.0.1"
#: Addresses that listen on every interface: the join line names this machine instead.
ANY_HOST = ("0.0.0.0", "::")

_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")  # fmt: skip


def _host(text: str) -> str | None:
    """``text`` as a host to bind (an IP address or a host name), or None if it is not one."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        try:
            return str(ipaddress.IPv6Address(text))
        except ValueError:
            return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    if text.replace(".", "").isdigit():  # 300.1.1.1, 1.2.3: not a name either
        return None
    return text if _HOSTNAME.fullmatch(text) else None


def parse_bind(raw: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``HOST`` (port 0: a free one) as ``(host, port)``.

    Raises ValueError saying what is accepted.
    """
    text = raw.strip()
    accepted = "expected HOST:PORT such as 0.0.0.0:5557 or 127.0.0.1:0 (0: a free port)"
    host_text, port_text = text, "0"
    if text.startswith("["):
        closing = text.find("]")
        if closing > 0 and text[closing + 1 : closing + 2] == ":":
            host_text, port_text = text[: closing + 1], text[closing + 2 :]
    elif text.count(":") == 1:
        host_text, _, port_text = text.partition(":")
    host = _host(host_text)
    if host is None or not re.fullmatch(r"[0-9]{1,5}", port_text):
        raise ValueError(accepted)
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"the port is over 65535; {accepted}")
    return host, port


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_distribution(processes: object, workers: object) -> str | None:
    """Why ``load_test``'s ``processes`` and ``workers`` cannot be used, in one line, or None."""
    if not _whole(processes) or not 1 <= processes <= MAX_WORKERS:  # type: ignore[operator]
        return (
            f"load_test(): processes must be a whole number from 1 to {MAX_WORKERS}, "
            f"not {processes!r}"
        )
    if workers is not None and (not _whole(workers) or not 1 <= workers <= MAX_WORKERS):  # type: ignore[operator]
        return (
            f"load_test(): workers must be a whole number from 1 to {MAX_WORKERS} (or None for "
            f"--load-workers), not {workers!r}"
        )
    return None


def free_port(host: str = DEFAULT_BIND_HOST) -> int:
    """A TCP port free on ``host`` now (the master binds it a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _shown_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Master:
    """A master that waits for ``external`` workers from elsewhere (and ``local`` ones it
    starts itself, ``processes=M``) for at most ``wait`` seconds."""

    host: str
    port: int
    external: int
    local: int
    wait: float

    @property
    def expected(self) -> int:
        return self.external + self.local

    @property
    def join_host(self) -> str:
        """The address workers are told: this machine's name when listening everywhere."""
        if self.host in ANY_HOST:
            return socket.gethostname()
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def local_host(self) -> str:
        """The address this machine's own workers connect to."""
        if self.host in ANY_HOST:
            return "127.0.0.1" if self.host == "0.0.0.0" else "::1"
        return self.host

    def join_command(self, locustfile: Path, cwd: Path | None = None) -> str:
        """``locust -f FILE --worker --master-host=HOST --master-port=PORT``."""
        shown = _shown_path(locustfile, cwd or Path(os.getcwd()))
        return (
            f"locust -f {shown} --worker --master-host={self.join_host} --master-port={self.port}"
        )

    def announcement(self, locustfile: Path, cwd: Path | None = None) -> str:
        """The one line printed while the master waits."""
        local = f" (and {self.local} of its own)" if self.local else ""
        return (
            f"load_test: Locust master on {self.host}:{self.port} waits up to {self.wait:g}s "
            f"for {self.external} worker(s){local}; start each with: "
            f"{self.join_command(locustfile, cwd)}"
        )

    def spec(self) -> dict[str, Any]:
        """What the child needs to know of the master."""
        return {
            "bind": self.host,
            "port": self.port,
            "connect": self.local_host,
            "external": self.external,
            "wait": self.wait,
        }


def count_worker_report(tally: dict[str, int], client_id: str, data: Any) -> None:
    """Add the requests of one worker's statistics report (what Locust's master gets every
    few seconds, each since the last) to ``tally`` by worker id."""
    if not isinstance(data, dict):
        return
    total = data.get("stats_total")
    if isinstance(total, dict) and isinstance(total.get("num_requests"), int):
        requests = int(total["num_requests"])
    else:
        entries = data.get("stats") or []
        requests = sum(int(e.get("num_requests", 0)) for e in entries if isinstance(e, dict))
    tally[client_id] = tally.get(client_id, 0) + requests
