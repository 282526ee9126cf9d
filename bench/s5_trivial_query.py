"""S5, the cost of a request: `{ me { ... on Member { id } } }` from 16 keep-alive clients,
beside a bare, default-configured Strawberry app answering `{ hello }` served the same way
(uvicorn, one process). The goal: at least the bare app's rate."""

from __future__ import annotations

import uuid

import httpx

from bench.harness import Figure, closed_loop, product_server, uvicorn_app
from gql_server.services import accounts
from gql_server.settings import Settings

ME = '{"query": "{ me { ... on Member { id } } }"}'
HELLO = '{"query": "{ hello }"}'


async def _owner_key() -> str:
    created = await accounts.create_account(
        name="Bench", owner_name="Owner", owner_email=f"{uuid.uuid4().hex}@bench.test"
    )
    return created.owner_api_key


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    key = await _owner_key()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    figure = Figure(
        "S5",
        f"trivial query, {clients} clients",
        "req/s",
        True,
        baseline_name="bare Strawberry { hello }",
    )

    async def me(http: httpx.AsyncClient) -> None:
        response = await http.post("/graphql", content=ME, headers=headers)
        assert response.status_code == 200 and "errors" not in response.json(), response.text

    async def hello(http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/graphql", content=HELLO, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text

    with (
        product_server(env) as product,
        uvicorn_app("bench.baselines.hello_strawberry:app") as bare,
    ):
        for _ in range(rounds):
            figure.product.append((await closed_loop(clients, seconds, me, product)).rate)
            figure.baseline.append((await closed_loop(clients, seconds, hello, bare)).rate)
    return [figure]
