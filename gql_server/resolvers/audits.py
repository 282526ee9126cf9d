"""Auditing completed work: choosing it, locking it, deciding, and the audit reports."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import clock, models
from gql_server.resolvers.common import Info, mutate, page, query
from gql_server.resolvers.permissions import CanAudit, IsMember
from gql_server.schema.audits import (
    AuditFilter,
    AuditLockPayload,
    AuditorReport,
    AuditReport,
    AuditWeek,
    BatchAuditReport,
    ReleaseAuditLockInput,
    RenewAuditLockInput,
    StartAuditInput,
    StartAuditSampleInput,
    StartAuditSamplePayload,
    SubmitAuditInput,
    SubmitAuditPayload,
)
from gql_server.schema.cost import REPORT, ListSize
from gql_server.schema.work import Audit, AuditLock, Submission, SubmissionConnection
from gql_server.services import audits
from gql_server.services.global_ids import pk_of


def audit_filter(given: AuditFilter | None) -> audits.AuditFilter:
    return (given or AuditFilter()).to_domain()


def _lock(info: Info, lock: models.AuditLock) -> AuditLock:
    return AuditLock.from_model(lock, info.context.member.member_id, clock.now())


async def _lock_payload(info: Info, lock: models.AuditLock) -> dict[str, Any]:
    return {"lock": _lock(info, lock)}


@strawberry.type
class AuditQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="Completed (approved) submissions, latest completed first, with their "
        "audits: the per-submission audit report.",
    )
    async def completed_submissions(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SubmissionConnection:
        account_id = info.context.member.account_id
        result = await query(
            lambda: audits.list_completed(
                account_id, audit_filter(filter), page(first, after, last, before)
            )
        )
        currency = (await info.context.account()).currency
        return SubmissionConnection.from_page(result, lambda s: Submission.from_model(s, currency))

    @strawberry.field(
        permission_classes=[IsMember], description="Totals and the defect rate.", directives=REPORT
    )
    async def audit_report(self, info: Info, filter: AuditFilter | None = None) -> AuditReport:
        account_id = info.context.member.account_id
        summary = await query(lambda: audits.audit_summary(account_id, audit_filter(filter)))
        return AuditReport.of(summary)

    @strawberry.field(
        permission_classes=[IsMember],
        description="The last 4 complete weeks (Monday to Sunday, America/Los_Angeles), "
        "latest first, with the work completed and audited in each.",
        directives=[*REPORT, ListSize(assumed_size=4)],
    )
    async def audit_weeks(self, info: Info, filter: AuditFilter | None = None) -> list[AuditWeek]:
        account_id = info.context.member.account_id
        weeks = await query(lambda: audits.weekly_counts(account_id, audit_filter(filter)))
        return [AuditWeek.of(w) for w in weeks]

    @strawberry.field(
        permission_classes=[IsMember], description="Audits per batch.", directives=REPORT
    )
    async def auditor_tracker(
        self, info: Info, filter: AuditFilter | None = None
    ) -> list[BatchAuditReport]:
        account_id = info.context.member.account_id
        rows = await query(lambda: audits.batch_counts(account_id, audit_filter(filter)))
        return [BatchAuditReport.of(r) for r in rows]

    @strawberry.field(
        permission_classes=[IsMember], description="Audits per auditor.", directives=REPORT
    )
    async def auditor_quality(
        self, info: Info, filter: AuditFilter | None = None
    ) -> list[AuditorReport]:
        account_id = info.context.member.account_id
        rows = await query(lambda: audits.auditor_counts(account_id, audit_filter(filter)))
        return [AuditorReport.of(r) for r in rows]


@strawberry.type
class AuditMutations:
    @strawberry.mutation(
        permission_classes=[CanAudit],
        description="Open one completed submission for audit under a lease (LOCKED when "
        "someone else has it open).",
    )
    async def start_audit(self, info: Info, input: StartAuditInput) -> AuditLockPayload:
        member = info.context.member
        return await mutate(
            AuditLockPayload,
            lambda: audits.start_audit(
                member, pk_of(input.submission_id, "Submission"), input.lease_seconds
            ),
            lambda lock: _lock_payload(info, lock),
        )

    @strawberry.mutation(
        permission_classes=[CanAudit],
        description="Open a random sample of completed submissions nobody has open.",
    )
    async def start_audit_sample(
        self, info: Info, input: StartAuditSampleInput
    ) -> StartAuditSamplePayload:
        member = info.context.member

        async def present(locks: list[models.AuditLock]) -> dict[str, Any]:
            return {"locks": [_lock(info, lock) for lock in locks]}

        return await mutate(
            StartAuditSamplePayload,
            lambda: audits.start_audit_sample(
                member, audit_filter(input.filter), input.count, input.lease_seconds
            ),
            present,
        )

    @strawberry.mutation(permission_classes=[CanAudit])
    async def renew_audit_lock(self, info: Info, input: RenewAuditLockInput) -> AuditLockPayload:
        member = info.context.member
        return await mutate(
            AuditLockPayload,
            lambda: audits.renew_lock(
                member,
                pk_of(input.submission_id, "Submission"),
                input.fencing_token,
                input.lease_seconds,
            ),
            lambda lock: _lock_payload(info, lock),
        )

    @strawberry.mutation(permission_classes=[CanAudit])
    async def release_audit_lock(
        self, info: Info, input: ReleaseAuditLockInput
    ) -> AuditLockPayload:
        member = info.context.member
        return await mutate(
            AuditLockPayload,
            lambda: audits.release_lock(
                member, pk_of(input.submission_id, "Submission"), input.fencing_token
            ),
            lambda lock: _lock_payload(info, lock),
        )

    @strawberry.mutation(
        permission_classes=[CanAudit],
        description="Record an audit under your lock and release it; the submission's "
        "callback follows.",
    )
    async def submit_audit(self, info: Info, input: SubmitAuditInput) -> SubmitAuditPayload:
        member = info.context.member
        corrected = (
            {p.name: p.value for p in input.corrected_response}
            if input.corrected_response is not None
            else None
        )
        decision = audits.AuditDecision(input.outcome, input.comments, corrected)

        async def present(audit: models.Audit) -> dict[str, Any]:
            submission = await models.Submission.get(id=audit.submission_id)
            currency = (await info.context.account()).currency
            return {
                "audit": Audit.from_model(audit),
                "submission": Submission.from_model(submission, currency),
            }

        return await mutate(
            SubmitAuditPayload,
            lambda: audits.submit_audit(
                member, pk_of(input.submission_id, "Submission"), input.fencing_token, decision
            ),
            present,
        )
