"""Talking with workers: question threads and their messages, announcements to a task's
workers, a task's FAQ, and the history of a task's instructions."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import ActorKind, MessageKind, ThreadState


class Thread(Entity):
    """A conversation between a worker and an account's team about a task or a submission.

    OPEN waits for the team, ANSWERED for the worker. `waiting_since` and `due_at` are set
    while it is OPEN (the worker's unanswered message and the response target after it);
    `asked_at`, `response_target_seconds`, `first_due_at` and `first_response_seconds`
    describe its first question and how fast the team first answered it (for analytics).
    """

    account = fields.ForeignKeyField(
        "models.Account", related_name="threads", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="threads", on_delete=fields.CASCADE
    )
    # None for a message from the team that names no task.
    task = fields.ForeignKeyField(
        "models.Task", related_name="threads", null=True, on_delete=fields.CASCADE
    )
    submission = fields.ForeignKeyField(
        "models.Submission", related_name="threads", null=True, on_delete=fields.CASCADE
    )
    state = fields.CharEnumField(ThreadState, max_length=16)
    # Who wrote first: the worker (a question) or a member (a message, a review note).
    opened_by = fields.CharEnumField(ActorKind, max_length=16)
    # The worker's first question; None for a thread the team opened.
    asked_at = fields.DatetimeField(null=True)
    response_target_seconds = fields.IntField(null=True)
    first_due_at = fields.DatetimeField(null=True)
    first_response_seconds = fields.IntField(null=True)
    waiting_since = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    # When the sweep announced the thread overdue (once per wait; a reply clears it).
    overdue_at = fields.DatetimeField(null=True)
    last_message_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    message_count = fields.IntField(default=0)

    class Meta:
        table = "thread"
        indexes = (
            Index(fields=("account_id", "last_message_at"), name="thread_account_last"),
            Index(fields=("account_id", "state", "due_at"), name="thread_account_state_due"),
            Index(fields=("task_id", "state", "due_at"), name="thread_task_state_due"),
            Index(fields=("worker_id", "last_message_at"), name="thread_worker_last"),
            Index(fields=("state", "overdue_at", "due_at"), name="thread_overdue_sweep"),
        )
        constraints = (
            CheckConstraint(
                check="state <> 'OPEN' OR due_at IS NOT NULL", name="thread_open_has_due"
            ),
        )


class ThreadMessage(Entity):
    """One message of a thread, by the worker or by a member of the account."""

    thread = fields.ForeignKeyField(
        "models.Thread", related_name="messages", on_delete=fields.CASCADE
    )
    author_kind = fields.CharEnumField(ActorKind, max_length=16)
    member = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(MessageKind, max_length=16)
    body = fields.TextField()

    class Meta:
        table = "thread_message"
        indexes = (Index(fields=("thread_id", "created_at"), name="thread_message_thread"),)


class Announcement(Entity):
    """A message from the team to every worker with a submission on a task.

    At most one a day per task (the day in the account's time zone).
    """

    account = fields.ForeignKeyField(
        "models.Account", related_name="announcements", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="announcements", on_delete=fields.CASCADE
    )
    member = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()
    day = fields.DateField()
    recipient_count = fields.IntField(default=0)

    class Meta:
        table = "announcement"
        # The database refuses a second announcement of the day, whoever sends it.
        unique_together = (("task", "day"),)


class AnnouncementRecipient(Entity):
    """A worker an announcement reached."""

    announcement = fields.ForeignKeyField(
        "models.Announcement", related_name="recipients", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="announcements", on_delete=fields.CASCADE
    )

    class Meta:
        table = "announcement_recipient"
        unique_together = (("announcement", "worker"),)
        indexes = (Index(fields=("worker_id", "created_at"), name="announcement_worker"),)


class FaqEntry(Entity):
    """A question and its answer on a task's FAQ, shown with its instructions."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="faq_entries", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField("models.Task", related_name="faq", on_delete=fields.CASCADE)
    question = fields.TextField()
    answer = fields.TextField()
    # The worker's thread it came from, if it did.
    thread = fields.ForeignKeyField(
        "models.Thread", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "faq_entry"
        indexes = (Index(fields=("task_id", "created_at"), name="faq_entry_task"),)


class InstructionRevision(Entity):
    """One version of a task's instructions: its text, when it was set and by whom."""

    task = fields.ForeignKeyField(
        "models.Task", related_name="instruction_revisions", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    instructions = fields.TextField()
    member = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "instruction_revision"
        unique_together = (("task", "number"),)
