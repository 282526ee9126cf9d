"""Audits: locks that keep auditors apart, outcomes, the callback body, weeks and reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gql_server.models import Audit, AuditLock, Batch, OutboxEvent, Submission
from gql_server.models.enums import AuditOutcome, MemberRole
from gql_server.services import accounts, audits, submissions
from gql_server.services.audits import AuditDecision, AuditFilter, AuditStatusFilter
from gql_server.services.errors import ErrorCode
from gql_server.services.principals import MemberPrincipal
from tests.factories import (
    Requester,
    answer,
    expect_error,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


async def auditor(requester: Requester, role: MemberRole = MemberRole.AUDITOR) -> MemberPrincipal:
    member = await accounts.add_member(
        account_id=requester.account_id,
        name="Auditor",
        email=f"{uuid.uuid4().hex}@example.test",
        role=role,
    )
    return MemberPrincipal(member.id, requester.account_id, role, 0)


async def completed(requester: Requester, count: int, **task_changes: object) -> list[Submission]:
    """`count` approved submissions of one new task, each by its own worker."""
    task = await new_task(
        requester, budget=f"{count}.00", max_submissions_per_worker=1, **task_changes
    )
    done = []
    for n in range(count):
        worker = await new_worker()
        started = await submissions.start_submission(worker, task.id)
        await submissions.submit_submission(worker, started.id, answer(f"answer {n}"))
        done.append(await submissions.approve_submission(requester.principal, started.id))
    return done


async def test_one_holder_per_submission_when_fifty_auditors_race() -> None:
    requester = await new_requester()
    work = await completed(requester, 10)
    team = [await auditor(requester) for _ in range(50)]

    async def try_all(member: MemberPrincipal) -> list[int]:
        won = []
        for submission in work:
            try:
                await audits.start_audit(member, submission.id)
                won.append(submission.id)
            except Exception as error:  # the loser's LOCKED error is the expected outcome
                assert getattr(error, "errors", None) and error.errors[0].code == ErrorCode.LOCKED
        return won

    results = await asyncio.gather(*(try_all(member) for member in team))
    wins = [pk for won in results for pk in won]
    assert sorted(wins) == sorted(s.id for s in work)
    locks = await AuditLock.filter(submission_id__in=[s.id for s in work])
    assert len(locks) == 10
    assert all(lock.fencing_token == 1 for lock in locks)
    holders = {lock.submission_id: lock.holder_id for lock in locks}
    for member, won in zip(team, results, strict=True):
        for pk in won:
            assert holders[pk] == member.member_id


async def test_fifty_auditors_sampling_at_once_never_share_a_submission() -> None:
    requester = await new_requester()
    work = await completed(requester, 10)
    team = [await auditor(requester) for _ in range(50)]
    task_id = work[0].task_id

    results = await asyncio.gather(
        *(audits.start_audit_sample(m, AuditFilter(task_id=task_id), 2) for m in team)
    )
    taken = [lock.submission_id for locks in results for lock in locks]
    assert sorted(taken) == sorted(s.id for s in work)


async def test_a_lease_expires_on_time_and_can_then_be_taken() -> None:
    requester = await new_requester()
    [submission] = await completed(requester, 1)
    first, second = await auditor(requester), await auditor(requester)
    with frozen_clock() as clock:
        lock = await audits.start_audit(first, submission.id, lease_seconds=300)
        clock.advance(timedelta(seconds=299))
        await expect_error(ErrorCode.LOCKED, audits.start_audit(second, submission.id))
        clock.advance(timedelta(seconds=1))
        assert await audits.expire_locks() >= 1
        taken = await audits.start_audit(second, submission.id)
    assert taken.holder_id == second.member_id
    assert taken.fencing_token == lock.fencing_token + 1


async def test_an_audit_under_a_stale_token_is_refused_and_changes_nothing() -> None:
    requester = await new_requester()
    [submission] = await completed(requester, 1)
    first, second = await auditor(requester), await auditor(requester)
    with frozen_clock() as clock:
        stale = await audits.start_audit(first, submission.id)
        clock.advance(audits.DEFAULT_LEASE)
        # No sweep ran: the lapsed lease is taken over directly.
        fresh = await audits.start_audit(second, submission.id)
        for call in (
            audits.submit_audit(
                first, submission.id, stale.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
            ),
            audits.renew_lock(first, submission.id, stale.fencing_token),
            audits.release_lock(first, submission.id, stale.fencing_token),
            # The new holder's token is no use to the old holder either.
            audits.submit_audit(
                first, submission.id, fresh.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
            ),
        ):
            await expect_error(ErrorCode.STALE_LOCK, call)
        assert await Audit.filter(submission_id=submission.id).count() == 0
        await audits.submit_audit(
            second, submission.id, fresh.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
        )
    assert (await Submission.get(id=submission.id)).audit_status == AuditOutcome.ACCEPTED


async def test_renewing_extends_the_lease_and_releasing_frees_it() -> None:
    requester = await new_requester()
    [submission] = await completed(requester, 1)
    first, second = await auditor(requester), await auditor(requester)
    with frozen_clock() as clock:
        lock = await audits.start_audit(first, submission.id, lease_seconds=120)
        clock.advance(timedelta(seconds=100))
        renewed = await audits.renew_lock(first, submission.id, lock.fencing_token, 120)
        assert renewed.expires_at == clock.now() + timedelta(seconds=120)
        clock.advance(timedelta(seconds=100))
        await expect_error(ErrorCode.LOCKED, audits.start_audit(second, submission.id))
        await audits.release_lock(first, submission.id, lock.fencing_token)
        assert (await audits.start_audit(second, submission.id)).holder_id == second.member_id


async def test_only_completed_work_is_audited() -> None:
    requester = await new_requester()
    task = await new_task(requester)
    worker = await new_worker()
    started = await submissions.start_submission(worker, task.id)
    await submissions.submit_submission(worker, started.id, answer())
    await expect_error(
        ErrorCode.INVALID_STATE, audits.start_audit(await auditor(requester), started.id)
    )


async def test_accepted_then_fixed_then_rejected_builds_the_callback_body() -> None:
    requester = await new_requester()
    [submission] = await completed(requester, 1, callback_url="https://partner.example/hook")
    member = await auditor(requester)

    async def audit(decision: AuditDecision) -> dict[str, object]:
        lock = await audits.start_audit(member, submission.id)
        await audits.submit_audit(member, submission.id, lock.fencing_token, decision)
        event = (
            await OutboxEvent.filter(submission_id=submission.id, event_type="submission.audited")
            .order_by("-id")
            .first()
        )
        assert event is not None
        assert event.payload["type"] == "submission.audited"
        return event.payload["data"]

    body = await audit(AuditDecision(AuditOutcome.ACCEPTED, "Looks right."))
    assert body["response"] == {"answer": "answer 0"}
    assert body["customer_review_status"] == "Accepted"
    assert body["customer_review_comments"] == ["Looks right."]
    assert body["prior_responses"] == []

    body = await audit(AuditDecision(AuditOutcome.FIXED, "Typo fixed.", {"answer": "a dog"}))
    assert body["response"] == {"answer": "a dog"}
    assert body["customer_review_status"] == "Fixed"
    assert body["customer_review_comments"] == ["Looks right.", "Typo fixed."]
    assert body["prior_responses"] == [{"answer": "answer 0"}]

    body = await audit(AuditDecision(AuditOutcome.REJECTED, "It is a wolf, not a dog."))
    assert body["response"] == {"answer": "a dog"}
    assert body["customer_review_status"] == "Rejected"
    assert body["customer_review_comments"] == [
        "Looks right.",
        "Typo fixed.",
        "It is a wolf, not a dog.",
    ]
    assert body["prior_responses"] == [{"answer": "answer 0"}]

    trail = await Audit.filter(submission_id=submission.id).order_by("created_at", "id")
    assert [a.outcome for a in trail] == [
        AuditOutcome.ACCEPTED,
        AuditOutcome.FIXED,
        AuditOutcome.REJECTED,
    ]
    stored = await Submission.get(id=submission.id)
    assert (stored.audit_count, stored.audit_status) == (3, AuditOutcome.REJECTED)


async def test_bad_decisions_are_refused_and_keep_the_lock() -> None:
    requester = await new_requester()
    [submission] = await completed(requester, 1)
    member = await auditor(requester)
    lock = await audits.start_audit(member, submission.id)
    cases = [
        (AuditDecision(AuditOutcome.REJECTED, "  "), ("input", "comments")),
        (AuditDecision(AuditOutcome.FIXED, "fixed"), ("input", "correctedResponse")),
        (
            AuditDecision(AuditOutcome.FIXED, "", {"answer": "x", "extra": "y"}),
            ("input", "correctedResponse", "extra"),
        ),
        (
            AuditDecision(AuditOutcome.FIXED, "", {"answer": ""}),
            ("input", "correctedResponse", "answer"),
        ),
        (
            AuditDecision(AuditOutcome.ACCEPTED, "", {"answer": "x"}),
            ("input", "correctedResponse"),
        ),
        (AuditDecision(AuditOutcome.ACCEPTED, "x" * 5001), ("input", "comments")),
    ]
    for decision, field in cases:
        error = await expect_error(
            ErrorCode.VALIDATION,
            audits.submit_audit(member, submission.id, lock.fencing_token, decision),
        )
        assert error.errors[0].field == field
    assert await Audit.filter(submission_id=submission.id).count() == 0
    # Still held: the auditor can fix the input and send again.
    await audits.submit_audit(
        member, submission.id, lock.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
    )


async def test_sampling_skips_work_someone_else_has_open_and_is_without_replacement() -> None:
    requester = await new_requester()
    work = await completed(requester, 6)
    first, second = await auditor(requester), await auditor(requester)
    task_filter = AuditFilter(task_id=work[0].task_id)
    mine = await audits.start_audit_sample(first, task_filter, 4)
    assert len({lock.submission_id for lock in mine}) == 4
    theirs = await audits.start_audit_sample(second, task_filter, 4)
    assert len(theirs) == 2
    assert not {lock.submission_id for lock in mine} & {lock.submission_id for lock in theirs}
    await expect_error(ErrorCode.VALIDATION, audits.start_audit_sample(first, task_filter, 0))
    await expect_error(ErrorCode.VALIDATION, audits.start_audit_sample(first, task_filter, 101))


async def test_the_sample_honours_the_audit_status_filter() -> None:
    requester = await new_requester()
    work = await completed(requester, 3)
    member = await auditor(requester)
    lock = await audits.start_audit(member, work[0].id)
    await audits.submit_audit(
        member, work[0].id, lock.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
    )
    never = AuditFilter(task_id=work[0].task_id, audit_status=AuditStatusFilter.NEVER_AUDITED)
    sample = await audits.start_audit_sample(member, never, 10)
    assert sorted(lock.submission_id for lock in sample) == sorted(s.id for s in work[1:])


def test_weeks_run_monday_to_sunday_in_los_angeles_across_daylight_saving() -> None:
    # 2026-11-01 02:00 PDT -> 01:00 PST: the week of Oct 26 has 169 hours.
    start, end = audits.week_bounds(date(2026, 10, 29))
    assert start == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=169)
    # 2026-03-08 02:00 PST -> 03:00 PDT: the week of Mar 2 has 167 hours.
    start, end = audits.week_bounds(date(2026, 3, 8))
    assert start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=167)
    # Sunday late evening in Los Angeles is already Monday in UTC.
    assert audits.recent_weeks(datetime(2026, 11, 9, 7, 59, tzinfo=UTC), 2) == [
        date(2026, 10, 26),
        date(2026, 10, 19),
    ]
    assert audits.recent_weeks(datetime(2026, 11, 9, 8, 0, tzinfo=UTC), 1) == [date(2026, 11, 2)]


async def test_completed_work_is_counted_in_its_los_angeles_week() -> None:
    requester = await new_requester()
    moments = [
        datetime(2026, 11, 2, 7, 59, tzinfo=UTC),  # Sunday Nov 1, 23:59 PST
        datetime(2026, 11, 2, 8, 0, tzinfo=UTC),  # Monday Nov 2, 00:00 PST
        datetime(2026, 10, 26, 6, 59, tzinfo=UTC),  # Sunday Oct 25, 23:59 PDT
        datetime(2026, 10, 26, 7, 0, tzinfo=UTC),  # Monday Oct 26, 00:00 PDT
    ]
    task = await new_task(requester, budget="4.00")
    ids = []
    for moment in moments:
        with frozen_clock(moment - timedelta(minutes=5)) as clock:
            worker = await new_worker()
            started = await submissions.start_submission(worker, task.id)
            await submissions.submit_submission(worker, started.id, answer())
            clock.set(moment)
            ids.append((await submissions.approve_submission(requester.principal, started.id)).id)
    week = AuditFilter(task_id=task.id, week_of=date(2026, 10, 28))
    inside = await audits.completed_submissions(requester.account_id, week).values_list(
        "id", flat=True
    )
    assert sorted(inside) == sorted([ids[0], ids[3]])
    with frozen_clock(datetime(2026, 11, 10, 12, 0, tzinfo=UTC)):
        weeks = await audits.weekly_counts(requester.account_id, AuditFilter(task_id=task.id))
    assert [(w.week_start, w.completed) for w in weeks] == [
        (date(2026, 11, 2), 1),
        (date(2026, 10, 26), 2),
        (date(2026, 10, 19), 1),
        (date(2026, 10, 12), 0),
    ]


async def test_reports_count_outcomes_per_filter_batch_and_auditor() -> None:
    requester = await new_requester()
    batch = await _batch(requester)
    work = await completed(requester, 5, batch_id=batch)
    first, second = await auditor(requester), await auditor(requester, MemberRole.MANAGER)
    plan = [
        (first, work[0], AuditDecision(AuditOutcome.ACCEPTED)),
        (first, work[1], AuditDecision(AuditOutcome.REJECTED, "wrong")),
        (second, work[2], AuditDecision(AuditOutcome.FIXED, "", {"answer": "fixed"})),
        (second, work[2], AuditDecision(AuditOutcome.ACCEPTED)),
    ]
    for member, submission, decision in plan:
        lock = await audits.start_audit(member, submission.id)
        await audits.submit_audit(member, submission.id, lock.fencing_token, decision)

    summary = await audits.audit_summary(requester.account_id, AuditFilter(batch_id=batch))
    assert (summary.completed, summary.audited, summary.defective) == (5, 3, 2)
    assert summary.counts == audits.OutcomeCounts(audits=4, accepted=2, fixed=1, rejected=1)
    interval = summary.defect_interval
    assert interval is not None and interval.low < 2 / 3 < interval.high

    only_first = await audits.audit_summary(
        requester.account_id, AuditFilter(batch_id=batch, auditor_id=first.member_id)
    )
    assert only_first.counts == audits.OutcomeCounts(audits=2, accepted=1, fixed=0, rejected=1)

    [tracker] = await audits.batch_counts(requester.account_id, AuditFilter(batch_id=batch))
    assert (tracker.batch_id, tracker.completed, tracker.audited) == (batch, 5, 3)
    assert tracker.counts.audits == 4

    quality = {
        row.auditor_id: row
        for row in await audits.auditor_counts(requester.account_id, AuditFilter(batch_id=batch))
    }
    assert quality[first.member_id].submissions == 2
    assert quality[first.member_id].counts == audits.OutcomeCounts(2, 1, 0, 1)
    assert quality[second.member_id].submissions == 1
    assert quality[second.member_id].counts == audits.OutcomeCounts(2, 1, 1, 0)


async def _batch(requester: Requester) -> int:
    return (await Batch.create(account_id=requester.account_id, name="Batch")).id
