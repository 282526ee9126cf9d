"""Templates and duplicates through GraphQL: both copy the configuration, with changes."""

from __future__ import annotations

from tests.factories import Requester, api_draft
from tests.graphql_client import Api

TASK = "task { id title status reward { amount } requestedBudget { amount } timeLimitSeconds targeting { countriesAllowed } }"


async def test_templates_and_duplicates_copy_the_configuration(
    api: Api, account: Requester
) -> None:
    project, task_id = await api_draft(api, account.key)
    saved = await api.data(
        'mutation ($id: ID!) { saveTaskAsTemplate(input: {taskId: $id, name: "Rating"}) { template { id name } userErrors { code } } }',
        {"id": task_id},
        key=account.key,
    )
    template_id = saved["saveTaskAsTemplate"]["template"]["id"]
    again = await api.data(
        'mutation ($id: ID!) { saveTaskAsTemplate(input: {taskId: $id, name: "Rating"}) { template { id } userErrors { code } } }',
        {"id": task_id},
        key=account.key,
    )
    assert again["saveTaskAsTemplate"]["userErrors"] == [{"code": "DUPLICATE"}]

    from_template = await api.data(
        f'mutation ($t: ID!, $p: ID!) {{ createTaskFromTemplate(input: {{templateId: $t, projectId: $p, changes: {{title: "From template"}}}}) {{ {TASK} userErrors {{ code }} }} }}',
        {"t": template_id, "p": project},
        key=account.key,
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
        key=account.key,
    )
    copy = duplicate["duplicateTask"]["task"]
    assert copy["id"] != task_id
    assert (copy["title"], copy["reward"], copy["requestedBudget"]) == (
        "Rate the app",
        {"amount": "3.00"},
        {"amount": "60.00"},
    )
