"""The README's example session, end to end through GraphQL: fund, publish, start, submit,
approve, and the figures after each step."""

from __future__ import annotations

from tests.conftest import AccountFixture, Api
from tests.tasks.test_create_task import CREATE_PROJECT, _valid

FIGURES = "figures { budget { amount } committed { amount } spent { amount } remaining { amount } }"


def _figures(task: dict) -> tuple[str, str, str, str]:
    f = task["figures"]
    return (
        f["budget"]["amount"],
        f["committed"]["amount"],
        f["spent"]["amount"],
        f["remaining"]["amount"],
    )


async def _create_open_task(api: Api, owner: str, **changes: object) -> str:
    project = (await api.data(CREATE_PROJECT, {"name": "Session"}, key=owner))["createProject"][
        "project"
    ]["id"]
    fund = await api.data(
        'mutation { fundAccount(input: {amount: "100.00", idempotencyKey: "fund-1"}) { account { balance { amount } } userErrors { code } } }',
        key=owner,
    )
    assert fund["fundAccount"]["userErrors"] == []
    created = await api.data(
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { field code } } }",
        {"input": _valid(project, **{"targeting": {}, **changes})},
        key=owner,
    )
    task_id = created["createTask"]["task"]["id"]
    published = await api.data(
        f"mutation ($id: ID!) {{ publishTask(input: {{taskId: $id}}) {{ task {{ status {FIGURES} }} userErrors {{ code }} }} }}",
        {"id": task_id},
        key=owner,
    )
    assert published["publishTask"]["task"]["status"] == "OPEN"
    return task_id


async def test_example_session(api: Api, account: AccountFixture, worker_key: str) -> None:
    owner = account.owner_key
    task_id = await _create_open_task(api, owner)
    task_query = f"query ($id: ID!) {{ task(id: $id) {{ status {FIGURES} }} account {{ balance {{ amount }} }} }}"
    state = await api.data(task_query, {"id": task_id}, key=owner)
    assert _figures(state["task"]) == ("30.00", "0.00", "0.00", "30.00")
    assert state["account"]["balance"]["amount"] == "70.00"

    listing = await api.data(
        "{ availableTasks(first: 50) { edges { node { id title reward { amount } } } } }",
        key=worker_key,
    )
    assert task_id in [edge["node"]["id"] for edge in listing["availableTasks"]["edges"]]

    started = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id state task { title } } userErrors { code message } } }",
        {"id": task_id},
        key=worker_key,
    )
    submission = started["startSubmission"]["submission"]
    assert submission["state"] == "STARTED"
    state = await api.data(task_query, {"id": task_id}, key=owner)
    assert _figures(state["task"]) == ("30.00", "1.50", "0.00", "28.50")

    submitted = await api.data(
        'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://img.example/1.png"}]}) { submission { state response { name value } } userErrors { field code } } }',
        {"id": submission["id"]},
        key=worker_key,
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
    assert _figures(state["task"]) == ("30.00", "0.00", "1.50", "28.50")

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
    assert _figures(closed["closeTask"]["task"]) == ("1.50", "0.00", "1.50", "0.00")
    balance = await api.data("{ account { balance { amount } } }", key=owner)
    assert balance["account"]["balance"]["amount"] == "98.50"


async def test_a_worker_never_sees_another_workers_submission(
    api: Api, account: AccountFixture, worker_key: str
) -> None:
    from gql_server.services.accounts import register_worker

    other = (await register_worker(name="Other", country="DE")).api_key
    task_id = await _create_open_task(api, account.owner_key, maxSubmissionsPerWorker=1)
    started = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
        {"id": task_id},
        key=worker_key,
    )
    submission_id = started["startSubmission"]["submission"]["id"]
    seen = await api.data(
        "query ($id: ID!) { node(id: $id) { id } mySubmissions { totalCount } }",
        {"id": submission_id},
        key=other,
    )
    assert seen == {"node": None, "mySubmissions": {"totalCount": 0}}
    stolen = await api.data(
        'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://x.example/a.png"}]}) { userErrors { code } } }',
        {"id": submission_id},
        key=other,
    )
    assert stolen["submitSubmission"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_bulk_review_reports_per_item(
    api: Api, account: AccountFixture, worker_key: str
) -> None:
    from gql_server.services.accounts import register_worker

    task_id = await _create_open_task(api, account.owner_key)
    ids = []
    for _ in range(3):
        key = (await register_worker(name="W", country="US")).api_key
        started = await api.data(
            "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
            {"id": task_id},
            key=key,
        )
        sid = started["startSubmission"]["submission"]["id"]
        if len(ids) < 2:
            await api.data(
                'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://x.example/a.png"}]}) { userErrors { code } } }',
                {"id": sid},
                key=key,
            )
        ids.append(sid)
    result = await api.data(
        "mutation ($ids: [ID!]!) { bulkReviewSubmissions(input: {submissionIds: $ids, decision: APPROVE}) { results { id ok userErrors { code field } } userErrors { code } } }",
        {"ids": [ids[0], ids[2], "garbage", ids[1], ids[0]]},
        key=account.owner_key,
    )
    results = result["bulkReviewSubmissions"]["results"]
    assert [r["ok"] for r in results] == [True, False, False, True, False]
    assert [r["userErrors"][0]["code"] if r["userErrors"] else None for r in results] == [
        None,
        "INVALID_STATE",
        "NOT_FOUND",
        None,
        "DUPLICATE",
    ]
    assert [r["id"] for r in results] == [ids[0], ids[2], "garbage", ids[1], ids[0]]
