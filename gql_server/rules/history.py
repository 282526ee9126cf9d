"""Which part of a worker's history a rule's metrics count, as the seeds describe it.

- "Recent values to use" empty: all of the worker's results in the task of the event.
  Set to N: the worker's N most recent results; for review and audit results counted across
  all tasks of the project (the seeds' "calculate the skill based on all tasks in a project").
- After a temporary ban the history "is not saved": only what happened after the latest ban
  of the worker ended counts.
- Earnings are the last 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gql_server.rules.config import RuleConfig
from gql_server.rules.vocabulary import RuleType

EARNINGS_PERIOD = timedelta(hours=24)
_PROJECT_WIDE = frozenset({RuleType.REVIEW_RESULTS, RuleType.AUDIT_RESULTS})


class HistoryScope(StrEnum):
    TASK = "TASK"
    PROJECT = "PROJECT"


@dataclass(frozen=True)
class HistoryWindow:
    """The worker's records a rule's metrics are computed over."""

    # The event's task, or all tasks of its project.
    scope: HistoryScope
    # Only the N most recent records; None: all.
    limit: int | None
    # Only records from this moment on (inclusive); None: since the beginning.
    since: datetime | None


@dataclass(frozen=True)
class BanPeriod:
    """One of the worker's bans in the account, as stored (Restriction of kind BAN)."""

    ends_at: datetime | None
    lifted_at: datetime | None = None

    @property
    def end(self) -> datetime | None:
        """When the ban stops keeping the worker out: run out or lifted, whichever is first."""
        return min((t for t in (self.ends_at, self.lifted_at) if t is not None), default=None)


def history_restart(bans: Iterable[BanPeriod], now: datetime) -> datetime | None:
    """When the worker's history starts afresh: the end of their latest ban that is over.

    A ban is over when it ran out or was lifted by hand; a permanent ban still in force
    restarts nothing (the worker cannot act anyway).
    """
    ends = (ban.end for ban in bans)
    return max((end for end in ends if end is not None and end <= now), default=None)


def history_window(
    config: RuleConfig, *, now: datetime, restarted_at: datetime | None
) -> HistoryWindow | None:
    """The window of a worker-history rule; None for AUTOMATION, which looks at one
    submission or at the task's budget, not at a history."""
    if config.type is RuleType.AUTOMATION:
        return None
    since = restarted_at
    if config.type is RuleType.EARNINGS:
        day_ago = now - EARNINGS_PERIOD
        since = day_ago if since is None else max(since, day_ago)
    project_wide = config.recent_values is not None and config.type in _PROJECT_WIDE
    scope = HistoryScope.PROJECT if project_wide else HistoryScope.TASK
    return HistoryWindow(scope, config.recent_values, since)
