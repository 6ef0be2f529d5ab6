from urllib.request import urlopen

from demo_app.store import health
from demo_app.web import serve


def test_service_answers() -> None:
    assert health() == "ok"


def test_front_end_answers() -> None:
    server, url = serve()
    try:
        with urlopen(f"{url}/price", timeout=10) as response:
            assert response.status == 200
            assert float(response.read()) == 3.5
    finally:
        server.shutdown()
