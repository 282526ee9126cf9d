"""Audit locks: one holder per submission however many race, leases that lapse on time,
fencing tokens that refuse stale audits, renewal and release; only completed work."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gql_server.models import Audit, AuditLock, Submission, Task
from gql_server.models.enums import AuditOutcome, MemberRole
from gql_server.services import audits, submissions
from gql_server.services.audits import AuditDecision
from gql_server.services.errors import ErrorCode
from gql_server.services.principals import MemberPrincipal
from tests.factories import Requester, Worker, answer, expect_error, frozen_clock, new_completed

pytestmark = pytest.mark.usefixtures("database")


async def test_one_holder_per_submission_when_fifty_auditors_race(requester: Requester) -> None:
    work = await new_completed(requester, 10)
    team = [(await requester.member(MemberRole.AUDITOR)).principal for _ in range(50)]

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


async def test_a_lease_expires_on_time_and_can_then_be_taken(requester: Requester) -> None:
    [submission] = await new_completed(requester, 1)
    first, second = (
        (await requester.member(MemberRole.AUDITOR)).principal,
        (await requester.member(MemberRole.AUDITOR)).principal,
    )
    with frozen_clock() as clock:
        lock = await audits.start_audit(first, submission.id, lease_seconds=300)
        clock.advance(timedelta(seconds=299))
        await expect_error(ErrorCode.LOCKED, audits.start_audit(second, submission.id))
        clock.advance(timedelta(seconds=1))
        # The sweep sees every account's leases: look at this one, not at the count.
        await audits.expire_locks()
        expired = await AuditLock.get(submission_id=submission.id)
        assert (expired.holder_id, expired.fencing_token, expired.released_at) == (
            first.member_id,
            lock.fencing_token,
            lock.expires_at,
        )
        taken = await audits.start_audit(second, submission.id)
    assert taken.holder_id == second.member_id
    assert taken.fencing_token == lock.fencing_token + 1


async def test_an_audit_under_a_stale_token_is_refused_and_changes_nothing(
    requester: Requester,
) -> None:
    [submission] = await new_completed(requester, 1)
    first, second = (
        (await requester.member(MemberRole.AUDITOR)).principal,
        (await requester.member(MemberRole.AUDITOR)).principal,
    )
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


async def test_renewing_extends_the_lease_and_releasing_frees_it(requester: Requester) -> None:
    [submission] = await new_completed(requester, 1)
    first, second = (
        (await requester.member(MemberRole.AUDITOR)).principal,
        (await requester.member(MemberRole.AUDITOR)).principal,
    )
    with frozen_clock() as clock:
        lock = await audits.start_audit(first, submission.id, lease_seconds=120)
        clock.advance(timedelta(seconds=100))
        renewed = await audits.renew_lock(first, submission.id, lock.fencing_token, 120)
        assert renewed.expires_at == clock.now() + timedelta(seconds=120)
        clock.advance(timedelta(seconds=100))
        await expect_error(ErrorCode.LOCKED, audits.start_audit(second, submission.id))
        await audits.release_lock(first, submission.id, lock.fencing_token)
        assert (await audits.start_audit(second, submission.id)).holder_id == second.member_id


async def test_only_completed_work_is_audited(
    requester: Requester, task: Task, worker: Worker
) -> None:
    started = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, started.id, answer())
    await expect_error(
        ErrorCode.INVALID_STATE,
        audits.start_audit((await requester.member(MemberRole.AUDITOR)).principal, started.id),
    )
