import time

from demo_app.pricing import total


def test_basket_from_catalog(catalog: dict[str, float]) -> None:
    assert total([catalog["apple"], catalog["pear"]]) == 1.25


def test_catalog_search(catalog: dict[str, float]) -> None:
    time.sleep(0.15)  # slow, but nobody marked it slow: the report says so
    assert sorted(catalog) == ["apple", "pear"]
