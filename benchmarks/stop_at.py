"""Ends a pytest process at a point of the run (env ``STOP_AT``), for ``overhead.py --phases``.

``collection``: once the collection is final (after every plugin's
``pytest_collection_finish``); ``loop``: right after the last test (inside every other
``pytest_runtestloop`` wrapper, so before what plugins do when the loop ends). The process
exits at once (``os._exit``), so what is counted up to there is all that ran.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

STOP_AT = os.environ.get("STOP_AT", "")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if STOP_AT == "collection":
        os._exit(0)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    result = yield
    if STOP_AT == "loop":
        os._exit(0)
    return result
