"""Webhook endpoints through GraphQL, delivered to a real receiver: several per account, each
receiving only the event types it asked for; a signed test ping; a secret rotation during
whose overlap a receiver knowing either secret verifies every delivery, and after which
only the new secret does."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook, WebhookVerificationError

from gql_server.models import OutboxEvent
from tests.callbacks.receiver import Receiver, sender
from tests.factories import Requester, new_completed
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")

CREATE = """
mutation ($url: String!, $types: [String!]) {
  createWebhookEndpoint(input: {url: $url, description: "reviews", eventTypes: $types}) {
    endpoint { id url signingSecret subscribed eventTypes description }
    userErrors { code field message }
  }
}
"""
UPDATE = """
mutation ($id: ID!, $enabled: Boolean, $all: Boolean!) {
  updateWebhookEndpoint(input: {endpointId: $id, enabled: $enabled, allEventTypes: $all}) {
    endpoint { eventTypes disabledAt } userErrors { code }
  }
}
"""
PING = """
mutation ($id: ID!) { sendTestWebhook(input: {endpointId: $id}) { event { type status } userErrors { code } } }
"""
ROTATE = """
mutation ($id: ID!, $overlap: Int) {
  rotateWebhookSecret(input: {endpointId: $id, overlapSeconds: $overlap}) {
    endpoint { signingSecret previousSecretUntil } userErrors { code field }
  }
}
"""
DELETE = """
mutation ($id: ID!) { deleteWebhookEndpoint(input: {endpointId: $id}) { deletedEndpointId userErrors { code } } }
"""


def _verifies(secret: str, request: tuple[dict[str, str], str]) -> bool:
    headers, body = request
    wanted = {key.lower(): value for key, value in headers.items()}
    try:
        Webhook(secret).verify(body, wanted)
    except WebhookVerificationError:
        return False
    return True


async def _create(api: Api, key: str, url: str, types: list[str] | None) -> dict[str, Any]:
    return (await api.data(CREATE, {"url": url, "types": types}, key=key))["createWebhookEndpoint"]


def _types(receiver: Receiver) -> list[str]:
    return sorted(json.loads(body)["type"] for _, body in receiver.requests)


async def test_each_endpoint_receives_only_the_event_types_it_asked_for(
    api: Api, requester: Requester, httpserver: HTTPServer
) -> None:
    reviews = Receiver(httpserver, [200], "/reviews")
    everything = Receiver(httpserver, [200], "/all")
    made = await _create(api, requester.key, reviews.url, ["submission.reviewed"])
    assert made["userErrors"] == []
    assert made["endpoint"]["eventTypes"] == ["submission.reviewed"]
    assert made["endpoint"]["subscribed"] is True
    assert (await _create(api, requester.key, everything.url, None))["userErrors"] == []

    await new_completed(requester, 2)
    await sender().deliver_due()
    assert _types(reviews) == ["submission.reviewed"] * 2
    # Two rewards exhaust the task's budget, so it closes too.
    assert _types(everything) == [
        *(["submission.reviewed"] * 2),
        *(["submission.submitted"] * 2),
        "task.closed",
    ]
    for request in reviews.requests:
        assert _verifies(made["endpoint"]["signingSecret"], request)


async def test_bad_endpoints_are_refused_and_change_nothing(api: Api, requester: Requester) -> None:
    unknown = await _create(api, requester.key, "https://hooks.example/a", ["order.paid"])
    assert [(e["code"], e["field"]) for e in unknown["userErrors"]] == [
        ("VALIDATION", ["input", "eventTypes", "0"])
    ]
    for url in ("ftp://hooks.example/a", "https://" + "x" * 3000 + ".example"):
        bad = await _create(api, requester.key, url, None)
        assert [e["code"] for e in bad["userErrors"]] == ["VALIDATION"]
    assert (await _create(api, requester.key, "https://hooks.example/a", None))["userErrors"] == []
    again = await _create(api, requester.key, "https://hooks.example/a", None)
    assert [e["code"] for e in again["userErrors"]] == ["DUPLICATE"]
    listed = await api.data("{ webhookEndpoints { url } }", key=requester.key)
    assert listed["webhookEndpoints"] == [{"url": "https://hooks.example/a"}]


async def test_a_disabled_or_deleted_endpoint_receives_nothing(
    api: Api, requester: Requester, httpserver: HTTPServer
) -> None:
    receiver = Receiver(httpserver, [200])
    endpoint = (await _create(api, requester.key, receiver.url, None))["endpoint"]
    off = await api.data(
        UPDATE, {"id": endpoint["id"], "enabled": False, "all": False}, key=requester.key
    )
    assert off["updateWebhookEndpoint"]["endpoint"]["disabledAt"] is not None
    await new_completed(requester, 1)
    await sender().deliver_due()
    assert receiver.requests == []
    deleted = (await api.data(DELETE, {"id": endpoint["id"]}, key=requester.key))[
        "deleteWebhookEndpoint"
    ]
    assert deleted == {"deletedEndpointId": endpoint["id"], "userErrors": []}
    assert (await api.data("{ webhookEndpoints { url } }", key=requester.key)) == {
        "webhookEndpoints": []
    }


async def test_a_test_ping_arrives_signed_and_is_recorded(
    api: Api, requester: Requester, httpserver: HTTPServer
) -> None:
    receiver = Receiver(httpserver, [200])
    endpoint = (await _create(api, requester.key, receiver.url, ["task.closed"]))["endpoint"]
    sent = (await api.data(PING, {"id": endpoint["id"]}, key=requester.key))["sendTestWebhook"]
    assert sent == {"event": {"type": "ping", "status": "PENDING"}, "userErrors": []}
    await sender().deliver_due()
    [request] = receiver.requests
    assert _verifies(endpoint["signingSecret"], request)
    assert _types(receiver) == ["ping"]
    [event] = await OutboxEvent.filter(account_id=requester.account_id, event_type="ping")
    assert event.status.value == "DELIVERED"


async def test_during_a_rotation_either_secret_verifies_and_after_it_only_the_new(
    api: Api, requester: Requester, httpserver: HTTPServer, frozen: Any
) -> None:
    receiver = Receiver(httpserver, [200])
    endpoint = (await _create(api, requester.key, receiver.url, None))["endpoint"]
    old = endpoint["signingSecret"]
    rotated = (await api.data(ROTATE, {"id": endpoint["id"], "overlap": 3600}, key=requester.key))[
        "rotateWebhookSecret"
    ]
    new = rotated["endpoint"]["signingSecret"]
    assert new != old and rotated["endpoint"]["previousSecretUntil"] is not None

    await api.data(PING, {"id": endpoint["id"]}, key=requester.key)
    await sender().deliver_due()
    [during] = receiver.requests
    assert _verifies(old, during) and _verifies(new, during)
    # A second overlap would cut the first one short.
    again = (await api.data(ROTATE, {"id": endpoint["id"], "overlap": 60}, key=requester.key))[
        "rotateWebhookSecret"
    ]
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]

    frozen.advance(timedelta(seconds=3601))
    await api.data(PING, {"id": endpoint["id"]}, key=requester.key)
    await sender().deliver_due()
    after = receiver.requests[-1]
    assert _verifies(new, after) and not _verifies(old, after)

    too_long = (await api.data(ROTATE, {"id": endpoint["id"], "overlap": -1}, key=requester.key))[
        "rotateWebhookSecret"
    ]
    assert [(e["code"], e["field"]) for e in too_long["userErrors"]] == [
        ("VALIDATION", ["input", "overlapSeconds"])
    ]
