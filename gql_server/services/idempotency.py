"""Idempotency keys of money-moving mutations.

A retry with the same key and arguments returns the first result and moves nothing; the
same key with other arguments is IDEMPOTENCY_MISMATCH. The record is written in the use
case's own transaction, first thing, so a concurrent duplicate waits on its unique index
and then replays the winner's result; a use case that fails leaves no record behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError

from gql_server import clock
from gql_server.models import IdempotencyRecord
from gql_server.models.enums import IdempotencyStatus
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.principals import Principal

T = TypeVar("T")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str
    key: str
    operation: str
    request_hash: str

    @classmethod
    def of(
        cls, principal: Principal, key: str | None, operation: str, arguments: dict[str, Any]
    ) -> IdempotencyKey | None:
        if key is None:
            return None
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise UseCaseError.single(
                ErrorCode.VALIDATION,
                "'idempotencyKey' must be 1 to 255 characters.",
                "idempotency_key",
            )
        canonical = json.dumps(
            {"operation": operation, "arguments": arguments}, sort_keys=True, default=str
        )
        return cls(principal.scope, key, operation, hashlib.sha256(canonical.encode()).hexdigest())


class Recorder:
    """Handed to the use case: `claim()` first thing in its transaction, `complete()` last."""

    def __init__(self, idem: IdempotencyKey | None) -> None:
        self.idem = idem
        self._record: IdempotencyRecord | None = None

    @property
    def key(self) -> str | None:
        """The caller's key, noted on the ledger rows the use case writes."""
        return self.idem.key if self.idem else None

    async def claim(self) -> None:
        if self.idem is not None:
            self._record = await IdempotencyRecord.create(
                scope=self.idem.scope,
                key=self.idem.key,
                operation=self.idem.operation,
                request_hash=self.idem.request_hash,
            )

    async def complete(self, response: dict[str, Any]) -> None:
        if self._record is not None:
            await IdempotencyRecord.filter(id=self._record.id).update(
                status=IdempotencyStatus.DONE, response=response, completed_at=clock.now()
            )


async def _stored(idem: IdempotencyKey) -> dict[str, Any] | None:
    record = await IdempotencyRecord.get_or_none(scope=idem.scope, key=idem.key)
    if record is None:
        return None
    if record.request_hash != idem.request_hash or record.operation != idem.operation:
        raise UseCaseError.single(
            ErrorCode.IDEMPOTENCY_MISMATCH,
            "This idempotency key was used with other arguments.",
            "idempotency_key",
        )
    if record.status != IdempotencyStatus.DONE or record.response is None:
        raise UseCaseError.single(
            ErrorCode.IDEMPOTENCY_IN_PROGRESS,
            "A request with this key is still running; retry shortly.",
        )
    return record.response


async def once(
    idem: IdempotencyKey | None,
    body: Callable[[Recorder], Awaitable[T]],
    replay: Callable[[dict[str, Any]], Awaitable[T]],
) -> T:
    """Run `body` unless `idem` was seen: then return `replay` of the first result."""
    if idem is not None and (stored := await _stored(idem)) is not None:
        return await replay(stored)
    try:
        return await body(Recorder(idem))
    except (IntegrityError, UseCaseError):
        # A request with the same key may have committed since the lookup above; then this
        # attempt's failure (a duplicate record, or "already approved") is that request's.
        if idem is None or (stored := await _stored(idem)) is None:
            raise
        return await replay(stored)
