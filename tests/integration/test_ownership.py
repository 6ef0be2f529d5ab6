"""Owners the server sees alive: leftovers of dead runs reclaimed, live runs' never touched.

On real PostgreSQL, MariaDB and Redis servers. A "dead" owner is a provisioner whose owner
connection was closed (what the server sees when a process dies) or a real process killed
with SIGKILL; a "live" one keeps its connection open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.databases.base import DatabaseError
from pytest_tempo.databases.mysql import MySQLProvisioner
from pytest_tempo.databases.owners import RECLAIMING, Registry
from pytest_tempo.databases.postgresql import PostgresProvisioner, _PgRegistry
from pytest_tempo.databases.redis import OWNERS, RedisOwner
from pytest_tempo.databases.urls import parse_db_url

from .conftest import SERVICES, require_service, wait_until_owner_gone
from .test_chaos_databases import (
    my_cleanup,
    my_leftovers,
    pg_cleanup,
    pg_leftovers,
    redis_cleanup,
    redis_leftovers,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

BACKENDS = {
    "postgresql": ("PostgreSQL", "postgresql://postgres@127.0.0.1:5432/", PostgresProvisioner),
    "mariadb": ("MariaDB", "mysql+pymysql://root:@127.0.0.1:3306/", MySQLProvisioner),
}


@pytest.fixture(params=sorted(BACKENDS))
def server(request: pytest.FixtureRequest, base_name: str) -> Iterator[tuple[str, str, Any]]:
    """(backend, URL without a database, provisioner class); base_name% cleaned after."""
    service, url, cls = BACKENDS[request.param]
    require_service(service, *SERVICES[service][:3])
    yield request.param, url, cls
    (pg_cleanup if request.param == "postgresql" else my_cleanup)(base_name)


def leftovers(backend: str) -> Callable[[str], list[str]]:
    return pg_leftovers if backend == "postgresql" else my_leftovers


def user_database(backend: str, name: str) -> None:
    """A database made by hand, as a user would: no comment, no intent."""
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(SERVICES["PostgreSQL"][3], autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    else:
        pymysql = pytest.importorskip("pymysql")
        conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        conn.close()


def test_a_run_reclaims_dead_owners_databases_of_any_name_and_no_other(
    pytester: pytest.Pytester, server: tuple[str, str, Any], base_name: str
) -> None:
    backend, url, cls = server
    dead, live = cls(), cls()
    killed_name = f"{base_name}_r0123456789_gw7"  # another run's db_unique name
    dead.create(parse_db_url(url + killed_name), "killedrun")
    dead.close()  # what the server sees when that run's process dies
    wait_until_owner_gone(backend, dead.owner)
    live.create(parse_db_url(url + base_name + "_live"), "liverun")
    user_database(backend, base_name + "_user")
    pytester.makeini(
        f"[pytest]\nconsole_output_style = classic\ndb_url = {url}app\n"
        f"db_name = {base_name}\ndb_unique = true\n"
    )
    pytester.makepyfile("def test_it(worker_database): pass")
    try:
        pytester.runpytest().assert_outcomes(passed=1)
        assert leftovers(backend)(base_name) == [
            f"intent:{base_name}_live", f"{base_name}_live", f"{base_name}_user",
        ]  # fmt: skip
    finally:
        live.close()


KILLED_MID_CREATE = """
import sys, time
from pytest_tempo.databases.{module} import {cls}
from pytest_tempo.databases.urls import parse_db_url

url = parse_db_url(sys.argv[1])
provisioner = {cls}()
registry = provisioner._registry(url)
registry.claim(url.database, "killedrun", url.address)
registry.execute("CREATE DATABASE " + url.database)  # the comment would come next
print("created", provisioner.owner, flush=True)
time.sleep(120)
"""


def test_a_kill_between_create_and_comment_is_reclaimed(
    pytester: pytest.Pytester, server: tuple[str, str, Any], base_name: str
) -> None:
    """The database has no comment, but its intent names an owner the server saw die."""
    backend, url, cls = server
    module = "postgresql" if backend == "postgresql" else "mysql"
    script = KILLED_MID_CREATE.format(module=module, cls=cls.__name__)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, url + base_name],
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        said, owner = proc.stdout.readline().decode().split()
        assert said == "created"
        # Checked while its owner lives: once it is dead, any run may reclaim it.
        assert leftovers(backend)(base_name) == [f"intent:{base_name}", base_name]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    # The server ends the killed owner's connection a moment after the process is gone: a
    # run started before that rightly finds the database in use.
    wait_until_owner_gone(backend, owner)
    pytester.makeini(
        f"[pytest]\nconsole_output_style = classic\ndb_url = {url}app\ndb_name = {base_name}\n"
    )
    pytester.makepyfile("def test_it(worker_database): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    assert leftovers(backend)(base_name) == []


def test_a_live_owners_database_is_refused_on_every_server(
    pytester: pytest.Pytester, server: tuple[str, str, Any], base_name: str
) -> None:
    """MariaDB included: a second run with the same db_name never drops the first's."""
    backend, url, cls = server
    live = cls()
    live.create(parse_db_url(url + base_name), "liverun")
    pytester.makeini(
        f"[pytest]\nconsole_output_style = classic\ndb_url = {url}app\ndb_name = {base_name}\n"
    )
    pytester.makepyfile("def test_it(worker_database): pass")
    try:
        result = pytester.runpytest()
        result.assert_outcomes(errors=1)
        address = "127.0.0.1:5432" if backend == "postgresql" else "127.0.0.1:3306"
        result.stdout.fnmatch_lines(
            [f"the database '{base_name}' on {address} is in use by another run; "
             "set db_unique = true so concurrent runs on one server get their own names"]
        )  # fmt: skip
        assert "Traceback" not in result.stdout.str()
        assert leftovers(backend)(base_name) == [f"intent:{base_name}", base_name]
    finally:
        live.drop(parse_db_url(url + base_name), "liverun")
        live.close()
    assert leftovers(backend)(base_name) == []


def _claim_in_thread(claimant: Any, target: Any, errors: list[BaseException]) -> threading.Thread:
    def claim() -> None:
        try:
            claimant.create(target, "claimrun")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=claim)
    thread.start()
    return thread


def _seen_by(monkeypatch: pytest.MonkeyPatch, claimant: Any, reclaimer: Any) -> threading.Event:
    """Set once ``claimant``'s claim has read an intent that names ``reclaimer``."""
    seen, real_intent = threading.Event(), Registry._intent

    def intent(self: Any, name: str) -> tuple[str | None, str | None]:
        found = real_intent(self, name)
        if self.owner == claimant.owner and found[0] == reclaimer.owner:
            seen.set()
        return found

    monkeypatch.setattr(Registry, "_intent", intent)
    return seen


def test_a_name_a_live_run_is_reclaiming_is_waited_for_not_refused(
    monkeypatch: pytest.MonkeyPatch, server: tuple[str, str, Any], base_name: str
) -> None:
    """The intent a sweeping run holds while it drops a leftover: another run that wants the
    name waits for the drop, then creates it; it once got "in use by another run".

    The reclaiming run stays alive throughout, so no other run on the server touches it;
    the claim is let through only after it has seen the reclaiming run's intent.
    """
    backend, url, cls = server
    target = parse_db_url(url + base_name)
    reclaimer, claimant = cls(), cls()
    errors: list[BaseException] = []
    reclaimer.create(target, "deadrun")
    registry = reclaimer._registry(target)
    assert registry._take_over(base_name, reclaimer.owner, RECLAIMING)  # as sweep() does
    seen = _seen_by(monkeypatch, claimant, reclaimer)
    claiming = _claim_in_thread(claimant, target, errors)
    try:
        assert seen.wait(60), "the claim never looked at the reclaiming run's intent"
        assert claiming.is_alive()  # waiting, not refused
        registry.drop_database(base_name)  # what sweep() does next
        registry.forget(base_name)
        claiming.join(60)
        assert errors == []
        assert registry.owner_of(base_name) == claimant.owner
        assert leftovers(backend)(base_name) == [f"intent:{base_name}", base_name]
    finally:
        claiming.join(60)
        reclaimer.close()
        claimant.drop(target, "claimrun")
        claimant.close()
    assert leftovers(backend)(base_name) == []


def test_a_sweep_marks_what_it_reclaims_and_a_claim_waits_for_it(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, base_name: str
) -> None:
    """The real sweep, end to end, on a registry of this test's own (no other run sees it):
    a dead run's leftover is taken over as RECLAIMING while dropped; a run that wants the
    name at that moment waits, then gets it."""
    require_service("PostgreSQL", *SERVICES["PostgreSQL"][:3])
    url = "postgresql://postgres@127.0.0.1:5432/"

    class Own(PostgresProvisioner):
        registry_database = f"{base_name}_registry"

    target = parse_db_url(url + base_name)
    dead, sweeper, claimant = Own(), Own(), Own()
    errors: list[BaseException] = []
    held, release = threading.Event(), threading.Event()
    marks: list[str | None] = []
    real_drop = _PgRegistry.drop_database

    def drop_database(self: Any, name: str) -> None:
        if self.owner == sweeper.owner and name == base_name:
            marks.append(self.run_of(name))
            held.set()
            assert release.wait(60), "the test never let the sweep go on"
        real_drop(self, name)

    monkeypatch.setattr(_PgRegistry, "drop_database", drop_database)
    seen = _seen_by(monkeypatch, claimant, sweeper)
    try:
        dead.create(target, "deadrun")
        dead.close()
        wait_until_owner_gone("postgresql", dead.owner, f"{base_name}_registry")
        sweeping = threading.Thread(target=sweeper._registry, args=(target,))
        sweeping.start()
        assert held.wait(60), "the sweep never reached the dead run's leftover"
        assert marks == [RECLAIMING]
        claiming = _claim_in_thread(claimant, target, errors)
        try:
            assert seen.wait(60), "the claim never looked at the sweeping run's intent"
            assert claiming.is_alive()  # waiting, not refused
        finally:
            release.set()
            sweeping.join(60)
            claiming.join(60)
        assert errors == []
        assert sweeper.reclaimed == [base_name]
        assert claimant._registry(target).owner_of(base_name) == claimant.owner
        # the claimant's own, new database, and the registry of this test
        assert pg_leftovers(base_name) == [base_name, f"{base_name}_registry"]
    finally:
        release.set()
        claimant.drop(target, "claimrun")
        for provisioner in (sweeper, claimant):
            provisioner.close()
        pg_cleanup(base_name)


@pytest.mark.slow
def test_mariadb_two_real_runs_with_one_db_name(pytester: pytest.Pytester, base_name: str) -> None:
    """The first run, still in its tests, keeps its database; the second is refused."""
    require_service("MariaDB", *SERVICES["MariaDB"][:3])
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        f"db_url = mysql+pymysql://root:@127.0.0.1:3306/app\ndb_name = {base_name}\n"
    )
    pytester.makeconftest("")
    first = pytester.mkdir("first")
    (first / "test_first.py").write_text(
        textwrap.dedent(
            """
            import pathlib, time, pymysql
            from pytest_tempo.databases.urls import parse_db_url

            def test_holds(worker_database):
                u = parse_db_url(worker_database)
                conn = pymysql.connect(host=u.host, port=u.port, user=u.user,
                                       password=u.password, database=u.database)
                here = pathlib.Path(__file__).parent
                (here / "ready").touch()
                deadline = time.monotonic() + 120
                while not (here / "go").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
                with conn.cursor() as cur:
                    cur.execute("SELECT DATABASE()")
                    assert cur.fetchone()[0] == u.database
                conn.close()
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "PYTEST_"))}
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:hypothesispytest -p no:cacheprovider"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:locust", "first"], cwd=pytester.path,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = 90.0
        start = time.monotonic()
        while not (first / "ready").exists():
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() - start < deadline
            time.sleep(0.02)
        pytester.makepyfile(test_second="def test_it(worker_database): pass")
        second = pytester.runpytest("test_second.py")
        second.assert_outcomes(errors=1)
        second.stdout.fnmatch_lines([f"*the database '{base_name}' on 127.0.0.1:3306 is in use *"])
        (first / "go").touch()
        output = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == 0, output
        assert "1 passed" in output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert my_leftovers(base_name) == []


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", *SERVICES["Redis"][:3])
    pytest.importorskip("redis")
    return SERVICES["Redis"][3]


def test_redis_reclaims_dead_owners_namespaces_only(
    pytester: pytest.Pytester, redis_url: str
) -> None:
    import redis

    token = uuid.uuid4().hex[:10]
    dead_ns, live_ns, legacy_ns = (f"tempo:{token}{n}:gw0:" for n in "dlx")
    client = redis.Redis.from_url(redis_url)
    dead, live = RedisOwner(redis_url), RedisOwner(redis_url)
    try:
        for owner, ns in ((dead, dead_ns), (live, live_ns)):
            owner.claim(ns)
        for ns in (dead_ns, live_ns, legacy_ns):
            client.set(ns + "k", 1)
        dead.close()  # the server drops its named connection, as when the process dies
        wait_until_owner_gone("redis", dead.name)
        pytester.makeini(f"[pytest]\nconsole_output_style = classic\nredis_url = {redis_url}\n")
        pytester.makepyfile("def test_it(worker_namespace): pass")
        pytester.runpytest().assert_outcomes(passed=1)
        assert redis_leftovers([dead_ns]) == []
        assert redis_leftovers([live_ns]) == [f"owner:{live_ns}", live_ns + "k"]
        assert client.get(legacy_ns + "k") == b"1"  # made without an owner: never touched
    finally:
        live.close()
        redis_cleanup([dead_ns, live_ns, legacy_ns])
        client.close()


def test_redis_owner_keeps_an_alive_key_with_a_ttl(redis_url: str) -> None:
    import redis

    owner = RedisOwner(redis_url)
    ns = f"tempo:{uuid.uuid4().hex[:10]}:gw0:"
    client = redis.Redis.from_url(redis_url)
    try:
        owner.claim(ns)
        assert client.hget(OWNERS, ns) == owner.name.encode()
        assert 0 < client.ttl("tempo-alive:" + owner.name) <= 30
        names = {c.get("name") for c in client.client_list()}
        assert owner.name in names
        # its heartbeat thread leaves the signals that end a run to the main thread
        assert owner._thread is not None
        status = Path(f"/proc/self/task/{owner._thread.native_id}/status").read_text()
        mask = int(next(x for x in status.splitlines() if x.startswith("SigBlk:")).split()[1], 16)
        assert mask >> (signal.SIGTERM - 1) & 1
        owner.release(ns)
        assert client.hget(OWNERS, ns) is None
        owner.close()
        assert client.exists("tempo-alive:" + owner.name) == 0
    finally:
        owner.close()
        redis_cleanup([ns])
        client.close()


def test_redis_errors_are_one_line(redis_url: str) -> None:
    owner = RedisOwner(redis_url.rsplit("/", 1)[0] + "/99")
    with pytest.raises(DatabaseError) as info:
        owner.claim("tempo:x:gw0:")
    owner.close()
    assert str(info.value) == (
        "Redis at 127.0.0.1:6379: DB index is out of range (url: redis://127.0.0.1:6379/99)"
    )


def test_redis_runs_starting_together_reclaim_every_dead_namespace(redis_url: str) -> None:
    """Every dead namespace is reclaimed by exactly one of them; the live ones are kept."""
    import threading

    import redis

    token = uuid.uuid4().hex[:8]
    dead = [f"tempo:{token}d{n}:gw0:" for n in range(6)]
    live = [f"tempo:{token}l{n}:gw0:" for n in range(4)]
    client = redis.Redis.from_url(redis_url)
    starters = [RedisOwner(redis_url) for _ in live]
    try:
        for ns in dead:
            owner = RedisOwner(redis_url)
            owner.claim(ns)
            client.set(ns + "k", 1)
            owner.close()
            wait_until_owner_gone("redis", owner.name)
        barrier = threading.Barrier(len(live))
        errors: list[BaseException] = []

        def start(owner: RedisOwner, ns: str) -> None:
            barrier.wait()
            try:
                owner.claim(ns)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        pairs = zip(starters, live, strict=True)
        threads = [threading.Thread(target=start, args=pair) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        reclaimed = [ns for owner in starters for ns in owner.reclaimed]
        # Each at most once (a run elsewhere on the server may have reclaimed some first).
        assert len(reclaimed) == len(set(reclaimed))
        assert set(reclaimed) <= set(dead)
        assert redis_leftovers(dead) == []
        assert redis_leftovers(live) == sorted(f"owner:{ns}" for ns in live)
    finally:
        for owner in starters:
            owner.close()
        redis_cleanup(dead + live)
        client.close()


def test_redis_without_client_list_an_owner_lives_as_long_as_its_alive_key(
    redis_url: str,
) -> None:
    """Where ACLs forbid CLIENT LIST, the renewed tempo-alive key is the sign of life.

    On database 15, which no other test uses, so no other run's sweep (which can see that
    the ghost has no connection) gets there first.
    """
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/15"
    client = redis.Redis.from_url(url)
    user = "tempo_noclientlist_" + uuid.uuid4().hex[:8]
    token = uuid.uuid4().hex[:10]
    ns, mine = f"tempo:{token}:gw0:", f"tempo:{token}:gw1:"
    ghost = "tempo-owner-" + uuid.uuid4().hex  # a killed owner whose key has not expired yet
    restricted = RedisOwner(f"redis://{user}:pw@127.0.0.1:6379/15")
    unrestricted = RedisOwner(url)
    client.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-client|list"],
    )  # fmt: skip

    def left() -> list[bytes]:
        return [*client.scan_iter(match=ns + "*"), *([b"owner"] * client.hexists(OWNERS, ns))]

    try:
        client.hset(OWNERS, ns, ghost)
        client.set(ns + "k", 1)
        client.set("tempo-alive:" + ghost, "1", ex=30)
        restricted.claim(mine)
        assert restricted.reclaimed == []  # alive, as far as it can tell
        assert left() == [(ns + "k").encode(), b"owner"]
        client.delete("tempo-alive:" + ghost)  # the TTL ran out
        restricted.release(mine)
        restricted.claim(mine)
        assert restricted.reclaimed == [ns]
        assert left() == []
        # With CLIENT LIST the same ghost is dead at once: no client bears its name.
        client.hset(OWNERS, ns, ghost)
        client.set("tempo-alive:" + ghost, "1", ex=30)
        unrestricted.claim(f"tempo:{token}:gw2:")
        assert unrestricted.reclaimed == [ns]
        assert left() == []
    finally:
        restricted.close()
        unrestricted.close()
        client.acl_deluser(user)
        keys = [*client.scan_iter(match=f"tempo:{token}:*"), "tempo-alive:" + ghost]
        client.delete(*keys)
        client.hdel(OWNERS, ns, mine, f"tempo:{token}:gw2:")
        client.close()
