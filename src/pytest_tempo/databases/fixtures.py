"""The ``tempo-databases`` plugin: worker identity, database and Redis fixtures.

The fixtures are thin, and so is this module: a run that requests none of them imports
nothing else. Their state and helpers (:mod:`.run`) load when one is first set up; names
come from :mod:`pytest_tempo.workers`, URLs from :mod:`.urls`, creation and dropping from
the backend modules. Run state lives in a :class:`~.run.DatabasesRun` in the config's stash.

Under xdist, a worker that cloned from a template reports the template through
what it sends back; the controller drops it once every worker is done, so no worker
drops a template another one still needs.

Each process keeps one provisioner per server (and one Redis owner) for its whole life: the
owner connection it holds is what tells other runs that its databases and namespaces are
alive. They are closed in ``pytest_unconfigure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import from_worker, to_controller
from ..settings import SETTINGS_KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..workers import WorkerInfo
    from .run import DatabasesRun

__all__ = [
    "RUN_KEY",
    "tempo_worker",
    "worker_database",
    "worker_db_name",
    "worker_db_url",
    "worker_namespace",
]


def __dir__() -> list[str]:
    """The fixtures and hooks alone: registering the module looks at those (see
    :mod:`pytest_tempo._hooks`)."""
    return [name for name in globals() if name.startswith("pytest_") or name in __all__]


#: The key of the templates a worker used, in what it sends back.
WORKEROUTPUT_TEMPLATES = "tempo_templates"
#: This process's :class:`~.run.DatabasesRun`, made when a fixture first needs it.
RUN_KEY: pytest.StashKey[DatabasesRun] = pytest.StashKey()


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tempo_worker(request: pytest.FixtureRequest) -> WorkerInfo:
    """This worker's id (``gw0``, or ``master``), index, count and the run's id."""
    from .run import worker_info

    return worker_info(request.config)


@pytest.fixture(scope="session")
def worker_db_name(request: pytest.FixtureRequest, tempo_worker: WorkerInfo) -> str:
    """``test_db`` on master, ``test_db_gw0`` on gw0: a plain identifier of at most 63 bytes."""
    from ..workers import db_name

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
    from .run import default_dir, worker_url

    config = request.config
    problem = config.stash[SETTINGS_KEY].problem("db_url")
    if problem is not None:  # DATABASE_URL is shared with other tools: checked on use
        pytest.fail(f"{problem}; set db_url or TEMPO_DB_URL to a URL pytest-tempo can use",
                    pytrace=False)  # fmt: skip
    directory = default_dir(config, tmp_path_factory)
    return worker_url(config.stash[SETTINGS_KEY], tempo_worker, worker_db_name, directory).text


@pytest.fixture(scope="session")
def worker_database(
    request: pytest.FixtureRequest,
    tempo_worker: WorkerInfo,
    worker_db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The URL of this worker's database, created for the session and dropped after it."""
    from .run import builder, current_run, default_dir, fail_on_error, template_url
    from .urls import parse_db_url

    config = request.config
    settings = config.stash[SETTINGS_KEY]
    url = parse_db_url(worker_db_url)
    backend = current_run(config).provisioner(url)
    build = builder(config, url.backend)
    template = None
    if build is not None and backend.clones and tempo_worker.is_worker and not url.is_memory:
        template = template_url(settings, tempo_worker, default_dir(config, tmp_path_factory))
    run_id = tempo_worker.run_id
    if template is not None:  # recorded first: dropped at the end even if the clone fails
        current_run(config).templates[template.text] = run_id
    fail_on_error(lambda: backend.create(url, run_id, template=template, build=build))
    try:
        yield url.text
    finally:
        fail_on_error(lambda: backend.drop(url, run_id))


@pytest.fixture(scope="session")
def worker_namespace(request: pytest.FixtureRequest, tempo_worker: WorkerInfo) -> Iterator[str]:
    """``tempo:{run}:{worker}:``; with ``redis_url``, keys under it are deleted at the end.

    With ``redis_url`` the namespace is owned by this process: namespaces whose owner died
    are reclaimed first, and this one is cleared before use.
    """
    from ..workers import namespace

    prefix = namespace(tempo_worker.id, tempo_worker.run_id)
    redis_url = request.config.stash[SETTINGS_KEY].redis_url
    if redis_url is None:
        yield prefix
        return
    from .run import current_run, fail_on_error

    owner = current_run(request.config).redis_owner(redis_url)
    fail_on_error(lambda: owner.claim(prefix))  # checks the server early, with a clear error
    try:
        yield prefix
    finally:
        fail_on_error(lambda: owner.release(prefix))


# --- hooks: templates are dropped once the whole run is done -------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    run = config.stash.get(RUN_KEY, None)
    templates = run.templates if run is not None else {}
    if to_controller(config, WORKEROUTPUT_TEMPLATES, dict(templates)) or not templates:
        return  # an xdist worker (the controller drops them), or nothing to drop
    from .run import drop_templates

    drop_templates(config, templates)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    templates = from_worker(node, WORKEROUTPUT_TEMPLATES) or {}
    if templates:
        from .run import current_run

        current_run(node.config).templates.update(templates)


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN_KEY in config.stash:
        config.stash[RUN_KEY].close()
