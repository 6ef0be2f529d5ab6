import pytest

from demo_app.pricing import total


def test_total_sums_prices() -> None:
    assert total([1.0, 2.5]) == 3.5


def test_discount_applies() -> None:
    assert total([10.0], discount=0.25) == 7.5


@pytest.mark.billing
@pytest.mark.parametrize("discount", [-0.1, 1.5], ids=["negative", "over-one"])
def test_bad_discount_is_refused(discount: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        total([1.0], discount=discount)
