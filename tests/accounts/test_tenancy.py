"""Another account's objects behave exactly like objects that do not exist."""

from __future__ import annotations

from tests.factories import Requester, Worker, api_draft
from tests.graphql_client import Api


async def _task_of(api: Api, owner: Requester) -> str:
    _, task_id = await api_draft(api, owner.key, "P")
    return task_id


async def test_a_foreign_task_is_invisible_by_id_and_in_lists(
    api: Api, account: Requester, other_account: Requester
) -> None:
    task_id = await _task_of(api, account)
    query = """query ($id: ID!) {
      task(id: $id) { id }
      node(id: $id) { id }
      tasks { totalCount edges { node { id } } }
    }"""
    mine = await api.data(query, {"id": task_id}, key=account.key)
    assert mine["task"] == {"id": task_id} and mine["node"] == {"id": task_id}
    assert mine["tasks"]["totalCount"] == 1

    theirs = await api.data(query, {"id": task_id}, key=other_account.key)
    assert theirs == {"task": None, "node": None, "tasks": {"totalCount": 0, "edges": []}}

    missing = await api.data(query, {"id": "VGFzazo5OTk5OTk5OTk="}, key=other_account.key)
    assert missing == theirs


async def test_ids_of_other_types_and_garbage_are_not_found(api: Api, account: Requester) -> None:
    task_id = await _task_of(api, account)
    project_id = (await api.data("{ projects { edges { node { id } } } }", key=account.key))[
        "projects"
    ]["edges"][0]["node"]["id"]
    data = await api.data(
        'query ($p: ID!) { asTask: task(id: $p) { id } garbage: task(id: "%%%") { id } node(id: $p) { __typename } }',
        {"p": project_id},
        key=account.key,
    )
    assert data == {"asTask": None, "garbage": None, "node": {"__typename": "Project"}}
    assert task_id != project_id


async def test_a_worker_sees_no_member_objects(
    api: Api, account: Requester, worker: Worker
) -> None:
    task_id = await _task_of(api, account)
    data = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": task_id}, key=worker.key
    )
    assert data == {"node": None}
