"""A GraphQL-over-HTTP client for tests: the in-process app or a running server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gql_server.settings import Settings


class Api:
    """A GraphQL client over HTTP against the in-process app."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a query that must succeed without GraphQL errors."""
        body = await self.post(query, variables, key)
        assert "errors" not in body, body
        return body["data"]


@asynccontextmanager
async def app_with(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    """A client of a second in-process app on the run's database, with settings changed
    (a smaller maximum cost, other rate limits...)."""
    from gql_server.app import create_app

    application = create_app(dataclasses.replace(settings, **changes), manage_database=False)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test"
        ) as client,
    ):
        yield Api(client)
