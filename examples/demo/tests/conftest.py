import time

import pytest


@pytest.fixture(scope="session")
def catalog() -> dict[str, float]:
    """An expensive session fixture: its set-up is reported as the fixture's own cost."""
    time.sleep(0.15)  # stands in for loading a large product catalog
    return {"apple": 0.5, "pear": 0.75}
