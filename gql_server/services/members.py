"""Members of an account: added, given another role, removed (by an owner: the resolvers
check the role), and listed (by any member).

Invariants:
- An account always has at least one owner that is not removed. The check and the change
  happen in one transaction that holds the account's row, so two owners demoting or
  removing each other at the same moment cannot both succeed.
- A removed member is kept (reviews, audits and ledger rows name it), marked with when it
  left, and every key it has is revoked in the same transaction: the next request with any
  of them fails, on every server process (keys are checked against the database on every
  request). Adding a removed member's email again brings that member back with a new key.
- An email is unique among an account's members, compared in lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Account, ApiKey, Member
from gql_server.models.enums import AdminAction, MemberRole
from gql_server.services import activity
from gql_server.services.api_keys import issue_key
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

MAX_NAME = 200
MAX_EMAIL = 320
# Enough to catch a typo or a name pasted into the email field; delivery is not ours.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MEMBER_ORDER = SortKey("created_at", False)


@dataclass(frozen=True)
class AddedMember:
    """A member just added (or brought back) with its first key, shown only this once."""

    member: Member
    api_key: str


def _name(name: str) -> str:
    text = name.strip()
    if not text:
        raise UseCaseError.single(ErrorCode.VALIDATION, "A member needs a name.", "name")
    if len(text) > MAX_NAME:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'name' is longer than {MAX_NAME} characters.", "name"
        )
    return text


def _email(email: str) -> str:
    text = email.strip().lower()
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'email' is not an email address like 'ana@example.com'.", "email"
        )
    return text


async def create_member(account_id: int, name: str, email: str, role: MemberRole) -> AddedMember:
    """Add a member (or bring a removed one back) with a first key; call with the rights
    already checked (the command line, the demo data, `add_member`)."""
    name, email = _name(name), _email(email)
    async with in_transaction():
        existing = await Member.get_or_none(account_id=account_id, email=email)
        if existing is not None and existing.removed_at is None:
            raise UseCaseError.single(
                ErrorCode.DUPLICATE, "A member of this account has this email already.", "email"
            )
        if existing is not None:
            existing.name, existing.role, existing.removed_at = name, role, None
            await existing.save(update_fields=["name", "role", "removed_at"])
            member = existing
        else:
            member = await Member.create(account_id=account_id, name=name, email=email, role=role)
        key = await issue_key(member=member, name=f"{role.lower()} key")
    return AddedMember(member, key)


async def add_member(
    principal: MemberPrincipal, name: str, email: str, role: MemberRole
) -> AddedMember:
    async with in_transaction():
        added = await create_member(principal.account_id, name, email, role)
        member = added.member
        await activity.record(
            principal, AdminAction.MEMBER_ADDED, "Member", member.id, email=member.email, role=role
        )
    return added


async def _other_owners(account_id: int, member_id: int) -> int:
    return (
        await Member.filter(account_id=account_id, role=MemberRole.OWNER, removed_at=None)
        .exclude(id=member_id)
        .count()
    )


async def _active_member(account_id: int, member_id: int | None) -> Member:
    member = await owned(Member, account_id, member_id, "Member", "member_id")
    if member.removed_at is not None:
        raise UseCaseError.single(ErrorCode.NOT_FOUND, "Member not found.", "member_id")
    return member


def _last_owner(action: str) -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.INVALID_STATE,
        f"The account's last owner cannot be {action}: make another member an owner first.",
        "member_id",
    )


async def _lock_account(account_id: int) -> None:
    # Taken by every change of who owns the account, so they happen one at a time. A model
    # read: Tortoise drops FOR UPDATE from values()/values_list() queries.
    await Account.select_for_update().get(id=account_id)


async def change_member_role(
    principal: MemberPrincipal, member_id: int | None, role: MemberRole
) -> Member:
    async with in_transaction():
        await _lock_account(principal.account_id)
        member = await _active_member(principal.account_id, member_id)
        demoted = member.role is MemberRole.OWNER and role is not MemberRole.OWNER
        if demoted and not await _other_owners(principal.account_id, member.id):
            raise _last_owner("demoted")
        if member.role is not role:
            await activity.record(
                principal,
                AdminAction.MEMBER_ROLE_CHANGED,
                "Member",
                member.id,
                email=member.email,
                before=member.role,
                after=role,
            )
            member.role = role
            await member.save(update_fields=["role"])
    return member


async def remove_member(principal: MemberPrincipal, member_id: int | None) -> Member:
    now = clock.now()
    async with in_transaction():
        await _lock_account(principal.account_id)
        member = await _active_member(principal.account_id, member_id)
        if member.role is MemberRole.OWNER and not await _other_owners(
            principal.account_id, member.id
        ):
            raise _last_owner("removed")
        member.removed_at = now
        await member.save(update_fields=["removed_at"])
        revoked = await ApiKey.filter(member_id=member.id, revoked_at=None).update(revoked_at=now)
        await activity.record(
            principal,
            AdminAction.MEMBER_REMOVED,
            "Member",
            member.id,
            email=member.email,
            keys_revoked=revoked,
        )
    return member


async def list_members(
    principal: MemberPrincipal, request: PageRequest, role: MemberRole | None = None
) -> Page[Member]:
    """The account's members who were not removed, oldest first (any member may read)."""
    members = Member.filter(account_id=principal.account_id, removed_at=None)
    if role is not None:
        members = members.filter(role=role)
    return await paginate(members, MEMBER_ORDER, request)
