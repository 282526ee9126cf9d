"""Restrictions through the services: imposing (idempotently), what a ban or a suspension
keeps a worker from, lifting by hand, ending on time, pay for earlier work, recompletion."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from gql_server.models import Project, Restriction, Submission, Task
from gql_server.models.enums import ActorKind, RestrictionKind, RestrictionScope, SubmissionState
from gql_server.services import restrictions
from gql_server.services.errors import ErrorCode
from gql_server.services.pagination import PageRequest
from gql_server.services.review import approve_submission, reject_submission
from gql_server.services.submissions import expire_started, start_submission, submit_submission
from tests.factories import (
    Requester,
    Worker,
    answer,
    assert_ledger_consistent,
    available_task_ids,
    expect_error,
    expect_unchanged,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")

K, Sc, S = RestrictionKind, RestrictionScope, SubmissionState


async def _impose(
    requester: Requester,
    worker: Worker,
    kind: RestrictionKind = K.BAN,
    scope: RestrictionScope = Sc.ACCOUNT,
    *,
    task_id: int | None = None,
    project_id: int | None = None,
    days: int | None = None,
    reason: str = "Copied answers",
) -> Restriction | None:
    async with in_transaction():
        return await restrictions.impose(
            account_id=requester.account_id,
            worker_id=worker.id,
            kind=kind,
            scope=scope,
            task_id=task_id,
            project_id=project_id,
            days=days,
            reason=reason,
            actor_kind=ActorKind.RULE,
        )


async def _slots(task_id: int) -> int:
    return (await Task.get(id=task_id)).slots_taken


async def _assert_slots_consistent(task_id: int) -> None:
    held = await Submission.filter(task_id=task_id, slot_released=False).count()
    assert await _slots(task_id) == held


# --- imposing ------------------------------------------------------------------------------


async def test_imposing_what_is_already_in_effect_does_nothing(
    requester: Requester, worker: Worker
) -> None:
    first = await _impose(requester, worker, days=15)
    assert first is not None
    assert (first.starts_at, first.ends_at - first.starts_at) == (  # type: ignore[operator]
        first.created_at,
        timedelta(days=15),
    )
    assert await _impose(requester, worker, days=15) is None
    assert await Restriction.filter(worker_id=worker.id).count() == 1
    # Narrower and shorter: covered.
    assert (
        await _impose(requester, worker, scope=Sc.PROJECT, project_id=requester.project_id, days=3)
        is None
    )
    # Longer, or for good: not covered; for good then covers everything.
    assert await _impose(requester, worker, days=30) is not None
    assert await _impose(requester, worker, days=None) is not None
    assert await _impose(requester, worker, days=3650) is None
    assert await Restriction.filter(worker_id=worker.id).count() == 3


async def test_a_wider_restriction_covers_a_narrower_one_but_not_the_reverse(
    requester: Requester, worker: Worker
) -> None:
    task = await new_task(requester)
    other_project = await Project.create(account_id=requester.account_id, name="Other")
    assert await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=task.id, days=5)
    assert await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=task.id, days=5) is None
    # The project ban is wider than the task suspension: it is imposed, and then covers it.
    assert await _impose(
        requester, worker, scope=Sc.PROJECT, project_id=requester.project_id, days=5
    )
    assert await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=task.id, days=2) is None
    # Another project is not covered.
    assert await _impose(requester, worker, scope=Sc.PROJECT, project_id=other_project.id, days=5)
    assert await Restriction.filter(worker_id=worker.id).count() == 3


async def test_a_restriction_needs_its_target_in_the_account() -> None:
    requester, other = await new_requester(), await new_requester()
    worker = await new_worker()
    foreign_task = await new_task(other)
    await expect_error(ErrorCode.VALIDATION, _impose(requester, worker, K.SUSPENSION, Sc.TASK))
    await expect_error(
        ErrorCode.NOT_FOUND,
        _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=foreign_task.id),
    )
    await expect_error(
        ErrorCode.NOT_FOUND,
        _impose(requester, worker, scope=Sc.PROJECT, project_id=other.project_id),
    )
    await expect_error(ErrorCode.VALIDATION, _impose(requester, worker, days=0))
    assert await Restriction.filter(worker_id=worker.id).count() == 0


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="concurrency needs PostgreSQL: SQLite serves one connection",
)
async def test_concurrent_impositions_create_one_restriction(
    requester: Requester, worker: Worker
) -> None:
    results = await asyncio.gather(*(_impose(requester, worker, days=15) for _ in range(6)))
    assert sum(r is not None for r in results) == 1
    assert await Restriction.filter(worker_id=worker.id).count() == 1


# --- what a restriction keeps the worker from ------------------------------------------------


async def test_a_ban_hides_the_accounts_tasks_and_refuses_start_and_submit() -> None:
    requester, other = await new_requester(), await new_requester()
    task = await new_task(requester)
    second_project = await Project.create(account_id=requester.account_id, name="Second")
    elsewhere = await new_task(requester)
    await Task.filter(id=elsewhere.id).update(project_id=second_project.id)
    foreign = await new_task(other)
    worker = await new_worker()
    assert {task.id, elsewhere.id, foreign.id} <= await available_task_ids(worker)
    started = await start_submission(worker.principal, task.id)

    await _impose(requester, worker, reason="Secret: copied answers")
    listed = await available_task_ids(worker)
    assert task.id not in listed and elsewhere.id not in listed
    assert foreign.id in listed  # another account's tasks are not affected
    error = await expect_unchanged(
        requester.account_id, ErrorCode.RESTRICTED, start_submission(worker.principal, elsewhere.id)
    )
    assert "Secret" not in str(error)
    error = await expect_unchanged(
        requester.account_id,
        ErrorCode.RESTRICTED,
        submit_submission(worker.principal, started.id, answer()),
    )
    assert "Secret" not in str(error)
    await start_submission(worker.principal, foreign.id)


async def test_a_project_ban_keeps_the_worker_out_of_that_project_only(
    requester: Requester,
) -> None:
    inside = await new_task(requester)
    outside = await new_task(requester)
    other_project = await Project.create(account_id=requester.account_id, name="Other")
    await Task.filter(id=outside.id).update(project_id=other_project.id)
    worker = await new_worker()
    await _impose(requester, worker, scope=Sc.PROJECT, project_id=requester.project_id, days=3)
    listed = await available_task_ids(worker)
    assert inside.id not in listed and outside.id in listed
    await expect_error(ErrorCode.RESTRICTED, start_submission(worker.principal, inside.id))
    await start_submission(worker.principal, outside.id)


async def test_a_suspension_applies_in_its_task_only(requester: Requester) -> None:
    suspended_in, free = await new_task(requester), await new_task(requester)
    worker = await new_worker()
    await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=suspended_in.id, days=1)
    listed = await available_task_ids(worker)
    assert suspended_in.id not in listed and free.id in listed
    await expect_error(ErrorCode.RESTRICTED, start_submission(worker.principal, suspended_in.id))
    await start_submission(worker.principal, free.id)


async def test_lifting_by_hand_restores_access() -> None:
    requester, other = await new_requester(), await new_requester()
    task = await new_task(requester)
    worker = await new_worker()
    restriction = await _impose(requester, worker)
    assert restriction is not None
    await expect_error(ErrorCode.NOT_FOUND, restrictions.lift(other.principal, restriction.id))
    await expect_error(ErrorCode.RESTRICTED, start_submission(worker.principal, task.id))

    lifted = await restrictions.lift(requester.principal, restriction.id)
    assert lifted.lifted_at is not None
    assert lifted.lifted_by_id == requester.principal.member_id
    assert task.id in await available_task_ids(worker)
    await start_submission(worker.principal, task.id)
    await expect_error(
        ErrorCode.INVALID_STATE, restrictions.lift(requester.principal, restriction.id)
    )
    # Once lifted, the same ban can be imposed again.
    assert await _impose(requester, worker) is not None


async def test_a_temporary_ban_ends_on_time(
    requester: Requester, task: Task, worker: Worker
) -> None:
    with frozen_clock() as clock:
        restriction = await _impose(requester, worker, days=2)
        assert restriction is not None
        clock.advance(timedelta(days=2) - timedelta(seconds=1))
        assert task.id not in await available_task_ids(worker)
        await expect_error(ErrorCode.RESTRICTED, start_submission(worker.principal, task.id))
        clock.advance(timedelta(seconds=1))
        assert task.id in await available_task_ids(worker)
        await start_submission(worker.principal, task.id)
        # It has ended: it cannot be lifted, and a new one may be imposed.
        await expect_error(
            ErrorCode.INVALID_STATE, restrictions.lift(requester.principal, restriction.id)
        )
        assert await _impose(requester, worker, days=2) is not None


async def test_work_submitted_before_a_ban_stays_payable(
    requester: Requester, task: Task, worker: Worker
) -> None:
    started = await start_submission(worker.principal, task.id)
    await submit_submission(worker.principal, started.id, answer())
    await _impose(requester, worker)
    approved = await approve_submission(requester.principal, started.id)
    assert (approved.state, approved.paid_minor) == (S.APPROVED, task.reward_minor)
    await assert_ledger_consistent(requester.account_id)


# --- recompletion --------------------------------------------------------------------------


async def test_a_ban_reopens_the_banned_workers_slots_where_the_task_asks_for_it(
    requester: Requester,
) -> None:
    reopening = await new_task(requester, max_submissions=2, reopen_banned_worker_slots=True)
    keeping = await new_task(requester, max_submissions=2)
    banned, first, second = await new_worker(), await new_worker(), await new_worker()
    submitted = {}
    for task in (reopening, keeping):
        started = await start_submission(banned.principal, task.id)
        submitted[task.id] = await submit_submission(banned.principal, started.id, answer())
        await start_submission(first.principal, task.id)
        await expect_error(ErrorCode.LIMIT_REACHED, start_submission(second.principal, task.id))

    await _impose(requester, banned, scope=Sc.PROJECT, project_id=requester.project_id)

    assert await _slots(reopening.id) == 1
    assert await _slots(keeping.id) == 2
    await start_submission(second.principal, reopening.id)
    await expect_error(ErrorCode.LIMIT_REACHED, start_submission(second.principal, keeping.id))
    for task in (reopening, keeping):
        await _assert_slots_consistent(task.id)
    # The banned worker's earlier work is still paid, and the slot is not given back twice.
    approved = await approve_submission(requester.principal, submitted[reopening.id].id)
    assert approved.state == S.APPROVED
    assert await _slots(reopening.id) == 2
    await _assert_slots_consistent(reopening.id)
    await assert_ledger_consistent(requester.account_id)


async def test_with_both_recompletion_settings_a_rejection_frees_the_slot_once(
    requester: Requester,
) -> None:
    task = await new_task(
        requester, max_submissions=3, reopen_banned_worker_slots=True, reopen_rejected_slots=True
    )
    banned = await new_worker()
    approved: list[Submission] = []
    pending: list[Submission] = []
    await Task.filter(id=task.id).update(max_submissions_per_worker=2)
    for target in (approved, pending):
        started = await start_submission(banned.principal, task.id)
        target.append(await submit_submission(banned.principal, started.id, answer()))
    await approve_submission(requester.principal, approved[0].id)
    await _impose(requester, banned)
    # Both slots are given back at once; the later rejection does not free one again.
    assert await _slots(task.id) == 0
    await reject_submission(requester.principal, pending[0].id, "Not what was asked.")
    assert await _slots(task.id) == 0
    await _assert_slots_consistent(task.id)
    await assert_ledger_consistent(requester.account_id)


async def test_started_work_of_a_banned_worker_frees_its_slot_when_it_expires(
    requester: Requester,
) -> None:
    with frozen_clock() as clock:
        task = await new_task(requester, max_submissions=1, reopen_banned_worker_slots=True)
        banned, other = await new_worker(), await new_worker()
        started = await start_submission(banned.principal, task.id)
        await _impose(requester, banned)
        # The started submission keeps its slot until it expires (it cannot be sent now).
        assert await _slots(task.id) == 1
        clock.advance(timedelta(seconds=task.time_limit_seconds + 1))
        # The sweep sees every account's work: look at this submission, not at the count.
        await expire_started()
        assert (await Submission.get(id=started.id)).state == S.EXPIRED
        assert await _slots(task.id) == 0
        await _assert_slots_consistent(task.id)
        await start_submission(other.principal, task.id)
    await assert_ledger_consistent(requester.account_id)


async def test_a_suspension_reopens_no_slot(requester: Requester) -> None:
    task = await new_task(requester, max_submissions=1, reopen_banned_worker_slots=True)
    worker = await new_worker()
    started = await start_submission(worker.principal, task.id)
    await submit_submission(worker.principal, started.id, answer())
    await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=task.id, days=1)
    assert await _slots(task.id) == 1


# --- listing -------------------------------------------------------------------------------


async def test_listing_restrictions_by_worker_task_and_activity() -> None:
    requester, other = await new_requester(), await new_requester()
    task, second = await new_task(requester), await new_task(requester)
    worker, another = await new_worker(), await new_worker()
    suspension = await _impose(requester, worker, K.SUSPENSION, Sc.TASK, task_id=task.id, days=1)
    project_ban = await _impose(
        requester, another, scope=Sc.PROJECT, project_id=requester.project_id, days=1
    )
    lifted = await _impose(requester, another, days=3)
    assert suspension and project_ban and lifted
    await restrictions.lift(requester.principal, lifted.id)
    await _impose(other, worker)

    async def ids(**wanted: object) -> list[int]:
        page = await restrictions.list_restrictions(
            requester.account_id, restrictions.RestrictionFilter(**wanted), PageRequest()
        )
        return [r.id for _, r in page.items]

    assert await ids() == [lifted.id, project_ban.id, suspension.id]
    assert await ids(worker_id=worker.id) == [suspension.id]
    assert await ids(task_id=task.id) == [lifted.id, project_ban.id, suspension.id]
    assert await ids(task_id=second.id) == [lifted.id, project_ban.id]
    assert await ids(task_id=second.id, active_only=True) == [project_ban.id]
    assert await ids(project_id=requester.project_id, worker_id=worker.id) == [suspension.id]
