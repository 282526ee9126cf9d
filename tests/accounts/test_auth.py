"""API-key authentication and role checks, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from gql_server.models import ApiKey
from gql_server.models.enums import MemberRole
from gql_server.services.api_keys import hash_key
from tests.factories import Requester, Worker
from tests.graphql_client import Api

ME = "{ me { __typename ... on Member { role } ... on Worker { country } } }"
CREATE_PROJECT = """
mutation ($name: String!) {
  createProject(input: {name: $name}) { project { name } userErrors { code field message } }
}
"""


def _codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def test_a_member_key_identifies_the_member_and_role(api: Api, account: Requester) -> None:
    data = await api.data(ME, key=account.key)
    assert data["me"] == {"__typename": "Member", "role": "OWNER"}


async def test_a_worker_key_identifies_the_worker(api: Api, worker: Worker) -> None:
    data = await api.data(ME, key=worker.key)
    assert data["me"] == {"__typename": "Worker", "country": "DE"}


async def test_missing_key_is_unauthenticated(api: Api) -> None:
    body = await api.post(ME)
    assert body["data"] is None
    assert _codes(body) == ["UNAUTHENTICATED"]


async def test_unknown_or_malformed_key_is_unauthenticated(api: Api) -> None:
    for key in ("cwk_not-a-real-key", "something-else", "cwk_" + "x" * 300):
        assert _codes(await api.post(ME, key=key)) == ["UNAUTHENTICATED"]
    response = await api.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": "Basic abc"}
    )
    assert _codes(response.json()) == ["UNAUTHENTICATED"]


async def test_a_revoked_key_is_unauthenticated(api: Api, account: Requester) -> None:
    key = await account.member_key(MemberRole.MANAGER)
    assert (await api.data(ME, key=key))["me"]["role"] == "MANAGER"
    await ApiKey.filter(key_hash=hash_key(key)).update(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert _codes(await api.post(ME, key=key)) == ["UNAUTHENTICATED"]


async def test_keys_are_stored_hashed(account: Requester) -> None:
    stored = await ApiKey.filter(key_hash=hash_key(account.key)).first()
    assert stored is not None
    assert account.key not in (stored.key_hash, stored.prefix)


async def test_members_may_introspect_the_schema(api: Api, account: Requester) -> None:
    data = await api.data("{ __typename __schema { queryType { name } } }", key=account.key)
    assert data == {"__typename": "Query", "__schema": {"queryType": {"name": "Query"}}}


async def test_wrong_role_is_forbidden_and_changes_nothing(api: Api, account: Requester) -> None:
    for role in (MemberRole.VIEWER, MemberRole.AUDITOR):
        key = await account.member_key(role)
        body = await api.post(CREATE_PROJECT, {"name": f"by {role}"}, key=key)
        assert _codes(body) == ["FORBIDDEN"]
    projects = await api.data("{ projects { totalCount } }", key=account.key)
    assert projects["projects"]["totalCount"] == 0


async def test_a_viewer_may_read(api: Api, account: Requester) -> None:
    key = await account.member_key(MemberRole.VIEWER)
    data = await api.data("{ tasks { totalCount } account { name } }", key=key)
    assert data["tasks"]["totalCount"] == 0


async def test_a_worker_cannot_use_member_fields(api: Api, worker: Worker) -> None:
    body = await api.post("{ tasks { totalCount } }", key=worker.key)
    assert _codes(body) == ["FORBIDDEN"]
    body = await api.post(CREATE_PROJECT, {"name": "worker project"}, key=worker.key)
    assert _codes(body) == ["FORBIDDEN"]


async def test_unexpected_errors_are_masked(api: Api, account: Requester, monkeypatch) -> None:
    from gql_server.services import projects

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(projects, "list_projects", explode)
    body = await api.post("{ projects { totalCount } }", key=account.key)
    assert body["errors"][0]["message"] == "Internal error."
    assert _codes(body) == ["INTERNAL"]
    assert "hunter2" not in str(body)
