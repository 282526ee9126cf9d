"""The graphql-transport-ws protocol against a real `gql-server serve`: a key in
connection_init, the ack before subscribing, unique operation ids, and the cap on
subscriptions per connection."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.factories import Requester
from tests.server import ws_url
from tests.streams.documents import BUDGET


async def _closed_with(socket: websockets.ClientConnection) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def _init(key: str) -> str:
    return json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})


def _subscribe(operation_id: str, document: str = BUDGET) -> str:
    return json.dumps(
        {"id": operation_id, "type": "subscribe", "payload": {"query": document, "variables": {}}}
    )


async def test_connection_init_without_a_key_is_refused(server: str) -> None:
    for payload in ({}, {"Authorization": ""}, {"Authorization": "Basic abc"}):
        async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert await _closed_with(ws) == 4403


async def test_subscribing_before_the_ack_closes_the_connection(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_subscribe("1"))
        assert await _closed_with(ws) == 4401


async def test_a_duplicate_operation_id_closes_the_connection(
    server: str, account: Requester
) -> None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_init(account.key))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(_subscribe("same"))
        first = json.loads(await ws.recv())
        assert (first["id"], first["type"]) == ("same", "next")
        await ws.send(_subscribe("same"))
        assert await _closed_with(ws) == 4409


async def test_the_subscription_cap_refuses_one_more(server: str, account: Requester) -> None:
    from gql_server.app import MAX_SUBSCRIPTIONS_PER_CONNECTION as CAP

    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_init(account.key))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for n in range(CAP):
            await ws.send(_subscribe(str(n)))
        started = {json.loads(await ws.recv())["id"] for _ in range(CAP)}
        assert started == {str(n) for n in range(CAP)}
        await ws.send(_subscribe("one-more"))
        refused = json.loads(await ws.recv())
        assert refused["id"] == "one-more" and refused["type"] == "error"
        assert refused["payload"][0]["message"] == "Subscription limit reached"
        # Completing one makes room again.
        await ws.send(json.dumps({"id": "0", "type": "complete"}))
        await ws.send(_subscribe("room"))
        assert json.loads(await ws.recv()) | {"payload": None} == {
            "id": "room",
            "type": "next",
            "payload": None,
        }
