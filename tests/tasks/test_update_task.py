"""Draft edits, templates, duplication, budget changes and ratings, through GraphQL."""

from __future__ import annotations

from gql_server.services.accounts import register_worker
from tests.conftest import AccountFixture, Api
from tests.platform.test_api_session import FIGURES, _create_open_task, _figures
from tests.tasks.test_create_task import CREATE_PROJECT, CREATE_TASK, _valid

TASK = "task { id title status reward { amount } requestedBudget { amount } timeLimitSeconds targeting { countriesAllowed } }"


async def _draft(api: Api, owner: str) -> tuple[str, str]:
    project = (await api.data(CREATE_PROJECT, {"name": "Admin"}, key=owner))["createProject"][
        "project"
    ]["id"]
    task = (await api.data(CREATE_TASK, {"input": _valid(project)}, key=owner))["createTask"][
        "task"
    ]["id"]
    return project, task


async def test_update_a_draft_keeps_omitted_fields_and_refuses_bad_ones(
    api: Api, account: AccountFixture
) -> None:
    _, task_id = await _draft(api, account.owner_key)
    update = f"mutation ($id: ID!, $c: TaskChangesInput!) {{ updateTask(input: {{taskId: $id, changes: $c}}) {{ {TASK} userErrors {{ field code }} }} }}"
    changed = await api.data(
        update,
        {"id": task_id, "c": {"title": "Rate it well", "reward": "2.00"}},
        key=account.owner_key,
    )
    task = changed["updateTask"]["task"]
    assert (task["title"], task["reward"], task["timeLimitSeconds"]) == (
        "Rate it well",
        {"amount": "2.00"},
        1800,
    )
    assert task["targeting"]["countriesAllowed"] == ["DE", "US"]

    bad = await api.data(update, {"id": task_id, "c": {"reward": "2.5"}}, key=account.owner_key)
    assert bad["updateTask"] == {
        "task": None,
        "userErrors": [{"field": ["input", "reward"], "code": "VALIDATION"}],
    }
    read = await api.data(
        "query ($id: ID!) { task(id: $id) { reward { amount } } }",
        {"id": task_id},
        key=account.owner_key,
    )
    assert read["task"]["reward"] == {"amount": "2.00"}


async def test_a_published_task_cannot_be_edited(api: Api, account: AccountFixture) -> None:
    task_id = await _create_open_task(api, account.owner_key)
    result = await api.data(
        'mutation ($id: ID!) { updateTask(input: {taskId: $id, changes: {title: "New"}}) { task { id } userErrors { code } } }',
        {"id": task_id},
        key=account.owner_key,
    )
    assert result["updateTask"] == {"task": None, "userErrors": [{"code": "INVALID_STATE"}]}


async def test_templates_and_duplicates_copy_the_configuration(
    api: Api, account: AccountFixture
) -> None:
    project, task_id = await _draft(api, account.owner_key)
    saved = await api.data(
        'mutation ($id: ID!) { saveTaskAsTemplate(input: {taskId: $id, name: "Rating"}) { template { id name } userErrors { code } } }',
        {"id": task_id},
        key=account.owner_key,
    )
    template_id = saved["saveTaskAsTemplate"]["template"]["id"]
    again = await api.data(
        'mutation ($id: ID!) { saveTaskAsTemplate(input: {taskId: $id, name: "Rating"}) { template { id } userErrors { code } } }',
        {"id": task_id},
        key=account.owner_key,
    )
    assert again["saveTaskAsTemplate"]["userErrors"] == [{"code": "DUPLICATE"}]

    from_template = await api.data(
        f'mutation ($t: ID!, $p: ID!) {{ createTaskFromTemplate(input: {{templateId: $t, projectId: $p, changes: {{title: "From template"}}}}) {{ {TASK} userErrors {{ code }} }} }}',
        {"t": template_id, "p": project},
        key=account.owner_key,
    )
    task = from_template["createTaskFromTemplate"]["task"]
    assert (task["title"], task["status"], task["reward"], task["requestedBudget"]) == (
        "From template",
        "DRAFT",
        {"amount": "1.50"},
        {"amount": "30.00"},
    )
    assert task["targeting"]["countriesAllowed"] == ["DE", "US"]

    duplicate = await api.data(
        f'mutation ($id: ID!) {{ duplicateTask(input: {{taskId: $id, changes: {{reward: "3.00", budget: "60.00"}}}}) {{ {TASK} userErrors {{ code }} }} }}',
        {"id": task_id},
        key=account.owner_key,
    )
    copy = duplicate["duplicateTask"]["task"]
    assert copy["id"] != task_id
    assert (copy["title"], copy["reward"], copy["requestedBudget"]) == (
        "Rate the app",
        {"amount": "3.00"},
        {"amount": "60.00"},
    )


async def test_raising_and_lowering_a_live_budget(
    api: Api, account: AccountFixture, worker_key: str
) -> None:
    owner = account.owner_key
    task_id = await _create_open_task(api, owner)
    await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
        {"id": task_id},
        key=worker_key,
    )
    change = f"mutation ($id: ID!, $b: Decimal!) {{ changeTaskBudget(input: {{taskId: $id, budget: $b}}) {{ task {{ status {FIGURES} }} userErrors {{ field code }} }} }}"

    raised = await api.data(change, {"id": task_id, "b": "50.00"}, key=owner)
    assert _figures(raised["changeTaskBudget"]["task"]) == ("50.00", "1.50", "0.00", "48.50")
    lowered = await api.data(change, {"id": task_id, "b": "10.00"}, key=owner)
    assert _figures(lowered["changeTaskBudget"]["task"]) == ("10.00", "1.50", "0.00", "8.50")
    below = await api.data(change, {"id": task_id, "b": "1.00"}, key=owner)
    assert below["changeTaskBudget"] == {
        "task": None,
        "userErrors": [{"field": ["input", "budget"], "code": "INSUFFICIENT_FUNDS"}],
    }
    balance = await api.data("{ account { balance { amount } } }", key=owner)
    assert balance["account"]["balance"]["amount"] == "90.00"


async def test_rating_a_task_once_after_review(api: Api, account: AccountFixture) -> None:
    worker = (await register_worker(name="Rater", country="US")).api_key
    task_id = await _create_open_task(api, account.owner_key)
    rate = "mutation ($id: ID!, $c: Int!) { rateTask(input: {taskId: $id, clarity: $c, fairness: 4}) { rating { clarity fairness } userErrors { field code } } }"
    early = await api.data(rate, {"id": task_id, "c": 5}, key=worker)
    assert early["rateTask"]["userErrors"] == [{"field": None, "code": "INVALID_STATE"}]

    started = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
        {"id": task_id},
        key=worker,
    )
    sid = started["startSubmission"]["submission"]["id"]
    await api.data(
        'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://x.example/a.png"}]}) { userErrors { code } } }',
        {"id": sid},
        key=worker,
    )
    await api.data(
        "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) { userErrors { code } } }",
        {"id": sid},
        key=account.owner_key,
    )

    out_of_range = await api.data(rate, {"id": task_id, "c": 6}, key=worker)
    assert out_of_range["rateTask"]["userErrors"] == [
        {"field": ["input", "clarity"], "code": "VALIDATION"}
    ]
    rated = await api.data(rate, {"id": task_id, "c": 5}, key=worker)
    assert rated["rateTask"] == {"rating": {"clarity": 5, "fairness": 4}, "userErrors": []}
    twice = await api.data(rate, {"id": task_id, "c": 3}, key=worker)
    assert twice["rateTask"]["userErrors"] == [{"field": None, "code": "DUPLICATE"}]
