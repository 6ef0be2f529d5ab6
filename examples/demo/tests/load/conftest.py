from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from demo_app.web import serve

if TYPE_CHECKING:
    from collections.abc import Iterator


def pytest_configure(config: pytest.Config) -> None:
    # k6 scripts read the app's address from the environment (k6 passes it to __ENV); the
    # app runs only when a load profile is chosen, so a plain run starts no server.
    if config.getoption("--load-profile") or config.getini("load_profile"):
        server, url = serve()
        os.environ["BASE_URL"] = url
        config.add_cleanup(server.shutdown)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    server, url = serve()
    yield url
    server.shutdown()
