"""Workers rate a task once, after their work was reviewed, within the scale."""

from __future__ import annotations

from tests.factories import Requester, api_open_task, new_worker
from tests.graphql_client import Api


async def test_rating_a_task_once_after_review(api: Api, account: Requester) -> None:
    worker = (await new_worker("US")).key
    task_id = await api_open_task(api, account.key)
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
        key=account.key,
    )

    out_of_range = await api.data(rate, {"id": task_id, "c": 6}, key=worker)
    assert out_of_range["rateTask"]["userErrors"] == [
        {"field": ["input", "clarity"], "code": "VALIDATION"}
    ]
    rated = await api.data(rate, {"id": task_id, "c": 5}, key=worker)
    assert rated["rateTask"] == {"rating": {"clarity": 5, "fairness": 4}, "userErrors": []}
    twice = await api.data(rate, {"id": task_id, "c": 3}, key=worker)
    assert twice["rateTask"]["userErrors"] == [{"field": None, "code": "DUPLICATE"}]
