"""Audit samples: random, without replacement, never what another auditor has open (even
when fifty sample at once), and within the audit status asked for."""

from __future__ import annotations

import asyncio

import pytest

from gql_server.models.enums import AuditOutcome, MemberRole
from gql_server.services import audits
from gql_server.services.audits import AuditDecision, AuditFilter, AuditStatusFilter
from gql_server.services.errors import ErrorCode
from tests.factories import Requester, expect_error, new_completed

pytestmark = pytest.mark.usefixtures("database")


async def test_fifty_auditors_sampling_at_once_never_share_a_submission(
    requester: Requester,
) -> None:
    work = await new_completed(requester, 10)
    team = [(await requester.member(MemberRole.AUDITOR)).principal for _ in range(50)]
    task_id = work[0].task_id

    results = await asyncio.gather(
        *(audits.start_audit_sample(m, AuditFilter(task_id=task_id), 2) for m in team)
    )
    taken = [lock.submission_id for locks in results for lock in locks]
    assert sorted(taken) == sorted(s.id for s in work)


async def test_sampling_skips_work_someone_else_has_open_and_is_without_replacement(
    requester: Requester,
) -> None:
    work = await new_completed(requester, 6)
    first, second = (
        (await requester.member(MemberRole.AUDITOR)).principal,
        (await requester.member(MemberRole.AUDITOR)).principal,
    )
    task_filter = AuditFilter(task_id=work[0].task_id)
    mine = await audits.start_audit_sample(first, task_filter, 4)
    assert len({lock.submission_id for lock in mine}) == 4
    theirs = await audits.start_audit_sample(second, task_filter, 4)
    assert len(theirs) == 2
    assert not {lock.submission_id for lock in mine} & {lock.submission_id for lock in theirs}
    await expect_error(ErrorCode.VALIDATION, audits.start_audit_sample(first, task_filter, 0))
    await expect_error(ErrorCode.VALIDATION, audits.start_audit_sample(first, task_filter, 101))


async def test_the_sample_honours_the_audit_status_filter(requester: Requester) -> None:
    work = await new_completed(requester, 3)
    member = (await requester.member(MemberRole.AUDITOR)).principal
    lock = await audits.start_audit(member, work[0].id)
    await audits.submit_audit(
        member, work[0].id, lock.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
    )
    never = AuditFilter(task_id=work[0].task_id, audit_status=AuditStatusFilter.NEVER_AUDITED)
    sample = await audits.start_audit_sample(member, never, 10)
    assert sorted(lock.submission_id for lock in sample) == sorted(s.id for s in work[1:])
