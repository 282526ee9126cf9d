"""Expected failures of use cases, as data: a machine-readable code, a message, a field path."""

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


@dataclass(frozen=True)
class FieldError:
    code: ErrorCode
    message: str
    # The path of the offending input, e.g. ("input", "reward", "amount"); empty = the whole call.
    field: tuple[str, ...] = ()


@dataclass
class UseCaseError(Exception):
    """Raised by a service when a use case cannot go ahead; nothing has been changed."""

    errors: Sequence[FieldError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(e.message for e in self.errors))

    @classmethod
    def single(cls, code: ErrorCode, message: str, *field_path: str) -> UseCaseError:
        return cls([FieldError(code, message, tuple(field_path))])


def not_found(what: str, *field_path: str) -> UseCaseError:
    return UseCaseError.single(ErrorCode.NOT_FOUND, f"{what} not found.", *field_path)
