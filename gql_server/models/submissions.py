"""Submissions, the reviews that decide their pay, and disputes of rejections."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import (
    ActorKind,
    AuditOutcome,
    DisputeStatus,
    ReviewDecision,
    SubmissionState,
)


class Submission(Entity):
    """One attempt of a worker at a task, started at `created_at`."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="submissions", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="submissions", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="submissions", on_delete=fields.RESTRICT
    )
    state = fields.CharEnumField(SubmissionState, max_length=32, default=SubmissionState.STARTED)

    response = fields.JSONField(null=True)
    # Earlier responses, oldest first: replaced by a revision or by an audit's fix.
    prior_responses = fields.JSONField(default=list)
    # Hash of the normalised proof, to find identical proof across submissions (spam).
    proof_fingerprint = fields.CharField(max_length=64, null=True)
    # The reward reserved when the submission started; what approval pays.
    reward_minor = fields.BigIntField()
    paid_minor = fields.BigIntField(default=0)
    feedback = fields.TextField(null=True)
    revision_count = fields.IntField(default=0)

    deadline_at = fields.DatetimeField()
    submitted_at = fields.DatetimeField(null=True)
    first_submitted_at = fields.DatetimeField(null=True)
    reviewed_at = fields.DatetimeField(null=True)
    auto_approve_at = fields.DatetimeField(null=True)
    # The slot this submission held was given back (expired, released by recompletion).
    slot_released = fields.BooleanField(default=False)

    audit_status = fields.CharEnumField(AuditOutcome, max_length=16, null=True)
    audit_count = fields.IntField(default=0)
    last_audited_at = fields.DatetimeField(null=True)
    # All audit comments, in order (the callback's customer_review_comments).
    audit_comments = fields.JSONField(default=list)

    version = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "submission"
        indexes = (
            Index(fields=("task_id", "state", "submitted_at"), name="submission_queue_task"),
            Index(fields=("account_id", "state", "submitted_at"), name="submission_queue_account"),
            Index(fields=("worker_id", "task_id", "created_at"), name="submission_worker_task"),
            Index(fields=("worker_id", "reviewed_at"), name="submission_worker_reviewed"),
            Index(fields=("state", "deadline_at"), name="submission_state_deadline"),
            Index(fields=("state", "auto_approve_at"), name="submission_state_auto_approve"),
            Index(fields=("account_id", "submitted_at"), name="submission_account_submitted"),
            # The analytics' cohorts: work started in a period, of an account (with what
            # its figures read, so that the index alone answers them) or of a task.
            Index(
                fields=(
                    *("account_id", "created_at", "task_id", "worker_id", "state"),
                    *("first_submitted_at", "revision_count", "reviewed_at"),
                ),
                name="submission_account_started",
            ),
            Index(fields=("task_id", "created_at"), name="submission_task_started"),
            Index(fields=("task_id", "proof_fingerprint"), name="submission_task_fingerprint"),
            # Completed work by completion time: audit sampling and the weekly report.
            Index(
                fields=("account_id", "state", "reviewed_at"), name="submission_account_completed"
            ),
            # Audited completed work (audit_count > 0) with its ids, read from the index
            # alone: the audit report's audited, defective and outcome counts then cost
            # the audited share, not every completed row (1M completed: 1.16 s -> 0.2 s).
            Index(
                fields=("account_id", "state", "audit_count", "id"),
                name="submission_account_audited",
            ),
        )
        constraints = (
            CheckConstraint(check="reward_minor > 0 AND paid_minor >= 0", name="submission_money"),
        )


class Review(Entity):
    """A pay decision on a submission, by a member, a rule or the auto-approval sweep."""

    submission = fields.ForeignKeyField(
        "models.Submission", related_name="reviews", on_delete=fields.CASCADE
    )
    decision = fields.CharEnumField(ReviewDecision, max_length=32)
    feedback = fields.TextField(null=True)
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    member = fields.ForeignKeyField(
        "models.Member", related_name="reviews", null=True, on_delete=fields.SET_NULL
    )
    rule = fields.ForeignKeyField(
        "models.Rule", related_name="reviews", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "review"
        indexes = (Index(fields=("submission_id", "created_at"), name="review_submission_created"),)


class Dispute(Entity):
    """A dispute of a rejection by its worker, and how the requester resolved it."""

    submission = fields.ForeignKeyField(
        "models.Submission", related_name="disputes", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="disputes", on_delete=fields.CASCADE
    )
    reason = fields.TextField()
    status = fields.CharEnumField(DisputeStatus, max_length=32, default=DisputeStatus.OPEN)
    resolution_note = fields.TextField(null=True)
    paid_minor = fields.BigIntField(default=0)
    resolved_by = fields.ForeignKeyField(
        "models.Member", related_name="resolved_disputes", null=True, on_delete=fields.SET_NULL
    )
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "dispute"
        indexes = (Index(fields=("submission_id", "status"), name="dispute_submission_status"),)
