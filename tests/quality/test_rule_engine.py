"""The rules engine at the service level: every rule type after its event, in the event's
transaction; idempotent actions; cascades; history restarts after a ban; dry runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gql_server import clock
from gql_server.models import (
    LedgerEntry,
    Restriction,
    Review,
    RuleFiring,
    SkillValue,
    StreamEvent,
    Submission,
    Task,
    WorkerSkill,
)
from gql_server.models.enums import (
    ActorKind,
    AuditOutcome,
    DisputeStatus,
    LedgerReason,
    RestrictionKind,
    ReviewDecision,
    SkillScope,
    SubmissionState,
)
from gql_server.rules.vocabulary import Event
from gql_server.services import audits, review, rule_engine, rules, skills, submissions
from gql_server.services.errors import ErrorCode
from gql_server.services.events import unit_of_work
from gql_server.services.streams import task_channel
from tests.factories import (
    Requester,
    Worker,
    answer,
    assert_ledger_consistent,
    expect_error,
    frozen_clock,
    new_requester,
    new_submitted,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")
S = SubmissionState


def cond(metric: str, operator: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"metric": metric, "operator": operator, "value": value, **extra}


async def add_rule(
    requester: Requester,
    rule_type: str,
    conditions: list[dict[str, Any]],
    action: dict[str, Any],
    *,
    task: Task | None = None,
    recent_values: int | None = None,
) -> int:
    scope = (
        rules.RuleScope(task_id=task.id)
        if task is not None
        else rules.RuleScope(project_id=requester.project_id)
    )
    rule = await rules.create_rule(
        requester.principal,
        scope,
        rules.RuleDraft(rule_type, recent_values, conditions, action),
    )
    return rule.id


async def state(submission: Submission) -> SubmissionState:
    return (await Submission.get(id=submission.id)).state


async def restrictions_of(worker: Worker, requester: Requester) -> list[Restriction]:
    return list(await Restriction.filter(worker_id=worker.id, account_id=requester.account_id))


async def firings(rule_id: int) -> list[RuleFiring]:
    return list(await RuleFiring.filter(rule_id=rule_id).order_by("id"))


# --- review results --------------------------------------------------------------------------


async def test_a_rule_that_keeps_matching_imposes_one_restriction(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=5)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_PERCENT", "GT", 50)],
        {"type": "SUSPEND_IN_TASK", "days": 5, "reason": "Sloppy."},
        task=task,
    )
    worker = await new_worker()
    pending = [await new_submitted(task, worker, f"answer {i}") for i in range(4)]
    for submission in pending:
        await review.reject_submission(requester.principal, submission.id, "Wrong.")
    [restriction] = await restrictions_of(worker, requester)
    assert (restriction.kind, restriction.actor_kind, restriction.rule_id) == (
        RestrictionKind.SUSPENSION,
        ActorKind.RULE,
        rule,
    )
    assert restriction.task_id == task.id and restriction.reason == "Sloppy."
    [firing] = await firings(rule)
    assert firing.metrics == {"REJECTED_PERCENT": 100.0, "REJECTED_COUNT": 1, "REVIEWED_COUNT": 1}
    assert firing.outcome == {"restriction_id": restriction.id}
    assert firing.action["type"] == "SUSPEND_IN_TASK"
    assert firing.submission_id == pending[0].id
    await expect_error(
        ErrorCode.RESTRICTED, submissions.start_submission(worker.principal, task.id)
    )
    await assert_ledger_consistent(requester.account_id)


async def test_the_firing_is_published_on_the_task_stream(requester: Requester, task: Task) -> None:
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_COUNT", "GTE", 1)],
        {"type": "BAN", "scope": "PROJECT", "days": 2},
        task=task,
    )
    worker = await new_worker()
    submission = await new_submitted(task, worker)
    await review.reject_submission(requester.principal, submission.id, "No.")
    latest = await StreamEvent.filter(stream=task_channel(task.id)).order_by("-version").first()
    assert latest is not None
    assert {
        "change": "rule_fired",
        "rule_id": rule,
        "action": "BAN",
        "worker_id": worker.id,
        "submission_id": submission.id,
    }.items() <= next(c for c in latest.payload["changes"] if c["change"] == "rule_fired").items()


async def test_recent_values_count_the_last_n_reviews_across_the_project(
    requester: Requester,
) -> None:
    first = await new_task(requester, max_submissions_per_worker=5)
    second = await new_task(requester, max_submissions_per_worker=5)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 3)],
        {"type": "BAN", "scope": "PROJECT", "days": 15},
        task=second,
        recent_values=3,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        # Older work: approved in the first task (the second's rule does not run there).
        for _ in range(3):
            s = await new_submitted(first, worker)
            frozen.advance(timedelta(seconds=1))
            await review.approve_submission(requester.principal, s.id)
        pending = [await new_submitted(second, worker, f"s{i}") for i in range(2)]
        # The last 3 across the project: rejected, approved, approved -> no ban.
        frozen.advance(timedelta(seconds=1))
        await review.reject_submission(requester.principal, pending[0].id, "No.")
        assert await firings(rule) == []
        # Rejected, rejected, approved: 2 of the last 3 (of all 5 it would be 2, 40%).
        frozen.advance(timedelta(seconds=1))
        await review.reject_submission(requester.principal, pending[1].id, "No.")
    [firing] = await firings(rule)
    assert firing.metrics["REVIEWED_COUNT"] == 3
    assert firing.metrics["REJECTED_COUNT"] == 2
    [ban] = await restrictions_of(worker, requester)
    assert ban.project_id == requester.project_id


async def test_skill_from_the_accepted_share_records_history_once_per_change(
    requester: Requester,
) -> None:
    task = await new_task(requester, max_submissions_per_worker=6)
    skill = await skills.create_skill(requester.principal, "Accuracy")
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REVIEWED_COUNT", "GTE", 3)],
        {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill.id},
        task=task,
    )
    worker = await new_worker()
    decisions = ["approve", "approve", "reject", "approve", "approve"]
    with frozen_clock() as frozen:
        for decision in decisions:
            s = await new_submitted(task, worker)
            frozen.advance(timedelta(seconds=1))
            if decision == "approve":
                await review.approve_submission(requester.principal, s.id)
            else:
                await review.reject_submission(requester.principal, s.id, "No.")
    # 2 of 3 = 67, 3 of 4 = 75, 4 of 5 = 80.
    history = await SkillValue.filter(skill_id=skill.id, worker_id=worker.id).order_by("id")
    assert [h.value for h in history] == [67, 75, 80]
    assert {h.actor_kind for h in history} == {ActorKind.RULE}
    recorded = await firings(rule)
    assert [h.rule_firing_id for h in history] == [f.id for f in recorded]
    assert [f.outcome for f in recorded] == [{"skill_value": v} for v in (67, 75, 80)]
    current = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert (current.value, current.task_id) == (80, task.id)
    # Running the rule again with nothing new changes nothing and records nothing.
    async with unit_of_work() as work:
        await rule_engine.run_rules(work, (Event.REVIEW,), task.id, {worker.id: ()})
    assert await SkillValue.filter(skill_id=skill.id).count() == 3
    assert len(await firings(rule)) == 3


async def test_a_project_skill_records_the_project_as_its_source(
    requester: Requester, task: Task
) -> None:
    skill = await skills.create_skill(requester.principal, "Care", scope=SkillScope.PROJECT)
    await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_COUNT", "GTE", 1)],
        {"type": "SET_SKILL_VALUE", "skill_id": skill.id, "value": 90},
    )
    worker = await new_worker()
    s = await new_submitted(task, worker)
    await review.approve_submission(requester.principal, s.id)
    current = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert (current.value, current.task_id, current.project_id) == (90, None, task.project_id)


async def test_a_temporary_bans_end_restarts_the_history(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=6)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 2)],
        {"type": "BAN", "scope": "ACCOUNT", "days": 1, "reason": "Many mistakes."},
        task=task,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        pending = [await new_submitted(task, worker, f"a{i}") for i in range(3)]
        frozen.advance(timedelta(seconds=1))
        for s in pending[:2]:
            await review.reject_submission(requester.principal, s.id, "No.")
        [ban] = await restrictions_of(worker, requester)
        assert ban.ends_at == clock.now() + timedelta(days=1)
        await expect_error(
            ErrorCode.RESTRICTED, submissions.start_submission(worker.principal, task.id)
        )
        # Work sent before the ban stays valid and payable.
        frozen.advance(timedelta(days=1, seconds=1))
        await review.approve_submission(requester.principal, pending[2].id)
        # Counted from the ban's end: 1 reviewed, none rejected; without the restart it
        # would be 2 rejected of 3 and a second ban.
        assert len(await restrictions_of(worker, requester)) == 1
        assert len(await firings(rule)) == 1
        # Fresh mistakes count again.
        again = [await new_submitted(task, worker, f"b{i}") for i in range(2)]
        frozen.advance(timedelta(seconds=1))
        for s in again:
            await review.reject_submission(requester.principal, s.id, "No.")
    assert len(await restrictions_of(worker, requester)) == 2
    assert (await firings(rule))[-1].metrics["REVIEWED_COUNT"] == 3


async def test_a_lifted_ban_restarts_the_history_too(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=4)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_COUNT", "GTE", 1)],
        {"type": "BAN", "scope": "PROJECT", "permanent": True},
        task=task,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        first, second = [await new_submitted(task, worker, f"a{i}") for i in range(2)]
        await review.reject_submission(requester.principal, first.id, "No.")
        [ban] = await restrictions_of(worker, requester)
        assert ban.ends_at is None
        frozen.advance(timedelta(hours=1))
        await Restriction.filter(id=ban.id).update(lifted_at=clock.now())
        frozen.advance(timedelta(seconds=1))
        await review.approve_submission(requester.principal, second.id)
    assert len(await firings(rule)) == 1


async def test_an_overturned_dispute_is_a_review_and_a_payment(
    requester: Requester, task: Task
) -> None:
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_COUNT", "GTE", 1)],
        {"type": "PAY_BONUS", "amount": 25},
        task=task,
    )
    worker = await new_worker()
    s = await new_submitted(task, worker)
    await review.reject_submission(requester.principal, s.id, "No.")
    await submissions.dispute_rejection(worker.principal, s.id, "It is a cat.")
    assert await firings(rule) == []
    await review.resolve_dispute(requester.principal, s.id, DisputeStatus.OVERTURNED)
    [firing] = await firings(rule)
    assert firing.outcome == {"bonus_submission_ids": [s.id], "amount_minor": 25}
    assert (await Submission.get(id=s.id)).paid_minor == 125
    await assert_ledger_consistent(requester.account_id)


# --- accept / decline answers, cascades ------------------------------------------------------


async def test_accepting_answers_approves_pending_and_future_ones(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=8, budget="20.00")
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_PERCENT", "GTE", 80), cond("REVIEWED_COUNT", "GTE", 3)],
        {"type": "ACCEPT_ANSWERS"},
        task=task,
    )
    worker = await new_worker()
    pending = [await new_submitted(task, worker, f"a{i}") for i in range(6)]
    for s in pending[:3]:
        await review.approve_submission(requester.principal, s.id)
    assert [await state(s) for s in pending] == [S.APPROVED] * 6
    reviews = await Review.filter(submission_id__in=[s.id for s in pending[3:]])
    assert {(r.actor_kind, r.rule_id, r.decision) for r in reviews} == {
        (ActorKind.RULE, rule, ReviewDecision.APPROVED)
    }
    [firing] = await firings(rule)
    assert firing.outcome == {"reviewed_submission_ids": [s.id for s in pending[3:]]}
    # Future answers are accepted as they come in, while the rule holds.
    later = await new_submitted(task, worker, "later")
    assert await state(later) == S.APPROVED
    assert len(await firings(rule)) == 2
    await assert_ledger_consistent(requester.account_id)


async def test_rule_approvals_run_the_other_rules_in_the_same_transaction(
    requester: Requester,
) -> None:
    task = await new_task(requester, max_submissions_per_worker=8, budget="20.00")
    accept = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_PERCENT", "EQ", 100), cond("REVIEWED_COUNT", "GTE", 2)],
        {"type": "ACCEPT_ANSWERS"},
        task=task,
    )
    earnings = await add_rule(
        requester,
        "EARNINGS",
        [cond("INCOME_LAST_24_HOURS", "GT", 400)],
        {"type": "SUSPEND_IN_TASK", "days": 1},
        task=task,
    )
    worker = await new_worker()
    pending = [await new_submitted(task, worker, f"a{i}") for i in range(6)]
    for s in pending[:2]:
        await review.approve_submission(requester.principal, s.id)
    # The rule accepted the 4 others as one review (a batch, like a bulk review); the
    # earnings rule then saw the income as that review left it, and fired once.
    assert [await state(s) for s in pending] == [S.APPROVED] * 6
    assert len(await firings(accept)) == 1
    [suspension] = await firings(earnings)
    assert suspension.metrics == {"INCOME_LAST_24_HOURS": 600}
    assert len(await restrictions_of(worker, requester)) == 1


async def test_declining_answers_rejects_with_the_rules_reason(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=5)
    rule = await add_rule(
        requester,
        "SUBMITTED_ANSWERS",
        [cond("SUBMITTED_COUNT", "GTE", 3)],
        {"type": "DECLINE_ANSWERS", "reason": "Too many answers from one person."},
        task=task,
    )
    worker = await new_worker()
    pending = [await new_submitted(task, worker, f"a{i}") for i in range(4)]
    assert [await state(s) for s in pending] == [S.REJECTED] * 4
    assert {s.feedback for s in await Submission.filter(id__in=[p.id for p in pending])} == {
        "Too many answers from one person."
    }
    assert len(await firings(rule)) == 2
    await assert_ledger_consistent(requester.account_id)


# --- earnings, submissions, fast responses, audits -------------------------------------------


async def test_earnings_count_the_last_24_hours(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=10, budget="20.00")
    rule = await add_rule(
        requester,
        "EARNINGS",
        [cond("INCOME_LAST_24_HOURS", "GT", 500)],
        {"type": "SUSPEND_IN_TASK", "days": 1},
        task=task,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        for _ in range(5):
            s = await new_submitted(task, worker)
            await review.approve_submission(requester.principal, s.id)
        frozen.advance(timedelta(hours=24, seconds=1))
        s = await new_submitted(task, worker)
        await review.approve_submission(requester.principal, s.id)
        assert await firings(rule) == []
        # A bonus is income too.
        await review.pay_bonus(requester.principal, s.id, 450)
    [firing] = await firings(rule)
    assert firing.metrics == {"INCOME_LAST_24_HOURS": 550}


async def test_fast_responses_among_the_recent_ones(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=6)
    rule = await add_rule(
        requester,
        "FAST_RESPONSES",
        [cond("FAST_COUNT", "GTE", 2, threshold_seconds=30)],
        {"type": "BAN", "scope": "PROJECT", "days": 3},
        task=task,
        recent_values=3,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:

        async def after(seconds: int) -> None:
            started = await submissions.start_submission(worker.principal, task.id)
            frozen.advance(timedelta(seconds=seconds))
            await submissions.submit_submission(worker.principal, started.id, answer())

        await after(10)  # fast
        await after(30)  # exactly the threshold: not faster
        await after(60)
        await after(45)
        assert await firings(rule) == []
        await after(5)  # fast: the last 3 are 60, 45, 5 -> 1 fast
        assert await firings(rule) == []
        await after(29)  # 45, 5, 29 -> 2 fast
    [firing] = await firings(rule)
    assert firing.metrics == {"FAST_COUNT:30": 2}


async def test_audit_results_after_each_audit(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=3)
    skill = await skills.create_skill(requester.principal, "Audited quality")
    rule = await add_rule(
        requester,
        "AUDIT_RESULTS",
        [cond("AUDITED_COUNT", "GTE", 2)],
        {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill.id},
        task=task,
    )
    worker = await new_worker()
    done = []
    for i in range(2):
        s = await new_submitted(task, worker, f"a{i}")
        await review.approve_submission(requester.principal, s.id)
        done.append(s)
    for s, outcome in zip(done, (AuditOutcome.ACCEPTED, AuditOutcome.REJECTED), strict=True):
        lock = await audits.start_audit(requester.principal, s.id)
        await audits.submit_audit(
            requester.principal,
            s.id,
            lock.fencing_token,
            audits.AuditDecision(outcome, comments="Check the picture again."),
        )
    [firing] = await firings(rule)
    assert firing.metrics["AUDIT_ACCEPTED_PERCENT"] == 50.0
    current = await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id)
    assert current.value == 50


async def test_bulk_review_runs_the_rules_for_each_worker(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=3)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 2)],
        {"type": "BAN", "scope": "ACCOUNT", "days": 15},
        task=task,
    )
    sloppy, careful = await new_worker(), await new_worker()
    ids = [(await new_submitted(task, sloppy, f"s{i}")).id for i in range(2)]
    good = [(await new_submitted(task, careful, f"c{i}")).id for i in range(2)]
    await review.bulk_review(requester.principal, ids, ReviewDecision.REJECTED, "No.")
    await review.bulk_review(requester.principal, good, ReviewDecision.APPROVED, None)
    [firing] = await firings(rule)
    assert firing.worker_id == sloppy.id and firing.submission_id is None
    assert len(await restrictions_of(sloppy, requester)) == 1
    assert await restrictions_of(careful, requester) == []


async def test_a_disabled_rule_does_nothing_and_a_project_rule_applies_to_its_tasks(
    requester: Requester, task: Task
) -> None:
    other = await new_requester()
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("REJECTED_COUNT", "GTE", 1)],
        {"type": "SUSPEND_IN_TASK", "days": 1},
    )
    await rules.set_rule_enabled(requester.principal, rule, False)
    worker = await new_worker()
    s = await new_submitted(task, worker)
    await review.reject_submission(requester.principal, s.id, "No.")
    assert await firings(rule) == []
    await rules.set_rule_enabled(requester.principal, rule, True)
    elsewhere = await new_task(other)
    s = await new_submitted(elsewhere, worker)
    await review.reject_submission(other.principal, s.id, "No.")
    assert await firings(rule) == []  # another account's task
    s = await new_submitted(await new_task(requester), worker)
    await review.reject_submission(requester.principal, s.id, "No.")
    assert len(await firings(rule)) == 1


# --- automation ------------------------------------------------------------------------------


async def test_a_bonus_for_exceptional_work_is_paid_once_on_approval(
    requester: Requester, task: Task
) -> None:
    rule = await add_rule(
        requester,
        "AUTOMATION",
        [cond("RESPONSE_SECONDS", "GTE", 60)],
        {"type": "PAY_BONUS", "amount": 50},
        task=task,
    )
    worker = await new_worker()
    with frozen_clock() as frozen:
        started = await submissions.start_submission(worker.principal, task.id)
        frozen.advance(timedelta(minutes=2))
        s = await submissions.submit_submission(worker.principal, started.id, answer())
    assert await firings(rule) == []  # not approved yet
    await review.approve_submission(requester.principal, s.id)
    assert (await Submission.get(id=s.id)).paid_minor == 150
    bonus = await LedgerEntry.filter(submission_id=s.id, reason=LedgerReason.BONUS)
    assert [(b.amount_minor, b.actor_kind) for b in bonus] == [(50, ActorKind.RULE)]
    # The rule matching again for the same answer pays nothing more.
    async with unit_of_work() as work:
        await rule_engine.run_rules(work, (Event.REVIEW,), task.id, {worker.id: (s.id,)})
    assert await LedgerEntry.filter(submission_id=s.id, reason=LedgerReason.BONUS).count() == 1
    [firing] = await firings(rule)
    assert firing.outcome == {"bonus_submission_ids": [s.id], "amount_minor": 50}
    await assert_ledger_consistent(requester.account_id)


async def test_a_review_results_bonus_is_paid_per_approved_answer(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=3)
    rule = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_PERCENT", "EQ", 100)],
        {"type": "PAY_BONUS", "amount": 10},
        task=task,
    )
    worker = await new_worker()
    done = [await new_submitted(task, worker, f"a{i}") for i in range(3)]
    for s in done[:2]:
        await review.approve_submission(requester.principal, s.id)
    await review.reject_submission(requester.principal, done[2].id, "No.")
    assert (
        await LedgerEntry.filter(
            submission_id__in=[s.id for s in done], reason=LedgerReason.BONUS
        ).count()
        == 2
    )
    assert len(await firings(rule)) == 2


async def test_top_up_when_depleted_stops_at_the_cap() -> None:
    requester = await new_requester(fund_minor=10_000)
    task = await new_task(requester, budget="2.00", max_submissions_per_worker=10)
    rule = await add_rule(
        requester,
        "AUTOMATION",
        [cond("REMAINING_REWARDS", "EQ", 0)],
        {"type": "TOP_UP", "amount": 200, "cap": 300},
        task=task,
    )
    worker = await new_worker()
    for _ in range(5):
        await submissions.start_submission(worker.principal, task.id)
    fresh = await Task.get(id=task.id)
    assert (fresh.topped_up_minor, fresh.budget_minor, fresh.remaining_minor) == (300, 500, 0)
    assert [f.outcome for f in await firings(rule)] == [
        {"topped_up_minor": 200},
        {"topped_up_minor": 100},
    ]
    assert [f.worker_id for f in await firings(rule)] == [None, None]
    await expect_error(
        ErrorCode.INSUFFICIENT_FUNDS, submissions.start_submission(worker.principal, task.id)
    )
    assert await LedgerEntry.filter(task_id=task.id, reason=LedgerReason.TOP_UP).count() == 2
    await assert_ledger_consistent(requester.account_id)


async def test_a_top_up_the_balance_cannot_cover_is_skipped_not_the_start() -> None:
    requester = await new_requester(fund_minor=200)
    task = await new_task(requester, budget="2.00", max_submissions_per_worker=3)
    rule = await add_rule(
        requester,
        "AUTOMATION",
        [cond("REMAINING_REWARDS", "EQ", 0)],
        {"type": "TOP_UP", "amount": 500, "cap": 1000},
        task=task,
    )
    worker = await new_worker()
    await submissions.start_submission(worker.principal, task.id)
    second = await submissions.start_submission(worker.principal, task.id)
    assert second.state == S.STARTED
    assert await firings(rule) == []
    assert (await Task.get(id=task.id)).topped_up_minor == 0
    await assert_ledger_consistent(requester.account_id)


# --- dry runs --------------------------------------------------------------------------------


async def test_a_dry_run_lists_the_workers_the_rule_would_act_on(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=3)
    workers = [await new_worker() for _ in range(3)]
    plans = [["reject", "reject", "approve"], ["approve", "reject", "approve"], []]
    for worker, plan in zip(workers, plans, strict=True):
        for decision in plan:
            s = await new_submitted(task, worker)
            if decision == "approve":
                await review.approve_submission(requester.principal, s.id)
            else:
                await review.reject_submission(requester.principal, s.id, "No.")
    draft = rules.RuleDraft(
        "REVIEW_RESULTS",
        None,
        [cond("REJECTED_PERCENT", "GT", 50)],
        {"type": "BAN", "scope": "PROJECT", "days": 15},
    )
    result = await rules.dry_run(
        requester.account_id, scope=rules.RuleScope(task_id=task.id), draft=draft
    )
    assert (result.evaluated, result.matched) == (2, 1)
    [match] = result.matches
    assert (match.worker_id, match.task_id) == (workers[0].id, task.id)
    assert match.decision.metrics_json()["REJECTED_COUNT"] == 2
    assert await Restriction.filter(account_id=requester.account_id).count() == 0
    # A saved rule the same way; a project's rule per task.
    saved = await add_rule(
        requester,
        "REVIEW_RESULTS",
        [cond("ACCEPTED_PERCENT", "GTE", 60)],
        {"type": "ACCEPT_ANSWERS"},
    )
    result = await rules.dry_run(requester.account_id, rule_id=saved)
    assert [(m.worker_id, m.task_id) for m in result.matches] == [(workers[1].id, task.id)]
    assert await RuleFiring.filter(rule_id=saved).count() == 0


async def test_a_dry_run_honours_history_restarts_and_skill_values(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=3)
    skill = await skills.create_skill(requester.principal, "Share")
    worker = await new_worker()
    with frozen_clock() as frozen:
        for _ in range(2):
            s = await new_submitted(task, worker)
            await review.reject_submission(requester.principal, s.id, "No.")
        await Restriction.create(
            account_id=requester.account_id,
            worker_id=worker.id,
            kind=RestrictionKind.BAN,
            scope="ACCOUNT",
            starts_at=clock.now(),
            ends_at=clock.now() + timedelta(days=1),
            actor_kind=ActorKind.MEMBER,
        )
        frozen.advance(timedelta(days=2))
        s = await new_submitted(task, worker)
        await review.approve_submission(requester.principal, s.id)
        draft = rules.RuleDraft(
            "REVIEW_RESULTS",
            None,
            [cond("REVIEWED_COUNT", "GTE", 1)],
            {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": skill.id},
        )
        result = await rules.dry_run(
            requester.account_id, scope=rules.RuleScope(task_id=task.id), draft=draft
        )
    [match] = result.matches
    assert match.decision.action_json() == {
        "type": "SET_SKILL_VALUE",
        "skill_id": skill.id,
        "value": 100,
    }
    assert match.decision.metrics_json()["REVIEWED_COUNT"] == 1


async def test_a_dry_run_of_automation_looks_at_pending_answers_and_budgets(
    requester: Requester,
) -> None:
    task = await new_task(requester, budget="2.00", max_submissions_per_worker=2)
    worker = await new_worker()
    first = await new_submitted(task, worker, "same")
    second = await new_submitted(task, worker, "same")
    result = await rules.dry_run(
        requester.account_id,
        scope=rules.RuleScope(task_id=task.id),
        draft=rules.RuleDraft(
            "AUTOMATION",
            None,
            [cond("DUPLICATE_PROOF_COUNT", "GT", 0)],
            {"type": "REJECT", "reason": "Duplicate."},
        ),
    )
    assert sorted(m.submission_id for m in result.matches) == [first.id, second.id]
    assert [await state(s) for s in (first, second)] == [S.SUBMITTED, S.SUBMITTED]
    result = await rules.dry_run(
        requester.account_id,
        scope=rules.RuleScope(project_id=requester.project_id),
        draft=rules.RuleDraft(
            "AUTOMATION",
            None,
            [cond("REMAINING_REWARDS", "EQ", 0)],
            {"type": "TOP_UP", "amount": 100, "cap": 250},
        ),
    )
    [match] = result.matches
    assert match.task_id == task.id
    assert match.decision.action_json() == {"type": "TOP_UP", "amount": 100, "cap": 250}
