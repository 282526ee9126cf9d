"""Tenancy: a use case reaches only the calling account's rows.

An id of another account's object is answered exactly like an id that does not exist, so
nobody can tell the one from the other (API conventions, "Identity and lists").
"""

from __future__ import annotations

from typing import TypeVar

from tortoise.models import Model

from gql_server.services.errors import not_found

M = TypeVar("M", bound=Model)


async def owned(
    model: type[M], account_id: int, pk: int | None, what: str, *field_path: str | int
) -> M:
    """The account's `model` row `pk`; NOT_FOUND (at `field_path`) if there is none."""
    row = await model.get_or_none(id=pk, account_id=account_id) if pk is not None else None
    if row is None:
        raise not_found(what, *field_path)
    return row
