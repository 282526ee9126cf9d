"""Fan-out shared per process (gql_server/resolvers/fan_out.py): every subscriber of a
stream gets the message its own selection asks for, although a message is converted,
executed and encoded once per distinct selection; and what makes that sharing safe
(payload fields read nothing but the payload) holds for every subscription."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, get_named_type
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from gql_server.app import GraphQLApp
from gql_server.resolvers.fan_out import SharedData, SharingExecutor, shared_payload
from gql_server.schema.build import schema
from gql_server.services.streams import StreamMessage
from tests.factories import (
    Requester,
    api_funded_draft,
    api_start_and_submit,
    api_task_action,
    new_worker,
)
from tests.server import Http, LiveClient
from tests.streams.documents import QUEUE


def _fields_below(type_: GraphQLObjectType, seen: set[str]) -> list[GraphQLField]:
    if type_.name in seen:
        return []
    seen.add(type_.name)
    found: list[GraphQLField] = []
    for field in type_.fields.values():
        found.append(field)
        named = get_named_type(field.type)
        if isinstance(named, GraphQLObjectType):
            found += _fields_below(named, seen)
    return found


def test_no_field_a_subscription_yields_has_a_resolver() -> None:
    subscription = schema._schema.subscription_type
    assert subscription is not None
    seen: set[str] = set()
    for root in subscription.fields.values():
        named = get_named_type(root.type)
        assert isinstance(named, GraphQLObjectType)
        for field in _fields_below(named, seen):
            definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
            assert isinstance(definition, StrawberryField)
            assert definition.base_resolver is None, (
                f"{field} has a resolver: stream messages are shared by their subscribers, "
                "so their fields may read nothing but the message"
            )
    assert {"BudgetMessage", "ReviewQueueMessage", "Money"} <= seen


def test_a_shared_next_message_is_encoded_exactly_as_json() -> None:
    app = GraphQLApp(schema)
    data = SharedData({"budget": {"version": 3, "taskId": "VGFzazox", "note": 'a "b" é'}})
    for operation in ("1", 'q"x'):
        message = {"id": operation, "type": "next", "payload": {"data": data}}
        assert app.encode_json(message) == json.dumps(message, separators=(",", ":"))
    with_errors = {"id": "1", "type": "next", "payload": {"data": data, "errors": [{"x": 1}]}}
    assert app.encode_json(with_errors) == json.dumps(with_errors, separators=(",", ":"))


executions = 0


@strawberry.type
class Event:
    version: int

    @strawberry.field
    def label(self, loud: bool = False) -> str:
        global executions
        executions += 1
        return f"v{self.version}!" if loud else f"v{self.version}"


MESSAGES = [StreamMessage(version=v, snapshot=False, state={}) for v in (1, 2)]


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def events(self, since: int = 0, shared: bool = True) -> AsyncGenerator[Event, None]:
        for message in MESSAGES:
            if shared:
                yield shared_payload(message, "event", lambda m=message: Event(version=m.version))
            else:
                yield Event(version=message.version)


small = strawberry.Schema(
    query=Query, subscription=Subscription, execution_context_class=SharingExecutor
)


async def _results(document: str, variables: dict[str, Any]) -> list[Any]:
    stream = await small.subscribe(document, variable_values=variables)
    return [result.data async for result in stream]  # type: ignore[union-attr]


async def test_subscribers_with_the_same_selection_share_one_execution_per_message() -> None:
    global executions
    executions = 0
    document = (
        "subscription ($s: Int, $l: Boolean) { events(since: $s) { version label(loud: $l) } }"
    )
    first = await _results(document, {"s": 0, "l": False})
    # Another root argument (like another resumeFrom) chose the stream, not the message.
    second = await _results(document, {"s": 7, "l": False})
    assert (
        first
        == second
        == [
            {"events": {"version": 1, "label": "v1"}},
            {"events": {"version": 2, "label": "v2"}},
        ]
    )
    assert executions == 2
    # A variable of the selection set makes another message: executed on its own.
    assert await _results(document, {"s": 0, "l": True}) == [
        {"events": {"version": 1, "label": "v1!"}},
        {"events": {"version": 2, "label": "v2!"}},
    ]
    assert executions == 4
    # Another selection too.
    assert await _results("subscription { events { label } }", {}) == [
        {"events": {"label": "v1"}},
        {"events": {"label": "v2"}},
    ]
    assert executions == 6
    # A payload that is not shared (a subscriber's own snapshot) is executed every time.
    unshared = "subscription { events(shared: false) { label } }"
    assert await _results(unshared, {}) == await _results(unshared, {})
    assert executions == 10


async def test_dashboards_with_different_selections_each_get_their_own_message(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_funded_draft(http, owner)
    await api_task_action(http, owner, "publishTask", task_id)
    short = "subscription ($t: ID) { reviewQueue(taskId: $t) { length version } }"
    async with (
        LiveClient(server, owner) as one,
        LiveClient(server, owner) as two,
        LiveClient(server, owner) as three,
    ):
        full_one = one.subscribe(QUEUE, {"t": task_id})
        full_two = two.subscribe(QUEUE, {"t": task_id})
        brief = three.subscribe(short, {"t": task_id})
        start = (await full_one.next())["reviewQueue"]
        assert (await full_two.next())["reviewQueue"] == start
        assert (await brief.next())["reviewQueue"] == {"length": 0, "version": start["version"]}
        # One that resumes from the start gets the same messages as those that did not.
        resumed = three.subscribe(QUEUE, {"t": task_id, "r": start["version"]})

        submission = await api_start_and_submit(http, (await new_worker()).key, task_id)
        added = {
            "version": start["version"] + 1,
            "snapshot": False,
            "taskId": task_id,
            "length": 1,
            "changes": [{"kind": "ADDED", "submissionId": submission, "taskId": task_id}],
        }
        assert (await full_one.next())["reviewQueue"] == added
        assert (await full_two.next())["reviewQueue"] == added
        assert (await resumed.next())["reviewQueue"] == added
        assert (await brief.next())["reviewQueue"] == {"length": 1, "version": added["version"]}
