"""`node(id:)` through one registry: every Node type is in it, and it keeps accounts apart."""

from __future__ import annotations

import pytest
import strawberry
from graphql import GraphQLObjectType

from gql_server import models
from gql_server.models.enums import MemberRole
from gql_server.resolvers.nodes import graphql_name, missing_loaders, node_types
from gql_server.schema.build import schema
from gql_server.schema.relay import Node
from gql_server.services import outbox, submissions
from gql_server.services.global_ids import from_global_id, global_id, pk_of
from tests.factories import Worker, answer, new_requester, new_task, new_worker
from tests.graphql_client import Api

NODE = "query ($id: ID!) { node(id: $id) { __typename id } }"


def _node_object_types() -> set[str]:
    return {
        name
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType)
        and "Node" in {interface.name for interface in graphql_type.interfaces}
    }


def test_every_graphql_type_implementing_node_is_in_the_registry() -> None:
    registered = {graphql_name(t) for t in node_types()}
    assert _node_object_types() <= registered
    assert registered <= _node_object_types()
    assert missing_loaders(schema) == []


@strawberry.type
class Stray(Node):
    name: str


@strawberry.type
class StrayQuery:
    @strawberry.field
    def stray(self) -> Stray:
        return Stray(id=strawberry.ID("x"), name="x")


def test_a_node_type_without_a_loader_is_found_out() -> None:
    assert missing_loaders(strawberry.Schema(query=StrayQuery)) == ["Stray"]


def test_global_ids_are_encoded_and_decoded_in_one_place() -> None:
    encoded = global_id("Task", 42)
    assert from_global_id(encoded) == ("Task", 42)
    assert pk_of(encoded, "Task") == 42 and pk_of(encoded, "Project") is None
    for garbage in ("%%%", "", global_id("Task", 0), global_id("", 3), "VGFzazowNQ"):
        assert from_global_id(garbage) is None, garbage  # "VGFzazowNQ" is "Task:05"


@pytest.mark.usefixtures("database")
async def test_ids_that_name_nothing_are_null_for_every_type(api: Api, worker: Worker) -> None:
    requester = await new_requester()
    owner = await requester.member_key(MemberRole.OWNER)
    names = sorted({graphql_name(t) for t in node_types()})
    fields = " ".join(
        f'n{i}: node(id: "{global_id(name, 10**15)}") {{ id }}' for i, name in enumerate(names)
    )
    for key in (owner, worker.key):
        data = await api.data(f"{{ {fields} }}", key=key)
        assert set(data.values()) == {None}


@pytest.mark.usefixtures("database")
async def test_each_account_fetches_its_own_objects_and_nobody_else_does(
    api: Api, worker: Worker
) -> None:
    requester = await new_requester()
    owner = await requester.member_key(MemberRole.OWNER)
    viewer = await requester.member_key(MemberRole.VIEWER)
    stranger = await (await new_requester()).member_key(MemberRole.OWNER)
    batch = await models.Batch.create(account_id=requester.account_id, name="Batch")
    task = await new_task(requester, batch_id=batch.id)
    endpoint = await outbox.endpoint_for(requester.account_id, "https://partner.example/hooks")
    skill = await models.Skill.create(account_id=requester.account_id, name="Care")
    doer = await new_worker()
    started = await submissions.start_submission(doer.principal, task.id)
    await submissions.submit_submission(doer.principal, started.id, answer())
    objects = {
        "Account": requester.account_id,
        "Project": requester.project_id,
        "Batch": batch.id,
        "Task": task.id,
        "Skill": skill.id,
        "Submission": started.id,
        "Worker": doer.id,
        "WebhookEndpoint": endpoint.id,
    }
    for type_name, pk in objects.items():
        id_ = global_id(type_name, pk)
        mine = await api.data(NODE, {"id": id_}, key=owner)
        assert mine["node"] == {"__typename": type_name, "id": id_}
        assert (await api.data(NODE, {"id": id_}, key=stranger))["node"] is None, type_name
        assert (await api.data(NODE, {"id": id_}, key=worker.key))["node"] is None, type_name

    # The signing secret is for those who manage the account, as in webhookEndpoints.
    endpoint_id = global_id("WebhookEndpoint", endpoint.id)
    assert (await api.data(NODE, {"id": endpoint_id}, key=viewer))["node"] is None
    assert (await api.data(NODE, {"id": global_id("Batch", batch.id)}, key=viewer))["node"]

    # A worker sees itself and its own submission, as its worker view, and nothing else.
    own = await api.data(
        "query ($s: ID!, $w: ID!, $t: ID!) { s: node(id: $s) { __typename } "
        "w: node(id: $w) { __typename } t: node(id: $t) { __typename } }",
        {
            "s": global_id("Submission", started.id),
            "w": global_id("Worker", doer.id),
            "t": global_id("Task", task.id),
        },
        key=doer.key,
    )
    assert own == {"s": {"__typename": "MySubmission"}, "w": {"__typename": "Worker"}, "t": None}
