"""Per-worker databases without a server: URLs, settings, SQLite files, the template hook."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.databases.base import DatabaseError, import_driver, marker, marker_run
from pytest_tempo.databases.owners import Action, DbState, decide, new_owner_id, owner_key
from pytest_tempo.databases.redis import glob_escape
from pytest_tempo.databases.run import template_url, worker_url
from pytest_tempo.databases.sqlite import (
    APPLICATION_ID,
    SQLiteProvisioner,
    file_lock,
    is_ours,
    try_lock,
)
from pytest_tempo.databases.urls import (
    DbUrl,
    UrlError,
    mask_password,
    parse_db_url,
    parse_redis_url,
)
from pytest_tempo.settings import Settings
from pytest_tempo.workers import MASTER, WorkerInfo, db_name

from .conftest import xdist_params

#: Hypothesis's plugin is left out of inner runs: importing it costs each worker process
#: most of a second.
LEAN = ("-p", "no:hypothesispytest")

# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name", "expected"),
    [
        ("postgresql://u:p%40ss@db.example:6543/app?sslmode=require", "test_db_gw0",
         "postgresql://u:p%40ss@db.example:6543/test_db_gw0?sslmode=require"),
        ("postgresql+psycopg://u@localhost/app", "x", "postgresql+psycopg://u@localhost/x"),
        ("postgres://localhost", "x", "postgres://localhost/x"),
        ("mysql+pymysql://root:@127.0.0.1:3306/app?charset=utf8mb4", "t",
         "mysql+pymysql://root:@127.0.0.1:3306/t?charset=utf8mb4"),
        ("mariadb://root@127.0.0.1/", "t", "mariadb://root@127.0.0.1/t"),
    ],
)  # fmt: skip
def test_with_database_keeps_every_other_part(url: str, name: str, expected: str) -> None:
    assert parse_db_url(url).with_database(name).text == expected


def test_parse_db_url_parts() -> None:
    url = parse_db_url("mysql+pymysql://me:s%3Acret@127.0.0.1:3307/app")
    assert (url.backend, url.host, url.port, url.user, url.password, url.database) == (
        "mysql", "127.0.0.1", 3307, "me", "s:cret", "app",
    )  # fmt: skip
    assert url.address == "127.0.0.1:3307"
    assert url.masked == "mysql+pymysql://me:***@127.0.0.1:3307/app"
    assert parse_db_url("postgresql://h/app").address == "h:5432"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/app.db", "data/app_gw0.db"),
        ("sqlite:////abs/dir/app.sqlite3", "/abs/dir/app_gw0.sqlite3"),
        ("sqlite+pysqlite:///app.db", "app_gw0.db"),
    ],
)
def test_sqlite_urls_get_the_worker_on_the_file_stem(url: str, path: str) -> None:
    worker = WorkerInfo("gw0", 0, 2, "feedfacecafe")
    result = worker_url(Settings(db_url=parse_db_url(url)), worker, "test_db_gw0", Path("/t"))
    assert result.database == path
    assert result.text == url.split("://")[0] + ":///" + path


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_memory_stays(url: str) -> None:
    worker = WorkerInfo("gw1", 1, 2, "r")
    result = worker_url(Settings(db_url=parse_db_url(url)), worker, "n", Path("/t"))
    assert result.text == url
    assert result.is_memory


def test_default_is_a_sqlite_file_in_the_given_directory() -> None:
    worker = WorkerInfo("gw1", 1, 2, "r")
    assert worker_url(Settings(), worker, "test_db_gw1", Path("/tmp/x")).text == (
        "sqlite:////tmp/x/test_db_gw1.db"
    )
    assert template_url(Settings(), worker, Path("/tmp/x")).database == "/tmp/x/test_db_tmpl.db"


def test_unique_mode_reaches_sqlite_files_and_templates() -> None:
    worker = WorkerInfo("gw1", 1, 2, "0123456789abcdef")
    settings = Settings(db_url=parse_db_url("sqlite:///d/app.db"), db_unique=True)
    assert worker_url(settings, worker, "ignored", Path()).database == "d/app_r0123456789_gw1.db"
    assert template_url(settings, worker, Path()).database == "d/app_r0123456789_tmpl.db"
    pg = Settings(db_url=parse_db_url("postgresql://h/app"), db_unique=True, db_name="base")
    assert template_url(pg, worker, Path()).text == "postgresql://h/base_r0123456789_tmpl"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost/app", "it is not a URL"),
        ("mongodb://localhost/app", "the scheme 'mongodb' is not supported"),
        ("postgresql+://h/app", "the scheme 'postgresql+' is not supported"),
        ("postgresql://u@h:port/app", "it is not a valid URL (Port could not be cast"),
        ("postgresql:///app", "it names no host"),
        ("mysql://h1,h2/app", "several hosts"),
        ("postgresql://h/a/b", "'a/b' is not a database name"),
        ("postgresql://h/app#frag", "no #fragment"),
        ("sqlite://host/app.db", "a SQLite URL has no host"),
        ("sqlite:///dir/", "must name a file"),
    ],
)
def test_parse_db_url_errors(url: str, message: str) -> None:
    with pytest.raises(UrlError) as info:
        parse_db_url(url)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("mysql://u:@h/db", "mysql://u:***@h/db"),
    ],
)
def test_mask_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked


@given(
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.text(alphabet="abcdefXYZ0123!$&'()*+,;=-._~", min_size=1, max_size=12),
    st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True),
)
@pytest.mark.slow
def test_with_database_roundtrip_property(user: str, password: str, name: str) -> None:
    url = parse_db_url(f"postgresql://{user}:{password}@127.0.0.1:5433/app?application_name=x")
    result = url.with_database(name)
    again = parse_db_url(result.text)
    assert (again.user, again.password, again.host, again.port, again.query) == (
        user, password, "127.0.0.1", 5433, "application_name=x",
    )  # fmt: skip
    assert again.database == name
    assert mask_password(result.text) == result.text.replace(f":{password}@", ":***@", 1)


def test_redis_urls() -> None:
    assert parse_redis_url(" redis://localhost:6379/0 ") == "redis://localhost:6379/0"
    assert parse_redis_url("unix:///run/redis.sock") == "unix:///run/redis.sock"
    for bad, message in [
        ("http://localhost", "expected a redis://"),
        ("redis://", "names no host"),
        ("redis://h/abc", "'abc' is not a database number"),
    ]:
        with pytest.raises(UrlError, match=message):
            parse_redis_url(bad)


def test_glob_escape() -> None:
    assert glob_escape("tempo:a*b?[c]\\:") == "tempo:a\\*b\\?\\[c\\]\\\\:"


def test_marker_roundtrip() -> None:
    assert marker_run(marker("abc", "building")) == ("abc", "building")
    assert marker_run(marker("abc")) == ("abc", "ready")
    for other in (
        None,
        "",
        "my database",
        "pytest-tempo",
        "pytest-tempo run=",
        "pytest-tempo run=x",
    ):
        assert marker_run(other) is None


def test_missing_driver_names_the_extra() -> None:
    with pytest.raises(DatabaseError) as info:
        import_driver("no_such_driver_xyz", "postgres", "PostgreSQL")
    assert str(info.value) == (
        "PostgreSQL needs the no_such_driver_xyz package, which is not installed: "
        'pip install "pytest-tempo[postgres]"'
    )


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("db_name = Test-DB", "db_name (ini): 'Test-DB' is not valid: a database name must be "
         "usable without quoting: lower-case letters, digits and _"),
        ("db_name = 9lives", "db_name (ini): '9lives' is not valid"),
        (f"db_name = {'a' * 64}", "at most 63 bytes"),
        ("db_unique = maybe", "db_unique (ini): 'maybe' is not valid: expected true or false"),
        ("db_url = mongodb://u:hunter2@h/app", "db_url (ini): 'mongodb://u:***@h/app' is not "
         "valid: the scheme 'mongodb' is not supported"),
        ("db_url = postgresql://u:hunter2@h:99999/app", "db_url (ini): "
         "'postgresql://u:***@h:99999/app' is not valid: it is not a valid URL"),
        ("redis_url = http://h", "redis_url (ini): 'http://h' is not valid: expected a redis://"),
    ],
    ids=["db_name-upper-case", "db_name-leading-digit", "db_name-too-long", "db_unique-maybe",
         "db_url-mongodb", "db_url-bad-port", "redis_url-http"],
)  # fmt: skip
def test_bad_settings_are_usage_errors(pytester: pytest.Pytester, ini: str, message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "hunter2" not in result.stderr.str()


def test_db_url_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@h/ignored")
    monkeypatch.setenv("TEMPO_DB_URL", "mysql://root:pw@127.0.0.1/app")
    pytester.makepyfile(
        """
        def test_url(worker_db_url):
            assert worker_db_url == "mysql://root:pw@127.0.0.1/test_db"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TEMPO_DB_URL", "oracle://u:pw@h/app")
    result = pytester.runpytest()
    assert "TEMPO_DB_URL (env): 'oracle://u:***@h/app' is not valid" in result.stderr.str()
    monkeypatch.delenv("TEMPO_DB_URL")
    monkeypatch.setenv("DATABASE_URL", "ftp://h/app")
    # DATABASE_URL belongs to other tools too: a suite that uses no database fixture runs,
    # and a test that asks for one gets the reason.
    pytester.makepyfile(
        test_other="def test_plain(): pass",
        test_url="def test_url(worker_db_url): pass",
    )
    result = pytester.runpytest("test_other.py", "test_url.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*DATABASE_URL (env): 'ftp://h/app' is not valid: *; set db_url or TEMPO_DB_URL *"]
    )


def test_ini_wins_over_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPO_DB_URL", "mysql://h/app")
    pytester.makeini("[pytest]\ndb_url = postgresql://h/app\n")
    pytester.makepyfile(
        """
        def test_url(worker_db_url):
            assert worker_db_url == "postgresql://h/test_db"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_header_names_the_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndb_url = postgresql://h/app\ndb_unique = true\n")
    pytester.makepyfile("def test_a(): pass")
    pytester.runpytest().stdout.fnmatch_lines(["tempo *db=postgresql, db-unique*"])


# --- SQLite -------------------------------------------------------------------------------


def test_sqlite_provisioner_create_drop_and_leftovers(tmp_path: Path) -> None:
    prov = SQLiteProvisioner()
    url = parse_db_url(f"sqlite:///{tmp_path}/a/app.db")
    path = tmp_path / "a" / "app.db"
    prov.create(url, "run1")
    assert is_ours(path)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    prov.create(url, "run2")  # a leftover of ours: replaced
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    conn.close()
    prov.drop(url, "run2")
    assert not path.exists()


def test_sqlite_refuses_a_file_it_did_not_create(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE precious (x)")
    conn.close()
    with pytest.raises(DatabaseError) as info:
        SQLiteProvisioner().create(parse_db_url(f"sqlite:///{path}"), "r")
    assert str(info.value) == (
        f"the SQLite file {path} exists and was not created by pytest-tempo; refusing to "
        "replace it (remove it, or point db_url at another file)"
    )
    assert path.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="flock semantics: POSIX only")
def test_sqlite_sweep_spares_a_template_being_built(tmp_path: Path) -> None:
    """A worker building the template holds its lock and has created, not yet locked, the
    template's owner file; another worker sweeping the folder must leave both alone (it
    removed the held lock file, and a third worker built the template a second time)."""
    lock_path = tmp_path / "app_tmpl.db.lock"
    owner = tmp_path / "app_tmpl.db.tempo-owner"
    with file_lock(lock_path) as held:
        owner.write_text("")  # the builder's owner file, a moment before it locks it
        sweeper = SQLiteProvisioner()
        sweeper.create(parse_db_url(f"sqlite:///{tmp_path}/app_gw1.db"), "run")
        assert sweeper.reclaimed == []
        assert owner.exists()
        assert os.path.samestat(os.fstat(held.fileno()), os.stat(lock_path))
        with open(lock_path, encoding="utf-8") as other:
            assert not try_lock(other)  # the next worker still waits for the builder
    sweeper.close()


def _waiting_for_lock(path: Path) -> bool:
    """Whether some process waits for a lock on the file ``path`` names (``/proc/locks``)."""
    inode = os.stat(path).st_ino
    with open("/proc/locks", encoding="ascii") as locks:
        return any(
            "->" in line and line.split()[6].rsplit(":", 1)[1] == str(inode) for line in locks
        )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks")
def test_file_lock_follows_a_lock_file_replaced_while_waiting(tmp_path: Path) -> None:
    """The holder removes the lock file as it lets go (a template dropped or reclaimed): the
    process that was waiting must lock the file now at that path, or two hold "the" lock."""
    path = tmp_path / "t.lock"
    acquired = threading.Event()
    release = threading.Event()

    def waiter() -> None:
        with file_lock(path):
            acquired.set()
            release.wait(60)

    with file_lock(path):
        thread = threading.Thread(target=waiter)
        thread.start()
        deadline = time.monotonic() + 60
        while not _waiting_for_lock(path):
            assert time.monotonic() < deadline, "the waiter never waited for the lock"
            time.sleep(0.01)
        os.unlink(path)
    try:
        assert acquired.wait(60)
        with open(path, "a+", encoding="utf-8") as other:
            assert not try_lock(other)
    finally:
        release.set()
        thread.join()


def test_sqlite_template_is_built_once_by_concurrent_workers(tmp_path: Path) -> None:
    calls: list[str] = []
    template = parse_db_url(f"sqlite:///{tmp_path}/app_tmpl.db")

    def build(url: str) -> None:
        calls.append(url)
        conn = sqlite3.connect(url.split(":///", 1)[1])
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        conn.commit()
        conn.close()

    # One provisioner per simulated worker, kept until the end: each is an owner.
    workers = [SQLiteProvisioner() for _ in range(4)]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        url = parse_db_url(f"sqlite:///{tmp_path}/app_gw{n}.db")
        start.wait()
        try:
            workers[n].create(url, "run", template=template, build=build)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls == [template.text]
    for n in range(4):
        conn = sqlite3.connect(tmp_path / f"app_gw{n}.db")
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]
        conn.close()
    for provisioner in workers:
        provisioner.close()
    SQLiteProvisioner().drop_template(template, "another run")
    assert (tmp_path / "app_tmpl.db").exists()
    SQLiteProvisioner().drop_template(template, "run")
    assert not (tmp_path / "app_tmpl.db").exists()


def test_file_lock_excludes(tmp_path: Path) -> None:
    order: list[str] = []

    def locked() -> None:
        with file_lock(tmp_path / "x.lock"):
            order.append("other")

    with file_lock(tmp_path / "x.lock"):
        t = threading.Thread(target=locked)
        t.start()
        t.join(0.05)  # it waits for the holder
        order.append("holder")
    t.join()
    assert order == ["holder", "other"]


SQLITE_SUITE = """
    import json, os, sqlite3

    def test_sees_own_database(worker_database, worker_db_url, tempo_worker, pytestconfig):
        assert worker_database == worker_db_url
        path = worker_database.split(":///", 1)[1]
        assert os.path.exists(path)
        conn = sqlite3.connect(path)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        conn.execute("CREATE TABLE mine (x)")
        conn.commit(); conn.close()
        out = pytestconfig.rootpath / f"seen-{tempo_worker.id}.json"
        out.write_text(json.dumps({"path": path, "tables": tables}))

    def test_fails(worker_database):
        assert False, "a failing test"
"""

TEMPLATE_CONFTEST = """
    import sqlite3

    def pytest_tempo_build_template(url, backend, config):
        with open(config.rootpath / "calls.txt", "a") as f:
            f.write(backend + " " + url + "\\n")
        conn = sqlite3.connect(url.split(":///", 1)[1])
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        conn.commit(); conn.close()
"""


def _seen(pytester: pytest.Pytester) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(pytester.path.glob("seen-*.json"))]


@xdist_params
def test_sqlite_per_worker_files_are_created_and_removed(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite:///data/app.db\n")
    pytester.makepyfile(SQLITE_SUITE)
    extra = ["--dist", "each", *LEAN] if xdist_args else []
    result = pytester.runpytest(*xdist_args, *extra)
    seen = _seen(pytester)
    if xdist_args:
        result.assert_outcomes(passed=2, failed=2)
        assert sorted(str(s["path"]) for s in seen) == ["data/app_gw0.db", "data/app_gw1.db"]
    else:
        result.assert_outcomes(passed=1, failed=1)
        assert [s["path"] for s in seen] == ["data/app.db"]
    assert all(s["tables"] == [] for s in seen)
    assert list((pytester.path / "data").iterdir()) == []  # gone, after a failing test


@xdist_params
def test_sqlite_template_built_once_and_cloned(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(TEMPLATE_CONFTEST)
    pytester.makepyfile(SQLITE_SUITE)
    extra = ["--dist", "each", *LEAN] if xdist_args else []
    result = pytester.runpytest(*xdist_args, *extra)
    result.assert_outcomes(passed=2 if xdist_args else 1, failed=2 if xdist_args else 1)
    calls = (pytester.path / "calls.txt").read_text().splitlines()
    assert len(calls) == 1  # once per run, whatever the number of workers
    seen = _seen(pytester)
    assert all(s["tables"] == ["users"] for s in seen)
    if xdist_args:
        assert calls[0].endswith("/test_db_tmpl.db")
        assert len(seen) == 2
    for s in seen:
        assert not Path(str(s["path"])).exists()
    template = Path(calls[0].split(":///", 1)[1])
    assert not template.exists()


@xdist_params
def test_keyboard_interrupt_still_drops(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite:///data/app.db\n")
    pytester.makepyfile(
        """
        import os

        def test_interrupted(worker_database):
            assert os.path.exists(worker_database.split(":///", 1)[1])
            raise KeyboardInterrupt
        """
    )
    # A subprocess: in-process, pytester passes the interrupt on to the outer run.
    result = pytester.runpytest_subprocess(*xdist_args, *LEAN)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert list((pytester.path / "data").iterdir()) == []


def test_leftover_of_a_killed_run_is_replaced(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite:///app.db\n")
    killed = SQLiteProvisioner()
    killed.create(parse_db_url(f"sqlite:///{pytester.path}/app.db"), "killed")
    killed.close()  # its owner lock goes, as when its process dies
    conn = sqlite3.connect(pytester.path / "app.db")
    conn.execute("CREATE TABLE stale (x)")
    conn.commit()
    conn.close()
    pytester.makepyfile(
        """
        import sqlite3

        def test_fresh(worker_database):
            conn = sqlite3.connect(worker_database.split(":///", 1)[1])
            try:
                assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
            finally:
                conn.close()
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert sorted(p.name for p in pytester.path.glob("app.db*")) == []


def test_a_foreign_file_is_refused_without_a_traceback(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite:///app.db\n")
    conn = sqlite3.connect(pytester.path / "app.db")
    conn.execute("CREATE TABLE precious (x)")
    conn.commit()
    conn.close()
    pytester.makepyfile("def test_it(worker_database): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the SQLite file app.db exists and was not created by pytest-tempo; refusing*"]
    )
    assert "Traceback" not in result.stdout.str()
    assert "def worker_database" not in result.stdout.str()
    assert (pytester.path / "app.db").exists()


def test_memory_database_calls_the_hook_and_creates_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite://\n")
    pytester.makeconftest(
        """
        import pytest

        KEY = pytest.StashKey[list]()

        def pytest_tempo_build_template(url, backend, config):
            config.stash.setdefault(KEY, []).append(url)
        """
    )
    pytester.makepyfile(
        """
        from conftest import KEY

        def test_it(worker_database, pytestconfig):
            assert worker_database == "sqlite://"
            assert pytestconfig.stash[KEY] == ["sqlite://"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_master_builds_directly_without_a_template(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TEMPLATE_CONFTEST)
    pytester.makepyfile(SQLITE_SUITE)
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    calls = (pytester.path / "calls.txt").read_text().splitlines()
    assert len(calls) == 1
    assert calls[0].startswith("sqlite ")
    assert calls[0].endswith("/test_db.db")


def test_worker_database_unused_touches_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_url = sqlite:///data/a.db\n")
    pytester.makepyfile("def test_it(worker_db_url): assert worker_db_url == 'sqlite:///data/a.db'")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / "data").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://h/app",
            ["postgresql://h/base", "postgresql://h/base_gw0", "postgresql://h/base_gw1",
             "postgresql://h/base_gw12"],
        ),
        (
            "sqlite:///d/app.db",
            ["sqlite:///d/app.db", "sqlite:///d/app_gw0.db", "sqlite:///d/app_gw1.db",
             "sqlite:///d/app_gw12.db"],
        ),
    ],
    ids=["server", "sqlite-file"],
)  # fmt: skip
def test_worker_ids_outside_master(url: str, expected: list[str]) -> None:
    """Master keeps the base database; every xdist worker, a replacement worker past the
    count included, gets one of its own."""
    settings = Settings(db_url=parse_db_url(url), db_name="base")
    workers = [WorkerInfo(MASTER, 0, 1, "r")]
    workers += [WorkerInfo(f"gw{i}", i, 2, "r") for i in (0, 1, 12)]
    urls = [worker_url(settings, w, db_name(settings.db_name, w.id), Path()).text for w in workers]
    assert urls == expected


def test_optional_hookimpl_survives_the_plugin_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_tempo_build_template(url, backend, config):
            pass
        """
    )
    pytester.makepyfile("def test_it(): pass")
    pytester.runpytest("-p", "no:tempo").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:tempo-databases").assert_outcomes(passed=1)


# --- ownership: who may take a database name --------------------------------------------


@pytest.mark.parametrize(
    ("owner", "alive", "state", "in_use", "expected"),
    [
        (None, False, "absent", False, "create"),
        (None, False, "foreign", False, "foreign"),  # a user's database: never dropped
        (None, False, "ours", False, "replace"),  # marked, no intent, nobody connected
        (None, False, "ours", True, "in-use"),
        ("other", True, "ours", False, "in-use"),  # a live run's: never touched
        ("other", True, "absent", False, "in-use"),  # being created by a live run
        ("other", False, "ours", False, "replace"),  # a dead run's leftover
        ("other", False, "foreign", False, "replace"),  # killed between CREATE and COMMENT
        ("other", False, "absent", False, "create"),  # killed before CREATE
        ("me", False, "ours", False, "replace"),
    ],
    ids=["free", "user-db", "marked-unowned", "marked-in-use", "live-owner", "live-creating",
         "dead-owner", "dead-mid-create", "dead-before-create", "own-leftover"],
)  # fmt: skip
def test_decide(
    owner: str | None, alive: bool, state: DbState, in_use: bool, expected: Action
) -> None:
    assert decide(owner, "me", alive, state, in_use) == expected


@given(
    owner=st.sampled_from([None, "me", "other"]),
    alive=st.booleans(),
    state=st.sampled_from(["absent", "ours", "foreign"]),
    in_use=st.booleans(),
)
def test_decide_never_takes_from_a_live_owner_or_a_stranger(
    owner: str | None, alive: bool, state: DbState, in_use: bool
) -> None:
    action = decide(owner, "me", alive and owner == "other", state, in_use)
    if owner == "other" and alive:
        assert action == "in-use"
    if action == "replace":  # something is dropped: only with an intent, or marked and idle
        assert state != "absent"
        assert owner is not None or (state == "ours" and not in_use)
    if owner is None and state == "foreign":
        assert action == "foreign"
    if state == "absent" and not (owner == "other" and alive):
        assert action == "create"


def test_owner_keys_are_stable_and_distinct() -> None:
    a, b = new_owner_id(), new_owner_id()
    assert a != b
    assert len(a) == 32
    assert owner_key(a) == owner_key(a) != owner_key(b)
    assert -(2**63) <= owner_key(a) < 2**63


# --- SQLite owners: a locked owner file per database --------------------------------------


def test_sqlite_a_live_owners_file_is_refused_a_dead_ones_replaced(tmp_path: Path) -> None:
    url = parse_db_url(f"sqlite:///{tmp_path}/app.db")
    live, other = SQLiteProvisioner(), SQLiteProvisioner()
    live.create(url, "live")
    with pytest.raises(DatabaseError) as info:
        other.create(url, "other")
    assert str(info.value) == (
        f"the SQLite file {tmp_path}/app.db is in use by another run; set db_unique = true "
        "so concurrent runs get their own names"
    )
    assert is_ours(tmp_path / "app.db")
    live.close()  # as when its process dies: the lock goes, the files stay
    other.create(url, "other")
    other.drop(url, "other")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sqlite_dead_owners_files_of_any_name_are_reclaimed(tmp_path: Path) -> None:
    killed, live, user = (tmp_path / n for n in ("app_r1_gw0.db", "app_r2_gw0.db", "mine.db"))
    dead_owner, live_owner = SQLiteProvisioner(), SQLiteProvisioner()
    dead_owner.create(parse_db_url(f"sqlite:///{killed}"), "r1")
    live_owner.create(parse_db_url(f"sqlite:///{live}"), "r2")
    dead_owner.close()
    user.write_bytes(b"the user's own file")
    new = SQLiteProvisioner()
    url = parse_db_url(f"sqlite:///{tmp_path}/app_r3_gw0.db")
    new.create(url, "r3")
    assert new.reclaimed == [killed]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "app_r2_gw0.db", "app_r2_gw0.db.tempo-owner", "app_r3_gw0.db",
        "app_r3_gw0.db.tempo-owner", "mine.db",
    ]  # fmt: skip
    for provisioner in (new, live_owner):
        provisioner.close()


def test_sqlite_a_file_killed_mid_create_is_reclaimed_by_its_intent(tmp_path: Path) -> None:
    """An owner file whose lock is free proves the file is ours, whatever is in it."""
    (tmp_path / "app.db").write_bytes(b"half a database")
    (tmp_path / "app.db.tempo-owner").write_text("run=killed pid=1\n")
    provisioner = SQLiteProvisioner()
    url = parse_db_url(f"sqlite:///{tmp_path}/app.db")
    provisioner.create(url, "new")
    assert is_ours(tmp_path / "app.db")
    provisioner.drop(url, "new")
    provisioner.close()
    assert list(tmp_path.iterdir()) == []


def test_try_lock_sees_a_lock_another_open_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "owner"
    with open(path, "a+", encoding="utf-8") as first, open(path, "a+", encoding="utf-8") as again:
        assert try_lock(first)
        assert not try_lock(again)


def _open_count(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_sqlite_a_sweepers_brief_lock_is_not_taken_for_a_live_owner(tmp_path: Path) -> None:
    """A process sweeping the directory locks each owner file for a moment, then removes it
    if its owner is dead; a worker creating that database meanwhile waits and goes on."""
    owner_file = tmp_path / "app.db.tempo-owner"
    owner_file.write_text("run=killed pid=1\n")
    outcome: list[object] = []
    provisioner = SQLiteProvisioner()
    url = parse_db_url(f"sqlite:///{tmp_path}/app.db")
    with open(owner_file, "a+", encoding="utf-8") as sweeper:
        assert try_lock(sweeper)  # the sweeper holds it ...
        thread = threading.Thread(target=lambda: outcome.append(_create(provisioner, url)))
        thread.start()
        deadline = time.monotonic() + 30
        while _open_count(owner_file) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)  # until the worker has opened the owner file too
        time.sleep(0.2)  # it tries to lock it meanwhile: held, well within the grace
        owner_file.unlink()  # ... reclaims the dead owner's file, and lets go
    thread.join(timeout=30)
    assert outcome == ["created"]
    assert is_ours(tmp_path / "app.db")
    provisioner.drop(url, "new")
    provisioner.close()


def _create(provisioner: SQLiteProvisioner, url: DbUrl) -> object:
    try:
        provisioner.create(url, "new")
    except DatabaseError as exc:
        return exc
    return "created"


BUILD_AND_EXIT = """
import sqlite3, sys
from pytest_tempo.databases.sqlite import SQLiteProvisioner
from pytest_tempo.databases.urls import parse_db_url

def build(url):
    with open(sys.argv[2], "a") as f:
        f.write(url + "\\n")
    conn = sqlite3.connect(url.split(":///", 1)[1])
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.commit(); conn.close()

folder = sys.argv[1]
SQLiteProvisioner().create(
    parse_db_url(f"sqlite:///{folder}/app_gw0.db"), "run-1",
    parse_db_url(f"sqlite:///{folder}/app_tmpl.db"), build,
)
"""


def test_a_worker_that_exits_leaves_the_template_to_the_run(tmp_path: Path) -> None:
    """A worker that built the template and finished (xdist shuts a worker down once it has
    no more tests) no longer holds its owner lock: a worker starting later in the same run
    copies the template, it does not take it for a dead run's leftover and build it again."""
    script = tmp_path / "first.py"
    script.write_text(BUILD_AND_EXIT)
    calls = tmp_path / "calls.txt"
    subprocess.run([sys.executable, str(script), str(tmp_path), str(calls)], check=True)
    assert len(calls.read_text().splitlines()) == 1
    assert (tmp_path / "app_tmpl.db").exists()

    def build(url: str) -> None:
        with open(calls, "a") as f:
            f.write(url + "\n")

    later = SQLiteProvisioner()
    template = parse_db_url(f"sqlite:///{tmp_path}/app_tmpl.db")
    later.create(parse_db_url(f"sqlite:///{tmp_path}/app_gw1.db"), "run-1", template, build)
    assert len(calls.read_text().splitlines()) == 1  # copied, not built again
    conn = sqlite3.connect(tmp_path / "app_gw1.db")
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["users"]
    conn.close()
    later.drop_template(template, "run-1")
    later.close()
    assert not (tmp_path / "app_tmpl.db").exists()

    # A later run (another id) takes the first run's leftover template for what it is.
    subprocess.run([sys.executable, str(script), str(tmp_path), str(calls)], check=True)
    assert len(calls.read_text().splitlines()) == 2
    other = SQLiteProvisioner()
    other.create(parse_db_url(f"sqlite:///{tmp_path}/app_gw0.db"), "run-2", template, build)
    other.close()
    assert len(calls.read_text().splitlines()) == 3  # run-1's template rebuilt for run-2
    assert (tmp_path / "app_tmpl.db.lock").read_text().strip() == "run-2"
