"""Submitting work: in time, meeting the proof requirements, and only one's own submission."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_server.models import Task
from gql_server.services.errors import ErrorCode
from gql_server.services.review import approve_submission, reject_submission
from gql_server.services.submissions import dispute_rejection, start_submission, submit_submission
from tests.factories import (
    FUNDED,
    Requester,
    Worker,
    answer,
    api_open_task,
    expect_unchanged,
    frozen_clock,
    new_requester,
    new_started,
    new_task,
    new_worker,
)
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")


async def test_submitting_after_the_time_limit_before_the_sweep_is_refused() -> None:
    with frozen_clock() as frozen:
        requester = await new_requester(fund_minor=FUNDED)
        task = await new_task(requester, time_limit_seconds=60)
        worker = await new_worker()
        submission = await start_submission(worker.principal, task.id)
        frozen.advance(timedelta(seconds=61))
        await expect_unchanged(
            requester.account_id,
            ErrorCode.INVALID_STATE,
            submit_submission(worker.principal, submission.id, answer()),
        )


async def test_a_response_must_meet_the_proof_requirements(
    requester: Requester, task: Task, worker: Worker
) -> None:
    started = await new_started(task, worker)
    for response in ({}, {"answer": "  "}, {"answer": "x", "extra": "y"}):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            submit_submission(worker.principal, started.id, response),
        )


async def test_someone_elses_submission_is_not_found(requester: Requester) -> None:
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    owner, intruder = await new_worker(), await new_worker()
    started = await new_started(task, owner)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        submit_submission(intruder.principal, started.id, answer()),
    )
    await submit_submission(owner.principal, started.id, answer())
    # Another account's member cannot review it either.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        approve_submission(other_requester.principal, started.id),
    )
    await reject_submission(requester.principal, started.id, "No.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        dispute_rejection(intruder.principal, started.id, "Mine now."),
    )
    for unknown in (None, 0, started.id + 10_000_000):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.NOT_FOUND,
            submit_submission(owner.principal, unknown, answer()),
        )


# --- through the API --------------------------------------------------------------------


async def test_a_worker_never_sees_another_workers_submission(
    api: Api, account: Requester, worker: Worker
) -> None:
    other = (await new_worker("DE")).key
    task_id = await api_open_task(api, account.key, maxSubmissionsPerWorker=1)
    started = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
        {"id": task_id},
        key=worker.key,
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
