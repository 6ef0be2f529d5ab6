"""Who is running: the worker identity, and the names derived from it.

Everything here is a pure function of plain data, so it is unit-tested without a pytest
session. :func:`identify` reads the mapping pytest-xdist gives a worker (or ``None`` on the
controller, without xdist, or under ``-p no:xdist``); the name functions turn a base name,
a worker id and a run id into identifiers that are valid unquoted in PostgreSQL and MySQL:
lower-case letters, digits and ``_``, at most 63 bytes.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .parsers import MAX_IDENTIFIER, is_plain_identifier

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MASTER",
    "MAX_IDENTIFIER",
    "WorkerInfo",
    "db_name",
    "file_stem",
    "fit_identifier",
    "identify",
    "is_plain_identifier",
    "namespace",
    "new_run_id",
    "run_token",
    "template_name",
    "worker_token",
]

#: The worker id of a run without xdist (and of the xdist controller), as xdist's own
#: ``worker_id`` fixture says.
MASTER = "master"

_GW = re.compile(r"gw(\d+)\Z")
_HASH_LEN = 8
_RUN_LEN = 10


@dataclass(frozen=True)
class WorkerInfo:
    """The identity of this process in the run.

    ``id`` is ``gw0``, ``gw1``, ... on xdist workers and ``master`` otherwise; ``index`` is
    the number in the id (0 on master). A crashed xdist worker is replaced under a new id,
    so ``index`` can reach or pass ``count``. ``run_id`` is shared by every worker of one
    run (xdist's test-run uid) and differs between runs.
    """

    id: str
    index: int
    count: int
    run_id: str

    @property
    def is_worker(self) -> bool:
        return self.id != MASTER


def new_run_id() -> str:
    """A fresh run id, in the form xdist uses (32 hex digits)."""
    return uuid.uuid4().hex


def identify(given: Mapping[str, Any] | None, run_id: str) -> WorkerInfo:
    """The identity from the mapping xdist gives a worker, or the master's without one.

    ``run_id`` is used on master (and when a worker's input lacks a uid); on a worker the
    uid xdist gives every worker of the run wins.
    """
    if given is None:
        return WorkerInfo(MASTER, 0, 1, run_id)
    wid = str(given.get("workerid", MASTER))
    match = _GW.match(wid)
    index = int(match.group(1)) if match else 0
    try:
        count = max(1, int(given.get("workercount", 1)))
    except (TypeError, ValueError):
        count = 1
    run = str(given.get("testrunuid") or run_id)
    return WorkerInfo(wid, index, count, run)


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def worker_token(worker_id: str) -> str:
    """The worker id as a name part: ``gw3`` and ``master`` stay; any other id is hashed.

    Tokens never contain ``_``, so the last ``_`` of a generated name separates the worker,
    and never equal ``tmpl``, the template's suffix.
    """
    if worker_id == MASTER or re.fullmatch(r"gw\d{1,9}", worker_id):
        return worker_id
    return "w" + _digest(worker_id, _HASH_LEN)


def run_token(run_id: str) -> str:
    """A short token of a run id: its first 10 hex digits, or a hash of it."""
    lowered = run_id.lower()
    if re.fullmatch(r"[0-9a-f]{10,}", lowered):
        return lowered[:_RUN_LEN]
    return _digest(run_id, _RUN_LEN)


def _suffix(worker_id: str, run_id: str | None) -> str:
    parts = []
    if run_id is not None:
        parts.append("r" + run_token(run_id))
    if worker_id != MASTER:
        parts.append(worker_token(worker_id))
    return "".join("_" + p for p in parts)


def fit_identifier(head: str, suffix: str = "") -> str:
    """``head + suffix`` as a plain identifier of at most 63 bytes.

    Characters outside ``[a-z0-9_]`` in ``head`` are lower-cased or replaced by ``_``. A
    name that is too long, or that had to be changed, keeps ``suffix`` whole and is cut in
    ``head``, with a hash of the original inserted, so distinct inputs stay distinct.
    """
    cleaned = re.sub(r"[^a-z0-9_]", "_", head.lower())
    if not cleaned or cleaned[0] in "0123456789":  # only [a-z0-9_] is left
        cleaned = "t_" + cleaned
    name = cleaned + suffix
    if name == head + suffix and len(name) <= MAX_IDENTIFIER:
        return name
    tag = "_" + _digest(head + suffix, _HASH_LEN)
    room = MAX_IDENTIFIER - len(suffix) - len(tag)  # suffixes made here stay under 35
    return cleaned[: max(room, 1)] + tag + suffix


def db_name(base: str, worker_id: str, run_id: str | None = None) -> str:
    """The database name of a worker: ``test_db`` on master, ``test_db_gw0`` on gw0.

    With ``run_id`` (the ``db_unique`` mode) the run's token comes before the worker:
    ``test_db_r1a2b3c4d5e_gw0``.
    """
    return fit_identifier(base, _suffix(worker_id, run_id))


def template_name(base: str, run_id: str | None = None) -> str:
    """The name of the template database that workers are cloned from."""
    return fit_identifier(base, _suffix(MASTER, run_id) + "_tmpl")


def file_stem(stem: str, worker_id: str, run_id: str | None = None) -> str:
    """A SQLite file stem for a worker: ``app`` becomes ``app_gw0`` (no identifier rules)."""
    return stem + _suffix(worker_id, run_id)


def namespace(worker_id: str, run_id: str) -> str:
    """The Redis key prefix of a worker: ``tempo:{run}:{worker}:``."""
    return f"tempo:{run_token(run_id)}:{worker_token(worker_id)}:"
