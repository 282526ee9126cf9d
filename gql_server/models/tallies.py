"""Tallies: what the analytics read instead of a million rows (SPEC section 9).

A tally row counts rows of a source table that share a key. The database keeps them, by
triggers (migration 0010), so that every writer keeps them without knowing: the use cases,
the bulk paths, a COPY, a hand-written UPDATE. Invariants:

- For every key, the sum of the tally's rows with that key equals the aggregate of the
  source rows with that key, in every snapshot: a trigger writes its rows in the
  transaction that changed the source.
- A change's trigger only ever inserts (a row of -1 for the old key and +1 for the new
  one, called unsettled): writers never wait for each other on a tally, and cannot
  deadlock on one (a TRUNCATE's, on PostgreSQL, empties the source's tallies).
  `services.tallies.settle` folds the unsettled rows into the one settled row of each key
  (unique among the settled), so the tallies stay about as many rows as keys.
- Keys hold raw columns (the submission's state, whether it was ever sent, whether it was
  revised), never the product's state groups, which stay in `models.vocabulary`: a group
  redefined there needs no rebuilt tally.
- Times are cut into UTC quarter hours (every time zone's offset today is a multiple of
  one, so local hours, days and weeks are unions of quarter hours) or UTC days; the part
  of a period that does not fill a whole one is read from the source rows.
- No foreign keys: a tally is derived, and must not lock or cascade as its sources do.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from gql_server.models.enums import LedgerBucket, LedgerReason, SubmissionState


class SubmissionSlotTally(Model):
    """Submissions by task, UTC quarter hour of their start and raw state: the cohort's
    figures by bucket, local hour and day of week."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.BigIntField()
    task_id = fields.BigIntField()
    slot = fields.DatetimeField()
    state = fields.CharEnumField(SubmissionState, max_length=32)
    sent = fields.BooleanField(description="first_submitted_at is set: the work was sent once")
    revised = fields.BooleanField(description="revision_count > 0")
    starts = fields.BigIntField(description="how many submissions")
    micros = fields.BigIntField(description="their microseconds from start to first sending")
    settled = fields.BooleanField(default=False)

    class Meta:
        table = "submission_slot_tally"
        indexes = (
            Index(
                fields=(
                    *("account_id", "slot", "task_id", "state", "sent", "revised"),
                    *("starts", "micros"),
                ),
                name="submission_slot_tally_read",
            ),
        )


class SubmissionWorkerDayTally(Model):
    """Submissions by worker, UTC day of their start and raw state, across the account's
    tasks: the cohort's figures by worker and country."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.BigIntField()
    worker_id = fields.BigIntField()
    day = fields.DateField()
    state = fields.CharEnumField(SubmissionState, max_length=32)
    sent = fields.BooleanField()
    revised = fields.BooleanField()
    starts = fields.BigIntField()
    micros = fields.BigIntField()
    settled = fields.BooleanField(default=False)

    class Meta:
        table = "submission_worker_day_tally"
        indexes = (
            Index(
                fields=(
                    *("account_id", "day", "worker_id", "state", "sent", "revised"),
                    *("starts", "micros"),
                ),
                name="submission_worker_day_tally_read",
            ),
        )


class LedgerSlotTally(Model):
    """Ledger entries of tasks by task, UTC quarter hour, destination and reason: spend,
    bonuses and the budget plan's recent rate. (Entries without a task, an account's
    funding, are not about any task's figures.)"""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.BigIntField()
    task_id = fields.BigIntField()
    slot = fields.DatetimeField()
    to_bucket = fields.CharEnumField(LedgerBucket, max_length=32)
    reason = fields.CharEnumField(LedgerReason, max_length=32)
    amount_minor = fields.BigIntField()
    entries = fields.BigIntField()
    settled = fields.BooleanField(default=False)

    class Meta:
        table = "ledger_slot_tally"
        indexes = (
            Index(
                fields=(
                    *("account_id", "to_bucket", "slot", "task_id", "reason"),
                    *("amount_minor", "entries"),
                ),
                name="ledger_slot_tally_read",
            ),
        )


class SubmissionDurationTally(Model):
    """Sent submissions by task, UTC day of their start and time to complete, in whole
    seconds to three significant figures (`services.sql.duration_bin`): the percentiles
    of the time to complete, from a few thousand rows a task and day at most."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.BigIntField()
    task_id = fields.BigIntField()
    day = fields.DateField()
    seconds = fields.BigIntField(description="the bin's lower bound")
    starts = fields.BigIntField()
    settled = fields.BooleanField(default=False)

    class Meta:
        table = "submission_duration_tally"
        indexes = (
            Index(
                fields=("account_id", "day", "task_id", "seconds", "starts"),
                name="submission_duration_tally_read",
            ),
        )


class LedgerWorkerDayTally(Model):
    """Ledger entries of tasks naming a worker, by worker, UTC day and destination, across
    the account's tasks: each worker's earnings."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.BigIntField()
    worker_id = fields.BigIntField()
    day = fields.DateField()
    to_bucket = fields.CharEnumField(LedgerBucket, max_length=32)
    amount_minor = fields.BigIntField()
    entries = fields.BigIntField()
    settled = fields.BooleanField(default=False)

    class Meta:
        table = "ledger_worker_day_tally"
        indexes = (
            Index(
                fields=("account_id", "to_bucket", "day", "worker_id", "amount_minor"),
                name="ledger_worker_day_tally_read",
            ),
        )
