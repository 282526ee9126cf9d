"""The listing of available tasks: it records what each worker was shown and leaves out
what the worker can no longer start."""

from __future__ import annotations

from gql_server.models import TaskView
from gql_server.services.global_ids import from_global_id
from tests.factories import Requester, api_open_task, api_visible_tasks, new_worker
from tests.graphql_client import Api

START = "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } userErrors { code message } } }"


async def test_listing_records_views_and_hides_full_tasks(api: Api, account: Requester) -> None:
    worker = await new_worker("US")
    task_id = await api_open_task(api, account.key)
    pk = from_global_id(task_id)[1]
    before = await TaskView.filter(task_id=pk).count()
    assert task_id in await api_visible_tasks(api, worker.key)
    assert await TaskView.filter(task_id=pk, worker_id=worker.id).count() == 1
    assert await TaskView.filter(task_id=pk).count() == before + 1
    # Once the worker holds the one slot a worker may hold, the task is no longer offered.
    await api.data(START, {"id": task_id}, key=worker.key)
    assert task_id not in await api_visible_tasks(api, worker.key)
