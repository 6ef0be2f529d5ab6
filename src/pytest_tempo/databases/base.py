"""What the database backends share: the error type, the ownership marker, driver imports."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from .urls import DbUrl

__all__ = [
    "MARK",
    "DatabaseError",
    "HookFailed",
    "Provisioner",
    "import_driver",
    "marker",
    "marker_run",
]

#: Every database pytest-tempo creates carries a comment starting with this; a database
#: without it is never dropped.
MARK = "pytest-tempo"


class DatabaseError(Exception):
    """A database could not be created or dropped; the message is meant for the user."""


class HookFailed(Exception):
    """Carries an exception of the project's template hook past the driver-error handling."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def marker(run_id: str, state: str = "ready") -> str:
    """The comment on a database pytest-tempo created: ``pytest-tempo run=<id> <state>``."""
    return f"{MARK} run={run_id} {state}"


def marker_run(comment: str | None) -> tuple[str, str] | None:
    """``(run_id, state)`` from a comment made by :func:`marker`; ``None`` for another one."""
    if not comment or not comment.startswith(MARK + " run="):
        return None
    run, _, state = comment[len(MARK) + 5 :].rpartition(" ")
    if not run or not state:
        return None
    return run, state


def import_driver(module: str, extra: str, what: str) -> Any:
    """Import an optional driver, or fail with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DatabaseError(
            f"{what} needs the {module} package, which is not installed: "
            f'pip install "pytest-tempo[{extra}]"'
        ) from None


class Provisioner(Protocol):
    """Creates and drops the databases of one backend."""

    #: Whether a database can be cloned from a template (else the builder runs per worker).
    clones: bool

    def create(
        self,
        url: DbUrl,
        run_id: str,
        template: DbUrl | None = None,
        build: Callable[[str], None] | None = None,
    ) -> None:
        """Create the database of ``url``, dropping a leftover pytest-tempo made.

        With ``template`` (and ``build``), the template is built once per run by ``build``
        (under a lock, so concurrent workers wait for the one that builds) and ``url`` is
        cloned from it. With ``build`` alone, ``build`` runs on ``url`` itself.
        """

    def drop(self, url: DbUrl, run_id: str) -> None:
        """Drop a database this process created for run ``run_id``."""

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        """Drop the template of run ``run_id``, if it is there and is that run's."""

    def close(self) -> None:
        """Let go of what this process owns: the server sees its owner die."""
