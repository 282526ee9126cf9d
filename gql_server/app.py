"""The ASGI application: GraphQL over HTTP and graphql-transport-ws, health, lifespan."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from gql_server import dashboard, db, http_answers
from gql_server.body_limit import BodyLimit
from gql_server.downloads import Downloads, spending
from gql_server.export import audit_export
from gql_server.resolvers.context import Context, RequestPolicy
from gql_server.resolvers.fan_out import SharedData
from gql_server.schema.build import schema
from gql_server.services import api_keys, background, demo_activity, streams
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal
from gql_server.services.rate_limits import RateLimiter
from gql_server.settings import Settings
from gql_server.subscriptions.hub import BroadcastHub, install_hub
from gql_server.subscriptions.key_watch import KeyWatch

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_CONNECTION = 20


def bearer_token(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_from_header(value: object) -> Principal | None:
    token = bearer_token(value)
    return await api_keys.authenticate(token) if token else None


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's view, with GraphQL-over-HTTP's media types and status codes, which
    `http_answers` decides: this class only finds the inputs and applies the answer."""

    # Set by create_app: where websockets are kept by the key they signed in with, and the
    # limits every request runs under.
    key_watch: KeyWatch | None = None
    policy: RequestPolicy = RequestPolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        request.state.media_type = http_answers.negotiate(request.headers.get("accept"))
        try:
            # GraphiQL (dev mode) is HTML, which a browser asks for: not a GraphQL answer.
            if request.state.media_type is None and not self.should_render_graphql_ide(
                StarletteRequestAdapter(request)
            ):
                raise HTTPException(406, "Accept allows neither of the GraphQL media types.")
            response = await self.run(request)
        except HTTPException as error:
            answer = http_answers.refusal(
                error.status_code, error.reason, request.state.media_type, request.method
            )
            response = self.respond(answer)
        await response(scope, receive, send)

    def respond(self, answer: http_answers.Answer) -> Response:
        return Response(
            self.encode_json(answer.body),
            status_code=answer.status,
            headers=dict(answer.headers),
            media_type=answer.content_type,
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        # An empty operationName is no operationName (GraphQL over HTTP, on GET).
        if isinstance(data, GraphQLRequestData) and data.operation_name == "":
            data.operation_name = None
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry's own, but with the operations HTTP carries here: Strawberry lets a
        # subscription through (for its SSE and multipart transports, which are off), and
        # would run it as a query, into INTERNAL.
        method = request_adapter.method
        allowed = {OperationType(name) for name in http_answers.operations_over(method)}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            status, message = http_answers.refused_operation(error.operation_type.value, method)
            raise HTTPException(status, message) from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request.") from error

    async def get_sub_response(self, request: Request) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media_type
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        # Batching is off (the schema has no batching_config): one response per request.
        if isinstance(response_data, list):
            raise TypeError("batched GraphQL responses are not served")
        return self.respond(http_answers.graphql_answer(sub_response.media_type, response_data))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        if isinstance(request, WebSocket):
            # Authenticated from connection_init, in on_ws_connect.
            return Context(
                principal=None, websocket=request, policy=self.policy, address=_address(request)
            )
        token = bearer_token(request.headers.get("authorization"))
        try:
            caller = await api_keys.identify(token) if token else None
        except Exception as error:
            # The key cannot be read (the database is unreachable): a coded answer that
            # says to retry, instead of the server's bare 500.
            logger.exception("could not identify the caller")
            raise HTTPException(
                503, "The service cannot read API keys right now; retry shortly."
            ) from error
        context = Context(
            principal=caller.principal if caller else None,
            policy=self.policy,
            address=_address(request),
            base_url=str(request.base_url),
        )
        if caller is not None and caller.member is not None:
            context.loaders.member.prime(caller.member.id, caller.member)
            context.loaders.account.prime(caller.member.account_id, caller.member.account)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        token = bearer_token(header)
        caller = await api_keys.identify(token) if token else None
        if caller is None:
            raise ConnectionRejectionError(
                {"message": "a valid API key is required in connection_init"}
            )
        context.principal, context.bearer = caller.principal, token
        principal = caller.principal
        if isinstance(principal, MemberPrincipal | WorkerPrincipal) and self.key_watch:
            self.key_watch.add(principal.api_key_id, context.websocket)
        return None

    def encode_json(self, data: object) -> str | bytes:
        # A stream message's data, shared by its subscribers, is encoded once
        # (resolvers/fan_out.py); only the operation id differs between their messages.
        if isinstance(data, dict) and data.get("type") == "next":
            payload = data["payload"]
            shared = payload.get("data")
            if isinstance(shared, SharedData) and len(payload) == 1:
                return (
                    f'{{"id":{json.dumps(data["id"])},"type":"next",'
                    f'"payload":{{"data":{shared.as_json()}}}}}'
                )
        return super().encode_json(data)


def _address(connection: Request | WebSocket) -> str | None:
    return connection.client.host if connection.client else None


def create_app(settings: Settings, *, manage_database: bool = True) -> Starlette:
    """Build the app. With `manage_database=False` the caller has opened the database."""
    hub = BroadcastHub(settings.redis_url)
    key_watch = KeyWatch()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if manage_database:
            await db.open_database(settings)
        await hub.connect()
        previous = streams.install_publisher(hub)
        previous_hub = install_hub(hub)
        stop = asyncio.Event()
        watching = asyncio.create_task(key_watch.run(stop))
        sweeps = (
            asyncio.create_task(background.run_forever(stop, background.jobs(settings)))
            if settings.run_background_in_process
            else None
        )
        demo = asyncio.create_task(demo_activity.run(stop)) if settings.demo_activity else None
        try:
            yield {}
        finally:
            stop.set()
            await watching
            if sweeps is not None:
                await sweeps
            if demo is not None:
                await demo
            streams.install_publisher(previous)
            install_hub(previous_hub)
            await hub.disconnect()
            if graphql.policy.rate_limiter is not None:
                await graphql.policy.rate_limiter.close()
            if manage_database:
                await db.close_database()

    async def healthz(request: Request) -> JSONResponse:
        database_ok = await db.database_is_reachable()
        broadcast_ok = await hub.is_healthy()
        healthy = database_ok and broadcast_ok
        return JSONResponse(
            {
                "status": "ok" if healthy else "degraded",
                "database": {
                    "ok": database_ok,
                    "kind": "sqlite" if settings.is_sqlite else "postgres",
                },
                "broadcast": {"ok": broadcast_ok, "kind": hub.kind},
            },
            status_code=200 if healthy else 503,
        )

    graphql = GraphQLApp(
        schema,
        graphql_ide="graphiql" if settings.dev_mode else None,
        # Queries over GET too; a mutation over GET is refused 405 (http_answers).
        allow_queries_via_get=True,
        keep_alive=True,
        keep_alive_interval=15,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
    graphql.key_watch = key_watch
    graphql.policy = RequestPolicy(
        max_cost=settings.max_query_cost,
        # Buckets are per deployment: named after the database the server serves.
        rate_limiter=RateLimiter(settings.redis_url, namespace=settings.database_url),
        rate_limits=settings.rate_limits,
        key_rate_limits=settings.key_rate_limits,
        introspection=settings.introspection,
    )
    # Downloads spend points of the same budgets as GraphQL requests.
    spend = spending(graphql.policy.rate_limiter, settings.rate_limits, settings.key_rate_limits)
    # Each running download may hold a connection of the pool: half of it at most.
    downloads = Downloads(principal_from_header, spend, max(1, settings.db_pool_size // 2))
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/export/audits/{report}.csv", audit_export(principal_from_header, spend)),
            *downloads.routes(),
            *(dashboard.routes() if settings.dashboard else []),
        ],
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.downloads = downloads
    return app
