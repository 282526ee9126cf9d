"""Expected failures of use cases, as data: a machine-readable code, a message, a field path.

A path names the use case's own fields, never an API's: field names in snake_case, list
positions as ints, and free-form keys (a proof's name) as `Key`, which an API layer passes
through as written. The GraphQL layer spells a path as its input path
(`("proof_requirements", 0, "name")` -> `["input", "proofRequirements", "0", "name"]`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    LIMIT_REACHED = "LIMIT_REACHED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    RESTRICTED = "RESTRICTED"
    LOCKED = "LOCKED"
    STALE_LOCK = "STALE_LOCK"
    DUPLICATE = "DUPLICATE"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"


class Key(str):
    """A key chosen by a user (a proof's name) inside a field path: never renamed."""

    __slots__ = ()


FieldPath = tuple[str | int, ...]


def field_label(segment: str | int) -> str:
    """How a message names a field to a person: as the API's clients spell it (camelCase)."""
    if isinstance(segment, Key | int):
        return str(segment)
    head, *rest = segment.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class FieldError:
    code: ErrorCode
    message: str
    # The offending field, e.g. ("targeting", "skill_filters", 0); empty = the whole call.
    field: FieldPath = ()


@dataclass
class UseCaseError(Exception):
    """Raised by a service when a use case cannot go ahead; nothing has been changed."""

    errors: Sequence[FieldError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(e.message for e in self.errors))

    @classmethod
    def single(cls, code: ErrorCode, message: str, *field_path: str | int) -> UseCaseError:
        return cls([FieldError(code, message, tuple(field_path))])


def not_found(what: str, *field_path: str | int) -> UseCaseError:
    return UseCaseError.single(ErrorCode.NOT_FOUND, f"{what} not found.", *field_path)
