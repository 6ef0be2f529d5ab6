from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.workers import (
    MASTER,
    MAX_IDENTIFIER,
    db_name,
    file_stem,
    fit_identifier,
    identify,
    is_plain_identifier,
    namespace,
    new_run_id,
    run_token,
    template_name,
    worker_token,
)

from .conftest import HAS_XDIST, xdist_params

#: Hypothesis's plugin is left out of inner runs: importing it costs each worker process
#: most of a second.
LEAN = ("-p", "no:hypothesispytest")

PLAIN = re.compile(r"[a-z_][a-z0-9_]*\Z")


def test_identify_master_without_workerinput() -> None:
    info = identify(None, "abc")
    assert (info.id, info.index, info.count, info.run_id) == (MASTER, 0, 1, "abc")
    assert not info.is_worker


def test_identify_worker_from_workerinput() -> None:
    info = identify({"workerid": "gw3", "workercount": 4, "testrunuid": "f00d"}, "mine")
    assert (info.id, info.index, info.count, info.run_id) == ("gw3", 3, 4, "f00d")
    assert info.is_worker


def test_identify_replacement_worker_index_can_pass_count() -> None:
    info = identify({"workerid": "gw5", "workercount": 2, "testrunuid": "u"}, "x")
    assert (info.index, info.count) == (5, 2)


def test_identify_tolerates_odd_workerinput() -> None:
    info = identify({"workerid": "node-a", "workercount": "many"}, "fallback")
    assert (info.id, info.index, info.count, info.run_id) == ("node-a", 0, 1, "fallback")


def test_db_name_examples() -> None:
    assert db_name("test_db", MASTER) == "test_db"
    assert db_name("test_db", "gw0") == "test_db_gw0"
    assert db_name("test_db", "gw12", "0123456789abcdef") == "test_db_r0123456789_gw12"
    assert db_name("test_db", MASTER, "0123456789abcdef") == "test_db_r0123456789"
    assert template_name("test_db") == "test_db_tmpl"
    assert file_stem("app", "gw1") == "app_gw1"
    assert file_stem("my-app", MASTER) == "my-app"


def test_long_names_are_cut_with_a_hash_and_keep_the_worker() -> None:
    base = "a" * 63
    name = db_name(base, "gw7")
    assert len(name) == MAX_IDENTIFIER
    assert name.endswith("_gw7")
    assert name != db_name(base + "b", "gw7")
    assert db_name(base, MASTER) == base  # fits: unchanged


def test_fit_identifier_cleans_and_keeps_distinct() -> None:
    assert fit_identifier("Test-DB") != fit_identifier("test_db")
    assert PLAIN.match(fit_identifier("9lives"))
    assert PLAIN.match(fit_identifier(""))


def test_tokens() -> None:
    assert worker_token("gw0") == "gw0"
    assert worker_token(MASTER) == MASTER
    assert re.fullmatch(r"w[0-9a-f]{8}", worker_token("tmpl"))
    assert run_token("ABCDEF0123456789") == "abcdef0123"
    assert re.fullmatch(r"[0-9a-f]{10}", run_token("not hex at all"))
    assert len(new_run_id()) == 32
    assert namespace("gw1", "0123456789abcdef") == "tempo:0123456789:gw1:"


worker_ids = st.one_of(
    st.integers(0, 10**6).map(lambda n: f"gw{n}"),
    st.just(MASTER),
    st.text(min_size=1, max_size=40),
)
bases = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True),
    st.text(max_size=80),
)
run_ids = st.one_of(st.none(), st.uuids().map(lambda u: u.hex), st.text(max_size=20))


@given(bases, worker_ids, run_ids)
def test_names_are_valid_and_bounded(base: str, worker: str, run: str | None) -> None:
    name = db_name(base, worker, run)
    assert PLAIN.match(name), name
    assert len(name.encode("utf-8")) <= MAX_IDENTIFIER
    assert is_plain_identifier(name)
    tmpl = template_name(base, run)
    assert is_plain_identifier(tmpl)
    assert tmpl != name


@given(bases, st.lists(worker_ids, min_size=2, max_size=8, unique=True), run_ids)
def test_names_are_injective_on_distinct_workers(
    base: str, workers: list[str], run: str | None
) -> None:
    names = [db_name(base, w, run) for w in workers]
    assert len(set(names)) == len(names)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True), worker_ids)
def test_unique_mode_separates_runs(base: str, worker: str) -> None:
    assert db_name(base, worker, "a" * 32) != db_name(base, worker, "b" * 32)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,58}", fullmatch=True))
def test_plain_bases_stay_readable(base: str) -> None:
    assert db_name(base, "gw0") == base + "_gw0"


WORKER_SUITE = """
    import json

    def test_who(tempo_worker, worker_db_name, worker_namespace, pytestconfig):
        path = pytestconfig.rootpath / f"who-{tempo_worker.id}.json"
        path.write_text(json.dumps([tempo_worker.id, tempo_worker.index, tempo_worker.count,
                                    tempo_worker.run_id, worker_db_name, worker_namespace]))

    def test_other(tempo_worker):
        pass
"""


@xdist_params
def test_tempo_worker_fixture(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    import json

    pytester.makepyfile(WORKER_SUITE)
    result = pytester.runpytest(*xdist_args, *LEAN)
    result.assert_outcomes(passed=2)
    rows = [json.loads(p.read_text()) for p in sorted(pytester.path.glob("who-*.json"))]
    assert rows
    for wid, index, count, run_id, name, ns in rows:
        if xdist_args:
            assert re.fullmatch(r"gw\d", wid)
            assert (index, count) == (int(wid[2:]), 2)
            assert name == f"test_db_{wid}"
        else:
            assert (wid, index, count, name) == (MASTER, 0, 1, "test_db")
        assert ns == f"tempo:{run_token(run_id)}:{wid}:"
    assert len({row[3] for row in rows}) == 1  # one run id for all workers


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_tempo_worker_under_no_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_it(tempo_worker, worker_db_name):
            assert tempo_worker.id == "master" and worker_db_name == "test_db"
        """
    )
    pytester.runpytest("-p", "no:xdist").assert_outcomes(passed=1)


def test_features_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(worker_db_name): pass")
    result = pytester.runpytest("-p", "no:tempo-databases")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'worker_db_name' not found*"])


def test_db_unique_names_carry_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndb_unique = true\ndb_name = app\n")
    pytester.makepyfile(
        """
        import re
        from pytest_tempo.workers import run_token

        def test_it(tempo_worker, worker_db_name):
            assert worker_db_name == "app_r" + run_token(tempo_worker.run_id)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
