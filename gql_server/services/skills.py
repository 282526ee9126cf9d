"""Skills: account-owned, named 0-100 values per worker, with a history of every change.

A worker's *current* value of a skill is the one row of `WorkerSkill` for the pair; every
change appends a `SkillValue` row (the history). How the current value is computed follows
the skill's scope:

- `TASK` (the default): the current value is the latest one recorded, whichever task it came
  from, i.e. the value from the task the worker last completed (rules record a value when
  they evaluate the worker's results in a task, so the latest task-sourced value wins).
- `PROJECT`: the same single current value, recorded with the project whose results
  produced it; rules evaluated across a project record their value against the project.

So the current value is always "the latest value recorded"; the scope decides what a rule
records as the value's source (`task_id` or `project_id`), which the history and the
`WorkerSkill` row keep. Setting a value by hand records no source.

`record_skill_value` is called inside the caller's transaction (the rules engine, or the
hand-setting use case here) and neither opens one nor publishes anything.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Skill, SkillValue, Worker, WorkerSkill
from gql_server.models.enums import ActorKind, SkillScope
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

MIN_VALUE = 0
MAX_VALUE = 100
NAME_MAX = 100
DESCRIPTION_MAX = 10_000


async def record_skill_value(
    *,
    skill_id: int,
    worker_id: int,
    value: int,
    task_id: int | None,
    project_id: int | None,
    actor_kind: ActorKind,
    member_id: int | None = None,
    rule_firing_id: int | None = None,
) -> bool:
    """Make `value` the worker's current value of the skill and append it to the history.

    Returns False and writes nothing when the current value already is `value` from the same
    source (task and project): applying a change already in effect does nothing. Call it
    inside a transaction; it is safe against a concurrent call for the same pair (the row is
    inserted-or-found in a savepoint, then locked before it is compared and updated).
    """
    if not MIN_VALUE <= value <= MAX_VALUE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"A skill value must be from {MIN_VALUE} to {MAX_VALUE}."
        )
    now = clock.now()
    current, created = await WorkerSkill.get_or_create(
        skill_id=skill_id,
        worker_id=worker_id,
        defaults={
            "value": value,
            "task_id": task_id,
            "project_id": project_id,
            "updated_at": now,
            "created_at": now,
        },
    )
    if not created:
        current = await WorkerSkill.filter(id=current.id).select_for_update(no_key=True).get()
        if (current.value, current.task_id, current.project_id) == (value, task_id, project_id):
            return False
        await WorkerSkill.filter(id=current.id).update(
            value=value, task_id=task_id, project_id=project_id, updated_at=now
        )
    await SkillValue.create(
        skill_id=skill_id,
        worker_id=worker_id,
        value=value,
        task_id=task_id,
        project_id=project_id,
        actor_kind=actor_kind,
        member_id=member_id,
        rule_firing_id=rule_firing_id,
        created_at=now,
    )
    return True


# --- skills of an account ----------------------------------------------------------------


def _validate_skill(name: str | None, description: str | None) -> list[FieldError]:
    errors = []
    if name is not None and (not name or len(name) > NAME_MAX):
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'name' must be 1 to {NAME_MAX} characters.",
                ("name",),
            )
        )
    if description is not None and len(description) > DESCRIPTION_MAX:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'description' is longer than {DESCRIPTION_MAX} characters.",
                ("description",),
            )
        )
    return errors


def _duplicate(name: str) -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.DUPLICATE, f"A skill named {name!r} already exists.", "name"
    )


async def create_skill(
    principal: MemberPrincipal,
    name: str,
    description: str = "",
    scope: SkillScope = SkillScope.TASK,
) -> Skill:
    name = " ".join(name.split())
    errors = _validate_skill(name, description)
    if errors:
        raise UseCaseError(errors)
    if await Skill.filter(account_id=principal.account_id, name=name).exists():
        raise _duplicate(name)
    try:
        async with in_transaction():
            return await Skill.create(
                account_id=principal.account_id, name=name, description=description, scope=scope
            )
    except IntegrityError:
        raise _duplicate(name) from None


async def update_skill(
    principal: MemberPrincipal,
    skill_id: int | None,
    name: str | None = None,
    description: str | None = None,
) -> Skill:
    """Rename or redescribe a skill; its scope is fixed once values exist."""
    skill = await get_skill(principal.account_id, skill_id, "skill_id")
    if name is not None:
        name = " ".join(name.split())
    errors = _validate_skill(name, description)
    if errors:
        raise UseCaseError(errors)
    changes: dict[str, object] = {}
    if name is not None and name != skill.name:
        if await Skill.filter(account_id=principal.account_id, name=name).exists():
            raise _duplicate(name)
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if changes:
        try:
            async with in_transaction():
                await Skill.filter(id=skill.id).update(**changes)
        except IntegrityError:
            raise _duplicate(name or "") from None
    return await Skill.get(id=skill.id)


async def get_skill(account_id: int, skill_id: int | None, *field_path: str) -> Skill:
    return await owned(Skill, account_id, skill_id, "Skill", *field_path)


async def list_skills(account_id: int, page: PageRequest) -> Page[Skill]:
    return await paginate(Skill.filter(account_id=account_id), SortKey("created_at", False), page)


async def set_worker_skill(
    principal: MemberPrincipal, skill_id: int | None, worker_id: int | None, value: int
) -> tuple[WorkerSkill, bool]:
    """Set a worker's value of a skill by hand (OWNER or MANAGER).

    Returns the current value and whether it changed (setting the value already in effect
    changes nothing and adds no history).
    """
    skill = await get_skill(principal.account_id, skill_id, "skill_id")
    worker = await Worker.get_or_none(id=worker_id) if worker_id is not None else None
    if worker is None:
        raise not_found("Worker", "worker_id")
    if not MIN_VALUE <= value <= MAX_VALUE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'value' must be from {MIN_VALUE} to {MAX_VALUE}.",
            "value",
        )
    async with in_transaction():
        changed = await record_skill_value(
            skill_id=skill.id,
            worker_id=worker.id,
            value=value,
            task_id=None,
            project_id=None,
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
        )
    return await WorkerSkill.get(skill_id=skill.id, worker_id=worker.id), changed


async def worker_skills(account_id: int, worker_id: int | None) -> list[WorkerSkill]:
    """The worker's current values of the account's skills, by skill name."""
    if worker_id is None:
        return []
    names = dict(await Skill.filter(account_id=account_id).values_list("id", "name"))
    if not names:
        return []
    rows = await WorkerSkill.filter(worker_id=worker_id, skill_id__in=list(names))
    return sorted(rows, key=lambda row: (names[row.skill_id], row.skill_id))


async def skill_history(
    account_id: int,
    worker_id: int | None,
    skill_id: int | None,
    page: PageRequest,
) -> Page[SkillValue]:
    """The changes of the worker's values of the account's skills, newest first."""
    query = SkillValue.filter(worker_id=worker_id or 0, skill__account_id=account_id)
    if skill_id is not None:
        query = query.filter(skill_id=skill_id)
    return await paginate(query, SortKey("created_at", True), page)
