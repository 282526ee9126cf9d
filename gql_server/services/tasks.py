"""Tasks: validating a task's configuration, creating drafts, reading and listing tasks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Account, Batch, Project, Skill, Task, Template, Worker
from gql_server.models.enums import AcceptanceMode, Currency, ProofKind, TaskStatus
from gql_server.models.vocabulary import LIVE_TASK_STATUSES
from gql_server.services import instructions, outbox
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, field_label
from gql_server.services.global_ids import pk_field
from gql_server.services.money import AmountError, format_amount, parse_amount
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

# The columns' lengths (models/tasks.py).
MAX_TITLE = 200
MAX_VARIANT_GROUP = 100

MIN_TIME_LIMIT = timedelta(seconds=30)
MAX_TIME_LIMIT = timedelta(days=7)
MIN_AUTO_APPROVAL_DELAY = timedelta(minutes=1)
MAX_AUTO_APPROVAL_DELAY = timedelta(days=90)
MAX_PROOF_REQUIREMENTS = 20
MAX_INVITED_WORKERS = 10_000
SKILL_OPERATORS = ("GTE", "LT", "ABSENT")


@dataclass(frozen=True)
class ProofRequirementDraft:
    name: str
    kind: ProofKind
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class SkillFilterDraft:
    skill_id: int | None
    operator: str
    value: int | None = None


@dataclass(frozen=True)
class TargetingDraft:
    countries_allowed: list[str] = field(default_factory=list)
    countries_denied: list[str] = field(default_factory=list)
    min_approval_rate: float | None = None
    min_reviewed_count: int | None = None
    skill_filters: list[SkillFilterDraft] = field(default_factory=list)
    # None in the list stands for an id that did not decode (reported as not found).
    invited_worker_ids: list[int | None] = field(default_factory=list)
    previous_performers_min_approval_rate: float | None = None


@dataclass(frozen=True)
class TaskDraft:
    """A task's configuration as the caller sent it; ids already decoded (None = unknown id).

    The one declaration of the configuration: the API's inputs carry these fields under the
    same names (`schema/inputs.py`), and templates store them as they are (`draft_to_json`).
    """

    title: str
    instructions: str
    reward: str
    budget: str
    time_limit_seconds: int
    proof_requirements: list[ProofRequirementDraft] = field(default_factory=list)
    category: str | None = None
    max_submissions: int | None = None
    max_submissions_per_worker: int = 1
    daily_submission_limit: int | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    acceptance_mode: AcceptanceMode = AcceptanceMode.MANUAL
    auto_approval_delay_seconds: int = 0
    targeting: TargetingDraft = field(default_factory=TargetingDraft)
    batch_id: int | None = None
    variant_group: str | None = None
    callback_url: str | None = None
    reopen_rejected_slots: bool = False
    reopen_banned_worker_slots: bool = False


def _text(
    errors: list[FieldError], value: str | None, name: str, *, max_len: int, required: bool
) -> str | None:
    if value is None or value.strip() == "":
        if required:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION, f"'{field_label(name)}' must not be empty.", (name,)
                )
            )
        return None
    value = value.strip()
    if len(value) > max_len:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'{field_label(name)}' is longer than {max_len} characters.",
                (name,),
            )
        )
    return value


def _count(
    errors: list[FieldError], value: int | None, path: tuple[str, ...], low: int, high: int
) -> None:
    if value is not None and not low <= value <= high:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'{field_label(path[-1])}' must be from {low} to {high}.",
                path,
            )
        )


def _percentage(errors: list[FieldError], value: float | None, path: tuple[str, ...]) -> None:
    if value is not None and not 0 <= value <= 100:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'{field_label(path[-1])}' is a percentage from 0 to 100.",
                path,
            )
        )


def _country_list(errors: list[FieldError], values: list[str], name: str) -> list[str]:
    codes = []
    for index, raw in enumerate(values):
        code = raw.strip().upper()
        if len(code) != 2 or not code.isalpha():
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION,
                    f"{raw!r} is not an ISO 3166-1 alpha-2 country code.",
                    ("targeting", name, index),
                )
            )
        codes.append(code)
    return sorted(set(codes))


def validate_task_draft(
    draft: TaskDraft, currency: Currency, now: datetime
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check a draft on its own (no database) and return the model values it stands for."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {
        "title": _text(errors, draft.title, "title", max_len=MAX_TITLE, required=True),
        "instructions": _text(
            errors, draft.instructions, "instructions", max_len=20_000, required=True
        ),
        "category": _text(errors, draft.category, "category", max_len=100, required=False),
        "variant_group": _text(
            errors, draft.variant_group, "variant_group", max_len=MAX_VARIANT_GROUP, required=False
        ),
    }

    reward = budget = None
    for name, raw in (("reward", draft.reward), ("budget", draft.budget)):
        try:
            amount = parse_amount(raw, currency)
        except AmountError as exc:
            errors.append(FieldError(ErrorCode.VALIDATION, str(exc), (name,)))
            continue
        if name == "reward":
            reward = amount
        else:
            budget = amount
    if reward is not None and reward <= 0:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "'reward' must be more than zero.", ("reward",))
        )
    elif reward is not None and budget is not None and budget < reward:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "'budget' must fund at least one reward.", ("budget",))
        )
    values["reward_minor"], values["requested_budget_minor"] = reward, budget

    _count(errors, draft.max_submissions, ("max_submissions",), 1, 1_000_000)
    _count(errors, draft.max_submissions_per_worker, ("max_submissions_per_worker",), 1, 10_000)
    if (
        draft.max_submissions is not None
        and draft.max_submissions >= 1
        and draft.max_submissions_per_worker > draft.max_submissions
    ):
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "'maxSubmissionsPerWorker' cannot exceed 'maxSubmissions'.",
                ("max_submissions_per_worker",),
            )
        )
    _count(errors, draft.daily_submission_limit, ("daily_submission_limit",), 1, 1_000_000)
    _count(
        errors,
        draft.time_limit_seconds,
        ("time_limit_seconds",),
        int(MIN_TIME_LIMIT.total_seconds()),
        int(MAX_TIME_LIMIT.total_seconds()),
    )
    delay = draft.auto_approval_delay_seconds
    if delay != 0:
        _count(
            errors,
            delay,
            ("auto_approval_delay_seconds",),
            int(MIN_AUTO_APPROVAL_DELAY.total_seconds()),
            int(MAX_AUTO_APPROVAL_DELAY.total_seconds()),
        )
    values.update(
        max_submissions=draft.max_submissions,
        max_submissions_per_worker=draft.max_submissions_per_worker,
        daily_submission_limit=draft.daily_submission_limit,
        time_limit_seconds=draft.time_limit_seconds,
        auto_approval_delay_seconds=delay,
        acceptance_mode=draft.acceptance_mode,
        reopen_rejected_slots=draft.reopen_rejected_slots,
        reopen_banned_worker_slots=draft.reopen_banned_worker_slots,
    )

    if draft.expires_at is not None and draft.expires_at <= now:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "'expiresAt' must be in the future.", ("expires_at",))
        )
    if (
        draft.starts_at is not None
        and draft.expires_at is not None
        and draft.starts_at >= draft.expires_at
    ):
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "'startsAt' must be before 'expiresAt'.",
                ("starts_at",),
            )
        )
    values.update(starts_at=draft.starts_at, expires_at=draft.expires_at)

    proofs = []
    seen: set[str] = set()
    if len(draft.proof_requirements) > MAX_PROOF_REQUIREMENTS:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"At most {MAX_PROOF_REQUIREMENTS} proof requirements.",
                ("proof_requirements",),
            )
        )
    for index, proof in enumerate(draft.proof_requirements):
        path = ("proof_requirements", index, "name")
        name = proof.name.strip()
        if not name or len(name) > 100:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION, "A proof needs a name of 1 to 100 characters.", path
                )
            )
        elif name in seen:
            errors.append(
                FieldError(ErrorCode.VALIDATION, f"Proof name {name!r} is used twice.", path)
            )
        seen.add(name)
        proofs.append(
            {
                "name": name,
                "kind": proof.kind.value,
                "required": proof.required,
                "description": proof.description,
            }
        )
    values["proof_requirements"] = proofs

    if draft.callback_url is not None:
        problem = outbox.check_callback_url(draft.callback_url)
        if problem:
            errors.append(
                FieldError(ErrorCode.VALIDATION, f"'callbackUrl' {problem}", ("callback_url",))
            )
    values["callback_url"] = draft.callback_url

    values["targeting"] = _validate_targeting(errors, draft.targeting)
    return values, errors


def _validate_targeting(errors: list[FieldError], targeting: TargetingDraft) -> dict[str, Any]:
    allowed = _country_list(errors, targeting.countries_allowed, "countries_allowed")
    denied = _country_list(errors, targeting.countries_denied, "countries_denied")
    if set(allowed) & set(denied):
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "A country cannot be both allowed and denied.",
                ("targeting", "countries_denied"),
            )
        )
    _percentage(errors, targeting.min_approval_rate, ("targeting", "min_approval_rate"))
    _percentage(
        errors,
        targeting.previous_performers_min_approval_rate,
        ("targeting", "previous_performers_min_approval_rate"),
    )
    _count(errors, targeting.min_reviewed_count, ("targeting", "min_reviewed_count"), 0, 1_000_000)
    filters = []
    for index, skill_filter in enumerate(targeting.skill_filters):
        path = ("targeting", "skill_filters", index)
        if skill_filter.operator not in SKILL_OPERATORS:
            errors.append(
                FieldError(ErrorCode.VALIDATION, "Unknown skill operator.", (*path, "operator"))
            )
        elif skill_filter.operator != "ABSENT" and (
            skill_filter.value is None or not 0 <= skill_filter.value <= 100
        ):
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION, "A skill value is from 0 to 100.", (*path, "value")
                )
            )
        filters.append(
            {
                "skill_id": skill_filter.skill_id,
                "operator": skill_filter.operator,
                "value": None if skill_filter.operator == "ABSENT" else skill_filter.value,
            }
        )
    if len(targeting.invited_worker_ids) > MAX_INVITED_WORKERS:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"At most {MAX_INVITED_WORKERS} invited workers.",
                ("targeting", "invited_worker_ids"),
            )
        )
    return {
        "countries_allowed": allowed,
        "countries_denied": denied,
        "min_approval_rate": targeting.min_approval_rate,
        "min_reviewed_count": targeting.min_reviewed_count,
        "skill_filters": filters,
        "invited_worker_ids": sorted({i for i in targeting.invited_worker_ids if i is not None}),
        "previous_performers_min_approval_rate": targeting.previous_performers_min_approval_rate,
    }


async def _check_references(
    errors: list[FieldError], account_id: int, project_id: int | None, draft: TaskDraft
) -> None:
    """Ids must name objects of the caller's account; another account's id is 'not found'."""
    if (
        project_id is None
        or not await Project.filter(id=project_id, account_id=account_id).exists()
    ):
        errors.append(FieldError(ErrorCode.NOT_FOUND, "Project not found.", ("project_id",)))
    if (
        draft.batch_id is not None
        and not await Batch.filter(id=draft.batch_id, account_id=account_id).exists()
    ):
        errors.append(FieldError(ErrorCode.NOT_FOUND, "Batch not found.", ("batch_id",)))
    for index, skill_filter in enumerate(draft.targeting.skill_filters):
        if (
            skill_filter.skill_id is None
            or not await Skill.filter(id=skill_filter.skill_id, account_id=account_id).exists()
        ):
            errors.append(
                FieldError(
                    ErrorCode.NOT_FOUND,
                    "Skill not found.",
                    ("targeting", "skill_filters", index, "skill_id"),
                )
            )
    invited = draft.targeting.invited_worker_ids
    if invited:
        wanted = {i for i in invited if i is not None}
        found = (
            set(await Worker.filter(id__in=wanted).values_list("id", flat=True))
            if wanted
            else set()
        )
        for index, worker_id in enumerate(invited):
            if worker_id is None or worker_id not in found:
                errors.append(
                    FieldError(
                        ErrorCode.NOT_FOUND,
                        "Worker not found.",
                        ("targeting", "invited_worker_ids", index),
                    )
                )


async def create_task(principal: MemberPrincipal, project_id: int | None, draft: TaskDraft) -> Task:
    """Create a draft task; every problem with the input is reported at once, nothing stored."""
    account = await Account.get(id=principal.account_id)
    values, errors = validate_task_draft(draft, account.currency, clock.now())
    await _check_references(errors, account.id, project_id, draft)
    if errors:
        raise UseCaseError(errors)
    async with in_transaction():
        task = await Task.create(
            account_id=account.id,
            project_id=project_id,
            batch_id=draft.batch_id,
            created_by_id=principal.member_id,
            status=TaskStatus.DRAFT,
            **values,
        )
        if task.callback_url:
            # The signing secret exists from now on, before the first event.
            await outbox.endpoint_for(account.id, task.callback_url)
    return task


async def get_task(account_id: int, task_id: int | None) -> Task:
    return await owned(Task, account_id, task_id, "Task", "task_id")


@dataclass(frozen=True)
class TaskFilter:
    statuses: list[TaskStatus] | None = None
    project_id: int | None = pk_field("Project")
    batch_id: int | None = pk_field("Batch")
    variant_group: str | None = None
    search: str | None = None


TASK_SORT_KEYS = {
    "CREATED_AT": "created_at",
    "TITLE": "title",
    "REWARD": "reward_minor",
}


# The filter's texts, at most as long as the columns they are matched with (a longer one
# could match nothing, and PostgreSQL refuses a parameter longer than its column).
# Nothing longer can match (the columns' lengths): refused before it reaches SQL.
_FILTER_TEXT_LIMITS = {"variant_group": MAX_VARIANT_GROUP, "search": MAX_TITLE}


def _check_filter_texts(task_filter: TaskFilter) -> None:
    errors = [
        FieldError(
            ErrorCode.VALIDATION,
            f"'{field_label(name)}' is longer than {limit} characters.",
            ("filter", name),
        )
        for name, limit in _FILTER_TEXT_LIMITS.items()
        if len(getattr(task_filter, name) or "") > limit
    ]
    if errors:
        raise UseCaseError(errors)


async def list_tasks(
    account_id: int, task_filter: TaskFilter, sort: str, descending: bool, page: PageRequest
) -> Page[Task]:
    _check_filter_texts(task_filter)
    query = Task.filter(account_id=account_id)
    if task_filter.statuses:
        query = query.filter(status__in=task_filter.statuses)
    if task_filter.project_id is not None:
        query = query.filter(project_id=task_filter.project_id)
    if task_filter.batch_id is not None:
        query = query.filter(batch_id=task_filter.batch_id)
    if task_filter.variant_group is not None:
        query = query.filter(variant_group=task_filter.variant_group)
    if task_filter.search:
        query = query.filter(title__icontains=task_filter.search)
    return await paginate(query, SortKey(TASK_SORT_KEYS[sort], descending), page)


def _proofs_from_json(data: list[dict[str, Any]]) -> list[ProofRequirementDraft]:
    return [
        ProofRequirementDraft(p["name"], ProofKind(p["kind"]), p["required"], p["description"])
        for p in data
    ]


def _targeting_from_json(data: dict[str, Any] | None) -> TargetingDraft:
    data = data or {}
    stored = {f.name: data[f.name] for f in fields(TargetingDraft) if f.name in data}
    stored["skill_filters"] = [SkillFilterDraft(**f) for f in stored.get("skill_filters", [])]
    return TargetingDraft(**stored)


# Draft fields a task stores under another name or in another form.
_STORED_OTHERWISE = ("reward", "budget", "proof_requirements", "targeting")


def draft_from_task(task: Task, currency: Currency) -> TaskDraft:
    """The configuration a task was made from, as a draft to edit or copy."""
    return TaskDraft(
        **{
            f.name: getattr(task, f.name)
            for f in fields(TaskDraft)
            if f.name not in _STORED_OTHERWISE
        },
        reward=format_amount(task.reward_minor, currency),
        budget=format_amount(task.requested_budget_minor, currency),
        proof_requirements=_proofs_from_json(task.proof_requirements),
        targeting=_targeting_from_json(task.targeting),
    )


def draft_to_json(draft: TaskDraft) -> dict[str, Any]:
    return json.loads(
        json.dumps(
            asdict(draft), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
        )
    )


def draft_from_json(data: dict[str, Any]) -> TaskDraft:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return TaskDraft(
        **{
            **data,
            "proof_requirements": _proofs_from_json(data.get("proof_requirements", [])),
            "acceptance_mode": AcceptanceMode(data.get("acceptance_mode", AcceptanceMode.MANUAL)),
            "starts_at": when(data.get("starts_at")),
            "expires_at": when(data.get("expires_at")),
            "targeting": _targeting_from_json(data.get("targeting")),
        }
    )


async def update_task(
    principal: MemberPrincipal, task_id: int | None, changes: dict[str, Any]
) -> Task:
    """Change fields of a DRAFT; of a live (OPEN or PAUSED) task only the instructions,
    since the rest of a published task's configuration is what workers agreed to. Every
    change of the instructions is kept as a revision in the same transaction
    (`services/instructions.py`)."""
    task = await get_task(principal.account_id, task_id)
    live_edit = task.status in LIVE_TASK_STATUSES and set(changes) == {"instructions"}
    if task.status != TaskStatus.DRAFT and not live_edit:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "Only a DRAFT task can be edited (of an OPEN or PAUSED one, only the "
            f"instructions); this one is {task.status}.",
        )
    account = await Account.get(id=principal.account_id)
    if live_edit:
        errors: list[FieldError] = []
        text = _text(errors, changes["instructions"], "instructions", max_len=20_000, required=True)
        if errors:
            raise UseCaseError(errors)
        async with in_transaction():
            if not await Task.filter(id=task.id, status__in=LIVE_TASK_STATUSES).update(
                instructions=text, updated_at=clock.now()
            ):
                raise UseCaseError.single(ErrorCode.INVALID_STATE, "The task was closed meanwhile.")
            if text != task.instructions:
                await instructions.record_change(task, text or "", principal.member_id)
        return await Task.get(id=task.id)
    draft = replace(draft_from_task(task, account.currency), **changes)
    values, errors = validate_task_draft(draft, account.currency, clock.now())
    await _check_references(errors, account.id, task.project_id, draft)
    if errors:
        raise UseCaseError(errors)
    async with in_transaction():
        if not await Task.filter(id=task.id, status=TaskStatus.DRAFT).update(
            batch_id=draft.batch_id, updated_at=clock.now(), **values
        ):
            raise UseCaseError.single(ErrorCode.INVALID_STATE, "The task was published meanwhile.")
        if values.get("callback_url"):
            await outbox.endpoint_for(account.id, values["callback_url"])
        if values["instructions"] != task.instructions:
            await instructions.record_change(task, values["instructions"], principal.member_id)
    return await Task.get(id=task.id)


async def save_as_template(principal: MemberPrincipal, task_id: int | None, name: str) -> Template:
    task = await get_task(principal.account_id, task_id)
    name = name.strip()
    if not name or len(name) > 200:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'name' must be 1 to 200 characters.", "name"
        )
    account = await Account.get(id=principal.account_id)
    config = draft_to_json(draft_from_task(task, account.currency))
    try:
        async with in_transaction():
            return await Template.create(
                account_id=account.id, name=name, config=config, created_by_id=principal.member_id
            )
    except IntegrityError:
        raise UseCaseError.single(
            ErrorCode.DUPLICATE, f"A template named {name!r} exists.", "name"
        ) from None


TEMPLATE_ORDER = SortKey("created_at", True)


async def list_templates(account_id: int, request: PageRequest) -> Page[Template]:
    """The account's saved templates, newest first."""
    return await paginate(Template.filter(account_id=account_id), TEMPLATE_ORDER, request)


async def delete_template(principal: MemberPrincipal, template_id: int | None) -> Template:
    """Delete a template; the tasks made from it stay as they are (they forget it)."""
    template = await owned(Template, principal.account_id, template_id, "Template", "template_id")
    await template.delete()
    return template


async def create_from_template(
    principal: MemberPrincipal,
    template_id: int | None,
    project_id: int | None,
    changes: dict[str, Any],
) -> Task:
    template = await owned(Template, principal.account_id, template_id, "Template", "template_id")
    task = await create_task(
        principal, project_id, replace(draft_from_json(template.config), **changes)
    )
    await Task.filter(id=task.id).update(template_id=template.id)
    return await Task.get(id=task.id)


async def duplicate_task(
    principal: MemberPrincipal, task_id: int | None, changes: dict[str, Any]
) -> Task:
    """A new DRAFT with the task's configuration and the given changes."""
    task = await get_task(principal.account_id, task_id)
    account = await Account.get(id=principal.account_id)
    return await create_task(
        principal, task.project_id, replace(draft_from_task(task, account.currency), **changes)
    )
