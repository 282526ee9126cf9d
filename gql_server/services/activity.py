"""The activity log of an account's administration, for its owners.

Each administrative use case records what it did with `record`, inside its own
transaction, so a change and its log entry commit together or not at all. Entries are
never changed; they name the actor (null once that member is deleted, which members never
are: they are removed) and keep the values that changed, never a secret.
"""

from __future__ import annotations

from typing import Any

from gql_server.models import AdminActivity
from gql_server.models.enums import AdminAction
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal

ACTIVITY_ORDER = SortKey("created_at", True)


async def record(
    principal: MemberPrincipal,
    action: AdminAction,
    subject_type: str,
    subject_id: int,
    **details: Any,
) -> None:
    """Log `action` on a subject; call inside the transaction that made the change."""
    await AdminActivity.create(
        account_id=principal.account_id,
        actor_id=principal.member_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details={name: _plain(value) for name, value in details.items()},
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str | int | float | bool | list | type(None)):
        return value
    return str(value)


async def list_activity(
    account_id: int, request: PageRequest, action: AdminAction | None = None
) -> Page[AdminActivity]:
    """The account's administrative changes, newest first."""
    entries = AdminActivity.filter(account_id=account_id)
    if action is not None:
        entries = entries.filter(action=action)
    return await paginate(entries, ACTIVITY_ORDER, request)
