"""Skills through the services: naming, values with history, idempotent recording, setting by
hand, the current value per the skill's scope, and targeting on a skill."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from gql_server.models import SkillValue, WorkerSkill
from gql_server.models.enums import ActorKind, MemberRole, SkillScope
from gql_server.services import skills
from gql_server.services.errors import ErrorCode
from gql_server.services.pagination import PageRequest
from gql_server.services.submissions import start_submission
from gql_server.services.tasks import SkillFilterDraft, TargetingDraft
from tests.factories import (
    Requester,
    Worker,
    available_task_ids,
    expect_error,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


async def _record(skill_id: int, worker: Worker, value: int, **source: object) -> bool:
    async with in_transaction():
        return await skills.record_skill_value(
            skill_id=skill_id,
            worker_id=worker.id,
            value=value,
            task_id=source.get("task_id"),  # type: ignore[arg-type]
            project_id=source.get("project_id"),  # type: ignore[arg-type]
            actor_kind=ActorKind.RULE,
        )


async def _history(skill_id: int, worker: Worker) -> list[tuple[int, int | None]]:
    rows = await SkillValue.filter(skill_id=skill_id, worker_id=worker.id).order_by("id")
    return [(row.value, row.task_id) for row in rows]


# --- the account's skills -----------------------------------------------------------------


async def test_a_skill_name_is_unique_in_its_account() -> None:
    requester, other = await new_requester(), await new_requester()
    skill = await skills.create_skill(requester.principal, "  English   level ", "CEFR")
    assert (skill.name, skill.description, skill.scope) == ("English level", "CEFR", "TASK")
    error = await expect_error(
        ErrorCode.DUPLICATE, skills.create_skill(requester.principal, "English level")
    )
    assert error.errors[0].field == ("name",)
    # Another account may use the same name.
    await skills.create_skill(other.principal, "English level")
    await expect_error(ErrorCode.VALIDATION, skills.create_skill(requester.principal, "  "))
    await expect_error(ErrorCode.VALIDATION, skills.create_skill(requester.principal, "x" * 101))


async def test_a_skill_can_be_renamed_but_not_onto_another(requester: Requester) -> None:
    first = await skills.create_skill(requester.principal, "First")
    await skills.create_skill(requester.principal, "Second")
    renamed = await skills.update_skill(requester.principal, first.id, name="Primary")
    assert renamed.name == "Primary"
    await expect_error(
        ErrorCode.DUPLICATE, skills.update_skill(requester.principal, first.id, name="Second")
    )
    other = await new_requester()
    await expect_error(
        ErrorCode.NOT_FOUND, skills.update_skill(other.principal, first.id, name="Mine")
    )


# --- values and history --------------------------------------------------------------------


async def test_recording_a_value_already_in_effect_does_nothing(
    requester: Requester, worker: Worker
) -> None:
    skill = await skills.create_skill(requester.principal, "Accuracy")
    task = await new_task(requester)
    assert await _record(skill.id, worker, 60, task_id=task.id)
    assert not await _record(skill.id, worker, 60, task_id=task.id)
    assert await _record(skill.id, worker, 70, task_id=task.id)
    row = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert (row.value, row.task_id) == (70, task.id)
    assert await _history(skill.id, worker) == [(60, task.id), (70, task.id)]


async def test_a_task_scoped_value_is_the_one_from_the_task_last_completed(
    requester: Requester, worker: Worker
) -> None:
    skill = await skills.create_skill(requester.principal, "Quality", scope=SkillScope.TASK)
    first, second = await new_task(requester), await new_task(requester)
    with frozen_clock() as clock:
        await _record(skill.id, worker, 90, task_id=first.id)
        clock.advance(timedelta(minutes=1))
        await _record(skill.id, worker, 40, task_id=second.id)
        # The same value from another task is a change of source: it is recorded.
        clock.advance(timedelta(minutes=1))
        assert await _record(skill.id, worker, 40, task_id=first.id)
    row = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert (row.value, row.task_id) == (40, first.id)
    assert await _history(skill.id, worker) == [(90, first.id), (40, second.id), (40, first.id)]
    page = await skills.skill_history(requester.account_id, worker.id, skill.id, PageRequest())
    assert [v.value for _, v in page.items] == [40, 40, 90]  # newest first


async def test_a_project_scoped_value_records_its_project(
    requester: Requester, worker: Worker
) -> None:
    skill = await skills.create_skill(requester.principal, "Care", scope=SkillScope.PROJECT)
    assert await _record(skill.id, worker, 75, project_id=requester.project_id)
    assert not await _record(skill.id, worker, 75, project_id=requester.project_id)
    row = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert (row.value, row.project_id, row.task_id) == (75, requester.project_id, None)


async def test_a_value_is_from_0_to_100(requester: Requester, worker: Worker) -> None:
    skill = await skills.create_skill(requester.principal, "Bounded")
    for value in (-1, 101):
        error = await expect_error(
            ErrorCode.VALIDATION,
            skills.set_worker_skill(requester.principal, skill.id, worker.id, value),
        )
        assert error.errors[0].field == ("value",)
    for value in (0, 100):
        row, changed = await skills.set_worker_skill(
            requester.principal, skill.id, worker.id, value
        )
        assert (row.value, changed) == (value, True)
    assert await WorkerSkill.filter(skill_id=skill.id).count() == 1


async def test_setting_a_value_by_hand() -> None:
    requester, other = await new_requester(), await new_requester()
    worker = await new_worker()
    skill = await skills.create_skill(requester.principal, "Trusted")
    manager = (await requester.member(MemberRole.MANAGER, "Manager")).principal
    row, changed = await skills.set_worker_skill(manager, skill.id, worker.id, 80)
    assert (row.value, row.task_id, row.project_id, changed) == (80, None, None, True)
    row, changed = await skills.set_worker_skill(manager, skill.id, worker.id, 80)
    assert (row.value, changed) == (80, False)
    [change] = await SkillValue.filter(skill_id=skill.id)
    assert (change.actor_kind, change.member_id) == (ActorKind.MEMBER, manager.member_id)
    # Another account's skill, or a worker that does not exist, is not found.
    await expect_error(
        ErrorCode.NOT_FOUND, skills.set_worker_skill(other.principal, skill.id, worker.id, 5)
    )
    await expect_error(
        ErrorCode.NOT_FOUND, skills.set_worker_skill(requester.principal, skill.id, None, 5)
    )
    assert [r.value for r in await skills.worker_skills(requester.account_id, worker.id)] == [80]
    assert await skills.worker_skills(other.account_id, worker.id) == []


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="concurrency needs PostgreSQL: SQLite serves one connection",
)
async def test_concurrent_recordings_keep_one_current_row_and_the_latest_of_the_history(
    requester: Requester, worker: Worker
) -> None:
    skill = await skills.create_skill(requester.principal, "Raced")
    results = await asyncio.gather(*(_record(skill.id, worker, v) for v in (10, 20, 30, 40, 50)))
    assert all(results)
    row = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    history = await SkillValue.filter(skill_id=skill.id).order_by("-id").first()
    assert history is not None and row.value == history.value
    assert await SkillValue.filter(skill_id=skill.id).count() == 5
    # The same value at once from many callers is recorded once.
    results = await asyncio.gather(*(_record(skill.id, worker, 77) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


# --- targeting ----------------------------------------------------------------------------


async def test_a_task_filtered_on_a_skill_admits_or_hides_a_worker(requester: Requester) -> None:
    skill = await skills.create_skill(requester.principal, "Expert")
    expert, novice, unknown = await new_worker(), await new_worker(), await new_worker()
    await skills.set_worker_skill(requester.principal, skill.id, expert.id, 90)
    await skills.set_worker_skill(requester.principal, skill.id, novice.id, 50)

    def targeting(operator: str, value: int | None) -> TargetingDraft:
        return TargetingDraft(skill_filters=[SkillFilterDraft(skill.id, operator, value)])

    at_least = await new_task(requester, targeting=targeting("GTE", 80))
    below = await new_task(requester, targeting=targeting("LT", 80))
    absent = await new_task(requester, targeting=targeting("ABSENT", None))

    assert {at_least.id, below.id, absent.id} & await available_task_ids(expert) == {at_least.id}
    assert {at_least.id, below.id, absent.id} & await available_task_ids(novice) == {below.id}
    assert {at_least.id, below.id, absent.id} & await available_task_ids(unknown) == {absent.id}

    await expect_error(ErrorCode.NOT_ELIGIBLE, start_submission(novice.principal, at_least.id))
    await expect_error(ErrorCode.NOT_ELIGIBLE, start_submission(unknown.principal, at_least.id))
    await expect_error(ErrorCode.NOT_ELIGIBLE, start_submission(expert.principal, absent.id))
    assert (await start_submission(expert.principal, at_least.id)).task_id == at_least.id

    # Raising the novice's value admits them at once.
    await skills.set_worker_skill(requester.principal, skill.id, novice.id, 80)
    assert at_least.id in await available_task_ids(novice)
    assert (await start_submission(novice.principal, at_least.id)).task_id == at_least.id
