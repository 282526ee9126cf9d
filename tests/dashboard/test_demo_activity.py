"""The demo's work by itself (dev mode on the embedded default): each step submits what the
step before started and starts one more, through the worker use cases, until the review
queue holds QUEUE_CAP submissions."""

from __future__ import annotations

from gql_server.models import Submission, Task
from gql_server.models.enums import SubmissionState, TaskStatus
from gql_server.services import demo_activity
from gql_server.services.demo import Demo, seed_demo
from gql_server.settings import Settings


async def _figures(demo: Demo) -> tuple[int, int]:
    task = await (
        Task.filter(account_id=demo.account_id, status=TaskStatus.OPEN)
        .order_by("created_at", "id")
        .first()
    )
    assert task is not None
    waiting = await Submission.filter(task_id=task.id, state=SubmissionState.SUBMITTED).count()
    return task.committed_minor, waiting


async def test_each_step_starts_work_and_submits_the_last_started(database: Settings) -> None:
    demo = await seed_demo()
    activity = demo_activity.DemoActivity(account_id=demo.account_id)
    committed, waiting = await _figures(demo)

    await activity.step()
    assert await _figures(demo) == (committed + 150, waiting)
    await activity.step()
    assert await _figures(demo) == (committed + 300, waiting + 1)


async def test_it_stops_starting_work_while_the_queue_is_full(database: Settings) -> None:
    demo = await seed_demo()
    activity = demo_activity.DemoActivity(account_id=demo.account_id)
    while (await _figures(demo))[1] < demo_activity.QUEUE_CAP:
        await activity.step()
    await activity.step()  # submits the last one started, starts nothing
    full = await _figures(demo)
    await activity.step()
    assert await _figures(demo) == full
