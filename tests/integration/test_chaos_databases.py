"""Chaos: a real ``pytest -n 2`` killed mid-run leaves nothing once pytest runs again.

For PostgreSQL, MariaDB, SQLite and Redis, a small project using the fixtures runs in its
own process group. Its tests write a file once their database (or namespace) exists and
then wait; the kill is decided by those files, never by a sleep: SIGTERM to the group,
SIGKILL of the group, SIGKILL of one worker, and a kill while the template hook builds
(the database being created). Then the same project runs again, with a new run id and
``db_unique = true``, so the killed run's databases can only go by being reclaimed as
leftovers of a dead owner. Afterwards nothing of the killed run is left: no database, no
registry entry, no Redis key, no file, no process; and the second run passed.

Everything checked or cleaned up here carries the test's own unique base name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import SERVICES, require_service

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX")]

pytest.importorskip("xdist")

#: Generous limits: the inner runs share two cores with the outer suite.
START_TIMEOUT = 90.0
GONE_TIMEOUT = 30.0
RUN_TIMEOUT = 180.0

MODES = ["sigterm", "sigkill-group", "sigkill-worker", "kill-during-create"]

CONFTEST = """
import json, os, time
from pathlib import Path

ROOT = Path(__file__).parent
BLOCK = os.environ.get("CHAOS_BLOCK") == "1"


def publish(name, text):
    # Written all at once: the chaos test may look at any moment.
    tmp = ROOT / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, ROOT / name)


def wait_for_go():
    deadline = time.monotonic() + 120
    while BLOCK and not (ROOT / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def pytest_tempo_build_template(url, backend, config):
    if os.environ.get("CHAOS_MODE") == "kill-during-create":
        publish(f"building-{os.getpid()}", url)
        wait_for_go()
"""

TEST_DB = """
import json, os
from conftest import publish, wait_for_go


def _record(worker, what):
    publish(f"ready-{worker}", json.dumps({"pid": os.getpid(), "what": what}))


def test_one(worker_database, tempo_worker):
    _record(tempo_worker.id, worker_database)
    wait_for_go()


def test_two(worker_database, tempo_worker):
    _record(tempo_worker.id, worker_database)
    wait_for_go()


def test_three(worker_database, tempo_worker):
    _record(tempo_worker.id, worker_database)
    wait_for_go()


def test_four(worker_database, tempo_worker):
    _record(tempo_worker.id, worker_database)
    wait_for_go()
"""

TEST_REDIS = """
import json, os, redis
from conftest import publish, wait_for_go


def _use(namespace, worker, url):
    client = redis.Redis.from_url(url)
    for n in range(10):
        client.set(f"{namespace}k{n}", n)
    client.close()
    publish(f"ready-{worker}", json.dumps({"pid": os.getpid(), "what": namespace}))


def test_one(worker_namespace, tempo_worker, pytestconfig):
    _use(worker_namespace, tempo_worker.id, pytestconfig.getini("redis_url"))
    wait_for_go()


def test_two(worker_namespace, tempo_worker, pytestconfig):
    _use(worker_namespace, tempo_worker.id, pytestconfig.getini("redis_url"))
    wait_for_go()


def test_three(worker_namespace, tempo_worker, pytestconfig):
    _use(worker_namespace, tempo_worker.id, pytestconfig.getini("redis_url"))
    wait_for_go()


def test_four(worker_namespace, tempo_worker, pytestconfig):
    _use(worker_namespace, tempo_worker.id, pytestconfig.getini("redis_url"))
    wait_for_go()
"""


# --- what a server holds under a base name -------------------------------------------------


def pg_leftovers(base: str) -> list[str]:
    psycopg = pytest.importorskip("psycopg")
    url = SERVICES["PostgreSQL"][3]
    with psycopg.connect(url, autocommit=True) as conn:
        found = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [base + "%"])]  # fmt: skip
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tempo_registry'").fetchone():
            with psycopg.connect(url.rsplit("/", 1)[0] + "/tempo_registry") as reg:
                rows = reg.execute(
                    "SELECT name FROM tempo_resources WHERE name LIKE %s", [base + "%"]
                )
                found += [f"intent:{r[0]}" for r in rows]
    return sorted(found)


def pg_cleanup(base: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    url = SERVICES["PostgreSQL"][3]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [base + "%"])
        for (name,) in rows.fetchall():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tempo_registry'").fetchone():
            with psycopg.connect(url.rsplit("/", 1)[0] + "/tempo_registry") as reg:
                reg.execute("DELETE FROM tempo_resources WHERE name LIKE %s", [base + "%"])


def _mysql() -> Any:
    pymysql = pytest.importorskip("pymysql")
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


def my_leftovers(base: str) -> list[str]:
    conn = _mysql()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                [base + "%"],
            )
            found = [r[0] for r in cur.fetchall()]
            cur.execute("SHOW DATABASES LIKE 'tempo_registry'")
            if cur.fetchone():
                cur.execute(
                    "SELECT name FROM tempo_registry.tempo_resources WHERE name LIKE %s",
                    [base + "%"],
                )
                found += [f"intent:{r[0]}" for r in cur.fetchall()]
        return sorted(found)
    finally:
        conn.close()


def my_cleanup(base: str) -> None:
    conn = _mysql()
    try:
        with conn.cursor() as cur:
            for name in my_leftovers(base):
                if not name.startswith("intent:"):
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("SHOW DATABASES LIKE 'tempo_registry'")
            if cur.fetchone():
                cur.execute(
                    "DELETE FROM tempo_registry.tempo_resources WHERE name LIKE %s", [base + "%"]
                )
    finally:
        conn.close()


def redis_leftovers(namespaces: list[str]) -> list[str]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(SERVICES["Redis"][3])
    try:
        found = []
        for ns in namespaces:
            found += [k.decode() for k in client.scan_iter(match=ns + "*", count=500)]
            if client.hexists("tempo-owners", ns):
                found.append(f"owner:{ns}")
        return sorted(found)
    finally:
        client.close()


def redis_cleanup(namespaces: list[str]) -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(SERVICES["Redis"][3])
    try:
        for ns in namespaces:
            keys = list(client.scan_iter(match=ns + "*", count=500))
            if keys:
                client.delete(*keys)
            client.hdel("tempo-owners", ns)
    finally:
        client.close()


# --- the inner runs -------------------------------------------------------------------------


def _env(mode: str, block: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "PYTEST_"))}
    env.update(
        CHAOS_MODE=mode,
        CHAOS_BLOCK="1" if block else "0",
        PYTEST_ADDOPTS="-p no:randomly -p no:hypothesispytest -p no:cacheprovider",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _command() -> list[str]:
    return [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:locust"]


def _wait_for(what: str, found: Any, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}:\n{log.read_text()}")
        time.sleep(0.02)
    pytest.fail(f"no {what} within {START_TIMEOUT} s:\n{log.read_text()}")


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_gone(pgid: int) -> None:
    deadline = time.monotonic() + GONE_TIMEOUT
    while time.monotonic() < deadline and not _gone(pgid):
        time.sleep(0.05)


def _used(project: Path) -> list[str]:
    used = [json.loads(p.read_text())["what"] for p in project.glob("ready-*")]
    return used + [p.read_text() for p in project.glob("building-*")]


def kill_run(project: Path, mode: str, present: Callable[[list[str]], list[str]]) -> list[str]:
    """Start the project under ``pytest -n 2``, kill it as ``mode`` says; what it used.

    ``present`` lists what the run has on the server (given what its tests reported) just
    before the kill: it must not be empty. (Afterwards it may already be: any run of this
    plugin on the same server, concurrent tests included, reclaims a dead owner's
    databases.)
    """
    log = project / "killed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _command(), cwd=project, env=_env(mode, block=True), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    pgid = proc.pid
    try:
        if mode == "kill-during-create":
            _wait_for("a template build", lambda: list(project.glob("building-*")), proc, log)
            assert present(_used(project)), "nothing was being created"
            os.killpg(pgid, signal.SIGKILL)
        else:
            ready = _wait_for(
                "both workers ready", lambda: len(list(project.glob("ready-*"))) >= 2, proc, log
            )
            assert ready
            assert present(_used(project)), "the run had nothing on the server"
            if mode == "sigterm":
                os.killpg(pgid, signal.SIGTERM)
            elif mode == "sigkill-group":
                os.killpg(pgid, signal.SIGKILL)
            else:  # one worker dies; the others finish and xdist replaces it
                victim = json.loads(sorted(project.glob("ready-*"))[0].read_text())["pid"]
                os.kill(victim, signal.SIGKILL)
                (project / "go").touch()
        proc.wait(timeout=RUN_TIMEOUT)
        _wait_gone(pgid)
        assert _gone(pgid), f"processes of the killed run are left:\n{log.read_text()}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=RUN_TIMEOUT)
    used = _used(project)
    for path in [*project.glob("ready-*"), *project.glob("building-*")]:
        path.unlink()
    (project / "go").unlink(missing_ok=True)
    return used


def run_again(project: Path, mode: str) -> str:
    result = subprocess.run(
        _command(), cwd=project, env=_env(mode, block=False), capture_output=True,
        timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, output
    assert "4 passed" in output, output
    return output


def _project(path: Path, ini: str, test: str) -> Path:
    (path / "pytest.ini").write_text(f"[pytest]\n{ini}")
    (path / "conftest.py").write_text(CONFTEST)
    (path / "test_chaos.py").write_text(test)
    return path


@pytest.fixture
def chaos_base() -> str:
    return "tc" + uuid.uuid4().hex[:10]


# --- the suite ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_postgresql(tmp_path: Path, chaos_base: str, mode: str) -> None:
    require_service("PostgreSQL", *SERVICES["PostgreSQL"][:3])
    ini = (
        "db_url = postgresql://postgres@127.0.0.1:5432/app\n"
        f"db_name = {chaos_base}\ndb_unique = true\n"
    )
    project = _project(tmp_path, ini, TEST_DB)
    try:
        kill_run(project, mode, lambda _: pg_leftovers(chaos_base))
        run_again(project, mode)
        assert pg_leftovers(chaos_base) == []
    finally:
        pg_cleanup(chaos_base)


@pytest.mark.parametrize("mode", MODES)
def test_mariadb(tmp_path: Path, chaos_base: str, mode: str) -> None:
    require_service("MariaDB", *SERVICES["MariaDB"][:3])
    ini = (
        "db_url = mysql+pymysql://root:@127.0.0.1:3306/app\n"
        f"db_name = {chaos_base}\ndb_unique = true\n"
    )
    project = _project(tmp_path, ini, TEST_DB)
    try:
        kill_run(project, mode, lambda _: my_leftovers(chaos_base))
        run_again(project, mode)
        assert my_leftovers(chaos_base) == []
    finally:
        my_cleanup(chaos_base)


@pytest.mark.parametrize("mode", MODES)
def test_sqlite(tmp_path: Path, mode: str) -> None:
    project = _project(tmp_path, "db_url = sqlite:///data/app.db\ndb_unique = true\n", TEST_DB)
    data = project / "data"
    used = kill_run(project, mode, lambda _: [p.name for p in data.iterdir()])
    assert used
    run_again(project, mode)
    assert sorted(p.name for p in (project / "data").iterdir()) == []


@pytest.mark.parametrize("mode", ["sigterm", "sigkill-group", "sigkill-worker"])
def test_redis(tmp_path: Path, mode: str) -> None:
    require_service("Redis", *SERVICES["Redis"][:3])
    project = _project(tmp_path, f"redis_url = {SERVICES['Redis'][3]}\n", TEST_REDIS)
    used: list[str] = []
    try:
        used = kill_run(project, mode, redis_leftovers)
        assert len(used) >= 2
        run_again(project, mode)
        assert redis_leftovers(used) == []
    finally:
        redis_cleanup(used)
