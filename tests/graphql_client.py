"""A GraphQL-over-HTTP client for tests: the in-process app or a running server."""

from __future__ import annotations

from typing import Any

import httpx


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
