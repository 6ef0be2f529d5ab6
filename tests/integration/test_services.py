"""The service check: skip on a laptop without servers, fail in CI."""

from __future__ import annotations

import pytest

from .conftest import REQUIRE, closed_port, require_service, service_problem


def test_problem_names_what_is_missing() -> None:
    port = closed_port()
    problem = service_problem("127.0.0.1", port, "json")
    assert problem is not None
    assert problem.startswith(f"nothing answers at 127.0.0.1:{port}")
    assert service_problem("127.0.0.1", port, "no_such_driver_xyz") == (
        "the no_such_driver_xyz package is not installed"
    )


def test_a_missing_server_skips_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE, raising=False)
    port = closed_port()
    with pytest.raises(pytest.skip.Exception) as info:
        require_service("PostgreSQL", "127.0.0.1", port, "json")
    assert REQUIRE in str(info.value)
    assert f"PostgreSQL: nothing answers at 127.0.0.1:{port}" in str(info.value)


def test_a_missing_server_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception) as info:
        require_service("Redis", "127.0.0.1", closed_port(), "json")
    assert f"and {REQUIRE}=1 requires it" in str(info.value)
