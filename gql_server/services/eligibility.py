"""Who may see and start a task: targeting (pure) and restrictions (a query)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count

from gql_server import clock
from gql_server.models import Restriction, Skill, Submission, Task, Worker, WorkerSkill
from gql_server.models.enums import RestrictionKind
from gql_server.models.vocabulary import (
    FINAL_REVIEW_STATES,
    TARGETING_APPROVED_STATES,
    WORK_RESTRICTION_KINDS,
)


@dataclass(frozen=True)
class WorkerProfile:
    worker_id: int
    country: str
    reviewed: int
    approved: int
    # On the account's own earlier tasks.
    account_reviewed: int
    account_approved: int
    skills: Mapping[int, int] = field(default_factory=dict)

    @staticmethod
    def rate(approved: int, reviewed: int) -> float | None:
        return None if reviewed == 0 else 100.0 * approved / reviewed


def ineligibility(profile: WorkerProfile, targeting: Mapping[str, Any]) -> str | None:
    """Why the worker may not take a task with this targeting, or None if they may."""
    invited = targeting.get("invited_worker_ids") or []
    if invited and profile.worker_id not in invited:
        return "The task is open to invited workers only."
    allowed = targeting.get("countries_allowed") or []
    if allowed and profile.country not in allowed:
        return "The task is not open to workers in your country."
    if profile.country in (targeting.get("countries_denied") or []):
        return "The task is not open to workers in your country."
    min_reviewed = targeting.get("min_reviewed_count")
    if min_reviewed is not None and profile.reviewed < min_reviewed:
        return "The task needs more reviewed work than you have."
    min_rate = targeting.get("min_approval_rate")
    if min_rate is not None:
        rate = WorkerProfile.rate(profile.approved, profile.reviewed)
        if rate is None or rate < min_rate:
            return "The task needs a higher approval rate."
    min_previous = targeting.get("previous_performers_min_approval_rate")
    if min_previous is not None:
        rate = WorkerProfile.rate(profile.account_approved, profile.account_reviewed)
        if rate is None or rate < min_previous:
            return "The task is open to workers who did well on this requester's earlier tasks."
    for skill_filter in targeting.get("skill_filters") or []:
        value = profile.skills.get(skill_filter["skill_id"])
        operator = skill_filter["operator"]
        if operator == "ABSENT" and value is not None:
            return "The task is for workers without a certain skill."
        if operator == "GTE" and (value is None or value < skill_filter["value"]):
            return "The task needs a skill you do not have at that level."
        if operator == "LT" and (value is None or value >= skill_filter["value"]):
            return "The task is for workers below a certain skill level."
    return None


async def _reviewed_counts(worker_id: int, account_id: int | None) -> tuple[int, int]:
    query = Submission.filter(worker_id=worker_id, state__in=FINAL_REVIEW_STATES)
    if account_id is not None:
        query = query.filter(account_id=account_id)
    rows = await query.group_by("state").annotate(n=Count("id")).values("state", "n")
    reviewed = sum(row["n"] for row in rows)
    approved = sum(row["n"] for row in rows if row["state"] in TARGETING_APPROVED_STATES)
    return reviewed, approved


async def load_profile(worker: Worker, account_id: int) -> WorkerProfile:
    reviewed, approved = await _reviewed_counts(worker.id, None)
    account_reviewed, account_approved = await _reviewed_counts(worker.id, account_id)
    skill_ids = Skill.filter(account_id=account_id).values_list("id", flat=True)
    skills = {
        row["skill_id"]: row["value"]
        for row in await WorkerSkill.filter(
            worker_id=worker.id, skill_id__in=await skill_ids
        ).values("skill_id", "value")
    }
    return WorkerProfile(
        worker.id, worker.country, reviewed, approved, account_reviewed, account_approved, skills
    )


def active_restrictions_query(
    worker_id: int,
    account_id: int,
    kinds: tuple[RestrictionKind, ...] = WORK_RESTRICTION_KINDS,
) -> Any:
    """The worker's restrictions in the account in effect now, of `kinds` (by default
    those that keep the worker from work)."""
    now = clock.now()
    return Restriction.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        worker_id=worker_id,
        account_id=account_id,
        kind__in=kinds,
        lifted_at__isnull=True,
        starts_at__lte=now,
    )


def restricts(restriction: Restriction, task: Task) -> bool:
    if restriction.task_id is not None:
        return restriction.task_id == task.id
    if restriction.project_id is not None:
        return restriction.project_id == task.project_id
    return True


async def is_muted(worker_id: int, account_id: int) -> bool:
    """The account muted the worker's messages to it."""
    return bool(
        await active_restrictions_query(worker_id, account_id, (RestrictionKind.MUTE,)).exists()
    )


async def is_restricted(worker_id: int, task: Task) -> bool:
    return any(
        restricts(r, task) for r in await active_restrictions_query(worker_id, task.account_id)
    )
