"""Editing a task through GraphQL: a draft keeps what a change omits and refuses bad fields;
a published task cannot be edited."""

from __future__ import annotations

from tests.factories import Requester, api_draft, api_open_task
from tests.graphql_client import Api

TASK = "task { id title status reward { amount } requestedBudget { amount } timeLimitSeconds targeting { countriesAllowed } }"


async def test_update_a_draft_keeps_omitted_fields_and_refuses_bad_ones(
    api: Api, account: Requester
) -> None:
    _, task_id = await api_draft(api, account.key)
    update = f"mutation ($id: ID!, $c: TaskChangesInput!) {{ updateTask(input: {{taskId: $id, changes: $c}}) {{ {TASK} userErrors {{ field code }} }} }}"
    changed = await api.data(
        update,
        {"id": task_id, "c": {"title": "Rate it well", "reward": "2.00"}},
        key=account.key,
    )
    task = changed["updateTask"]["task"]
    assert (task["title"], task["reward"], task["timeLimitSeconds"]) == (
        "Rate it well",
        {"amount": "2.00"},
        1800,
    )
    assert task["targeting"]["countriesAllowed"] == ["DE", "US"]

    bad = await api.data(update, {"id": task_id, "c": {"reward": "2.5"}}, key=account.key)
    assert bad["updateTask"] == {
        "task": None,
        "userErrors": [{"field": ["input", "reward"], "code": "VALIDATION"}],
    }
    read = await api.data(
        "query ($id: ID!) { task(id: $id) { reward { amount } } }",
        {"id": task_id},
        key=account.key,
    )
    assert read["task"]["reward"] == {"amount": "2.00"}


async def test_a_published_task_cannot_be_edited(api: Api, account: Requester) -> None:
    task_id = await api_open_task(api, account.key)
    result = await api.data(
        'mutation ($id: ID!) { updateTask(input: {taskId: $id, changes: {title: "New"}}) { task { id } userErrors { code } } }',
        {"id": task_id},
        key=account.key,
    )
    assert result["updateTask"] == {"task": None, "userErrors": [{"code": "INVALID_STATE"}]}
