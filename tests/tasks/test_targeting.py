"""A worker sees, and can start, only what targeting, restrictions and limits allow."""

from __future__ import annotations

from gql_server import clock
from gql_server.models import Restriction
from gql_server.models.enums import ActorKind, RestrictionKind, RestrictionScope
from gql_server.services.errors import ErrorCode
from gql_server.services.submissions import start_submission
from gql_server.services.tasks import TargetingDraft
from tests.factories import (
    Requester,
    api_open_task,
    api_visible_tasks,
    expect_unchanged,
    figures,
    new_requester,
    new_started,
    new_task,
    new_worker,
)
from tests.graphql_client import Api

START = "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } userErrors { code message } } }"


async def test_country_targeting(api: Api, account: Requester) -> None:
    german = (await new_worker("DE")).key
    french = (await new_worker("FR")).key
    task_id = await api_open_task(api, account.key, targeting={"countriesAllowed": ["DE"]})
    assert task_id in await api_visible_tasks(api, german)
    assert task_id not in await api_visible_tasks(api, french)
    refused = await api.data(START, {"id": task_id}, key=french)
    assert refused["startSubmission"]["userErrors"][0]["code"] == "NOT_ELIGIBLE"


async def test_invite_list(api: Api, account: Requester) -> None:
    invited = await new_worker("US")
    outsider = (await new_worker("US")).key
    from gql_server.schema.relay import to_global_id

    task_id = await api_open_task(
        api, account.key, targeting={"invitedWorkerIds": [to_global_id("Worker", invited.id)]}
    )
    assert task_id in await api_visible_tasks(api, invited.key)
    assert task_id not in await api_visible_tasks(api, outsider)


async def test_experience_targeting(api: Api, account: Requester) -> None:
    newcomer = (await new_worker("US")).key
    task_id = await api_open_task(
        api, account.key, targeting={"minReviewedCount": 1, "minApprovalRate": 50}
    )
    assert task_id not in await api_visible_tasks(api, newcomer)


async def test_a_banned_worker_sees_nothing_of_the_account_and_no_reason(
    api: Api, account: Requester
) -> None:
    worker = await new_worker("US")
    task_id = await api_open_task(api, account.key)
    assert task_id in await api_visible_tasks(api, worker.key)
    await Restriction.create(
        account_id=account.account_id,
        worker_id=worker.id,
        kind=RestrictionKind.BAN,
        scope=RestrictionScope.ACCOUNT,
        reason="Copied answers from the internet",
        starts_at=clock.now(),
        actor_kind=ActorKind.MEMBER,
    )
    assert task_id not in await api_visible_tasks(api, worker.key)
    refused = await api.post(START, {"id": task_id}, key=worker.key)
    errors = refused["data"]["startSubmission"]["userErrors"]
    assert [e["code"] for e in errors] == ["RESTRICTED"]
    assert "Copied" not in str(refused)


async def test_targeting_by_country() -> None:
    requester = await new_requester(fund_minor=10_000)
    task = await new_task(requester, targeting=TargetingDraft(countries_allowed=["FR"]))
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_ELIGIBLE,
        start_submission((await new_worker("DE")).principal, task.id),
    )
    await new_started(task, await new_worker("FR"))
    assert await figures(task.id) == (1000, 100, 0, 900)
