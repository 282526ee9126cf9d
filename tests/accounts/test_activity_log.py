"""The administration's activity log through GraphQL: every change of a member, a key, an
endpoint, and a restriction lifted by hand is there, newest first, with who and what (never
a secret); owners read it, nobody else, and only their account's."""

from __future__ import annotations

import json
from typing import Any

from gql_server.models.enums import MemberRole, RestrictionKind, RestrictionScope
from gql_server.services import restrictions
from tests.factories import Requester, new_worker
from tests.graphql_client import Api

LOG = """
query ($action: AdminAction) {
  activityLog(action: $action) {
    edges { node { action subjectType subjectId actor { email } details { name value } } }
  }
}
"""


def _details(node: dict[str, Any]) -> dict[str, Any]:
    return {detail["name"]: json.loads(detail["value"]) for detail in node["details"]}


async def test_owners_read_every_administrative_change_newest_first(
    api: Api, requester: Requester, other_account: Requester
) -> None:
    key = requester.key
    added = await api.data(
        """mutation { addMember(input: {name: "Ana", email: "ana@team.example", role: VIEWER})
           { member { id } apiKey } }""",
        key=key,
    )
    member_id = added["addMember"]["member"]["id"]
    await api.data(
        "mutation ($id: ID!) { changeMemberRole(input: {memberId: $id, role: AUDITOR})"
        " { userErrors { code } } }",
        {"id": member_id},
        key=key,
    )
    made = await api.data(
        'mutation { createApiKey(input: {name: "ci", readOnly: true}) { key { id } secret } }',
        key=key,
    )
    await api.data(
        "mutation ($id: ID!) { revokeApiKey(input: {keyId: $id}) { userErrors { code } } }",
        {"id": made["createApiKey"]["key"]["id"]},
        key=key,
    )
    endpoint = await api.data(
        'mutation { createWebhookEndpoint(input: {url: "https://hooks.example/x"})'
        " { endpoint { id signingSecret } } }",
        key=key,
    )
    worker = await new_worker()
    restriction, _ = await restrictions.restrict_worker(
        requester.principal,
        worker_id=worker.id,
        kind=RestrictionKind.BAN,
        scope=RestrictionScope.ACCOUNT,
        task_id=None,
        project_id=None,
        days=3,
        reason="spam",
    )
    await restrictions.lift(requester.principal, restriction.id)

    log = (await api.data(LOG, key=key))["activityLog"]["edges"]
    nodes = [edge["node"] for edge in log]
    assert [node["action"] for node in nodes] == [
        "RESTRICTION_LIFTED",
        "ENDPOINT_CREATED",
        "API_KEY_REVOKED",
        "API_KEY_CREATED",
        "MEMBER_ROLE_CHANGED",
        "MEMBER_ADDED",
    ]
    assert {node["actor"]["email"] for node in nodes} == {
        (await api.data("{ me { ... on Member { email } } }", key=key))["me"]["email"]
    }
    assert nodes[-1]["subjectId"] == member_id
    assert _details(nodes[-2]) == {
        "email": "ana@team.example",
        "before": "VIEWER",
        "after": "AUDITOR",
    }
    assert _details(nodes[3])["read_only"] is True
    assert _details(nodes[0])["reason"] == "spam"
    secrets = (
        made["createApiKey"]["secret"],
        endpoint["createWebhookEndpoint"]["endpoint"]["signingSecret"],
    )
    assert not any(secret in json.dumps(log) for secret in secrets)

    only = (await api.data(LOG, {"action": "MEMBER_ADDED"}, key=key))["activityLog"]["edges"]
    assert [edge["node"]["action"] for edge in only] == ["MEMBER_ADDED"]
    assert (await api.data(LOG, key=other_account.key))["activityLog"]["edges"] == []
    manager = await requester.member(MemberRole.MANAGER)
    refused = await api.post(LOG, key=manager.key)
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
