"""API keys: issued once in plain text, stored as a SHA-256, resolved to a principal.

Invariants:
- A key is usable while it is not revoked, not past its expiry (by the domain clock) and
  its member was not removed. Every request checks its key against the database, so a
  revocation, an expiry or a removal holds from the next request on, on every process.
- A read-only key's member acts with its role for reading and makes no change at all
  (the GraphQL layer refuses every mutation of such a key but those that only read,
  `permissions.READ_ONLY_MUTATIONS`: a download link).
- A member manages its own keys; an owner manages every key of its account's members.
  A key of another member is answered as not found to anybody else.
- Rotating a key issues a replacement with the same name and read-only setting, and ends
  the old key after a grace period of at most `MAX_ROTATION_GRACE` (at once for zero).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from tortoise.connection import get_connection
from tortoise.models import Model
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Account, ApiKey, Member, OperatorKey, Worker
from gql_server.models.enums import AdminAction, MemberRole
from gql_server.services import activity
from gql_server.services.errors import ErrorCode, UseCaseError, not_found
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import (
    MemberPrincipal,
    OperatorPrincipal,
    Principal,
    WorkerPrincipal,
)
from gql_server.services.sql import is_postgres

M = TypeVar("M", bound=Model)

KEY_PREFIX = "cwk_"
# Operator keys look different, so that nobody mistakes one for an account's key; so do
# the keys of a sandbox's members.
OPERATOR_KEY_PREFIX = "cwo_"
SANDBOX_KEY_PREFIX = KEY_PREFIX + "test_"
MAX_NAME = 200
MAX_ROTATION_GRACE = timedelta(days=7)
LAST_USED_EVERY = timedelta(minutes=1)
KEY_ORDER = SortKey("created_at", True)


def hash_key(plain: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(plain.encode()).hexdigest()


def new_key(prefix: str = KEY_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


async def issue_key(
    *,
    member: Member | None = None,
    worker: Worker | None = None,
    name: str = "",
    expires_at: datetime | None = None,
    read_only: bool = False,
) -> str:
    """Store a new key for `member` or `worker` and return its plain text (shown only once)."""
    return (await issue_key_record(member, worker, name, expires_at, read_only))[1]


async def issue_key_record(
    member: Member | None,
    worker: Worker | None,
    name: str,
    expires_at: datetime | None,
    read_only: bool,
) -> tuple[ApiKey, str]:
    """Store a new key; the stored row and the plain text (shown only once)."""
    if (member is None) == (worker is None):
        raise ValueError("an API key belongs to exactly one member or worker")
    sandbox = member is not None and await Account.exists(id=member.account_id, sandbox=True)
    plain = new_key(SANDBOX_KEY_PREFIX if sandbox else KEY_PREFIX)
    key = await ApiKey.create(
        key_hash=hash_key(plain),
        prefix=plain[:12],
        name=name,
        member=member,
        worker=worker,
        expires_at=expires_at,
        read_only=read_only,
    )
    return key, plain


def is_usable(key: ApiKey, member: Member | None, now: datetime) -> bool:
    """Whether `key` (of `member`, if a member's) may be used at `now`."""
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return False
    return member is None or member.removed_at is None


@dataclass(frozen=True)
class Caller:
    """Who a key stands for, with the member's row (and its account's) when it is a member's:
    read with the key, so a request about the caller need not read them again."""

    principal: Principal
    member: Member | None = None


async def issue_operator_key(name: str = "") -> str:
    """A new operator key; its plain text, shown only once (the command line's)."""
    plain = new_key(OPERATOR_KEY_PREFIX)
    await OperatorKey.create(key_hash=hash_key(plain), prefix=plain[:12], name=_key_name(name))
    return plain


async def usable_keys(key_ids: list[int]) -> set[int]:
    """Those of `key_ids` (members' or workers' keys) usable right now (one query)."""
    now = clock.now()
    keys = await ApiKey.filter(id__in=key_ids).select_related("member")
    return {key.id for key in keys if is_usable(key, key.member, now)}


async def operator_name(principal: OperatorPrincipal) -> str:
    return (await OperatorKey.get(id=principal.operator_key_id)).name


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{c}" AS "{alias}.{c}"' for c in model._meta.db_fields)


def _instance(model: type[M], alias: str, row: dict[str, Any]) -> M | None:
    """The row's columns of `alias` as an instance (None for a join that found nothing),
    converted as Tortoise's own reads convert them."""
    values = {name.split(".", 1)[1]: v for name, v in row.items() if name.startswith(alias + ".")}
    if all(value is None for value in values.values()):
        return None
    return model._init_from_db(**values)


@cache
def _key_read(postgres: bool) -> str:
    # One statement written once: every request runs it, and building it anew with the
    # query builder each time cost as much as running it.
    mark = "$1" if postgres else "?"
    return (
        f"SELECT {_columns(ApiKey, 'k')}, {_columns(Member, 'm')}, {_columns(Account, 'a')} "
        "FROM api_key k LEFT JOIN member m ON m.id = k.member_id "
        "LEFT JOIN account a ON a.id = m.account_id "
        f"WHERE k.key_hash = {mark} AND k.revoked_at IS NULL LIMIT 1"
    )


async def _key_with_member(key_hash: str) -> tuple[ApiKey, Member | None] | None:
    """The unrevoked key of that hash, with its member and the member's account (a
    worker's key has no member)."""
    connection = get_connection("default")
    rows = await connection.execute_query_dict(_key_read(is_postgres(connection)), [key_hash])
    if not rows:
        return None
    key = _instance(ApiKey, "k", rows[0])
    member = _instance(Member, "m", rows[0])
    assert key is not None
    if member is not None:
        # As select_related leaves it: `member.account` answers without a query.
        object.__setattr__(member, "_account", _instance(Account, "a", rows[0]))
    return key, member


async def identify(plain: str) -> Caller | None:
    """The caller a bearer key stands for, or None for a key that is unknown or not usable."""
    if len(plain) > 200:
        return None
    if plain.startswith(OPERATOR_KEY_PREFIX):
        operator = await OperatorKey.get_or_none(key_hash=hash_key(plain), revoked_at=None)
        if operator is None:
            return None
        return Caller(OperatorPrincipal(operator.id, key_prefix=operator.prefix))
    if not plain.startswith(KEY_PREFIX):
        return None
    found = await _key_with_member(hash_key(plain))
    if found is None:
        return None
    key, member = found
    now = clock.now()
    if not is_usable(key, member, now):
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        # Bookkeeping for the key listing, written at most once a minute per key.
        await ApiKey.filter(id=key.id).update(last_used_at=now)
    if member is not None:
        principal = MemberPrincipal(
            member_id=member.id,
            account_id=member.account_id,
            role=member.role,
            api_key_id=key.id,
            read_only=key.read_only,
            key_prefix=key.prefix,
        )
        return Caller(principal, member)
    return Caller(
        WorkerPrincipal(worker_id=key.worker_id, api_key_id=key.id, key_prefix=key.prefix)
    )


async def authenticate(plain: str) -> Principal | None:
    """The principal a bearer key stands for, or None for an unknown or revoked key."""
    caller = await identify(plain)
    return caller.principal if caller else None


# --- a member's keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedKey:
    """A key just made, with its plain text: shown only this once."""

    key: ApiKey
    plain: str


def _key_name(name: str) -> str:
    text = name.strip()
    if len(text) > MAX_NAME:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'name' is longer than {MAX_NAME} characters.", "name"
        )
    return text


def _future(moment: datetime | None, now: datetime, *field: str) -> datetime | None:
    if moment is not None and moment.utcoffset() is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "An expiry needs its UTC offset, like 'Z' or '+02:00'.", *field
        )
    if moment is not None and moment <= now:
        raise UseCaseError.single(ErrorCode.VALIDATION, "An expiry must be in the future.", *field)
    return moment


async def create_api_key(
    principal: MemberPrincipal,
    name: str,
    expires_at: datetime | None = None,
    read_only: bool = False,
) -> IssuedKey:
    """A new key of the calling member."""
    checked = _future(expires_at, clock.now(), "expires_at")
    member = await Member.get(id=principal.member_id)
    async with in_transaction():
        key, plain = await issue_key_record(member, None, _key_name(name), checked, read_only)
        await _logged(principal, AdminAction.API_KEY_CREATED, key)
    return IssuedKey(key, plain)


async def _logged(principal: MemberPrincipal, action: AdminAction, key: ApiKey) -> None:
    await activity.record(
        principal,
        action,
        "ApiKey",
        key.id,
        prefix=key.prefix,
        name=key.name,
        read_only=key.read_only,
        expires_at=key.expires_at,
    )


def _manageable(principal: MemberPrincipal) -> dict[str, object]:
    """The keys `principal` manages, as a filter: its own, or its account's for an owner."""
    if principal.role is MemberRole.OWNER:
        return {"member__account_id": principal.account_id}
    return {"member_id": principal.member_id}


async def managed_key(principal: MemberPrincipal, key_id: int) -> ApiKey | None:
    """One of the keys `principal` manages; None for any other."""
    return await ApiKey.filter(id=key_id, **_manageable(principal)).first()


async def _managed_key(principal: MemberPrincipal, key_id: int | None) -> ApiKey:
    key = await managed_key(principal, key_id) if key_id is not None else None
    if key is None:
        raise not_found("API key", "key_id")
    return key


async def list_api_keys(
    principal: MemberPrincipal, request: PageRequest, member_id: int | None = None
) -> Page[ApiKey]:
    """The keys `principal` manages, newest first; `member_id` narrows them to one member."""
    keys = ApiKey.filter(**_manageable(principal))
    if member_id is not None:
        keys = keys.filter(member_id=member_id)
    return await paginate(keys, KEY_ORDER, request)


async def revoke_api_key(principal: MemberPrincipal, key_id: int | None) -> ApiKey:
    """End a key now; revoking it again changes nothing."""
    key = await _managed_key(principal, key_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        async with in_transaction():
            if await ApiKey.filter(id=key.id, revoked_at=None).update(revoked_at=key.revoked_at):
                await _logged(principal, AdminAction.API_KEY_REVOKED, key)
    return key


async def rotate_api_key(
    principal: MemberPrincipal,
    key_id: int | None,
    grace_seconds: int,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A replacement for one of the caller's own keys (an owner revokes others' keys but
    never receives their secrets), with the old key's expiry unless another is given; the
    old key ends after `grace_seconds`."""
    now = clock.now()
    if not 0 <= grace_seconds <= MAX_ROTATION_GRACE.total_seconds():
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            "The grace period is between 0 seconds and 7 days (604800).",
            "grace_period_seconds",
        )
    grace = timedelta(seconds=grace_seconds)
    checked = _future(expires_at, now, "expires_at")
    async with in_transaction():
        old = await ApiKey.filter(id=key_id, member_id=principal.member_id).first()
        if old is None:
            raise not_found("API key", "key_id")
        if not is_usable(old, None, now):
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "Only a key still in use can be rotated.", "key_id"
            )
        member = await Member.get(id=old.member_id)
        ends_at = checked if expires_at is not None else old.expires_at
        key, plain = await issue_key_record(member, None, old.name, ends_at, old.read_only)
        await _logged(principal, AdminAction.API_KEY_ROTATED, old)
        ends = now + grace
        if grace == timedelta(0):
            await ApiKey.filter(id=old.id).update(revoked_at=now)
        elif old.expires_at is None or old.expires_at > ends:
            await ApiKey.filter(id=old.id).update(expires_at=ends)
    return IssuedKey(key, plain)
