"""Audit reports: weeks in Los Angeles time, and outcomes counted per filter, batch and
auditor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gql_server.models import Batch
from gql_server.models.enums import AuditOutcome, MemberRole
from gql_server.services import audits, review, submissions
from gql_server.services.audits import AuditDecision, AuditFilter
from tests.factories import Requester, answer, frozen_clock, new_completed, new_task, new_worker

pytestmark = pytest.mark.usefixtures("database")


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


async def test_completed_work_is_counted_in_its_los_angeles_week(requester: Requester) -> None:
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
            started = await submissions.start_submission(worker.principal, task.id)
            await submissions.submit_submission(worker.principal, started.id, answer())
            clock.set(moment)
            ids.append((await review.approve_submission(requester.principal, started.id)).id)
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


async def test_reports_count_outcomes_per_filter_batch_and_auditor(requester: Requester) -> None:
    batch = await _batch(requester)
    work = await new_completed(requester, 5, batch_id=batch)
    first, second = (
        (await requester.member(MemberRole.AUDITOR)).principal,
        (await requester.member(MemberRole.MANAGER)).principal,
    )
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
