"""Batches and the template list through GraphQL: a manager makes and renames batches, a
draft task joins or changes batch, every member reads the batches with their counts (in a
fixed number of queries), and templates are listed and deleted without touching tasks."""

from __future__ import annotations

import logging
from typing import Any

from gql_server.models import Task
from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.services import tasks
from gql_server.services.global_ids import pk_of
from gql_server.services.submissions import start_submission, submit_submission
from tests.factories import Requester, answer, new_task, new_worker
from tests.graphql_client import Api

CREATE = """
mutation ($name: String!) {
  createBatch(input: {name: $name}) { batch { id name } userErrors { code field } }
}
"""
RENAME = """
mutation ($id: ID!, $name: String!) {
  updateBatch(input: {batchId: $id, name: $name}) { batch { id name } userErrors { code } }
}
"""
MOVE = """
mutation ($task: ID!, $batch: ID) {
  updateTask(input: {taskId: $task, changes: {batchId: $batch}}) {
    task { batch { name } } userErrors { code field }
  }
}
"""
BATCHES = "{ batches { edges { node { name taskCount submissionCount } } } }"
TEMPLATES = "{ templates { totalCount edges { node { id name } } } }"
DELETE = """
mutation ($id: ID!) {
  deleteTemplate(input: {templateId: $id}) { deletedTemplateId userErrors { code } }
}
"""


async def _batch(api: Api, key: str, name: str) -> dict[str, Any]:
    return (await api.data(CREATE, {"name": name}, key=key))["createBatch"]


async def test_batches_are_made_renamed_and_listed_with_their_counts(
    api: Api, requester: Requester
) -> None:
    made = await _batch(api, requester.key, " March wave ")
    assert made["userErrors"] == [] and made["batch"]["name"] == "March wave"
    duplicate = await _batch(api, requester.key, "March wave")
    assert [(e["code"], e["field"]) for e in duplicate["userErrors"]] == [
        ("DUPLICATE", ["input", "name"])
    ]
    empty = await _batch(api, requester.key, "  ")
    assert [e["code"] for e in empty["userErrors"]] == ["VALIDATION"]
    renamed = (
        await api.data(RENAME, {"id": made["batch"]["id"], "name": "April"}, key=requester.key)
    )["updateBatch"]
    assert renamed["batch"]["name"] == "April"

    # A draft joins the batch; once published its batch stays.
    draft = await new_task(requester, publish=False)
    moved = (
        await api.data(
            MOVE,
            {"task": to_global_id("Task", draft.id), "batch": made["batch"]["id"]},
            key=requester.key,
        )
    )["updateTask"]
    assert moved == {"task": {"batch": {"name": "April"}}, "userErrors": []}
    await _batch(api, requester.key, "Other")
    open_task = await new_task(requester, batch_id=pk_of(made["batch"]["id"], "Batch"))
    worker = await new_worker()
    started = await start_submission(worker.principal, open_task.id)
    await submit_submission(worker.principal, started.id, answer())

    listed = (await api.data(BATCHES, key=requester.key))["batches"]["edges"]
    assert [edge["node"] for edge in listed] == [
        {"name": "Other", "taskCount": 0, "submissionCount": 0},
        {"name": "April", "taskCount": 2, "submissionCount": 1},
    ]


async def test_a_batch_page_costs_the_same_queries_whatever_its_size(
    api: Api, requester: Requester
) -> None:
    class Count(logging.Handler):
        statements = 0

        def emit(self, record: logging.LogRecord) -> None:
            Count.statements += 1

    log = logging.getLogger("tortoise.db_client")

    async def statements() -> int:
        Count.statements = 0
        handler = Count()
        log.setLevel(logging.DEBUG)
        log.addHandler(handler)
        try:
            await api.data(BATCHES, key=requester.key)
        finally:
            log.removeHandler(handler)
            log.setLevel(logging.NOTSET)
        return Count.statements

    await _batch(api, requester.key, "one")
    few = await statements()
    for index in range(5):
        await _batch(api, requester.key, f"more {index}")
    assert await statements() == few


async def test_only_managers_make_batches_and_another_accounts_batch_is_not_found(
    api: Api, requester: Requester, other_account: Requester
) -> None:
    viewer = await requester.member(MemberRole.VIEWER)
    body = await api.post(CREATE, {"name": "x"}, key=viewer.key)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    theirs = await _batch(api, other_account.key, "Theirs")
    renamed = (
        await api.data(RENAME, {"id": theirs["batch"]["id"], "name": "Mine"}, key=requester.key)
    )["updateBatch"]
    assert [e["code"] for e in renamed["userErrors"]] == ["NOT_FOUND"]
    assert (await api.data(BATCHES, key=viewer.key))["batches"]["edges"] == []


async def test_templates_are_listed_and_deleting_one_keeps_its_tasks(
    api: Api, requester: Requester
) -> None:
    task = await new_task(requester)
    template = await tasks.save_as_template(requester.principal, task.id, "Weekly survey")
    made = await tasks.create_from_template(requester.principal, template.id, task.project_id, {})
    listed = (await api.data(TEMPLATES, key=requester.key))["templates"]
    assert [edge["node"]["name"] for edge in listed["edges"]] == ["Weekly survey"]
    template_id = listed["edges"][0]["node"]["id"]
    deleted = (await api.data(DELETE, {"id": template_id}, key=requester.key))["deleteTemplate"]
    assert deleted == {"deletedTemplateId": template_id, "userErrors": []}
    assert (await api.data(TEMPLATES, key=requester.key))["templates"]["totalCount"] == 0
    kept = await Task.get(id=made.id)
    assert kept.template_id is None
    again = (await api.data(DELETE, {"id": template_id}, key=requester.key))["deleteTemplate"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]
