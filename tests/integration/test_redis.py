"""Per-worker Redis namespaces on a real Redis server."""

from __future__ import annotations

import json
import uuid

import pytest

from pytest_tempo.databases.base import DatabaseError
from pytest_tempo.databases.redis import clear_namespace

from .conftest import EACH_WORKER, closed_port

redis = pytest.importorskip("redis")

SUITE = """
    import json, redis

    def test_writes_keys(worker_namespace, tempo_worker, pytestconfig):
        client = redis.Redis.from_url(pytestconfig.getini("redis_url"))
        for n in range(30):
            client.set(f"{worker_namespace}key{n}", n)
        client.set(f"{worker_namespace}glob*[x]", 1)
        out = pytestconfig.rootpath / f"ns-{tempo_worker.id}.json"
        out.write_text(json.dumps(worker_namespace))
        client.close()
"""


def test_namespace_keys_are_deleted_others_survive(
    pytester: pytest.Pytester, redis_server_url: str
) -> None:
    pytest.importorskip("xdist")
    client = redis.Redis.from_url(redis_server_url)
    outside = f"tempo-test-outside:{uuid.uuid4().hex}"
    client.set(outside, "keep")
    try:
        pytester.makeini(
            f"[pytest]\nconsole_output_style = classic\nredis_url = {redis_server_url}\n"
        )
        pytester.makepyfile(SUITE)
        pytester.runpytest(*EACH_WORKER).assert_outcomes(passed=2)
        prefixes = [json.loads(p.read_text()) for p in sorted(pytester.path.glob("ns-*.json"))]
        assert len(set(prefixes)) == 2
        assert all(p.startswith("tempo:") and p.endswith((":gw0:", ":gw1:")) for p in prefixes)
        for prefix in prefixes:
            assert list(client.scan_iter(match=prefix.replace("*", "\\*") + "*")) == []
        assert client.get(outside) == b"keep"
    finally:
        client.delete(outside)
        client.close()


def test_clear_namespace_in_batches(redis_server_url: str) -> None:
    client = redis.Redis.from_url(redis_server_url)
    prefix = f"tempo:test{uuid.uuid4().hex[:8]}:gw0:"
    sibling = prefix[:-1] + "0:"  # shares the first characters, not the namespace
    try:
        with client.pipeline() as pipe:
            for n in range(1203):
                pipe.set(f"{prefix}{n}", n)
            pipe.set(sibling + "x", 1)
            pipe.execute()
        assert clear_namespace(redis_server_url, prefix, batch=100) == 1203
        assert client.get(sibling + "x") == b"1"
        assert clear_namespace(redis_server_url, prefix) == 0
    finally:
        client.delete(sibling + "x")
        client.close()


def test_an_empty_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="refusing to clear an empty namespace"):
        clear_namespace("redis://127.0.0.1:6379/0", "")


def test_a_refused_connection_names_host_and_port(pytester: pytest.Pytester) -> None:
    port = closed_port()
    with pytest.raises(DatabaseError) as info:
        clear_namespace(f"redis://:pw@127.0.0.1:{port}/0", "tempo:x:gw0:", timeout=1)
    assert str(info.value) == (
        f"cannot connect to Redis at 127.0.0.1:{port}: connection refused (is the server "
        f"running there?) (url: redis://:***@127.0.0.1:{port}/0)"
    )
    pytester.makeini(
        f"[pytest]\nconsole_output_style = classic\nredis_url = redis://127.0.0.1:{port}/0\n"
    )
    pytester.makepyfile("def test_it(worker_namespace): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*cannot connect to Redis at 127.0.0.1:{port}: connection*"])
    assert "Traceback" not in result.stdout.str()


def test_without_redis_url_only_the_prefix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_it(worker_namespace, tempo_worker):
            assert worker_namespace.endswith(":master:")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
