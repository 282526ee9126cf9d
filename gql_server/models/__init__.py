"""Tortoise models, one module per domain; Tortoise discovers them from this package."""

from gql_server.models.accounts import Account, AdminActivity, ApiKey, Member, OperatorKey
from gql_server.models.audits import Audit, AuditLock
from gql_server.models.callbacks import OutboxEvent, WebhookDelivery, WebhookEndpoint
from gql_server.models.conversations import (
    Announcement,
    AnnouncementRecipient,
    FaqEntry,
    InstructionRevision,
    Thread,
    ThreadMessage,
)
from gql_server.models.exports import ExportLink
from gql_server.models.ledger import IdempotencyRecord, LedgerEntry
from gql_server.models.projects import Batch, Project, Template
from gql_server.models.quality import Restriction, Rule, RuleFiring, Skill, SkillValue, WorkerSkill
from gql_server.models.streams import StreamChange, StreamEvent
from gql_server.models.submissions import Dispute, Review, Submission
from gql_server.models.tallies import (
    LedgerSlotTally,
    LedgerWorkerDayTally,
    SubmissionDurationTally,
    SubmissionSlotTally,
    SubmissionWorkerDayTally,
)
from gql_server.models.tasks import Task, TaskDayCounter, TaskRating, TaskView, TaskWorkerCounter
from gql_server.models.workers import Worker

__all__ = [
    "Account",
    "AdminActivity",
    "Announcement",
    "AnnouncementRecipient",
    "ApiKey",
    "Audit",
    "AuditLock",
    "Batch",
    "Dispute",
    "ExportLink",
    "FaqEntry",
    "IdempotencyRecord",
    "InstructionRevision",
    "LedgerEntry",
    "LedgerSlotTally",
    "LedgerWorkerDayTally",
    "Member",
    "OperatorKey",
    "OutboxEvent",
    "Project",
    "Restriction",
    "Review",
    "Rule",
    "RuleFiring",
    "Skill",
    "SkillValue",
    "StreamChange",
    "StreamEvent",
    "Submission",
    "SubmissionDurationTally",
    "SubmissionSlotTally",
    "SubmissionWorkerDayTally",
    "Task",
    "TaskDayCounter",
    "TaskRating",
    "TaskView",
    "TaskWorkerCounter",
    "Template",
    "Thread",
    "ThreadMessage",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Worker",
    "WorkerSkill",
]
