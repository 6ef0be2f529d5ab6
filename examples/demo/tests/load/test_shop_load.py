from pathlib import Path

LOCUSTFILE = str(Path(__file__).with_name("locustfile.py"))


def test_shop_under_load(load_test, app_url: str) -> None:
    metrics = load_test(
        f"{LOCUSTFILE}:Shopper",
        host=app_url,
        thresholds={
            "http_req_duration": ["p(95)<500"],
            "http_req_failed": ["rate<0.01"],
            "http_req_duration{name:/price}": ["p(99)<1000"],
        },
    )
    assert metrics.requests > 0
