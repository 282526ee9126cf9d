"""Realistic data, fast: submitted work on a funded task, written in bulk.

What `start_submission` and `submit_submission` leave behind, made with bulk inserts (one
statement per thousand rows) instead of two use cases per submission: the submissions
(SUBMITTED, with a response), one COMMIT ledger row each, the task's committed and
remaining figures moved by the same total, and its slot counters. The ledger invariants
hold afterwards, so a scenario can check them after it ran.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import (
    ApiKey,
    LedgerEntry,
    Project,
    Submission,
    Task,
    TaskWorkerCounter,
    Worker,
)
from gql_server.models.enums import (
    ActorKind,
    LedgerBucket,
    LedgerReason,
    ProofKind,
    SubmissionState,
)
from gql_server.services import accounts, rules
from gql_server.services.principals import MemberPrincipal
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import ProofRequirementDraft, TaskDraft, create_task

REWARD_MINOR = 1
BATCH = 1000


async def funded_requester() -> tuple[MemberPrincipal, str]:
    """A new account with a large balance: its owner's principal and API key."""
    created = await accounts.create_account(
        name="Bench", owner_name="Owner", owner_email=f"{uuid.uuid4().hex}@bench.test"
    )
    key = await ApiKey.get(member_id=created.owner.id)
    principal = MemberPrincipal(created.owner.id, created.account.id, created.owner.role, key.id)
    await accounts.fund_account(principal, 10**12)
    return principal, created.owner_api_key


async def workers(count: int) -> list[int]:
    """`count` new workers, in bulk; their ids."""
    batch = uuid.uuid4().hex[:8]
    await Worker.bulk_create(
        [Worker(name=f"{batch}-{index}", country="DE") for index in range(count)], batch_size=BATCH
    )
    return list(
        await Worker.filter(name__startswith=f"{batch}-")
        .order_by("id")
        .values_list("id", flat=True)
    )


async def task_with_submitted(
    principal: MemberPrincipal, count: int, worker_ids: list[int]
) -> tuple[Task, list[int]]:
    """A published task with `count` submitted submissions spread over `worker_ids`."""
    project = await Project.create(
        account_id=principal.account_id, name=f"P {uuid.uuid4().hex[:8]}"
    )
    per_worker = -(-count // len(worker_ids))
    draft = TaskDraft(
        title="Bench",
        instructions="Review me.",
        reward=f"{REWARD_MINOR / 100:.2f}",
        budget=f"{(count * REWARD_MINOR * 2 + 100) / 100:.2f}",
        time_limit_seconds=3600,
        proof_requirements=[ProofRequirementDraft("answer", ProofKind.TEXT)],
        max_submissions_per_worker=per_worker,
    )
    task = await publish_task(principal, (await create_task(principal, project.id, draft)).id)
    now = clock.now()
    owners = [worker_ids[index % len(worker_ids)] for index in range(count)]
    async with in_transaction():
        await Submission.bulk_create(
            [
                Submission(
                    account_id=principal.account_id,
                    task_id=task.id,
                    worker_id=worker,
                    state=SubmissionState.SUBMITTED,
                    response={"answer": f"answer {index}"},
                    reward_minor=REWARD_MINOR,
                    deadline_at=now + timedelta(hours=1),
                    submitted_at=now,
                    first_submitted_at=now,
                    created_at=now,
                )
                for index, worker in enumerate(owners)
            ],
            batch_size=BATCH,
        )
        ids = list(
            await Submission.filter(task_id=task.id).order_by("id").values_list("id", flat=True)
        )
        await LedgerEntry.bulk_create(
            [
                LedgerEntry(
                    account_id=principal.account_id,
                    task_id=task.id,
                    submission_id=pk,
                    worker_id=worker,
                    from_bucket=LedgerBucket.TASK_REMAINING,
                    to_bucket=LedgerBucket.TASK_COMMITTED,
                    amount_minor=REWARD_MINOR,
                    reason=LedgerReason.COMMIT,
                    actor_kind=ActorKind.WORKER,
                )
                for pk, worker in zip(ids, owners, strict=True)
            ],
            batch_size=BATCH,
        )
        total = count * REWARD_MINOR
        await Task.filter(id=task.id).update(
            committed_minor=F("committed_minor") + total,
            remaining_minor=F("remaining_minor") - total,
            slots_taken=F("slots_taken") + count,
        )
        taken: dict[int, int] = {}
        for worker in owners:
            taken[worker] = taken.get(worker, 0) + 1
        await TaskWorkerCounter.bulk_create(
            [
                TaskWorkerCounter(task_id=task.id, worker_id=w, slots_taken=n)
                for w, n in taken.items()
            ],
            batch_size=BATCH,
        )
    return await Task.get(id=task.id), ids


def five_rules(skill_id: int) -> list[rules.RuleDraft]:
    """5 rules of the kind the seeds describe, all evaluated after a review: a ban for more
    than half rejected, skill := accepted % after 3 reviewed, a suspension for a low
    accepted share over the last 10, a suspension for more than $1000 earned in 24 hours,
    and a permanent ban for more than 80% rejected over the last 20."""

    def cond(metric: str, operator: str, value: float) -> dict[str, object]:
        return {"metric": metric, "operator": operator, "value": value}

    review = "REVIEW_RESULTS"
    return [
        rules.RuleDraft(
            review,
            None,
            [cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 4)],
            {"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Too many mistakes."},
        ),
        rules.RuleDraft(
            review,
            None,
            [cond("REVIEWED_COUNT", "GTE", 3)],
            {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill_id},
        ),
        rules.RuleDraft(
            review,
            10,
            [cond("ACCEPTED_PERCENT", "LT", 30), cond("REVIEWED_COUNT", "GTE", 10)],
            {"type": "SUSPEND_IN_TASK", "days": 7},
        ),
        rules.RuleDraft(
            "EARNINGS",
            None,
            [cond("INCOME_LAST_24_HOURS", "GT", 100_000)],
            {"type": "SUSPEND_IN_TASK", "days": 1},
        ),
        rules.RuleDraft(
            review,
            20,
            [cond("REJECTED_PERCENT", "GT", 80)],
            {"type": "BAN", "scope": "ACCOUNT", "permanent": True},
        ),
    ]
