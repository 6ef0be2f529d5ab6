import time
from pathlib import Path

import pytest

from demo_app.store import Store


@pytest.fixture
def store(tmp_path: Path):
    s = Store(str(tmp_path / "shop.db"))
    yield s
    s.close()


def test_orders_add_up(store: Store) -> None:
    store.add(3.5)
    store.add(1.5)
    assert store.revenue() == 5.0


@pytest.mark.slow
def test_many_orders(store: Store) -> None:
    for n in range(50):
        store.add(float(n))
    time.sleep(0.2)  # stands in for a long import job
    assert store.revenue() == sum(range(50))
