"""Each xdist worker gets its own SQLite database: pytest-tempo's default, no db_url needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from demo_app.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def shop(worker_database: str) -> Iterator[Store]:
    """The store on this worker's database, emptied after each test."""
    store = Store(worker_database.removeprefix("sqlite:///"))
    yield store
    store.db.execute("DELETE FROM orders")
    store.db.commit()
    store.close()


def test_each_worker_has_its_own_database(worker_database: str, worker_db_name: str) -> None:
    # test_db without xdist, test_db_gw0 on worker gw0, ...; dropped when the session ends
    assert worker_database.endswith(f"/{worker_db_name}.db")


def test_orders_stay_in_the_worker_database(shop: Store) -> None:
    shop.add(2.0)
    shop.add(0.5)
    assert shop.revenue() == 2.5
