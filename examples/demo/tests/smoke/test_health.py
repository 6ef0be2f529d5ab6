from demo_app.store import health


def test_service_answers() -> None:
    assert health() == "ok"
