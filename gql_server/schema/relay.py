"""Relay conventions: opaque global ids, the Node interface, cursor connections."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

import strawberry

from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.global_ids import global_id
from gql_server.services.pagination import Page

T = TypeVar("T")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, pk))


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, pk) of a well-formed id, or None."""
    try:
        raw = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode()).decode()
        type_name, pk = raw.split(":", 1)
        value = int(pk)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not type_name or value <= 0 or str(value) != pk:
        return None
    return type_name, value


def pk_of(global_id: str, type_name: str) -> int | None:
    """The pk inside an id of `type_name`, or None if the id names anything else."""
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]


def require_pk(global_id: str, type_name: str, *field_path: str) -> int:
    """Like pk_of, but a malformed id or an id of another type is a NOT_FOUND input error."""
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise UseCaseError.single(ErrorCode.NOT_FOUND, f"{type_name} not found.", *field_path)
    return pk


@strawberry.interface(description="An object with a global id, fetchable through `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

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
            total_count=page.total_count,
        )
