from __future__ import annotations

import os

import pytest

from demo_app.web import serve


def pytest_configure(config: pytest.Config) -> None:
    # k6 scripts read the app's address from the environment (k6 passes it to __ENV); the
    # app runs only when a load profile is chosen, so a plain run starts no server.
    if config.getoption("--load-profile") or config.getini("load_profile"):
        server, url = serve()
        os.environ["BASE_URL"] = url
        config.add_cleanup(server.shutdown)


@pytest.fixture
def app_url() -> str:
    """The app started above. Function-scoped and asked for after ``load_test``: a load test
    skipped for want of ``--load-profile`` is skipped before it is set up, starting nothing."""
    return os.environ["BASE_URL"]
