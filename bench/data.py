"""Realistic data, fast: submitted and completed work on funded tasks, written in bulk.

`task_with_submitted`: what `start_submission` and `submit_submission` leave behind, made
with bulk inserts (one statement per thousand rows) instead of two use cases per
submission: the submissions (SUBMITTED, with a response), one COMMIT ledger row each, the
task's committed and remaining figures moved by the same total, and its slot counters.

`load_work`: an account's queue and its history at scale (a million submissions in
minutes): pending work over the last week and approved work over the weeks before, spread
over several tasks and many workers, a share of the approved work audited. The
submissions go in by COPY on PostgreSQL (multi-row INSERTs on SQLite); every other row
(ledger, reviews, audits, audit locks, slot counters) is derived from them by one
INSERT ... SELECT each, and the task figures by one UPDATE per task.

Either way the ledger invariants hold afterwards, so a scenario can check them after it
ran: each task's committed, spent and remaining figures (and the account's balance) equal
the sums of its ledger rows; every submission has its COMMIT row, every approved one its
PAY row and its review; `slots_taken` and `approved_count` count the task's submissions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import (
    Account,
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
    AuditOutcome,
    LedgerBucket,
    LedgerReason,
    ProofKind,
    ReviewDecision,
    SubmissionState,
)
from gql_server.services import accounts, ledger, rules, tallies
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tallies import TABLES as TALLY_TABLES
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


# --- work at scale -------------------------------------------------------------------------

# The submission columns `load_work` writes, in the order of its rows.
_SUBMISSION_COLUMNS = (
    *("created_at", "state", "response", "prior_responses", "reward_minor", "paid_minor"),
    *("revision_count", "deadline_at", "submitted_at", "first_submitted_at", "reviewed_at"),
    *("slot_released", "audit_status", "audit_count", "last_audited_at", "audit_comments"),
    *("version", "updated_at", "account_id", "task_id", "worker_id"),
)
# Rows built and written at a time: a million rows at once would hold about a gigabyte.
_CHUNK = 20_000
# One in AUDIT_EVERY approved submissions was audited: most accepted, some fixed or rejected.
AUDIT_EVERY = 20
_OUTCOMES = (*[AuditOutcome.ACCEPTED] * 8, AuditOutcome.FIXED, AuditOutcome.REJECTED)
REJECTION = "Read the instructions again: the answer misses the point."
WORK_REWARD_MINOR = 25
PENDING_SPAN = timedelta(days=7)
COMPLETED_SPAN = timedelta(weeks=8)


@dataclass(frozen=True)
class Loaded:
    """What `load_work` wrote: its tasks, how many submissions of each kind, and how long."""

    task_ids: list[int]
    pending: int
    completed: int
    audited: int
    seconds: float


def _spread(count: int, index: int, start: datetime, span: timedelta) -> datetime:
    """The index-th of `count` distinct instants spread evenly over [start, start + span)."""
    return start + span * (index / count)


def _submission_rows(
    account_id: int,
    task_ids: Sequence[int],
    worker_ids: Sequence[int],
    pending: int,
    completed: int,
    now: datetime,
) -> Iterator[list[tuple[object, ...]]]:
    """Chunks of submission rows: `completed` approved ones over the weeks before the last
    one, then `pending` submitted ones over the last week, each a few minutes after it
    was started. Item i goes to task i mod T and worker (i div T) mod W, so every task's
    work is spread evenly over the workers."""
    tasks, people = len(task_ids), len(worker_ids)
    empty = json.dumps([])
    completed_start = now - PENDING_SPAN - COMPLETED_SPAN
    pending_start = now - PENDING_SPAN
    chunk: list[tuple[object, ...]] = []
    for index in range(completed + pending):
        done = index < completed
        if done:
            submitted = _spread(completed, index, completed_start, COMPLETED_SPAN)
        else:
            submitted = _spread(pending, index - completed, pending_start, PENDING_SPAN)
        started = submitted - timedelta(minutes=3 + index % 17)
        response = {"answer": f"answer {index}"}
        reviewed = audited_at = None
        outcome: AuditOutcome | None = None
        prior: list[dict[str, str]] = []
        comments: list[str] = []
        if done:
            reviewed = submitted + timedelta(hours=1 + index % 47)
            if index % AUDIT_EVERY == 0:
                outcome = _OUTCOMES[(index // AUDIT_EVERY) % len(_OUTCOMES)]
                audited_at = reviewed + timedelta(days=2)
                if outcome is AuditOutcome.FIXED:
                    prior, response = [response], {"answer": f"corrected answer {index}"}
                if outcome is AuditOutcome.REJECTED:
                    comments = [REJECTION]
        slot = index % tasks
        chunk.append(
            (
                *(started, (SubmissionState.APPROVED if done else SubmissionState.SUBMITTED).value),
                *(json.dumps(response), json.dumps(prior) if prior else empty),
                *(WORK_REWARD_MINOR, WORK_REWARD_MINOR if done else 0, 0),
                *(started + timedelta(hours=1), submitted, submitted, reviewed, False),
                *(outcome.value if outcome else None, 1 if outcome else 0, audited_at),
                *(json.dumps(comments) if comments else empty, 2 if done else 1),
                *(audited_at or reviewed or submitted, account_id, task_ids[slot]),
                worker_ids[(index // tasks) % people],
            )
        )
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _derived(account_id: int, member_id: int, task_ids: Sequence[int]) -> list[str]:
    """What approving and auditing the loaded submissions wrote beside them, one
    INSERT ... SELECT each: the ids are integers of ours, the rest literals."""
    tasks = ", ".join(str(int(task_id)) for task_id in task_ids)
    of = f"FROM submission WHERE account_id = {account_id} AND task_id IN ({tasks})"
    approved = f"{of} AND state = '{SubmissionState.APPROVED.value}'"
    audited = f"{approved} AND audit_count > 0"
    ledger = (
        "INSERT INTO ledger_entry (created_at, from_bucket, to_bucket, amount_minor, reason, "
        "actor_kind, actor_member_id, account_id, task_id, submission_id, worker_id) "
    )
    return [
        f"{ledger}SELECT created_at, '{LedgerBucket.TASK_REMAINING.value}', "
        f"'{LedgerBucket.TASK_COMMITTED.value}', reward_minor, '{LedgerReason.COMMIT.value}', "
        f"'{ActorKind.WORKER.value}', NULL, account_id, task_id, id, worker_id {of}",
        f"{ledger}SELECT reviewed_at, '{LedgerBucket.TASK_COMMITTED.value}', "
        f"'{LedgerBucket.TASK_SPENT.value}', paid_minor, '{LedgerReason.PAY.value}', "
        f"'{ActorKind.MEMBER.value}', {member_id}, account_id, task_id, id, worker_id {approved}",
        "INSERT INTO review (created_at, submission_id, decision, feedback, actor_kind, "
        f"member_id, rule_id) SELECT reviewed_at, id, '{ReviewDecision.APPROVED.value}', NULL, "
        f"'{ActorKind.MEMBER.value}', {member_id}, NULL {approved}",
        "INSERT INTO audit (created_at, submission_id, account_id, auditor_id, outcome, "
        f"comments, corrected_response, fencing_token) SELECT last_audited_at, id, account_id, "
        f"{member_id}, audit_status, CASE WHEN audit_status = '{AuditOutcome.REJECTED.value}' "
        f"THEN '{REJECTION}' ELSE '' END, CASE WHEN audit_status = "
        f"'{AuditOutcome.FIXED.value}' THEN response END, 1 {audited}",
        # Each audit was made under a lock, released when it was submitted.
        "INSERT INTO audit_lock (created_at, submission_id, account_id, task_id, holder_id, "
        "fencing_token, acquired_at, expires_at, released_at) SELECT last_audited_at, id, "
        f"account_id, task_id, {member_id}, 1, last_audited_at, last_audited_at, "
        f"last_audited_at {audited}",
        "INSERT INTO task_worker_counter (created_at, task_id, worker_id, slots_taken) "
        f"SELECT MIN(created_at), task_id, worker_id, COUNT(*) {of} GROUP BY task_id, worker_id",
    ]


async def load_work(
    principal: MemberPrincipal,
    pending: int,
    completed: int,
    worker_ids: list[int],
    tasks: int = 10,
) -> Loaded:
    """`pending` submitted and `completed` approved submissions over `tasks` new published
    tasks of the principal's account, audited one in AUDIT_EVERY (see the module)."""
    began = time.monotonic()
    project = await Project.create(
        account_id=principal.account_id, name=f"P {uuid.uuid4().hex[:8]}"
    )
    per_task = [
        (pending // tasks + (n < pending % tasks), completed // tasks + (n < completed % tasks))
        for n in range(tasks)
    ]
    task_ids = []
    for waiting, done in per_task:
        draft = TaskDraft(
            title="Bench at scale",
            instructions="Review me.",
            reward=f"{WORK_REWARD_MINOR / 100:.2f}",
            budget=f"{((waiting + done) * WORK_REWARD_MINOR + 100) / 100:.2f}",
            time_limit_seconds=3600,
            proof_requirements=[ProofRequirementDraft("answer", ProofKind.TEXT)],
            max_submissions_per_worker=-(-(waiting + done) // len(worker_ids)) + 1,
        )
        created = await create_task(principal, project.id, draft)
        task_ids.append((await publish_task(principal, created.id)).id)
    now = clock.now()
    rows = _submission_rows(principal.account_id, task_ids, worker_ids, pending, completed, now)
    derived = [
        *_derived(principal.account_id, principal.member_id, task_ids),
        *_figures(task_ids, per_task),
    ]
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        async with client.acquire_connection() as connection, connection.transaction():
            for chunk in rows:
                await connection.copy_records_to_table(
                    "submission", columns=_SUBMISSION_COLUMNS, records=chunk
                )
            for statement in derived:
                await connection.execute(statement)
        await _settle_tallies()
        # What autovacuum would have done by the time such a table is queried: planner
        # statistics and the visibility map (index-only scans), after the bulk load.
        async with client.acquire_connection() as connection:
            for table in (
                "submission",
                "ledger_entry",
                "review",
                "audit",
                "audit_lock",
                *TALLY_TABLES,
            ):
                await connection.execute(f"VACUUM ANALYZE {table}")
    else:
        names = ", ".join(_SUBMISSION_COLUMNS)
        marks = ", ".join("?" * len(_SUBMISSION_COLUMNS))
        async with in_transaction() as connection:
            for chunk in rows:
                await connection.execute_many(
                    f"INSERT INTO submission ({names}) VALUES ({marks})", chunk
                )
            for statement in derived:
                await connection.execute_query(statement)
        await _settle_tallies()
    # Approved items 0, AUDIT_EVERY, 2 * AUDIT_EVERY, ... were audited.
    audited = -(-completed // AUDIT_EVERY)
    return Loaded(task_ids, pending, completed, audited, time.monotonic() - began)


async def _settle_tallies() -> None:
    """What the background loop would have done by the time of the first report."""
    while await tallies.settle():
        pass


def _figures(task_ids: list[int], per_task: list[tuple[int, int]]) -> list[str]:
    """The task figures the loaded ledger rows moved: every reward committed, the approved
    ones paid; each task's slots and approvals counted."""
    return [
        f"UPDATE task SET committed_minor = committed_minor + {waiting * WORK_REWARD_MINOR}, "
        f"spent_minor = spent_minor + {done * WORK_REWARD_MINOR}, "
        f"remaining_minor = remaining_minor - {(waiting + done) * WORK_REWARD_MINOR}, "
        f"slots_taken = slots_taken + {waiting + done}, "
        f"approved_count = approved_count + {done} WHERE id = {task_id}"
        for task_id, (waiting, done) in zip(task_ids, per_task, strict=True)
    ]


async def check_ledger(account_id: int, loaded: Loaded) -> None:
    """The invariants of the module's docstring, for the loaded tasks and their account."""
    for task_id in loaded.task_ids:
        summed = await ledger.task_figures_from_ledger(task_id)
        task = await Task.get(id=task_id)
        figures = (task.budget_minor, task.committed_minor, task.spent_minor, task.remaining_minor)
        assert figures == (
            summed.budget_minor,
            summed.committed_minor,
            summed.spent_minor,
            summed.remaining_minor,
        ), f"task {task_id}'s figures differ from its ledger"
    account = await Account.get(id=account_id)
    assert account.balance_minor == await ledger.account_balance_from_ledger(account_id)
    of_tasks = LedgerEntry.filter(task_id__in=loaded.task_ids)
    assert await of_tasks.filter(reason=LedgerReason.COMMIT).count() == (
        loaded.pending + loaded.completed
    )
    assert await of_tasks.filter(reason=LedgerReason.PAY).count() == loaded.completed
    slots = sum(task.slots_taken for task in await Task.filter(id__in=loaded.task_ids))
    assert slots == loaded.pending + loaded.completed


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
