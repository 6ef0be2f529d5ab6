from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self) -> None:
        self.client.get("/")

    @task(3)
    def price(self) -> None:
        self.client.get("/price")
