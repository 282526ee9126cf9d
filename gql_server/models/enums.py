"""Enumerations of the domain, shared by models, services and the GraphQL schema."""

from __future__ import annotations

from enum import StrEnum


class Currency(StrEnum):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    JPY = "JPY"


class MemberRole(StrEnum):
    OWNER = "OWNER"
    MANAGER = "MANAGER"
    AUDITOR = "AUDITOR"
    VIEWER = "VIEWER"


class TaskStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAUSED = "PAUSED"
    CLOSED = "CLOSED"


class CloseReason(StrEnum):
    MANUAL = "MANUAL"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    MAX_SUBMISSIONS = "MAX_SUBMISSIONS"
    EXPIRED = "EXPIRED"


class AcceptanceMode(StrEnum):
    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"


class ProofKind(StrEnum):
    TEXT = "TEXT"
    LINK = "LINK"
    SCREENSHOT_URL = "SCREENSHOT_URL"


class SubmissionState(StrEnum):
    STARTED = "STARTED"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REVISION_REQUESTED = "REVISION_REQUESTED"
    EXPIRED = "EXPIRED"
    DISPUTED = "DISPUTED"
    PARTIALLY_PAID = "PARTIALLY_PAID"


class ReviewDecision(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    REVISION_REQUESTED = "REVISION_REQUESTED"


class ActorKind(StrEnum):
    """Who caused a change: a member, the worker, a rule, or the system (sweeps, expiry)."""

    MEMBER = "MEMBER"
    WORKER = "WORKER"
    RULE = "RULE"
    SYSTEM = "SYSTEM"


class DisputeStatus(StrEnum):
    OPEN = "OPEN"
    UPHELD = "UPHELD"
    OVERTURNED = "OVERTURNED"
    PARTIALLY_PAID = "PARTIALLY_PAID"


class LedgerBucket(StrEnum):
    """Where money sits. EXTERNAL is the outside world (funding); WORKER is paid out."""

    EXTERNAL = "EXTERNAL"
    ACCOUNT_BALANCE = "ACCOUNT_BALANCE"
    TASK_REMAINING = "TASK_REMAINING"
    TASK_COMMITTED = "TASK_COMMITTED"
    TASK_SPENT = "TASK_SPENT"


class LedgerReason(StrEnum):
    FUND = "FUND"
    ALLOCATE = "ALLOCATE"
    COMMIT = "COMMIT"
    RELEASE = "RELEASE"
    PAY = "PAY"
    BONUS = "BONUS"
    PARTIAL_PAYMENT = "PARTIAL_PAYMENT"
    RETURN = "RETURN"
    TOP_UP = "TOP_UP"


class SkillScope(StrEnum):
    """How a worker's current skill value is computed: per task or per project."""

    TASK = "TASK"
    PROJECT = "PROJECT"


class RestrictionKind(StrEnum):
    SUSPENSION = "SUSPENSION"
    BAN = "BAN"
    # The worker's messages to the account are refused; their work is not.
    MUTE = "MUTE"


class RestrictionScope(StrEnum):
    TASK = "TASK"
    PROJECT = "PROJECT"
    ACCOUNT = "ACCOUNT"


class ThreadState(StrEnum):
    """Whose turn it is in a question thread."""

    OPEN = "OPEN"  # waiting for the team
    ANSWERED = "ANSWERED"  # waiting for the worker
    CLOSED = "CLOSED"


class MessageKind(StrEnum):
    """What a message of a thread is."""

    QUESTION = "QUESTION"  # the worker's question that opened the thread
    REPLY = "REPLY"  # an answer in the thread, by either side
    MESSAGE = "MESSAGE"  # the team writing to a worker first
    REVIEW_NOTE = "REVIEW_NOTE"  # the team's note on a review of the thread's submission


class AuditOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    FIXED = "FIXED"
    REJECTED = "REJECTED"


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DISABLED = "DISABLED"


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


# --- what a live stream message says changed (stored in the stream log as these values) ---


class FiguresChange(StrEnum):
    """What moved a task's or an account's money (the `budget` stream)."""

    PUBLISHED = "published"
    STARTED = "started"
    APPROVED = "approved"
    REJECTED = "rejected"
    BONUS = "bonus"
    EXPIRED = "expired"
    CLOSED = "closed"
    BUDGET_CHANGED = "budget_changed"
    TOPPED_UP = "topped_up"
    BULK_REVIEWED = "bulk_reviewed"
    DISPUTE_RESOLVED = "dispute_resolved"
    FUNDED = "funded"


class QueueChange(StrEnum):
    """How a submission changed in the review queue (the `reviewQueue` stream)."""

    ADDED = "added"
    REMOVED = "removed"
    UPDATED = "updated"

    @classmethod
    def _missing_(cls, value: object) -> QueueChange | None:
        # Messages stored before this enum existed say "disputed" for an update.
        return cls.UPDATED if value == "disputed" else None


class TaskChange(StrEnum):
    """What happened to a task (the `taskEvents` stream)."""

    OPENED = "opened"
    PAUSED = "paused"
    RESUMED = "resumed"
    CLOSED = "closed"
    RULE_FIRED = "rule_fired"


class ThreadChange(StrEnum):
    """What happened to a thread (the `threadActivity` stream)."""

    ASKED = "asked"
    WORKER_REPLIED = "worker_replied"
    # Every message of the team in a thread, so that a colleague's answer shows at once.
    TEAM_REPLIED = "team_replied"
    # A thread the team began: a message to a worker, or a review note.
    TEAM_OPENED = "team_opened"
    CLOSED = "closed"
    OVERDUE = "overdue"


class LockChange(StrEnum):
    """What happened to an audit lock (the `auditLocks` stream)."""

    TAKEN = "taken"
    RENEWED = "renewed"
    RELEASED = "released"
    EXPIRED = "expired"


class AdminAction(StrEnum):
    """What a member did to the account's administration (the activity log)."""

    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_ROLE_CHANGED = "MEMBER_ROLE_CHANGED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    API_KEY_CREATED = "API_KEY_CREATED"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    API_KEY_ROTATED = "API_KEY_ROTATED"
    ENDPOINT_CREATED = "ENDPOINT_CREATED"
    ENDPOINT_UPDATED = "ENDPOINT_UPDATED"
    ENDPOINT_DELETED = "ENDPOINT_DELETED"
    ENDPOINT_SECRET_ROTATED = "ENDPOINT_SECRET_ROTATED"
    RESTRICTION_LIFTED = "RESTRICTION_LIFTED"
