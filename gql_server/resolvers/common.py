"""Small pieces every root resolver uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from gql_server.models.enums import Currency
from gql_server.resolvers.context import Context
from gql_server.schema.errors import BadInput, user_errors
from gql_server.services import global_ids
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.money import AmountError, parse_amount
from gql_server.services.pagination import PageRequest

Info = strawberry.Info[Context, None]
P = TypeVar("P")
T = TypeVar("T")


async def mutate(
    payload: Callable[..., P],
    action: Callable[[], Awaitable[T]],
    present: Callable[[T], Awaitable[dict[str, Any]]],
) -> P:
    """Run a use case; expected failures become the payload's userErrors."""
    try:
        result = await action()
    except UseCaseError as error:
        return payload(user_errors=user_errors(error))
    return payload(**await present(result))


async def query(action: Callable[[], Awaitable[T]], inside: tuple[str, ...] = ()) -> T:
    """Run a read; bad arguments become a BAD_USER_INPUT error.

    `inside`: the argument the use case's fields come from (a query's `input`), if any.
    """
    try:
        return await action()
    except UseCaseError as error:
        raise BadInput.from_use_case(error, inside) from None


def filter_pk(global_id: str | None, type_name: str, name: str) -> int | None:
    """A filter's id (`name`: the filter's field): None when absent, else decoded or bad input."""
    return global_ids.filter_pk(global_id, type_name, "filter", name)


def page(first: int | None, after: str | None, last: int | None, before: str | None) -> PageRequest:
    return PageRequest(first=first, after=after, last=last, before=before)


def amount(text: str, currency: Currency, *field_path: str) -> int:
    try:
        return parse_amount(text, currency)
    except AmountError as error:
        raise UseCaseError.single(ErrorCode.VALIDATION, str(error), *field_path) from None


def selected_names(info: Info) -> frozenset[str]:
    """The names of the fields selected inside the field being resolved, through fragments
    and inline fragments; a field under @skip or @include counts as selected."""
    names: set[str] = set()

    def walk(selections: list[Selection]) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                names.add(selection.name)
            elif isinstance(selection, FragmentSpread | InlineFragment):
                walk(selection.selections)

    for field in info.selected_fields:
        walk(field.selections)
    return frozenset(names)
