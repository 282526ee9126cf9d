"""The product's words that several features share, each defined once (SPEC section 2).

State groups and the figures built on them live here, next to the enums, so that the
review queue, targeting, the rule metrics, audits and the API all mean the same thing by
"paid", "pending", "live" or "held". Where two features must count differently, they
use two names, and the difference is said where they are defined.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from gql_server.models.audits import AuditLock
from gql_server.models.enums import RestrictionKind, SubmissionState, TaskStatus, ThreadState

S = SubmissionState

# A task that can still change: open for work, or paused. Closed tasks and drafts are not.
LIVE_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.PAUSED)

# Work waiting for the requester's pay decision: the review queue.
PENDING_REVIEW_STATES = (S.SUBMITTED,)

# Work the worker was paid for: its reward in full, or a part of it after a dispute.
# Bonuses go with paid work only.
PAID_STATES = (S.APPROVED, S.PARTIALLY_PAID)

# Completed work, the population audits sample from (SPEC section 7): the paid work,
# completed when it was approved.
COMPLETED_STATES = PAID_STATES

# Targeting's "reviewed" and "approval rate" (experience, minimum approval rate): final
# pay outcomes only. A disputed rejection is not final yet, so it is not counted; a
# partial payment counts as approved, since the worker was paid for the work.
FINAL_REVIEW_STATES = (S.APPROVED, S.REJECTED, S.PARTIALLY_PAID)
TARGETING_APPROVED_STATES = PAID_STATES

# The rule metrics' "accepted" and "rejected" (REVIEW_RESULTS rules, from the seeds'
# quality control): whether the work was accepted as delivered. A rule judges quality, so
# a dispute (a rejection the worker contests) and a partial payment both count as
# rejected work, unlike targeting, which asks whether the worker delivered paid work.
RULE_ACCEPTED_STATES = (S.APPROVED,)
RULE_REJECTED_STATES = (S.REJECTED, S.DISPUTED, S.PARTIALLY_PAID)


# Restrictions that keep a worker from work (they hide tasks and refuse starts and
# submissions). A mute refuses only the worker's messages to the account.
WORK_RESTRICTION_KINDS = (RestrictionKind.SUSPENSION, RestrictionKind.BAN)


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent; None when there is no `whole` (not 0, not an error)."""
    return None if whole == 0 else 100.0 * part / whole


def thread_overdue(now: datetime) -> Q:
    """A question thread is overdue: it waits for the team past its due time (the time the
    worker wrote plus the account's response target). A reply by the team clears it."""
    return Q(state=ThreadState.OPEN, due_at__lte=now)


def lock_held(now: datetime) -> Q:
    """An audit lock is held: it has a holder, was not released, and its lease runs."""
    return Q(holder_id__isnull=False, released_at__isnull=True, expires_at__gt=now)


def is_held(lock: AuditLock, now: datetime) -> bool:
    """`lock_held`, for a lock already read."""
    return (
        lock.holder_id is not None
        and lock.released_at is None
        and lock.expires_at is not None
        and lock.expires_at > now
    )
