"""Cursor pagination over any ordered queryset, by keyset (no OFFSET), both directions."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from gql_server.services.errors import ErrorCode, FieldError, UseCaseError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass(frozen=True)
class SortKey:
    """Order by a non-null `field` then by id, in one direction; the id makes positions unique."""

    field: str
    descending: bool


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[tuple[str, M]]
    has_next_page: bool
    has_previous_page: bool
    # The size of the whole filtered set, counted only if somebody asks: a COUNT(*) over
    # every matching row is the one cost of a page that grows with the data.
    count: Callable[[], Awaitable[int]]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return datetime.fromisoformat(value["t"])
    return value


def encode_cursor(item: Model, key: SortKey) -> str:
    raw = json.dumps(
        [key.field, _encode_value(getattr(item, key.field)), item.pk], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey, argument: str) -> tuple[Any, int]:
    bad = UseCaseError.single(
        ErrorCode.VALIDATION, f"The {argument!r} cursor is not one this list gave out.", argument
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        field, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = _decode_value(value)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if field != key.field or not isinstance(pk, int):
        raise bad
    return value, pk


def _validate(request: PageRequest) -> list[FieldError]:
    errors = []
    if request.first is not None and request.last is not None:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "Pass either 'first' or 'last', not both.", ("last",))
        )
    for name in ("first", "last"):
        size = getattr(request, name)
        if size is not None and not 1 <= size <= MAX_PAGE_SIZE:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION, f"'{name}' must be from 1 to {MAX_PAGE_SIZE}.", (name,)
                )
            )
    return errors


def _beyond(key: SortKey, value: Any, pk: int, forward: bool) -> Q:
    """Rows strictly after (forward) or before (not forward) the position (value, pk).

    The leading bound on the field alone (`>=` or `<=`) is what an index on (..., field)
    can start its scan at; without it the OR is only a filter, and a page deep in a list
    reads every row before it (10,000 rows for a page after 10,000)."""
    later = forward != key.descending
    op = "gt" if later else "lt"
    return Q(**{f"{key.field}__{op}e": value}) & (
        Q(**{f"{key.field}__{op}": value}) | Q(**{key.field: value, f"id__{op}": pk})
    )


async def paginate(queryset: QuerySet[M], key: SortKey, request: PageRequest) -> Page[M]:
    errors = _validate(request)
    if errors:
        raise UseCaseError(errors)
    backward = request.last is not None and request.first is None
    size = (request.last if backward else request.first) or DEFAULT_PAGE_SIZE
    query = queryset
    if request.after is not None:
        query = query.filter(
            _beyond(key, *decode_cursor(request.after, key, "after"), forward=True)
        )
    if request.before is not None:
        query = query.filter(
            _beyond(key, *decode_cursor(request.before, key, "before"), forward=False)
        )

    descending = key.descending != backward
    prefix = "-" if descending else ""
    rows: Sequence[M] = await query.order_by(f"{prefix}{key.field}", f"{prefix}id").limit(size + 1)
    more = len(rows) > size
    rows = list(rows[:size])
    if backward:
        rows.reverse()
        has_next, has_previous = request.before is not None, more
    else:
        has_next, has_previous = more, request.after is not None
    return Page(
        items=[(encode_cursor(row, key), row) for row in rows],
        has_next_page=has_next,
        has_previous_page=has_previous,
        count=queryset.count,
    )
