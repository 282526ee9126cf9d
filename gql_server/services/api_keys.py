"""API keys: issued once in plain text, stored as a SHA-256, resolved to a principal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from gql_server.models import ApiKey, Member, Worker
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal

KEY_PREFIX = "cwk_"


def hash_key(plain: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(plain.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def issue_key(
    *, member: Member | None = None, worker: Worker | None = None, name: str = ""
) -> str:
    """Store a new key for `member` or `worker` and return its plain text (shown only once)."""
    if (member is None) == (worker is None):
        raise ValueError("an API key belongs to exactly one member or worker")
    plain = new_key()
    await ApiKey.create(
        key_hash=hash_key(plain), prefix=plain[:12], name=name, member=member, worker=worker
    )
    return plain


@dataclass(frozen=True)
class Caller:
    """Who a key stands for, with the member's row (and its account's) when it is a member's:
    read with the key, so a request about the caller need not read them again."""

    principal: Principal
    member: Member | None = None


async def identify(plain: str) -> Caller | None:
    """The caller a bearer key stands for, or None for an unknown or revoked key."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        return None
    key = (
        await ApiKey.filter(key_hash=hash_key(plain), revoked_at=None)
        .select_related("member__account")
        .first()
    )
    if key is None:
        return None
    if key.member is not None:
        principal = MemberPrincipal(
            member_id=key.member.id,
            account_id=key.member.account_id,
            role=key.member.role,
            api_key_id=key.id,
        )
        return Caller(principal, key.member)
    return Caller(WorkerPrincipal(worker_id=key.worker_id, api_key_id=key.id))


async def authenticate(plain: str) -> Principal | None:
    """The principal a bearer key stands for, or None for an unknown or revoked key."""
    caller = await identify(plain)
    return caller.principal if caller else None
