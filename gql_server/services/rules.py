"""Managing rules (per task or per project), their firing log, and dry runs.

A rule config is checked by `rules.validation.parse_rule`; its problems become VALIDATION
errors at the same input paths, together with what only the database can tell (the task,
project or skill is not the account's: NOT_FOUND), all at once, and nothing is stored.

A dry run evaluates a config, saved or not, against the recorded history exactly as the
engine would after an event, but acts on nothing: it lists the workers (or answers, or
tasks) the rule would act on now and the metric values behind each decision. It does not
check whether an action is already in effect (a worker banned already is listed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Project, Rule, RuleFiring, Skill, Submission, Task
from gql_server.models.enums import SubmissionState
from gql_server.rules.config import RuleConfig
from gql_server.rules.evaluation import Decision, evaluate, metrics_needed
from gql_server.rules.history import HistoryScope, history_window
from gql_server.rules.metrics import MONEY, SPECS, Loaded, MetricRef, Parameter
from gql_server.rules.validation import RuleError, load_rule, parse_rule
from gql_server.rules.vocabulary import Event, RuleType
from gql_server.services import rule_metrics
from gql_server.services.errors import ErrorCode, FieldError, FieldPath, UseCaseError
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

NAME_MAX = 200
# A dry run lists at most this many matches (all are counted), and looks at this many of
# the most recent pending answers for a per-answer automation rule.
MAX_DRY_RUN_MATCHES = 500
MAX_DRY_RUN_ANSWERS = 2_000
LIVE_TASK = ("OPEN", "PAUSED")


@dataclass(frozen=True)
class RuleDraft:
    """A rule as a caller sent it: conditions and action in their stored JSON shape
    (`metric`, `skill_id`, `threshold_seconds`...; money in minor units), plus the problems
    found while reading it (an amount or an id that could not be read), reported with the
    rest."""

    type: str | None
    recent_values: Any = None
    conditions: Any = None
    action: Any = None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class RuleScope:
    task_id: int | None = None
    project_id: int | None = None


def _money_conditions(draft: RuleDraft) -> set[int]:
    """The indexes of conditions on money metrics, whose value is sent as 'amount'."""
    if not isinstance(draft.conditions, list | tuple):
        return set()
    money = {m.value for m, spec in SPECS.items() if spec.scale is MONEY}
    return {
        index
        for index, condition in enumerate(draft.conditions)
        if isinstance(condition, Mapping) and condition.get("metric") in money
    }


def _field_errors(errors: Sequence[RuleError], draft: RuleDraft) -> list[FieldError]:
    money = _money_conditions(draft)

    def field_of(path: FieldPath) -> FieldPath:
        if len(path) == 3 and path[0] == "conditions" and path[1] in money and path[2] == "value":
            return (*path[:2], "amount")
        return path

    return [FieldError(ErrorCode(e.code), e.message, field_of(e.field)) for e in errors]


def _merge(first: Sequence[FieldError], then: Sequence[FieldError]) -> list[FieldError]:
    """`first`, then those of `then` at fields `first` has not reported on already."""
    seen = {e.field for e in first}
    return [*first, *(e for e in then if e.field not in seen)]


async def _resolve_scope(account_id: int, scope: RuleScope) -> tuple[Task | None, Project]:
    if (scope.task_id is None) == (scope.project_id is None):
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            "A rule belongs to a task or to a project: give exactly one of them.",
            "task_id",
        )
    if scope.task_id is not None:
        task = await owned(Task, account_id, scope.task_id, "Task", "task_id")
        return task, await Project.get(id=task.project_id)
    return None, await owned(Project, account_id, scope.project_id, "Project", "project_id")


def _skill_references(draft: RuleDraft) -> list[tuple[int, FieldPath]]:
    """The skill ids the draft names, with the input path of each."""
    found: list[tuple[int, FieldPath]] = []
    key = Parameter.SKILL_ID.value
    if isinstance(draft.conditions, list | tuple):
        for index, condition in enumerate(draft.conditions):
            if isinstance(condition, Mapping) and isinstance(condition.get(key), int):
                found.append((condition[key], ("conditions", index, "skill_id")))
    if isinstance(draft.action, Mapping) and isinstance(draft.action.get(key), int):
        found.append((draft.action[key], ("action", "skill_id")))
    return found


async def _skill_errors(account_id: int, draft: RuleDraft) -> list[FieldError]:
    references = _skill_references(draft)
    if not references:
        return []
    owned = set(
        await Skill.filter(account_id=account_id, id__in=[pk for pk, _ in references]).values_list(
            "id", flat=True
        )
    )
    return [
        FieldError(ErrorCode.NOT_FOUND, "Skill not found.", path)
        for pk, path in references
        if pk not in owned
    ]


async def check_draft(account_id: int, draft: RuleDraft, task: Task | None) -> RuleConfig:
    """The typed config, or every problem of the draft as one UseCaseError."""
    parsed = parse_rule(
        rule_type=draft.type,
        recent_values=draft.recent_values,
        conditions=draft.conditions,
        action=draft.action,
        acceptance_mode=task.acceptance_mode.value if task is not None else None,
    )
    found = _merge(draft.errors, await _skill_errors(account_id, draft))
    if isinstance(parsed, list):
        found = _merge(found, _field_errors(parsed, draft))
    if found:
        raise UseCaseError(found)
    assert isinstance(parsed, RuleConfig)
    return parsed


def _name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if len(text) > NAME_MAX:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'name' is longer than {NAME_MAX} characters.", "name"
        )
    return text


def _stored(config: RuleConfig) -> dict[str, Any]:
    return {
        "type": config.type,
        "recent_values": config.recent_values,
        "conditions": config.conditions_json(),
        "action": config.action_json(),
    }


def config_of(rule: Rule) -> RuleConfig:
    return load_rule(
        rule_type=rule.type.value,
        recent_values=rule.recent_values,
        conditions=rule.conditions,
        action=rule.action,
    )


async def create_rule(
    principal: MemberPrincipal,
    scope: RuleScope,
    draft: RuleDraft,
    *,
    name: str = "",
    enabled: bool = True,
) -> Rule:
    text = _name(name)
    scope_errors: list[FieldError] = []
    task = project = None
    try:
        task, project = await _resolve_scope(principal.account_id, scope)
    except UseCaseError as error:
        scope_errors = list(error.errors)
    try:
        config = await check_draft(principal.account_id, draft, task)
    except UseCaseError as error:
        # Every problem at once: the scope's and the config's.
        raise UseCaseError(_merge(scope_errors, error.errors)) from None
    if scope_errors:
        raise UseCaseError(scope_errors)
    assert project is not None
    now = clock.now()
    async with in_transaction():
        return await Rule.create(
            account_id=principal.account_id,
            task_id=task.id if task is not None else None,
            project_id=project.id if task is None else None,
            name=text,
            enabled=enabled,
            created_at=now,
            updated_at=now,
            **_stored(config),
        )


async def get_rule(account_id: int, rule_id: int | None, *field_path: str) -> Rule:
    return await owned(Rule, account_id, rule_id, "Rule", *field_path)


# The changes `update_rule` accepts; an absent key keeps the stored value.
CHANGEABLE = frozenset({"name", "type", "recent_values", "conditions", "action"})


async def update_rule(
    principal: MemberPrincipal,
    rule_id: int | None,
    changes: Mapping[str, Any],
    errors: Sequence[FieldError] = (),
) -> Rule:
    """Change a rule's config; the result is checked as a whole, like a new rule."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise ValueError(f"not changeable: {sorted(unknown)}")
    rule = await get_rule(principal.account_id, rule_id, "rule_id")
    task = await Task.get(id=rule.task_id) if rule.task_id is not None else None
    draft = RuleDraft(
        type=changes.get("type", rule.type.value),
        recent_values=changes.get("recent_values", rule.recent_values),
        conditions=changes.get("conditions", rule.conditions),
        action=changes.get("action", rule.action),
        errors=tuple(errors),
    )
    config = await check_draft(principal.account_id, draft, task)
    values: dict[str, Any] = {**_stored(config), "updated_at": clock.now()}
    if "name" in changes:
        values["name"] = _name(changes["name"])
    async with in_transaction():
        await Rule.filter(id=rule.id).update(**values)
    return await Rule.get(id=rule.id)


async def set_rule_enabled(principal: MemberPrincipal, rule_id: int | None, enabled: bool) -> Rule:
    rule = await get_rule(principal.account_id, rule_id, "rule_id")
    if rule.enabled != enabled:
        await Rule.filter(id=rule.id).update(enabled=enabled, updated_at=clock.now())
    return await Rule.get(id=rule.id)


async def delete_rule(principal: MemberPrincipal, rule_id: int | None) -> int:
    """Delete a rule and its firing log (disable it instead to keep the log); returns its id.

    Restrictions and skill values it set stay, no longer linked to it.
    """
    rule = await get_rule(principal.account_id, rule_id, "rule_id")
    async with in_transaction():
        await Rule.filter(id=rule.id).delete()
    return rule.id


@dataclass(frozen=True)
class RuleFilter:
    task_id: int | None = None
    project_id: int | None = None
    # With a task: also the rules of its project, which apply to it.
    include_project_rules: bool = False
    enabled: bool | None = None


async def list_rules(account_id: int, given: RuleFilter, page: PageRequest) -> Page[Rule]:
    """The account's rules, oldest first (the order they run in)."""
    query = Rule.filter(account_id=account_id)
    if given.task_id is not None:
        task = await Task.get_or_none(id=given.task_id, account_id=account_id)
        if task is None:
            query = query.filter(id=-1)
        elif given.include_project_rules:
            query = query.filter(Q(task_id=task.id) | Q(project_id=task.project_id))
        else:
            query = query.filter(task_id=task.id)
    if given.project_id is not None:
        query = query.filter(project_id=given.project_id)
    if given.enabled is not None:
        query = query.filter(enabled=given.enabled)
    return await paginate(query, SortKey("created_at", False), page)


@dataclass(frozen=True)
class FiringFilter:
    rule_id: int | None = None
    task_id: int | None = None
    worker_id: int | None = None


async def list_firings(account_id: int, given: FiringFilter, page: PageRequest) -> Page[RuleFiring]:
    """What the account's rules did, newest first."""
    query = RuleFiring.filter(account_id=account_id)
    if given.rule_id is not None:
        query = query.filter(rule_id=given.rule_id)
    if given.task_id is not None:
        query = query.filter(task_id=given.task_id)
    if given.worker_id is not None:
        query = query.filter(worker_id=given.worker_id)
    return await paginate(query, SortKey("created_at", True), page)


# --- dry runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DryRunMatch:
    """One decision to act: on a worker (in a task, or across the project), an answer, or a
    task's budget."""

    decision: Decision
    worker_id: int | None
    task_id: int | None
    submission_id: int | None = None


@dataclass(frozen=True)
class DryRun:
    config: RuleConfig
    task_id: int | None
    project_id: int
    # How many workers (answers, tasks) the rule was evaluated for.
    evaluated: int
    matched: int
    matches: list[DryRunMatch] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.matched > len(self.matches)


async def dry_run(
    account_id: int,
    *,
    rule_id: int | None = None,
    scope: RuleScope | None = None,
    draft: RuleDraft | None = None,
) -> DryRun:
    """Evaluate a saved rule (`rule_id`) or a config (`scope` and `draft`) without acting."""
    if rule_id is not None:
        rule = await get_rule(account_id, rule_id, "rule_id")
        task = await Task.get(id=rule.task_id) if rule.task_id is not None else None
        project_id = task.project_id if task is not None else rule.project_id
        assert project_id is not None
        config = config_of(rule)
    else:
        if scope is None or draft is None:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "Give a saved rule or a config to try.", "rule_id"
            )
        task, project = await _resolve_scope(account_id, scope)
        project_id = project.id
        config = await check_draft(account_id, draft, task)
    now = clock.now()
    if config.type is not RuleType.AUTOMATION:
        decided = await _dry_history(account_id, config, task, project_id, now)
    elif config.event is Event.BUDGET_CHANGE:
        decided = await _dry_budget(config, task, project_id)
    else:
        decided = await _dry_answers(config, task, project_id)
    matches = [m for m in decided if m.decision.fired]
    return DryRun(
        config,
        task.id if task is not None else None,
        project_id,
        evaluated=len(decided),
        matched=len(matches),
        matches=matches[:MAX_DRY_RUN_MATCHES],
    )


async def _dry_history(
    account_id: int, config: RuleConfig, task: Task | None, project_id: int, now: datetime
) -> list[DryRunMatch]:
    """Every worker with history in scope: per task (of a task's rule, or of each task of a
    project), or across the project when the rule counts its recent values project-wide."""
    refs = metrics_needed(config)
    source = rule_metrics.SOURCE_OF[config.type]

    def scope_of(window_scope: HistoryScope) -> rule_metrics.Scope:
        if task is not None:
            return rule_metrics.Scope(window_scope, task_id=task.id, project_id=project_id)
        per_task = window_scope is HistoryScope.TASK
        return rule_metrics.Scope(window_scope, project_id=project_id, per_task=per_task)

    async def load(
        restarted_at: datetime | None, workers: Sequence[int] | None
    ) -> dict[rule_metrics.HistoryKey, dict[MetricRef, Loaded]]:
        window = history_window(config, now=now, restarted_at=restarted_at)
        assert window is not None
        return await rule_metrics.load_history(
            source,
            refs,
            scope_of(window.scope),
            limit=window.limit,
            since=window.since,
            worker_ids=workers,
        )

    found = await load(None, None)
    # A worker whose ban ended counts only what came after: load them again from then.
    restarts = await rule_metrics.history_restarts(account_id, sorted({w for w, _ in found}), now)
    by_restart: dict[datetime, list[int]] = {}
    for worker, restarted_at in restarts.items():
        by_restart.setdefault(restarted_at, []).append(worker)
    if by_restart:
        found = {key: values for key, values in found.items() if key[0] not in restarts}
        for restarted_at, workers in by_restart.items():
            found |= await load(restarted_at, workers)
    default_task = task.id if task is not None else None
    return [
        DryRunMatch(
            evaluate(config, rule_metrics.zeros(refs) | found[key]),
            key[0],
            key[1] if key[1] is not None else default_task,
        )
        for key in sorted(found, key=lambda k: (k[0], k[1] or 0))
    ]


async def _scope_tasks(task: Task | None, project_id: int) -> list[Task]:
    if task is not None:
        return [task]
    return list(await Task.filter(project_id=project_id).order_by("id"))


async def _dry_answers(config: RuleConfig, task: Task | None, project_id: int) -> list[DryRunMatch]:
    """The pending answers in scope, most recent first: what the rule would do with each."""
    tasks = {t.id: t for t in await _scope_tasks(task, project_id)}
    if not tasks:
        return []
    pending = (
        await Submission.filter(task_id__in=list(tasks), state=SubmissionState.SUBMITTED)
        .order_by("-submitted_at", "-id")
        .limit(MAX_DRY_RUN_ANSWERS)
    )
    refs = metrics_needed(config)
    loaded = await rule_metrics.submission_metrics(refs, pending, tasks)
    return [
        DryRunMatch(evaluate(config, loaded[s.id]), s.worker_id, s.task_id, s.id) for s in pending
    ]


async def _dry_budget(config: RuleConfig, task: Task | None, project_id: int) -> list[DryRunMatch]:
    refs = metrics_needed(config)
    return [
        DryRunMatch(evaluate(config, rule_metrics.task_metrics(refs, t)), None, t.id)
        for t in await _scope_tasks(task, project_id)
        if t.status.value in LIVE_TASK
    ]
