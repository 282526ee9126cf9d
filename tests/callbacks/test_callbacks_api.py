"""Callbacks through GraphQL, as partners use them: every event and attempt readable,
redelivery on request, and an account-wide callback URL checked and used."""

from __future__ import annotations

import pytest

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from tests.factories import Requester, new_completed
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")


async def test_partners_see_every_attempt_and_can_ask_for_redelivery(
    api: Api, requester: Requester
) -> None:
    [done] = await new_completed(requester, 1, callback_url="https://partner.example/hooks")
    submission = to_global_id("Submission", done.id)
    manager = await requester.member_key(MemberRole.MANAGER)
    events = await api.data(
        """query ($id: ID!) { callbackEvents(filter: {submissionId: $id}, first: 10) {
             edges { node { id type status webhookId body deliveries { attempt } } } }
           webhookEndpoints { url signingSecret disabledAt } }""",
        {"id": submission},
        key=manager,
    )
    nodes = [edge["node"] for edge in events["callbackEvents"]["edges"]]
    assert sorted(n["type"] for n in nodes) == ["submission.reviewed", "submission.submitted"]
    assert all(n["status"] == "PENDING" and n["webhookId"].startswith("msg_") for n in nodes)
    [endpoint] = events["webhookEndpoints"]
    assert endpoint["url"] == "https://partner.example/hooks"
    assert endpoint["signingSecret"].startswith("whsec_")

    again = await api.data(
        "mutation ($id: ID!) { redeliverCallbackEvent(input: {eventId: $id}) { event { status } userErrors { code } } }",
        {"id": nodes[0]["id"]},
        key=manager,
    )
    assert again["redeliverCallbackEvent"] == {"event": {"status": "PENDING"}, "userErrors": []}

    auditor = await requester.member_key(MemberRole.AUDITOR)
    hidden = await api.post("{ callbackEvents(first: 1) { totalCount } }", key=auditor)
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_account_callback_url_is_checked_and_used_without_a_task_url(
    api: Api, requester: Requester
) -> None:
    owner = await requester.member_key(MemberRole.OWNER)
    mutation = """mutation ($url: String) { setAccountCallbackUrl(input: {callbackUrl: $url}) {
        account { callbackUrl } userErrors { field code } } }"""
    refused = await api.data(mutation, {"url": "ftp://partner.example/x"}, key=owner)
    assert refused["setAccountCallbackUrl"]["userErrors"] == [
        {"field": ["input", "callbackUrl"], "code": "VALIDATION"}
    ]
    saved = await api.data(mutation, {"url": "https://partner.example/all"}, key=owner)
    assert saved["setAccountCallbackUrl"]["account"]["callbackUrl"] == "https://partner.example/all"
    [done] = await new_completed(requester, 1)
    submission = to_global_id("Submission", done.id)
    manager = await requester.member_key(MemberRole.MANAGER)
    events = await api.data(
        "query ($id: ID!) { callbackEvents(filter: {submissionId: $id}) { totalCount } }",
        {"id": submission},
        key=manager,
    )
    assert events["callbackEvents"]["totalCount"] == 2
