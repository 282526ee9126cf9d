"""Relay conventions: opaque global ids, the Node interface, cursor connections.

Global ids are encoded and decoded in `services/global_ids.py`; this module wraps them for
Strawberry. Which Node types `node(id:)` fetches, and how, is `resolvers/nodes.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from gql_server.schema.cost import TOTAL_COUNT_WEIGHT, Cost
from gql_server.services.global_ids import global_id
from gql_server.services.pagination import Page

T = TypeVar("T")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, pk))


@strawberry.interface(description="An object with a global id, fetchable through `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


# An edge is its node's wrapper: the node is what costs.
@strawberry.type(directives=[Cost(weight="0")])
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(directives=[Cost(weight=str(TOTAL_COUNT_WEIGHT))])
    async def total_count(self) -> int:
        """Counted only when selected."""
        return await self.count()

    @classmethod
    def from_page(cls, page: Page, convert) -> Connection[T]:  # type: ignore[no-untyped-def]
        edges = [Edge(cursor=cursor, node=convert(item)) for cursor, item in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            count=page.count,
        )


__all__ = [
    "Connection",
    "Edge",
    "Node",
    "PageInfo",
    "to_global_id",
]
