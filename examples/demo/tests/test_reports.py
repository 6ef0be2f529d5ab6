import pytest

from demo_app.pricing import total


@pytest.mark.slow
def test_yearly_report() -> None:
    assert total([float(n) for n in range(100_000)]) == 4_999_950_000.0


def test_empty_report() -> None:
    assert total([]) == 0.0
