"""Request bodies over the limit are refused with 413 before anything parses them, whether
the client declared their length or streamed them; bodies within it are served."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from tests.factories import Requester
from tests.graphql_client import Api

LIMIT = 1_000_000


def _padded(size: int) -> bytes:
    """A valid GraphQL request of about `size` bytes (the padding is a variable)."""
    # Strings of at most 1,000 characters: none longer than a string may be.
    pad: list[str] = []
    body = {"query": "{ __typename }", "variables": {"pad": pad}}
    while (missing := size - len(json.dumps(body))) > 0:
        pad.append("x" * min(1_000, max(missing - 4, 1)))
    return json.dumps(body).encode()


async def test_a_body_over_the_limit_is_refused_with_413(api: Api, requester: Requester) -> None:
    headers = {"Authorization": f"Bearer {requester.key}", "Content-Type": "application/json"}
    response = await api.client.post("/graphql", content=_padded(LIMIT + 1), headers=headers)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def streamed() -> AsyncIterator[bytes]:
        body = _padded(LIMIT + 1)
        for start in range(0, len(body), 64_000):
            yield body[start : start + 64_000]

    chunked = await api.client.post("/graphql", content=streamed(), headers=headers)
    assert chunked.status_code == 413

    within = await api.client.post("/graphql", content=_padded(LIMIT - 1_000), headers=headers)
    assert within.status_code == 200 and within.json()["data"] == {"__typename": "Query"}
