"""The state and the helpers behind the ``tempo-databases`` fixtures.

Imported when a database fixture is first set up (or a template is to be dropped), so a
run that uses none of them pays only for the fixtures' definitions
(:mod:`.fixtures`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from .._xdist import is_worker, worker_input
from ..workers import MASTER, WorkerInfo, file_stem, identify, new_run_id, template_name
from .fixtures import RUN_KEY

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ..settings import Settings
    from .base import Provisioner
    from .redis import RedisOwner
    from .urls import DbUrl

__all__ = [
    "DatabasesRun",
    "builder",
    "current_run",
    "default_dir",
    "drop_templates",
    "fail_on_error",
    "provisioner",
    "template_url",
    "worker_info",
    "worker_url",
]


@dataclass
class DatabasesRun:
    """What this process knows about the run: its id and the templates used."""

    run_id: str
    #: (template URL, run id) pairs to drop at the end of the run.
    templates: dict[str, str] = field(default_factory=dict)
    #: This process's provisioners, by server; each is an owner on its server.
    provisioners: dict[str, Provisioner] = field(default_factory=dict)
    #: This process's Redis owners, by URL.
    redis_owners: dict[str, RedisOwner] = field(default_factory=dict)

    def provisioner(self, url: DbUrl) -> Provisioner:
        """The provisioner of ``url``'s server, made on first use and kept."""
        key = url.backend if url.backend == "sqlite" else url.with_database("").text
        found = self.provisioners.get(key)
        if found is None:
            found = self.provisioners[key] = provisioner(url.backend)
        return found

    def redis_owner(self, url: str) -> RedisOwner:
        from .redis import RedisOwner

        found = self.redis_owners.get(url)
        if found is None:
            found = self.redis_owners[url] = RedisOwner(url)
        return found

    def close(self) -> None:
        """Let go of everything this process owns (its owner connections and files)."""
        for backend in self.provisioners.values():
            backend.close()
        for owner in self.redis_owners.values():
            owner.close()
        self.provisioners.clear()
        self.redis_owners.clear()


def current_run(config: pytest.Config) -> DatabasesRun:
    """This process's run state, made on first use and kept in the config's stash."""
    if RUN_KEY not in config.stash:
        given = getattr(config.option, "testrunuid", None)  # xdist's --testrunuid
        config.stash[RUN_KEY] = DatabasesRun(str(given) if given else new_run_id())
    return config.stash[RUN_KEY]


def worker_info(config: pytest.Config) -> WorkerInfo:
    """This process's identity (see :func:`pytest_tempo.workers.identify`)."""
    return identify(worker_input(config), current_run(config).run_id)


# --- pure helpers ---------------------------------------------------------------------------


def worker_url(settings: Settings, worker: WorkerInfo, name: str, default_dir: Path) -> DbUrl:
    """The URL of this worker's database.

    PostgreSQL and MySQL get the database ``name``; a SQLite file gets the worker suffix
    on its stem (``app.db`` -> ``app_gw0.db``); ``:memory:`` stays; without ``db_url``, a
    SQLite file named after the worker's database in ``default_dir``.
    """
    from .urls import parse_db_url

    base = settings.db_url
    if base is None:
        return parse_db_url(f"sqlite:///{(default_dir / (name + '.db')).as_posix()}")
    if base.backend != "sqlite":
        return base.with_database(name)
    if base.is_memory:
        return base
    run = worker.run_id if settings.db_unique else None
    return base.with_file_stem(file_stem(base.file_stem, worker.id, run))


def template_url(settings: Settings, worker: WorkerInfo, default_dir: Path) -> DbUrl:
    """The URL of the template database every worker is cloned from."""
    from .urls import parse_db_url

    run = worker.run_id if settings.db_unique else None
    name = template_name(settings.db_name, run)
    base = settings.db_url
    if base is None:
        return parse_db_url(f"sqlite:///{(default_dir / (name + '.db')).as_posix()}")
    if base.backend != "sqlite":
        return base.with_database(name)
    return base.with_file_stem(file_stem(base.file_stem, MASTER, run) + "_tmpl")


def provisioner(backend: str) -> Provisioner:
    """The object that creates and drops databases of ``backend``."""
    if backend == "postgresql":
        from .postgresql import PostgresProvisioner

        return PostgresProvisioner()
    if backend == "mysql":
        from .mysql import MySQLProvisioner

        return MySQLProvisioner()
    from .sqlite import SQLiteProvisioner

    return SQLiteProvisioner()


def builder(config: pytest.Config, backend: str) -> Callable[[str], None] | None:
    """The ``pytest_tempo_build_template`` hook bound to ``config``, if anyone implements it."""
    hook = config.hook.pytest_tempo_build_template
    if not hook.get_hookimpls():
        return None

    def build(url: str) -> None:
        hook(url=url, backend=backend, config=config)

    return build


def default_dir(config: pytest.Config, factory: pytest.TempPathFactory) -> Path:
    """A directory every worker of the run shares: xdist workers' basetemps are its children."""
    base = factory.getbasetemp()
    return base.parent if is_worker(config) else base


def fail_on_error(action: Callable[[], object]) -> None:
    """Run ``action``; turn a :class:`DatabaseError` into a one-line failure, no traceback."""
    __tracebackhide__ = True
    from .base import DatabaseError

    try:
        action()
    except DatabaseError as exc:
        message = str(exc)
    else:
        return
    pytest.fail(message, pytrace=False)  # outside the except: no chained exception shown


def drop_templates(config: pytest.Config, templates: dict[str, str]) -> None:
    """Drop the templates of this run; a failure is reported, not raised."""
    if not templates:
        return
    from .base import DatabaseError
    from .urls import parse_db_url

    for text, run_id in sorted(templates.items()):
        url = parse_db_url(text)
        try:
            current_run(config).provisioner(url).drop_template(url, run_id)
        except DatabaseError as exc:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"tempo: could not drop the template {url.masked}: {exc}")
    templates.clear()
