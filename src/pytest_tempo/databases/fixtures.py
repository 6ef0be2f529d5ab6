"""The ``tempo-databases`` plugin: worker identity, database and Redis fixtures.

The fixtures are thin: names come from :mod:`pytest_tempo.workers`, URLs from
:mod:`.urls`, creation and dropping from the backend modules. Run state lives in a
:class:`DatabasesRun` in the config's stash.

Under xdist, a worker that cloned from a template reports the template through
what it sends back; the controller drops it once every worker is done, so no worker
drops a template another one still needs.

Each process keeps one provisioner per server (and one Redis owner) for its whole life: the
owner connection it holds is what tells other runs that its databases and namespaces are
alive. They are closed in ``pytest_unconfigure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import from_worker, is_worker, to_controller, worker_input
from ..settings import SETTINGS_KEY
from ..workers import (
    MASTER,
    WorkerInfo,
    db_name,
    file_stem,
    identify,
    namespace,
    new_run_id,
    template_name,
)

# The URL machinery and the drivers are imported when a fixture is first set up.
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ..settings import Settings
    from .base import Provisioner
    from .redis import RedisOwner
    from .urls import DbUrl

__all__ = [
    "DatabasesRun",
    "provisioner",
    "template_url",
    "tempo_worker",
    "worker_database",
    "worker_db_name",
    "worker_db_url",
    "worker_namespace",
    "worker_url",
]

#: The key of the templates a worker used, in what it sends back.
WORKEROUTPUT_TEMPLATES = "tempo_templates"


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


_RUN_KEY = pytest.StashKey[DatabasesRun]()


def _run(config: pytest.Config) -> DatabasesRun:
    if _RUN_KEY not in config.stash:
        given = getattr(config.option, "testrunuid", None)  # xdist's --testrunuid
        config.stash[_RUN_KEY] = DatabasesRun(str(given) if given else new_run_id())
    return config.stash[_RUN_KEY]


def worker_info(config: pytest.Config) -> WorkerInfo:
    """This process's identity (see :func:`pytest_tempo.workers.identify`)."""
    return identify(worker_input(config), _run(config).run_id)


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


def _builder(config: pytest.Config, backend: str) -> Callable[[str], None] | None:
    """The ``pytest_tempo_build_template`` hook bound to ``config``, if anyone implements it."""
    hook = config.hook.pytest_tempo_build_template
    if not hook.get_hookimpls():
        return None

    def build(url: str) -> None:
        hook(url=url, backend=backend, config=config)

    return build


def _default_dir(config: pytest.Config, factory: pytest.TempPathFactory) -> Path:
    """A directory every worker of the run shares: xdist workers' basetemps are its children."""
    base = factory.getbasetemp()
    return base.parent if is_worker(config) else base


def _fail_on_error(action: Callable[[], object]) -> None:
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


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tempo_worker(request: pytest.FixtureRequest) -> WorkerInfo:
    """This worker's id (``gw0``, or ``master``), index, count and the run's id."""
    return worker_info(request.config)


@pytest.fixture(scope="session")
def worker_db_name(request: pytest.FixtureRequest, tempo_worker: WorkerInfo) -> str:
    """``test_db`` on master, ``test_db_gw0`` on gw0: a plain identifier of at most 63 bytes."""
    settings = request.config.stash[SETTINGS_KEY]
    run = tempo_worker.run_id if settings.db_unique else None
    return db_name(settings.db_name, tempo_worker.id, run)


@pytest.fixture(scope="session")
def worker_db_url(
    request: pytest.FixtureRequest,
    tempo_worker: WorkerInfo,
    worker_db_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """``db_url`` with its database replaced by this worker's (nothing is created)."""
    config = request.config
    problem = config.stash[SETTINGS_KEY].problem("db_url")
    if problem is not None:  # DATABASE_URL is shared with other tools: checked on use
        pytest.fail(f"{problem}; set db_url or TEMPO_DB_URL to a URL pytest-tempo can use",
                    pytrace=False)  # fmt: skip
    directory = _default_dir(config, tmp_path_factory)
    return worker_url(config.stash[SETTINGS_KEY], tempo_worker, worker_db_name, directory).text


@pytest.fixture(scope="session")
def worker_database(
    request: pytest.FixtureRequest,
    tempo_worker: WorkerInfo,
    worker_db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The URL of this worker's database, created for the session and dropped after it."""
    from .urls import parse_db_url

    config = request.config
    settings = config.stash[SETTINGS_KEY]
    url = parse_db_url(worker_db_url)
    backend = _run(config).provisioner(url)
    build = _builder(config, url.backend)
    template = None
    if build is not None and backend.clones and tempo_worker.is_worker and not url.is_memory:
        template = template_url(settings, tempo_worker, _default_dir(config, tmp_path_factory))
    run_id = tempo_worker.run_id
    if template is not None:  # recorded first: dropped at the end even if the clone fails
        _run(config).templates[template.text] = run_id
    _fail_on_error(lambda: backend.create(url, run_id, template=template, build=build))
    try:
        yield url.text
    finally:
        _fail_on_error(lambda: backend.drop(url, run_id))


@pytest.fixture(scope="session")
def worker_namespace(request: pytest.FixtureRequest, tempo_worker: WorkerInfo) -> Iterator[str]:
    """``tempo:{run}:{worker}:``; with ``redis_url``, keys under it are deleted at the end.

    With ``redis_url`` the namespace is owned by this process: namespaces whose owner died
    are reclaimed first, and this one is cleared before use.
    """
    prefix = namespace(tempo_worker.id, tempo_worker.run_id)
    redis_url = request.config.stash[SETTINGS_KEY].redis_url
    if redis_url is None:
        yield prefix
        return
    owner = _run(request.config).redis_owner(redis_url)
    _fail_on_error(lambda: owner.claim(prefix))  # checks the server early, with a clear error
    try:
        yield prefix
    finally:
        _fail_on_error(lambda: owner.release(prefix))


# --- hooks: templates are dropped once the whole run is done -------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    templates = _run(config).templates
    if to_controller(config, WORKEROUTPUT_TEMPLATES, dict(templates)):
        return  # an xdist worker: the controller drops them
    drop_templates(config, templates)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    templates = from_worker(node, WORKEROUTPUT_TEMPLATES) or {}
    _run(node.config).templates.update(templates)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _RUN_KEY in config.stash:
        config.stash[_RUN_KEY].close()


def drop_templates(config: pytest.Config, templates: dict[str, str]) -> None:
    """Drop the templates of this run; a failure is reported, not raised."""
    if not templates:
        return
    from .base import DatabaseError
    from .urls import parse_db_url

    for text, run_id in sorted(templates.items()):
        url = parse_db_url(text)
        try:
            _run(config).provisioner(url).drop_template(url, run_id)
        except DatabaseError as exc:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"tempo: could not drop the template {url.masked}: {exc}")
    templates.clear()
