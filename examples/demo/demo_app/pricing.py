from __future__ import annotations


def total(prices: list[float], discount: float = 0.0) -> float:
    """The sum of the prices, less a discount between 0 and 1, rounded to cents."""
    if not 0.0 <= discount <= 1.0:
        raise ValueError("discount must be between 0 and 1")
    return round(sum(prices) * (1.0 - discount), 2)
