"""The baseline of S3: bare Starlette broadcasting one constant message to every websocket.

It speaks just enough graphql-transport-ws for the S3 clients (connection_init answered
with connection_ack, each subscribe registered and answered with a first `next` standing
for the product's snapshot); `POST /publish` answers at once and then
sends each subscription one `next` message, encoded once, from a task of its own. No
database, no GraphQL, no broadcast back end: the floor that serving N websockets from
one Python process puts under the product's fan-out on this machine.

    uvicorn bench.baselines.ws_broadcast:app --ws websockets-sansio --ws-per-message-deflate false
"""

from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

# Each subscription (websocket, operation id) that is listening.
_listening: set[tuple[WebSocket, str]] = set()
# The fan-outs running, kept so that none is garbage collected half-way.
_sending: set[asyncio.Task[None]] = set()
_FIRST = json.dumps({"data": {"first": True}})


async def graphql(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="graphql-transport-ws")
    mine: list[tuple[WebSocket, str]] = []
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            if message["type"] == "connection_init":
                await websocket.send_text('{"type":"connection_ack"}')
            elif message["type"] == "subscribe":
                subscription = (websocket, message["id"])
                mine.append(subscription)
                _listening.add(subscription)
                await websocket.send_text(_next(message["id"], _FIRST))
    except WebSocketDisconnect:
        pass
    finally:
        _listening.difference_update(mine)


def _next(operation: str, encoded: str) -> str:
    return f'{{"id":{json.dumps(operation)},"type":"next","payload":{encoded}}}'


async def _send_to_all(payload: object) -> None:
    encoded = json.dumps({"data": payload})
    for websocket, operation in list(_listening):
        try:
            await websocket.send_text(_next(operation, encoded))
        except (WebSocketDisconnect, RuntimeError):
            _listening.discard((websocket, operation))


async def publish(request: Request) -> JSONResponse:
    task = asyncio.create_task(_send_to_all(await request.json()))
    _sending.add(task)
    task.add_done_callback(_sending.discard)
    return JSONResponse({"subscriptions": len(_listening)})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        WebSocketRoute("/graphql", graphql),
        Route("/publish", publish, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
