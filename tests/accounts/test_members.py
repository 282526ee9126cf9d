"""Members through GraphQL: an owner adds, re-roles and removes them; the last owner stays;
a removed member's keys stop working at once; every member reads the list."""

from __future__ import annotations

import asyncio
import os

import pytest

from gql_server.models import Member
from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.services import members
from tests.factories import Requester
from tests.graphql_client import Api

ADD = """
mutation ($name: String!, $email: String!, $role: MemberRole!) {
  addMember(input: {name: $name, email: $email, role: $role}) {
    member { id name email role } apiKey userErrors { code field message }
  }
}
"""
CHANGE = """
mutation ($id: ID!, $role: MemberRole!) {
  changeMemberRole(input: {memberId: $id, role: $role}) {
    member { id role } userErrors { code field message }
  }
}
"""
REMOVE = """
mutation ($id: ID!) {
  removeMember(input: {memberId: $id}) { member { id } userErrors { code field message } }
}
"""
MEMBERS = """
query ($role: MemberRole) { members(role: $role) { totalCount edges { node { email role } } } }
"""
ME = "{ me { ... on Member { id role } } }"
AUDIT_SAMPLE = (
    "mutation { startAuditSample(input: {filter: {}, count: 1}) "
    "{ locks { fencingToken } userErrors { code } } }"
)
FUND = 'mutation { fundAccount(input: {amount: "1.00"}) { userErrors { code } } }'


def _codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def _add(api: Api, owner: Requester, role: str, email: str = "") -> dict:
    data = await api.data(
        ADD,
        {"name": "Ana Auditor", "email": email or f"{role.lower()}@team.example", "role": role},
        key=owner.key,
    )
    return data["addMember"]


async def test_an_owner_adds_an_auditor_whose_key_audits_and_moves_no_money(
    api: Api, account: Requester
) -> None:
    added = await _add(api, account, "AUDITOR", "Ana@Team.Example ")
    assert added["userErrors"] == []
    assert added["member"]["email"] == "ana@team.example" and added["member"]["role"] == "AUDITOR"
    key = added["apiKey"]
    assert (await api.data(ME, key=key))["me"] == {"id": added["member"]["id"], "role": "AUDITOR"}
    sampled = await api.data(AUDIT_SAMPLE, key=key)
    assert sampled["startAuditSample"] == {"locks": [], "userErrors": []}
    assert _codes(await api.post(FUND, key=key)) == ["FORBIDDEN"]


async def test_adding_an_email_twice_is_a_duplicate_and_bad_emails_are_refused(
    api: Api, account: Requester
) -> None:
    await _add(api, account, "VIEWER", "vi@team.example")
    again = await _add(api, account, "MANAGER", "VI@team.example")
    assert again["member"] is None and again["apiKey"] is None
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("DUPLICATE", ["input", "email"])
    ]
    for email in ("not an email", "a@b", "x" * 400 + "@team.example"):
        bad = await _add(api, account, "VIEWER", email)
        assert [e["code"] for e in bad["userErrors"]] == ["VALIDATION"]
    assert await Member.filter(account_id=account.account_id).count() == 2


async def test_only_an_owner_manages_members(api: Api, account: Requester) -> None:
    manager = await account.member(MemberRole.MANAGER)
    body = await api.post(
        ADD, {"name": "X", "email": "x@team.example", "role": "OWNER"}, key=manager.key
    )
    assert _codes(body) == ["FORBIDDEN"]
    owner_id = to_global_id("Member", account.principal.member_id)
    assert _codes(await api.post(REMOVE, {"id": owner_id}, key=manager.key)) == ["FORBIDDEN"]
    # Every member reads the list.
    listed = (await api.data(MEMBERS, key=manager.key))["members"]
    assert listed["totalCount"] == 2


async def test_the_last_owner_can_be_neither_demoted_nor_removed(
    api: Api, account: Requester
) -> None:
    owner_id = to_global_id("Member", account.principal.member_id)
    demoted = (await api.data(CHANGE, {"id": owner_id, "role": "MANAGER"}, key=account.key))[
        "changeMemberRole"
    ]
    assert [(e["code"], e["field"]) for e in demoted["userErrors"]] == [
        ("INVALID_STATE", ["input", "memberId"])
    ]
    removed = (await api.data(REMOVE, {"id": owner_id}, key=account.key))["removeMember"]
    assert [e["code"] for e in removed["userErrors"]] == ["INVALID_STATE"]
    assert (await Member.get(id=account.principal.member_id)).role is MemberRole.OWNER
    assert (await api.data(ME, key=account.key))["me"]["role"] == "OWNER"

    # With a second owner, the first may step down.
    second = await _add(api, account, "OWNER", "second@team.example")
    stepped = (await api.data(CHANGE, {"id": owner_id, "role": "VIEWER"}, key=account.key))[
        "changeMemberRole"
    ]
    assert stepped["userErrors"] == [] and stepped["member"]["role"] == "VIEWER"
    owners = (await api.data(MEMBERS, {"role": "OWNER"}, key=second["apiKey"]))["members"]
    assert [edge["node"]["email"] for edge in owners["edges"]] == ["second@team.example"]


async def test_a_removed_members_keys_stop_working_at_once_and_its_email_can_come_back(
    api: Api, account: Requester
) -> None:
    added = await _add(api, account, "MANAGER", "leaver@team.example")
    key = added["apiKey"]
    assert "errors" not in await api.post(ME, key=key)
    removed = (await api.data(REMOVE, {"id": added["member"]["id"]}, key=account.key))[
        "removeMember"
    ]
    assert removed["userErrors"] == []
    assert _codes(await api.post(ME, key=key)) == ["UNAUTHENTICATED"]
    listed = (await api.data(MEMBERS, key=account.key))["members"]
    assert "leaver@team.example" not in [edge["node"]["email"] for edge in listed["edges"]]
    # Removing again: nothing to remove.
    again = (await api.data(REMOVE, {"id": added["member"]["id"]}, key=account.key))["removeMember"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]
    # The same email brings the member back (what it did stays its own), with a new key.
    back = await _add(api, account, "VIEWER", "leaver@team.example")
    assert back["member"]["id"] == added["member"]["id"] and back["member"]["role"] == "VIEWER"
    assert _codes(await api.post(ME, key=key)) == ["UNAUTHENTICATED"]
    assert (await api.data(ME, key=back["apiKey"]))["me"]["role"] == "VIEWER"


async def test_another_accounts_member_is_not_found(
    api: Api, account: Requester, other_account: Requester
) -> None:
    theirs = to_global_id("Member", other_account.principal.member_id)
    for body in (
        await api.post(REMOVE, {"id": theirs}, key=account.key),
        await api.post(CHANGE, {"id": theirs, "role": "VIEWER"}, key=account.key),
    ):
        (payload,) = body["data"].values()
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert (await Member.get(id=other_account.principal.member_id)).removed_at is None


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="concurrent owners need PostgreSQL: SQLite serves one connection",
)
async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    account: Requester,
) -> None:
    second = await account.member(MemberRole.OWNER)
    results = await asyncio.gather(
        members.change_member_role(
            account.principal, second.principal.member_id, MemberRole.VIEWER
        ),
        members.change_member_role(
            second.principal, account.principal.member_id, MemberRole.VIEWER
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(result, Exception) for result in results) == 1
    owners = await Member.filter(account_id=account.account_id, role=MemberRole.OWNER).count()
    assert owners == 1
