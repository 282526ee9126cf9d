"""The real thing: `gql-server serve` under uvicorn, spoken to over the loopback network; one
process for the module, whose tests each use their own account."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import websockets
from tortoise import Tortoise

from gql_server.settings import Settings
from tests.factories import Requester
from tests.graphql_client import Api
from tests.server import running_server


@pytest.fixture(scope="module")
def server(database: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module, in dev mode (GraphiQL) and with its default settings
    otherwise; unlike the shared `server` of tests/conftest.py, it runs its own sweeps."""
    env = {"DATABASE_URL": database.database_url, "GQL_DEV_MODE": "1"}
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    with running_server(env, cwd=tmp_path_factory.mktemp("server")) as base:
        yield base


def test_healthz_reports_database_and_broadcast(server: str, database: Settings) -> None:
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "kind": "sqlite" if database.is_sqlite else "postgres"}
    assert body["broadcast"] == {"ok": True, "kind": "redis" if database.redis_url else "memory"}


def test_typename_over_http_with_a_key(server: str, account: Requester) -> None:
    response = httpx.post(
        f"{server}/graphql",
        json={"query": "{ __typename me { __typename } }"},
        headers={"Authorization": f"Bearer {account.key}"},
    )
    body = response.json()
    assert body["data"] == {"__typename": "Query", "me": {"__typename": "Member"}}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1


def test_graphiql_is_served_in_dev_mode(server: str) -> None:
    response = httpx.get(f"{server}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_websocket_needs_a_key_in_connection_init(server: str, account: Requester) -> None:
    url = server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": "Bearer cwk_wrong"}}
            )
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        payload = {"Authorization": f"Bearer {account.key}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"


async def test_the_legacy_subprotocol_is_refused(server: str) -> None:
    url = server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
        assert socket.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_keys_that_cannot_be_read_answer_503_with_a_code(
    api: Api, account: Requester
) -> None:
    """The database fails under the key lookup (here: its table is away for a moment): a
    coded answer that says to retry, never the server's bare 500."""
    connection = Tortoise.get_connection("default")
    await connection.execute_script("ALTER TABLE api_key RENAME TO api_key_away")
    try:
        response = await api.client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {account.key}"},
        )
    finally:
        await connection.execute_script("ALTER TABLE api_key_away RENAME TO api_key")
    assert response.status_code == 503
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "retry" in error["message"]


async def test_only_unexpected_errors_reach_the_error_log(
    api: Api, account: Requester, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "strawberry.execution")
    refused = await api.post("{ members { totalCount } }")
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    connection = Tortoise.get_connection("default")
    await connection.execute_script("ALTER TABLE project RENAME TO project_away")
    try:
        failed = await api.post("{ projects { totalCount } }", key=account.key)
    finally:
        await connection.execute_script("ALTER TABLE project_away RENAME TO project")
    assert failed["errors"][0]["extensions"]["code"] == "INTERNAL"
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.exc_info is not None
