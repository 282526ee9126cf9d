"""Restrictions through GraphQL: imposing and lifting by hand, validated; workers never see
restrictions or their reasons, members see them with theirs."""

from __future__ import annotations

from typing import Any

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from tests.factories import (
    Requester,
    api_open_task,
    api_start_codes,
    api_visible_tasks,
    new_worker,
    task_input,
)
from tests.graphql_client import Api

START = (
    "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) "
    "{ submission { id } userErrors { code message } } }"
)


async def test_a_ban_by_hand_keeps_the_worker_out_without_showing_the_reason(
    api: Api, account: Requester, other_account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker = await new_worker("US")
    worker_id, worker_key = worker.global_id, worker.key
    assert task_id in await api_visible_tasks(api, worker_key)

    ban = {"workerId": worker_id, "kind": "BAN", "scope": "ACCOUNT", "days": 15}
    created = await api.data(
        RESTRICT, {"input": {**ban, "reason": "Copied answers from the web"}}, key=owner
    )
    payload = created["restrictWorker"]
    assert payload["userErrors"] == [] and payload["created"] is True
    restriction = payload["restriction"]
    assert restriction["kind"] == "BAN" and restriction["active"] is True
    assert restriction["reason"] == "Copied answers from the web"
    assert restriction["actorKind"] == "MEMBER" and restriction["createdBy"] is not None
    assert restriction["endsAt"] is not None

    # The same ban again changes nothing: the one in effect is returned.
    again = await api.data(RESTRICT, {"input": {**ban, "reason": "again"}}, key=owner)
    assert again["restrictWorker"]["created"] is False
    assert again["restrictWorker"]["restriction"]["id"] == restriction["id"]

    assert task_id not in await api_visible_tasks(api, worker_key)
    refused = await api.post(START, {"id": task_id}, key=worker_key)
    errors = refused["data"]["startSubmission"]["userErrors"]
    assert [e["code"] for e in errors] == ["RESTRICTED"]
    assert "Copied" not in str(refused)

    # Workers never see restrictions; members see them with their reason.
    worker_view = await api.post(RESTRICTIONS, key=worker_key)
    assert worker_view["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": restriction["id"]}, key=worker_key
    )
    assert node == {"node": None}
    listed = await api.data(
        RESTRICTIONS, {"filter": {"workerId": worker_id, "activeOnly": True}}, key=owner
    )
    assert listed["restrictions"]["totalCount"] == 1
    assert listed["restrictions"]["edges"][0]["node"]["reason"] == "Copied answers from the web"
    foreign = await api.data(RESTRICTIONS, key=other_account.key)
    assert foreign["restrictions"]["totalCount"] == 0

    # Another account cannot lift it; the owner can, and the worker is back.
    elsewhere = await api.data(LIFT, {"id": restriction["id"]}, key=other_account.key)
    assert elsewhere["liftRestriction"]["userErrors"][0]["code"] == "NOT_FOUND"
    lifted = await api.data(LIFT, {"id": restriction["id"]}, key=owner)
    assert lifted["liftRestriction"]["restriction"]["active"] is False
    assert lifted["liftRestriction"]["restriction"]["liftedBy"] is not None
    twice = await api.data(LIFT, {"id": restriction["id"]}, key=owner)
    assert twice["liftRestriction"]["userErrors"][0]["code"] == "INVALID_STATE"
    assert task_id in await api_visible_tasks(api, worker_key)
    assert await api_start_codes(api, worker_key, task_id) == []


async def test_a_suspension_in_a_task_by_hand(api: Api, account: Requester) -> None:
    owner = account.key
    suspended_in = await api_open_task(api, owner)
    free = await _another_task(api, owner, suspended_in)
    worker = await new_worker("US")
    worker_id, worker_key = worker.global_id, worker.key
    created = await api.data(
        RESTRICT,
        {
            "input": {
                "workerId": worker_id,
                "kind": "SUSPENSION",
                "scope": "TASK",
                "taskId": suspended_in,
                "days": 1,
            }
        },
        key=owner,
    )
    restriction = created["restrictWorker"]["restriction"]
    assert restriction["task"] == {"id": suspended_in} and restriction["scope"] == "TASK"
    visible = await api_visible_tasks(api, worker_key)
    assert suspended_in not in visible and free in visible
    assert await api_start_codes(api, worker_key, suspended_in) == ["RESTRICTED"]
    assert await api_start_codes(api, worker_key, free) == []
    by_task = await api.data(RESTRICTIONS, {"filter": {"taskId": free}}, key=owner)
    assert by_task["restrictions"]["totalCount"] == 0


async def test_restricting_by_hand_is_validated(api: Api, account: Requester) -> None:
    owner = account.key
    worker_id = (await new_worker("US")).global_id
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"kind": "SUSPENSION", "scope": "ACCOUNT"}, "VALIDATION", ["input", "scope"]),
        ({"kind": "BAN", "scope": "TASK"}, "VALIDATION", ["input", "scope"]),
        ({"kind": "SUSPENSION", "scope": "TASK"}, "VALIDATION", ["input", "taskId"]),
        ({"kind": "BAN", "scope": "PROJECT"}, "VALIDATION", ["input", "projectId"]),
        (
            {"kind": "BAN", "scope": "PROJECT", "projectId": to_global_id("Project", 10**9)},
            "NOT_FOUND",
            ["input", "projectId"],
        ),
        ({"kind": "BAN", "scope": "ACCOUNT", "days": 0}, "VALIDATION", ["input", "days"]),
        (
            {"kind": "BAN", "scope": "ACCOUNT", "workerId": to_global_id("Worker", 10**9)},
            "NOT_FOUND",
            ["input", "workerId"],
        ),
    ]
    for given, code, field in cases:
        result = await api.data(RESTRICT, {"input": {"workerId": worker_id, **given}}, key=owner)
        errors = result["restrictWorker"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], given
        assert result["restrictWorker"]["restriction"] is None
    listed = await api.data(RESTRICTIONS, {"filter": {"workerId": worker_id}}, key=owner)
    assert listed["restrictions"]["totalCount"] == 0
    manager = await account.member_key(MemberRole.AUDITOR)
    refused = await api.post(
        RESTRICT,
        {"input": {"workerId": worker_id, "kind": "BAN", "scope": "ACCOUNT"}},
        key=manager,
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RESTRICT = (
    "mutation ($input: RestrictWorkerInput!) { restrictWorker(input: $input) { created "
    "restriction { id kind scope reason active endsAt actorKind createdBy { id } "
    "task { id } project { id } worker { id } } userErrors { field code message } } }"
)


LIFT = (
    "mutation ($id: ID!) { liftRestriction(input: {restrictionId: $id}) "
    "{ restriction { id active liftedAt liftedBy { id } } userErrors { field code message } } }"
)


RESTRICTIONS = (
    "query ($filter: RestrictionFilter) { restrictions(filter: $filter, first: 50) "
    "{ totalCount edges { node { id kind scope reason active worker { id } } } } }"
)


async def _another_task(api: Api, key: str, task_id: str) -> str:
    """A second open task in the project of `task_id`."""
    found = await api.data(
        "query ($id: ID!) { task(id: $id) { project { id } } }", {"id": task_id}, key=key
    )
    created = await api.data(
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }",
        {"input": task_input(found["task"]["project"]["id"], targeting={})},
        key=key,
    )
    new_id = created["createTask"]["task"]["id"]
    published = await api.data(
        "mutation ($id: ID!) { publishTask(input: {taskId: $id}) { task { status } } }",
        {"id": new_id},
        key=key,
    )
    assert published["publishTask"]["task"]["status"] == "OPEN"
    return new_id
