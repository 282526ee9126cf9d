"""Choosing completed work for audit, the audit mutations' inputs and payloads, and the
audit reports. The Audit and AuditLock types live with Submission (`schema/work.py`).
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from gql_server.rules.statistics import Interval
from gql_server.schema.enums import AuditOutcome
from gql_server.schema.errors import UserError
from gql_server.schema.inputs import ProofValueInput
from gql_server.schema.mapping import to_filter
from gql_server.schema.types import Batch, Info, Member
from gql_server.schema.work import Audit, AuditLock, Submission
from gql_server.services import audits

AuditStatusFilter = strawberry.enum(
    audits.AuditStatusFilter, description="Which completed work, by what its audits found."
)


@strawberry.input(
    description="Completed (approved) work: every field narrows. Times are completion times."
)
class AuditFilter:
    task_id: strawberry.ID | None = None
    batch_id: strawberry.ID | None = None
    completed_from: datetime | None = None
    completed_to: datetime | None = strawberry.field(default=None, description="Exclusive.")
    week_of: date | None = strawberry.field(
        default=None,
        description="Any day of a week; weeks run Monday 00:00 to Sunday 23:59 "
        "America/Los_Angeles.",
    )
    audit_status: AuditStatusFilter | None = None
    auditor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Counts only this auditor's audits (reports)."
    )

    def to_domain(self) -> audits.AuditFilter:
        return to_filter(audits.AuditFilter, self)


@strawberry.type
class AuditOutcomeCounts:
    audits: int
    accepted: int
    fixed: int
    rejected: int

    @classmethod
    def of(cls, counts: audits.OutcomeCounts) -> AuditOutcomeCounts:
        return cls(
            audits=counts.audits,
            accepted=counts.accepted,
            fixed=counts.fixed,
            rejected=counts.rejected,
        )


@strawberry.type(description="A range of percentages (0-100).")
class PercentInterval:
    low: float
    high: float

    @classmethod
    def of(cls, interval: Interval | None) -> PercentInterval | None:
        """`interval`: already in percent."""
        return None if interval is None else cls(low=interval.low, high=interval.high)


@strawberry.type(description="What the audits of the filtered completed work found.")
class AuditReport:
    completed_count: int
    audited_count: int = strawberry.field(description="Submissions audited at least once.")
    defective_count: int = strawberry.field(
        description="Audited submissions that any audit fixed or rejected."
    )
    counts: AuditOutcomeCounts
    defect_rate: float | None = strawberry.field(
        description="Percent of the audited submissions found defective; null when none "
        "was audited."
    )
    defect_rate_interval: PercentInterval | None = strawberry.field(
        description="95% interval (Wilson, with the finite population correction) for the "
        "defect rate of all the completed work, valid when the audited ones are a random "
        "sample of it."
    )

    @classmethod
    def of(cls, summary: audits.AuditSummary) -> AuditReport:
        return cls(
            completed_count=summary.completed,
            audited_count=summary.audited,
            defective_count=summary.defective,
            counts=AuditOutcomeCounts.of(summary.counts),
            defect_rate=summary.defect_rate,
            defect_rate_interval=PercentInterval.of(summary.defect_rate_interval),
        )


@strawberry.type(description="Work completed in one week (Monday to Sunday, Los Angeles).")
class AuditWeek:
    week_start: date
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="Exclusive: the next Monday 00:00.")
    completed_count: int
    audited_count: int

    @classmethod
    def of(cls, week: audits.WeekCounts) -> AuditWeek:
        return cls(
            week_start=week.week_start,
            starts_at=week.starts_at,
            ends_at=week.ends_at,
            completed_count=week.completed,
            audited_count=week.audited,
        )


@strawberry.type(description="The auditor tracker: audits of one batch's completed work.")
class BatchAuditReport:
    completed_count: int
    audited_count: int
    counts: AuditOutcomeCounts
    batch_pk: strawberry.Private[int]

    @strawberry.field
    async def batch(self, info: Info) -> Batch:
        return Batch.from_model(await info.context.loaders.batch.load(self.batch_pk))

    @classmethod
    def of(cls, row: audits.BatchCounts) -> BatchAuditReport:
        return cls(
            completed_count=row.completed,
            audited_count=row.audited,
            counts=AuditOutcomeCounts.of(row.counts),
            batch_pk=row.batch_id,
        )


@strawberry.type(description="Auditor quality: what one auditor decided.")
class AuditorReport:
    submissions_audited: int
    counts: AuditOutcomeCounts
    auditor_pk: strawberry.Private[int]

    @strawberry.field
    async def auditor(self, info: Info) -> Member:
        return Member.from_model(await info.context.loaders.member.load(self.auditor_pk))

    @classmethod
    def of(cls, row: audits.AuditorCounts) -> AuditorReport:
        return cls(
            submissions_audited=row.submissions,
            counts=AuditOutcomeCounts.of(row.counts),
            auditor_pk=row.auditor_id,
        )


# --- inputs and payloads ---------------------------------------------------------------


@strawberry.input
class StartAuditInput:
    submission_id: strawberry.ID
    lease_seconds: int | None = strawberry.field(
        default=None, description="60-3600; 600 when not given."
    )


@strawberry.input
class StartAuditSampleInput:
    filter: AuditFilter
    count: int = strawberry.field(description="1-100.")
    lease_seconds: int | None = None


@strawberry.input
class RenewAuditLockInput:
    submission_id: strawberry.ID
    fencing_token: int
    lease_seconds: int | None = None


@strawberry.input
class ReleaseAuditLockInput:
    submission_id: strawberry.ID
    fencing_token: int


@strawberry.input
class SubmitAuditInput:
    submission_id: strawberry.ID
    fencing_token: int
    outcome: AuditOutcome
    comments: str = strawberry.field(default="", description="Required for REJECTED.")
    corrected_response: list[ProofValueInput] | None = strawberry.field(
        default=None, description="Required for FIXED, and only for it."
    )


@strawberry.type
class AuditLockPayload:
    lock: AuditLock | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StartAuditSamplePayload:
    locks: list[AuditLock] = strawberry.field(
        default_factory=list,
        description="The sample, each under a lock of yours; fewer than asked when fewer "
        "completed submissions are free.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubmitAuditPayload:
    audit: Audit | None = None
    submission: Submission | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
