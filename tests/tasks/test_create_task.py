"""createTask: every field validated, each bad field its own error, nothing stored on error."""

from __future__ import annotations

from typing import Any

import pytest

from gql_server.models import Task
from tests.factories import CREATE_TASK, Requester, api_project, task_input
from tests.graphql_client import Api


async def test_a_valid_task_is_stored_as_a_draft(api: Api, account: Requester) -> None:
    project_id = await api_project(api, account.key)
    data = await api.data(CREATE_TASK, {"input": task_input(project_id)}, key=account.key)
    payload = data["createTask"]
    assert payload["userErrors"] == []
    task = payload["task"]
    assert task["status"] == "DRAFT"
    assert task["reward"] == {"amount": "1.50", "currency": "USD"}
    assert task["requestedBudget"] == {"amount": "30.00"}
    # Nothing is allocated before publishing.
    assert task["figures"]["budget"] == {"amount": "0.00"}
    assert task["targeting"]["countriesAllowed"] == ["DE", "US"]
    assert task["maxSubmissionsPerWorker"] == 1
    assert task["project"] == {"name": "Main"}


BAD_FIELDS = [
    ({"title": "  "}, ["input", "title"]),
    ({"title": "x" * 201}, ["input", "title"]),
    ({"instructions": ""}, ["input", "instructions"]),
    ({"reward": "1.5"}, ["input", "reward"]),
    ({"reward": "-1.00"}, ["input", "reward"]),
    ({"reward": "abc"}, ["input", "reward"]),
    ({"reward": "0.00"}, ["input", "reward"]),
    ({"budget": "12.505"}, ["input", "budget"]),
    ({"budget": "1.00"}, ["input", "budget"]),
    ({"maxSubmissions": 0}, ["input", "maxSubmissions"]),
    ({"maxSubmissions": 2, "maxSubmissionsPerWorker": 3}, ["input", "maxSubmissionsPerWorker"]),
    ({"maxSubmissionsPerWorker": 0}, ["input", "maxSubmissionsPerWorker"]),
    ({"dailySubmissionLimit": 0}, ["input", "dailySubmissionLimit"]),
    ({"timeLimitSeconds": 5}, ["input", "timeLimitSeconds"]),
    ({"timeLimitSeconds": 8 * 24 * 3600}, ["input", "timeLimitSeconds"]),
    ({"autoApprovalDelaySeconds": 10}, ["input", "autoApprovalDelaySeconds"]),
    ({"expiresAt": "2000-01-01T00:00:00+00:00"}, ["input", "expiresAt"]),
    (
        {"startsAt": "2099-02-01T00:00:00+00:00", "expiresAt": "2099-01-01T00:00:00+00:00"},
        ["input", "startsAt"],
    ),
    ({"callbackUrl": "ftp://example.com/hook"}, ["input", "callbackUrl"]),
    ({"callbackUrl": "https://user:pw@example.com/hook"}, ["input", "callbackUrl"]),
    (
        {"proofRequirements": [{"name": "a", "kind": "TEXT"}, {"name": "a", "kind": "LINK"}]},
        ["input", "proofRequirements", "1", "name"],
    ),
    (
        {"proofRequirements": [{"name": " ", "kind": "TEXT"}]},
        ["input", "proofRequirements", "0", "name"],
    ),
    ({"targeting": {"countriesAllowed": ["USA"]}}, ["input", "targeting", "countriesAllowed", "0"]),
    (
        {"targeting": {"countriesAllowed": ["US"], "countriesDenied": ["us"]}},
        ["input", "targeting", "countriesDenied"],
    ),
    ({"targeting": {"minApprovalRate": 101}}, ["input", "targeting", "minApprovalRate"]),
    ({"targeting": {"minReviewedCount": -1}}, ["input", "targeting", "minReviewedCount"]),
    (
        {"targeting": {"invitedWorkerIds": ["V29ya2VyOjk5OTk5OTk="]}},
        ["input", "targeting", "invitedWorkerIds", "0"],
    ),
    (
        {
            "targeting": {
                "skillFilters": [{"skillId": "U2tpbGw6OTk5OTk5", "operator": "GTE", "value": 50}]
            }
        },
        ["input", "targeting", "skillFilters", "0", "skillId"],
    ),
    ({"batchId": "QmF0Y2g6OTk5OTk5"}, ["input", "batchId"]),
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
async def test_each_bad_field_gets_its_own_error_and_nothing_is_stored(
    api: Api, account: Requester, change: dict[str, Any], field: list[str]
) -> None:
    project_id = await api_project(api, account.key)
    before = await Task.filter(account_id=account.account_id).count()
    data = await api.data(CREATE_TASK, {"input": task_input(project_id, **change)}, key=account.key)
    payload = data["createTask"]
    assert payload["task"] is None
    assert [error["field"] for error in payload["userErrors"]] == [field]
    assert payload["userErrors"][0]["code"] in ("VALIDATION", "NOT_FOUND")
    assert payload["userErrors"][0]["message"]
    assert await Task.filter(account_id=account.account_id).count() == before


async def test_several_bad_fields_are_reported_together(api: Api, account: Requester) -> None:
    project_id = await api_project(api, account.key)
    change = {"title": "", "reward": "1.5", "timeLimitSeconds": 1}
    data = await api.data(CREATE_TASK, {"input": task_input(project_id, **change)}, key=account.key)
    fields = sorted(error["field"][-1] for error in data["createTask"]["userErrors"])
    assert fields == ["reward", "timeLimitSeconds", "title"]


async def test_an_amount_sent_as_a_number_is_refused(api: Api, account: Requester) -> None:
    project_id = await api_project(api, account.key)
    body = await api.post(
        CREATE_TASK, {"input": task_input(project_id, reward=1.5)}, key=account.key
    )
    assert body["errors"] and body.get("data") is None


async def test_another_accounts_project_is_not_found(
    api: Api, account: Requester, other_account: Requester
) -> None:
    foreign_project = await api_project(api, other_account.key, "Theirs")
    data = await api.data(CREATE_TASK, {"input": task_input(foreign_project)}, key=account.key)
    assert data["createTask"]["userErrors"] == [
        {"field": ["input", "projectId"], "message": "Project not found.", "code": "NOT_FOUND"}
    ]
