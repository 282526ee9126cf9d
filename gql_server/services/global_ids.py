"""The opaque ids of the API: encoded and decoded here only.

A global id is the URL-safe base64 (unpadded) of "<type name>:<pk>". The GraphQL layer
wraps these for Strawberry (`schema/relay.py`); places outside GraphQL that show or read
ids (callback bodies, the CSV export) use them directly.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import Field, field
from typing import Any

from gql_server.services.errors import ErrorCode, UseCaseError, field_label, not_found

# Ids are 64-bit signed integers in both databases: a larger pk names nothing.
MAX_PK = 2**63 - 1
# The metadata key of a dataclass field that holds a pk the APIs show as a global id.
_NAMES = "global_id_type"


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(text: str) -> tuple[str, int] | None:
    """(type name, pk) of a well-formed id, or None."""
    try:
        raw = base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode()).decode()
        type_name, pk = raw.split(":", 1)
        value = int(pk)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not type_name or not 0 < value <= MAX_PK or str(value) != pk:
        return None
    return type_name, value


def pk_of(text: str, type_name: str) -> int | None:
    """The pk inside an id of `type_name`, or None if the id names anything else."""
    decoded = from_global_id(text)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]


def require_pk(text: str, type_name: str, *field_path: str | int) -> int:
    """Like pk_of, but a malformed id or an id of another type is a NOT_FOUND error."""
    pk = pk_of(text, type_name)
    if pk is None:
        raise not_found(type_name, *field_path)
    return pk


def filter_pk(text: str | None, type_name: str, *field_path: str | int) -> int | None:
    """A filter's id: None when absent; malformed or of another type, a VALIDATION error."""
    if text is None:
        return None
    pk = pk_of(text, type_name)
    if pk is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'{field_label(field_path[-1])}' is not a {type_name} id.",
            *field_path,
        )
    return pk


def pk_field(type_name: str) -> Any:
    """A dataclass field (default None) holding the pk of a `type_name`, which the APIs
    take and show as that type's global id."""
    return field(default=None, metadata={_NAMES: type_name})


def pk_type(of: Field[Any]) -> str | None:
    """The type name of the ids a `pk_field` holds; None for any other field."""
    return of.metadata.get(_NAMES)
