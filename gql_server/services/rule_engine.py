"""Running quality-control and automation rules in the transaction of the event behind them.

After a review, a payment, a submission, an audit or a budget change, the `QualityRules`
handler runs the rules inside the event's unit of work (the use cases raise the events and
never call the rules themselves). It loads the enabled rules of the task and of its
project, the metrics they need (`rule_metrics`: one SQL aggregate per source and window
for all the workers concerned), evaluates them with the pure `rules.evaluation` and applies
what fired, in rule order, each action in a savepoint: an action that cannot be carried
out (a top-up the balance cannot cover) is skipped and never undoes the event itself.

Firing is idempotent: an action already in effect (an active restriction covering it, the
skill already at that value, a bonus already paid for the submission, no pending answer to
accept) changes nothing and records nothing. Only actions that changed something are
recorded as a `RuleFiring` (with the metrics that made the rule fire) and published on the
task's live stream, so a rule that keeps matching never piles up rows.

Actions cause events of their own (accepting answers is a review and a payment), which run
the rules again, in a cascade within the same transaction. A rule acts at most once per
worker (and submission) in a cascade, and cascades are at most `MAX_DEPTH` deep, so
rules cannot trigger each other endlessly.

Which rules an event runs:
- REVIEW: REVIEW_RESULTS rules, and automation bonuses for the reviewed work, which are paid
  once the work is approved ("bonus for exceptional work").
- PAYMENT: EARNINGS rules. SUBMISSION: SUBMITTED_ANSWERS, FAST_RESPONSES and the per-answer
  automation (approve, reject); also every accept/decline rule, so that while such a rule
  holds, the worker's future answers are accepted or declined as they come in.
- AUDIT: AUDIT_RESULTS rules. BUDGET_CHANGE: automatic top-ups.
All rules of an event see the metrics as they were when the event happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import F, Q, Subquery

from gql_server import clock
from gql_server.models import LedgerEntry, Rule, RuleFiring, Skill, Submission, Task, WorkerSkill
from gql_server.models.enums import (
    AcceptanceMode,
    ActorKind,
    FiguresChange,
    LedgerReason,
    RestrictionKind,
    RestrictionScope,
    SkillScope,
    SubmissionState,
)
from gql_server.models.vocabulary import LIVE_TASK_STATUSES, PAID_STATES
from gql_server.rules.actions import (
    AcceptAnswers,
    Approve,
    Ban,
    DeclineAnswers,
    PayBonus,
    Reject,
    SetSkillValue,
    SuspendInTask,
    TopUp,
)
from gql_server.rules.config import RuleConfig
from gql_server.rules.evaluation import Decision, evaluate, metrics_needed
from gql_server.rules.history import history_window
from gql_server.rules.metrics import Loaded, MetricRef
from gql_server.rules.validation import load_rule
from gql_server.rules.vocabulary import BanScope, Event, RuleType
from gql_server.services import ledger, restrictions, review, rule_metrics, skills
from gql_server.services.errors import UseCaseError
from gql_server.services.events import (
    BonusPaid,
    DomainEvent,
    Handler,
    RuleFired,
    SubmissionAudited,
    SubmissionsReviewed,
    SubmissionStarted,
    SubmissionSubmitted,
    TaskFiguresChanged,
    UnitOfWork,
)

logger = logging.getLogger(__name__)

RULE_ACTOR = ledger.Actor(ActorKind.RULE)
# Records the firing with the outcome of its action.
Record = Callable[[dict[str, Any]], Awaitable[RuleFiring]]
MAX_DEPTH = 4


@dataclass(frozen=True)
class ActiveRule:
    """An enabled rule with its parsed config."""

    id: int
    account_id: int
    task_id: int | None
    project_id: int | None
    config: RuleConfig

    @property
    def per_submission(self) -> bool:
        """An automation rule about one answer (approve, reject, bonus)."""
        return self.config.type is RuleType.AUTOMATION and self.config.event is Event.SUBMISSION

    @property
    def about_budget(self) -> bool:
        return self.config.event is Event.BUDGET_CHANGE

    @property
    def about_history(self) -> bool:
        """A rule on the worker's history (every type but AUTOMATION)."""
        return self.config.type is not RuleType.AUTOMATION


def load_active(rule: Rule) -> ActiveRule | None:
    try:
        config = load_rule(
            rule_type=rule.type.value,
            recent_values=rule.recent_values,
            conditions=rule.conditions,
            action=rule.action,
        )
    except ValueError as error:
        # Saved valid; if the vocabulary changed since, the rule stops rather than the event.
        logger.warning("rule %s cannot be loaded and is skipped: %s", rule.id, error)
        return None
    return ActiveRule(rule.id, rule.account_id, rule.task_id, rule.project_id, config)


def selected(rule: ActiveRule, events: frozenset[Event]) -> bool:
    """Whether an event (or events happening together) runs the rule."""
    config = rule.config
    if rule.per_submission and isinstance(config.action, PayBonus):
        return Event.REVIEW in events
    if Event.SUBMISSION in events and isinstance(config.action, AcceptAnswers | DeclineAnswers):
        return True
    return config.event in events


@dataclass
class _Cascade:
    """The rules acting because of one event and of what their actions caused (kept on the
    unit of work; it starts afresh with each event that no rule's action caused)."""

    # (rule, worker, submission) that matched: each acts at most once per cascade.
    matched: set[tuple[int, int | None, int | None]] = field(default_factory=set)
    depth: int = 0
    rules: dict[int, list[ActiveRule]] = field(default_factory=dict)
    skills: dict[int, Skill | None] = field(default_factory=dict)


async def _rules_of(cascade: _Cascade, task_id: int) -> list[ActiveRule]:
    if task_id not in cascade.rules:
        # The task's project in a subquery: a task without rules costs one query.
        project = Subquery(Task.filter(id=task_id).values("project_id"))
        rows = await Rule.filter(
            Q(task_id=task_id) | Q(project_id__in=project), enabled=True
        ).order_by("id")
        loaded = (load_active(row) for row in rows)
        cascade.rules[task_id] = [rule for rule in loaded if rule is not None]
    return cascade.rules[task_id]


async def run_rules(
    work: UnitOfWork,
    events: Iterable[Event],
    task: Task | int,
    workers: Mapping[int, Sequence[int]] | None = None,
) -> None:
    """Run the rules of `task` after `events`, inside the caller's transaction.

    `workers`: the workers the events concern, each with the submissions they are about
    (a review, a submission, a payment on it); None or empty for a change of the task only.
    """
    cascade = work.state("rule_cascade", _Cascade)
    if cascade.depth == 0:
        cascade.matched.clear()
        cascade.rules.clear()
        cascade.skills.clear()
    elif cascade.depth >= MAX_DEPTH:
        logger.warning("rule cascade deeper than %s stopped", MAX_DEPTH)
        return
    wanted = frozenset(events)
    task_id = task if isinstance(task, int) else task.id
    rules = [r for r in await _rules_of(cascade, task_id) if selected(r, wanted)]
    if not rules:
        return
    if isinstance(task, int):
        task = await Task.get(id=task)
    cascade.depth += 1
    try:
        await _run(work, cascade, wanted, task, rules, dict(workers or {}))
    finally:
        cascade.depth -= 1


def triggers_of(
    event: DomainEvent,
) -> tuple[frozenset[Event], int | None, dict[int, tuple[int, ...]]]:
    """Which rule events a domain event is, the task, and the workers (with their
    submissions) it concerns; no rule events for the domain events rules do not follow."""
    match event:
        case SubmissionStarted(task_id=task):
            # The start lowered the remaining budget: automatic top-ups.
            return frozenset({Event.BUDGET_CHANGE}), task, {}
        case SubmissionSubmitted(task_id=task, worker_id=worker, submission_id=submission):
            return frozenset({Event.SUBMISSION}), task, {worker: (submission,)}
        case SubmissionsReviewed(task_id=task, state=state) if (
            state is not SubmissionState.REVISION_REQUESTED
        ):
            kinds = {Event.REVIEW}
            if event.paid:
                kinds.add(Event.PAYMENT)
                if event.from_dispute:
                    kinds.add(Event.BUDGET_CHANGE)  # paid from the remaining budget
            workers: dict[int, tuple[int, ...]] = {}
            for item in event.submissions:
                workers[item.worker_id] = (*workers.get(item.worker_id, ()), item.submission_id)
            return frozenset(kinds), task, workers
        case BonusPaid(task_id=task, worker_id=worker, submission_id=submission):
            return frozenset({Event.PAYMENT, Event.BUDGET_CHANGE}), task, {worker: (submission,)}
        case SubmissionAudited(task_id=task, worker_id=worker, submission_id=submission):
            return frozenset({Event.AUDIT}), task, {worker: (submission,)}
    return frozenset(), None, {}


class QualityRules(Handler):
    """Runs the quality-control and automation rules after the events they follow."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        kinds, task_id, workers = triggers_of(event)
        if kinds and task_id is not None:
            await run_rules(work, kinds, task_id, workers)


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """Who or what one evaluation of a rule is about."""

    worker_id: int | None
    submission_ids: tuple[int, ...]
    # The submission a per-answer rule is evaluated on.
    submission_id: int | None = None


async def _history_metrics(
    rules: list[ActiveRule], task: Task, workers: Sequence[int], now: datetime
) -> dict[tuple[int, int], dict[MetricRef, Loaded]]:
    """The loaded metrics of each (rule, worker) pair, grouping rules that read one window."""
    restarts = await rule_metrics.history_restarts(task.account_id, workers, now)
    groups: dict[tuple[Any, ...], tuple[set[MetricRef], set[int]]] = {}
    needs: dict[tuple[int, int], tuple[tuple[Any, ...], frozenset[MetricRef]]] = {}
    for rule in rules:
        refs = metrics_needed(rule.config)
        source = rule_metrics.SOURCE_OF[rule.config.type]
        for worker in workers:
            window = history_window(rule.config, now=now, restarted_at=restarts.get(worker))
            assert window is not None
            key = (source, window.scope, window.limit, window.since)
            group_refs, group_workers = groups.setdefault(key, (set(), set()))
            group_refs.update(refs)
            group_workers.add(worker)
            needs[(rule.id, worker)] = (key, refs)
    loaded: dict[tuple[Any, ...], dict[rule_metrics.HistoryKey, dict[MetricRef, Loaded]]] = {}
    for key, (refs, group_workers) in groups.items():
        source, scope, limit, since = key
        loaded[key] = await rule_metrics.load_history(
            source,
            refs,
            rule_metrics.Scope(scope, task_id=task.id, project_id=task.project_id),
            limit=limit,
            since=since,
            worker_ids=sorted(group_workers),
        )
    return {
        pair: rule_metrics.zeros(refs) | loaded[key].get((pair[1], None), {})
        for pair, (key, refs) in needs.items()
    }


async def _run(
    work: UnitOfWork,
    cascade: _Cascade,
    events: frozenset[Event],
    task: Task,
    rules: list[ActiveRule],
    workers: dict[int, Sequence[int]],
) -> None:
    now = clock.now()

    def fresh(rule: ActiveRule, worker: int | None, submission: int | None = None) -> bool:
        return (rule.id, worker, submission) not in cascade.matched

    history = [r for r in rules if r.about_history]
    answer_rules = [r for r in rules if r.per_submission]
    budget_rules = [r for r in rules if r.about_budget]

    worker_ids = sorted(w for w in workers if any(fresh(r, w) for r in history))
    history_loaded = (
        await _history_metrics(history, task, worker_ids, now) if history and worker_ids else {}
    )

    answers: list[Submission] = []
    answer_loaded: dict[int, dict[MetricRef, Loaded]] = {}
    if answer_rules:
        ids = [sid for sids in workers.values() for sid in sids]
        answers = await Submission.filter(id__in=ids).order_by("id") if ids else []
        refs = {ref for r in answer_rules for ref in metrics_needed(r.config)}
        answer_loaded = await rule_metrics.submission_metrics(refs, answers, {task.id: task})

    budget_loaded: dict[MetricRef, Loaded] = {}
    if budget_rules:
        refs = {ref for r in budget_rules for ref in metrics_needed(r.config)}
        budget_loaded = rule_metrics.task_metrics(refs, await Task.get(id=task.id))

    for rule in rules:
        plans: list[tuple[_Target, dict[MetricRef, Loaded]]] = []
        if rule.about_history:
            plans = [
                (_Target(w, tuple(workers[w])), history_loaded[(rule.id, w)])
                for w in worker_ids
                if (rule.id, w) in history_loaded and fresh(rule, w)
            ]
        elif rule.per_submission:
            plans = [
                (_Target(s.worker_id, (s.id,), s.id), answer_loaded[s.id])
                for s in answers
                if fresh(rule, s.worker_id, s.id)
            ]
        elif fresh(rule, None):
            plans = [(_Target(None, ()), budget_loaded)]
        for target, loaded in plans:
            decision = evaluate(rule.config, loaded)
            if not decision.fired:
                continue
            cascade.matched.add((rule.id, target.worker_id, target.submission_id))
            await _act(work, cascade, rule, decision, task, target)


# --- actions ---------------------------------------------------------------------------------


async def _act(
    work: UnitOfWork,
    cascade: _Cascade,
    rule: ActiveRule,
    decision: Decision,
    task: Task,
    target: _Target,
) -> None:
    """Apply one decision in a savepoint; record and publish it if it changed something."""
    try:
        async with work.savepoint():
            firing = await _apply(work, cascade, rule, decision, task, target)
    except UseCaseError as error:
        # Not possible right now (funds, a submission reviewed meanwhile): the event stands.
        logger.info("rule %s could not act: %s", rule.id, error)
        return
    if firing is None:
        return
    await work.raise_event(
        RuleFired(
            task_id=task.id,
            rule_id=rule.id,
            action=rule.config.action.type.value,
            worker_id=target.worker_id,
            submission_id=firing.submission_id,
        )
    )


async def _apply(
    work: UnitOfWork,
    cascade: _Cascade,
    rule: ActiveRule,
    decision: Decision,
    task: Task,
    target: _Target,
) -> RuleFiring | None:
    """Carry out the decision's action; the firing recorded, or None if nothing changed."""
    worker = target.worker_id

    async def record(outcome: dict[str, Any]) -> RuleFiring:
        only = target.submission_ids[0] if len(target.submission_ids) == 1 else None
        return await RuleFiring.create(
            rule_id=rule.id,
            account_id=task.account_id,
            worker_id=worker,
            task_id=task.id,
            submission_id=target.submission_id or only,
            metrics=decision.metrics_json(),
            action=decision.action_json(),
            outcome=outcome,
            created_at=clock.now(),
        )

    action = decision.action
    manual = task.acceptance_mode == AcceptanceMode.MANUAL
    match action:
        case SetSkillValue(skill_id=skill_id, value=value) if worker is not None:
            return await _set_skill(cascade, rule, task, worker, skill_id, value, record)
        case AcceptAnswers() | DeclineAnswers() if worker is not None and manual:
            pending = await Submission.filter(
                task_id=task.id, worker_id=worker, state=SubmissionState.SUBMITTED
            ).order_by("id")
            declined = isinstance(action, DeclineAnswers)
            return await _review_answers(work, rule, task, pending, declined, action, record)
        case Approve() | Reject() if manual or isinstance(action, Reject):
            pending = await Submission.filter(
                id__in=list(target.submission_ids), state=SubmissionState.SUBMITTED
            ).order_by("id")
            declined = isinstance(action, Reject)
            return await _review_answers(work, rule, task, pending, declined, action, record)
        case SuspendInTask(days=days, reason=reason) if worker is not None:
            restriction = await restrictions.impose(
                account_id=task.account_id,
                worker_id=worker,
                kind=RestrictionKind.SUSPENSION,
                scope=RestrictionScope.TASK,
                task_id=task.id,
                project_id=None,
                days=days,
                reason=reason,
                actor_kind=ActorKind.RULE,
                rule_id=rule.id,
            )
            return None if restriction is None else await record({"restriction_id": restriction.id})
        case Ban(scope=scope, days=days, reason=reason) if worker is not None:
            project = scope is BanScope.PROJECT
            restriction = await restrictions.impose(
                account_id=task.account_id,
                worker_id=worker,
                kind=RestrictionKind.BAN,
                scope=RestrictionScope.PROJECT if project else RestrictionScope.ACCOUNT,
                task_id=None,
                project_id=task.project_id if project else None,
                days=days,
                reason=reason,
                actor_kind=ActorKind.RULE,
                rule_id=rule.id,
            )
            return None if restriction is None else await record({"restriction_id": restriction.id})
        case PayBonus(amount=amount) if worker is not None:
            paid = []
            for submission in await Submission.filter(
                id__in=list(target.submission_ids), state__in=PAID_STATES
            ).order_by("id"):
                # One bonus per rule and submission, whatever reviews and cascades follow.
                key = f"rule:{rule.id}:bonus:{submission.id}"
                if await LedgerEntry.exists(
                    submission_id=submission.id, reason=LedgerReason.BONUS, idempotency_key=key
                ):
                    continue
                await review.pay_bonus_in(work, submission, amount, RULE_ACTOR, key)
                paid.append(submission.id)
            if not paid:
                return None
            return await record({"bonus_submission_ids": paid, "amount_minor": amount})
        case TopUp(amount=amount, cap=cap):
            return await _top_up(work, task, amount, cap, record)
    return None


async def _review_answers(
    work: UnitOfWork,
    rule: ActiveRule,
    task: Task,
    pending: Sequence[Submission],
    declined: bool,
    action: Any,
    record: Record,
) -> RuleFiring | None:
    """Accept or decline pending answers as one review (with the rule's reason as feedback)."""
    if not pending:
        return None
    decision = review.Decision(
        SubmissionState.SUBMITTED,
        SubmissionState.REJECTED if declined else SubmissionState.APPROVED,
        RULE_ACTOR,
        feedback=action.reason if declined else None,
        rule_id=rule.id,
    )
    reviewed = await review.review(work, task.account_id, [s.id for s in pending], decision)
    if not reviewed:
        return None
    return await record({"reviewed_submission_ids": reviewed})


async def _set_skill(
    cascade: _Cascade,
    rule: ActiveRule,
    task: Task,
    worker: int,
    skill_id: int,
    value: int,
    record: Record,
) -> RuleFiring | None:
    if skill_id not in cascade.skills:
        cascade.skills[skill_id] = await Skill.get_or_none(id=skill_id, account_id=rule.account_id)
    skill = cascade.skills[skill_id]
    if skill is None:
        return None
    # The value's source follows the skill's scope (see services.skills).
    source = (None, task.project_id) if skill.scope == SkillScope.PROJECT else (task.id, None)
    current = await WorkerSkill.get_or_none(skill_id=skill_id, worker_id=worker)
    if current is not None and (current.value, current.task_id, current.project_id) == (
        value,
        *source,
    ):
        return None  # already in effect: spare the firing row that would be undone
    firing = await record({"skill_value": value})
    changed = await skills.record_skill_value(
        skill_id=skill_id,
        worker_id=worker,
        value=value,
        task_id=source[0],
        project_id=source[1],
        actor_kind=ActorKind.RULE,
        rule_firing_id=firing.id,
    )
    if not changed:
        await firing.delete()
        return None
    return firing


async def _top_up(
    work: UnitOfWork, task: Task, amount: int, cap: int, record: Record
) -> RuleFiring | None:
    # The cap is checked on the row the top-up then changes, so concurrent top-ups wait for
    # each other and never pass it together.
    if not await Task.filter(
        id=task.id, status__in=LIVE_TASK_STATUSES, topped_up_minor__lte=cap - amount
    ).update(topped_up_minor=F("topped_up_minor")):
        return None
    await ledger.move(
        reason=LedgerReason.TOP_UP,
        amount_minor=amount,
        account_id=task.account_id,
        task_id=task.id,
        actor=RULE_ACTOR,
    )
    await work.raise_event(TaskFiguresChanged(task.account_id, task.id, FiguresChange.TOPPED_UP))
    return await record({"topped_up_minor": amount})
