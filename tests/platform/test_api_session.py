"""The README's example session, end to end through GraphQL: fund, publish, start, submit,
approve, and the figures after each step."""

from __future__ import annotations

from tests.factories import FIGURES, Requester, Worker, api_open_task, figures_of
from tests.graphql_client import Api


async def test_example_session(api: Api, account: Requester, worker: Worker) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    task_query = f"query ($id: ID!) {{ task(id: $id) {{ status {FIGURES} }} account {{ balance {{ amount }} }} }}"
    state = await api.data(task_query, {"id": task_id}, key=owner)
    assert figures_of(state["task"]) == ("30.00", "0.00", "0.00", "30.00")
    assert state["account"]["balance"]["amount"] == "70.00"

    listing = await api.data(
        "{ availableTasks(first: 50) { edges { node { id title reward { amount } } } } }",
        key=worker.key,
    )
    assert task_id in [edge["node"]["id"] for edge in listing["availableTasks"]["edges"]]

    started = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id state task { title } } userErrors { code message } } }",
        {"id": task_id},
        key=worker.key,
    )
    submission = started["startSubmission"]["submission"]
    assert submission["state"] == "STARTED"
    state = await api.data(task_query, {"id": task_id}, key=owner)
    assert figures_of(state["task"]) == ("30.00", "1.50", "0.00", "28.50")

    submitted = await api.data(
        'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://img.example/1.png"}]}) { submission { state response { name value } } userErrors { field code } } }',
        {"id": submission["id"]},
        key=worker.key,
    )
    assert submitted["submitSubmission"]["submission"]["state"] == "SUBMITTED"

    queue = await api.data(
        "query ($t: ID!) { reviewQueue(filter: {taskId: $t}) { totalCount edges { node { id worker { country } task { title } } } } }",
        {"t": task_id},
        key=owner,
    )
    assert queue["reviewQueue"]["totalCount"] == 1
    assert queue["reviewQueue"]["edges"][0]["node"]["worker"] == {"country": "DE"}

    approve = 'mutation ($id: ID!) { approveSubmission(input: {submissionId: $id, idempotencyKey: "approve-1"}) { submission { state paid { amount } } userErrors { code } } }'
    approved = await api.data(approve, {"id": submission["id"]}, key=owner)
    assert approved["approveSubmission"]["submission"] == {
        "state": "APPROVED",
        "paid": {"amount": "1.50"},
    }
    # A retry with the same key returns the first result and pays nothing more.
    again = await api.data(approve, {"id": submission["id"]}, key=owner)
    assert again["approveSubmission"] == approved["approveSubmission"]
    state = await api.data(task_query, {"id": task_id}, key=owner)
    assert figures_of(state["task"]) == ("30.00", "0.00", "1.50", "28.50")

    # Approving twice without a key is an INVALID_STATE error that changes nothing.
    twice = await api.data(
        "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) { submission { id } userErrors { code } } }",
        {"id": submission["id"]},
        key=owner,
    )
    assert twice["approveSubmission"] == {
        "submission": None,
        "userErrors": [{"code": "INVALID_STATE"}],
    }

    closed = await api.data(
        f"mutation ($id: ID!) {{ closeTask(input: {{taskId: $id}}) {{ task {{ status closeReason {FIGURES} }} }} }}",
        {"id": task_id},
        key=owner,
    )
    assert closed["closeTask"]["task"]["closeReason"] == "MANUAL"
    assert figures_of(closed["closeTask"]["task"]) == ("1.50", "0.00", "1.50", "0.00")
    balance = await api.data("{ account { balance { amount } } }", key=owner)
    assert balance["account"]["balance"]["amount"] == "98.50"
