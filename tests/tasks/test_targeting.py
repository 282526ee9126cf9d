"""A worker sees, and can start, only what targeting, restrictions and limits allow."""

from __future__ import annotations

from gql_server import clock
from gql_server.models import Restriction, TaskView
from gql_server.models.enums import ActorKind, RestrictionKind, RestrictionScope
from gql_server.schema.relay import from_global_id
from gql_server.services.accounts import register_worker
from tests.conftest import AccountFixture, Api
from tests.platform.test_api_session import _create_open_task

LISTING = "{ availableTasks(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }"
START = "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } userErrors { code message } } }"


async def _visible(api: Api, key: str) -> set[str]:
    data = await api.data(LISTING, key=key)
    return {edge["node"]["id"] for edge in data["availableTasks"]["edges"]}


async def test_country_targeting(api: Api, account: AccountFixture) -> None:
    german = (await register_worker(name="De", country="DE")).api_key
    french = (await register_worker(name="Fr", country="FR")).api_key
    task_id = await _create_open_task(
        api, account.owner_key, targeting={"countriesAllowed": ["DE"]}
    )
    assert task_id in await _visible(api, german)
    assert task_id not in await _visible(api, french)
    refused = await api.data(START, {"id": task_id}, key=french)
    assert refused["startSubmission"]["userErrors"][0]["code"] == "NOT_ELIGIBLE"


async def test_invite_list(api: Api, account: AccountFixture) -> None:
    invited = await register_worker(name="In", country="US")
    outsider = (await register_worker(name="Out", country="US")).api_key
    from gql_server.schema.relay import to_global_id

    task_id = await _create_open_task(
        api, account.owner_key, targeting={"invitedWorkerIds": [to_global_id("Worker", invited.id)]}
    )
    assert task_id in await _visible(api, invited.api_key)
    assert task_id not in await _visible(api, outsider)


async def test_experience_targeting(api: Api, account: AccountFixture) -> None:
    newcomer = (await register_worker(name="New", country="US")).api_key
    task_id = await _create_open_task(
        api, account.owner_key, targeting={"minReviewedCount": 1, "minApprovalRate": 50}
    )
    assert task_id not in await _visible(api, newcomer)


async def test_a_banned_worker_sees_nothing_of_the_account_and_no_reason(
    api: Api, account: AccountFixture
) -> None:
    worker = await register_worker(name="Banned", country="US")
    task_id = await _create_open_task(api, account.owner_key)
    assert task_id in await _visible(api, worker.api_key)
    await Restriction.create(
        account_id=account.account_id,
        worker_id=worker.id,
        kind=RestrictionKind.BAN,
        scope=RestrictionScope.ACCOUNT,
        reason="Copied answers from the internet",
        starts_at=clock.now(),
        actor_kind=ActorKind.MEMBER,
    )
    assert task_id not in await _visible(api, worker.api_key)
    refused = await api.post(START, {"id": task_id}, key=worker.api_key)
    errors = refused["data"]["startSubmission"]["userErrors"]
    assert [e["code"] for e in errors] == ["RESTRICTED"]
    assert "Copied" not in str(refused)


async def test_listing_records_views_and_hides_full_tasks(
    api: Api, account: AccountFixture
) -> None:
    worker = await register_worker(name="Viewer", country="US")
    task_id = await _create_open_task(api, account.owner_key)
    pk = from_global_id(task_id)[1]
    before = await TaskView.filter(task_id=pk).count()
    assert task_id in await _visible(api, worker.api_key)
    assert await TaskView.filter(task_id=pk, worker_id=worker.id).count() == 1
    assert await TaskView.filter(task_id=pk).count() == before + 1
    # Once the worker holds the one slot a worker may hold, the task is no longer offered.
    await api.data(START, {"id": task_id}, key=worker.api_key)
    assert task_id not in await _visible(api, worker.api_key)
