"""The authorization matrix's data: the nine callers, account A's world, and one declared
entry per root field (Query, Mutation, Subscription) saying what each caller gets.

Invariants the table holds (tests/platform/test_authorization_matrix.py checks them):
- every root field of the schema has exactly one entry, and every entry names a root field;
- an entry gives the outcome for each of the nine callers, read from one of the grids
  below (a row per access rule, a column per caller);
- a mutation entry's `prepare` makes the objects of account A the call acts on, anew for
  each caller allowed to make it (so each allowed call really does something), and
  returns the input with a `state` reading what the call would change (so a refused
  call can be shown to have changed nothing).

The callers: anonymous (no key), a worker who did A's work, A's viewer, auditor, manager
and owner, the owner of another account B, a read-only key of A's owner, and the
instance's operator key. An object of A named to B behaves exactly like an id that does
not exist (API-CONVENTIONS, "Identity"): null from a lookup, NOT_FOUND from a mutation,
an empty list from a filter.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from gql_server import clock, models
from gql_server.models.enums import AuditOutcome, MemberRole, RestrictionKind, RestrictionScope
from gql_server.schema.relay import to_global_id
from gql_server.services import (
    api_keys,
    audits,
    conversations,
    restrictions,
    review,
    submissions,
    task_lifecycle,
    tasks,
    webhook_endpoints,
    workers,
)
from gql_server.services.global_ids import from_global_id
from tests.factories import (
    Member,
    Requester,
    Worker,
    answer,
    new_requester,
    new_submitted,
    new_task,
    new_worker,
)
from tests.graphql_client import Api


class Caller(StrEnum):
    ANONYMOUS = "anonymous"
    WORKER = "worker"
    VIEWER = "viewer"
    AUDITOR = "auditor"
    MANAGER = "manager"
    OWNER = "owner"
    OTHER = "other account"
    READ_ONLY = "read-only key"
    OPERATOR = "operator"


class Outcome(StrEnum):
    OK = "allowed"
    # Allowed, on the caller's own account: nothing of A in the answer, nothing of A changed.
    OWN = "own account only"
    NULL = "null"
    EMPTY = "empty list"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    # Past every access check, refused by the domain with this user error (see the entry).
    INVALID_STATE = "INVALID_STATE"


Access = dict[Caller, Outcome]


def _grid(*outcomes: Outcome) -> Access:
    assert len(outcomes) == len(Caller)
    return dict(zip(Caller, outcomes, strict=True))


U, F, OK, OWN, NULL, EMPTY, NF = (
    Outcome.UNAUTHENTICATED,
    Outcome.FORBIDDEN,
    Outcome.OK,
    Outcome.OWN,
    Outcome.NULL,
    Outcome.EMPTY,
    Outcome.NOT_FOUND,
)

# fmt: off
#                          anonymous worker viewer auditor manager owner other  read-only operator
ANYONE            = _grid(U,        OK,    OK,    OK,     OK,     OK,   OWN,   OK,       OK)
# Open to every caller, keyless ones too (each reads its own bucket).
EVERY_CALLER      = _grid(OK,       OK,    OK,    OK,     OK,     OK,   OWN,   OK,       OK)
# node(id:) with an id of A's task: the worker and the operator see no member object.
NODE              = _grid(U,        NULL,  OK,    OK,     OK,     OK,   NULL,  OK,       NULL)
# Reads of the account: B reads its own (no argument names A's objects).
MEMBERS_READ      = _grid(U,        F,     OK,    OK,     OK,     OK,   OWN,   OK,       F)
# A lookup by an A id, or a list filtered by one.
MEMBERS_LOOKUP    = _grid(U,        F,     OK,    OK,     OK,     OK,   NULL,  OK,       F)
MEMBERS_FILTERED  = _grid(U,        F,     OK,    OK,     OK,     OK,   EMPTY, OK,       F)
# A query whose argument must name an object: for B, BAD_USER_INPUT for the reason NOT_FOUND.
MEMBERS_NAMING    = _grid(U,        F,     OK,    OK,     OK,     OK,   NF,    OK,       F)
MANAGERS_READ     = _grid(U,        F,     F,     F,      OK,     OK,   OWN,   OK,       F)
OWNERS_READ       = _grid(U,        F,     F,     F,      F,      OK,   OWN,   OK,       F)
WORKERS_ONLY      = _grid(U,        OK,    F,     F,      F,      F,    F,     F,        F)
# Mutations. Read-only keys change nothing, whoever holds them.
MANAGE            = _grid(U,        F,     F,     F,      OK,     OK,   NF,    F,        F)
MANAGE_OWN        = _grid(U,        F,     F,     F,      OK,     OK,   OWN,   F,        F)
AUDIT             = _grid(U,        F,     F,     OK,     OK,     OK,   NF,    F,        F)
# A sample filtered by A's task: for B, a sample of nothing.
AUDIT_OWN         = _grid(U,        F,     F,     OK,     OK,     OK,   OWN,   F,        F)
OWNER_OWN         = _grid(U,        F,     F,     F,      F,      OK,   OWN,   F,        F)
OWNER             = _grid(U,        F,     F,     F,      F,      OK,   NF,    F,        F)
MEMBER            = _grid(U,        F,     OK,    OK,     OK,     OK,   NF,    F,        F)
MEMBER_OWN        = _grid(U,        F,     OK,    OK,     OK,     OK,   OWN,   F,        F)
# A mutation that only reads (permissions.READ_ONLY_MUTATIONS): read-only keys may send it.
READ_OWN          = _grid(U,        F,     OK,    OK,     OK,     OK,   OWN,   OK,       F)
OPERATOR          = _grid(U,        F,     F,     F,      F,      F,    F,     F,        OK)
# simulateWorkers on a live account: every access check passes, the domain refuses.
SANDBOX_ONLY      = _grid(U,        F,     F,     F,      Outcome.INVALID_STATE,
                          Outcome.INVALID_STATE, Outcome.INVALID_STATE, F, F)
# Subscriptions. B names A's task: refused like a task that does not exist.
STREAM            = _grid(U,        F,     OK,    OK,     OK,     OK,   NF,    OK,       F)
# fmt: on


# --- account A's world -----------------------------------------------------------------------


@dataclass
class World:
    """Account A with one of everything, its callers, and account B."""

    api: Api
    a: Requester
    b: Requester
    members: dict[Caller, Member]
    worker: Worker
    keys: dict[Caller, str | None]
    task: models.Task
    # A's global ids by kind: what B, the operator and anonymous callers must never see.
    ids: dict[str, str] = field(default_factory=dict)
    # Text of A no other party may see (names, secrets).
    secrets: list[str] = field(default_factory=list)
    marker: str = ""

    def principal(self, caller: Caller) -> Any:
        if caller is Caller.OWNER:
            return self.a.principal
        return self.members[caller].principal

    async def owner_data(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.api.data(document, variables, key=self.a.key)

    def name(self, what: str) -> str:
        """A unique name (without A's marker: B's calls are given these too)."""
        return f"{what} {uuid.uuid4().hex[:6]}"


CREATE_RULE = """mutation ($input: CreateRuleInput!) {
  createRule(input: $input) { rule { id } userErrors { code message } } }"""


async def build_world(api: Api) -> World:
    a = await new_requester(fund_minor=1_000_000)
    b = await new_requester()
    marker = f"A{uuid.uuid4().hex[:10]}"
    project = await models.Project.get(id=a.project_id)
    project.name = f"{marker} project"
    await project.save()
    members = {
        caller: await a.member(role, name=f"{marker} {caller.value}")
        for caller, role in (
            (Caller.VIEWER, MemberRole.VIEWER),
            (Caller.AUDITOR, MemberRole.AUDITOR),
            (Caller.MANAGER, MemberRole.MANAGER),
        )
    }
    worker = await new_worker()
    read_only = await api_keys.create_api_key(a.principal, "wall screen", None, True)
    operator_key = await api_keys.issue_operator_key("signup app")
    keys: dict[Caller, str | None] = {
        Caller.ANONYMOUS: None,
        Caller.WORKER: worker.key,
        **{caller: member.key for caller, member in members.items()},
        Caller.OWNER: a.key,
        Caller.OTHER: b.key,
        Caller.READ_ONLY: read_only.plain,
        Caller.OPERATOR: operator_key,
    }
    # B has work of its own, so that its lists are not empty by accident.
    b_task = await new_task(b)
    await new_submitted(b_task)

    task = await new_task(a, title=f"{marker} task", budget="500.00")
    pending = await new_submitted(task, worker)
    approved_by = await new_worker()
    approved = await review.approve_submission(
        a.principal, (await new_submitted(task, approved_by)).id
    )
    lock = await audits.start_audit(a.principal, approved.id)
    audit = await audits.submit_audit(
        a.principal, approved.id, lock.fencing_token, audits.AuditDecision(AuditOutcome.ACCEPTED)
    )
    batch = await models.Batch.create(account_id=a.account_id, name=f"{marker} batch")
    template = await tasks.save_as_template(a.principal, task.id, f"{marker} template")
    endpoint = await webhook_endpoints.create_endpoint(
        a.principal, f"https://hooks.example.com/{marker}", f"{marker} endpoint"
    )
    event = await webhook_endpoints.send_test(a.principal, endpoint.id)
    restriction, _ = await restrictions.restrict_worker(
        a.principal,
        worker_id=approved_by.id,
        kind=RestrictionKind.BAN,
        scope=RestrictionScope.ACCOUNT,
        task_id=None,
        project_id=None,
        days=None,
        reason=f"{marker} private reason",
    )
    world = World(api, a, b, members, worker, keys, task, marker=marker)
    skill = await world.owner_data(
        "mutation ($n: String!) { createSkill(input: {name: $n, scope: TASK}) { skill { id } } }",
        {"n": f"{marker} skill"},
    )
    skill_id = skill["createSkill"]["skill"]["id"]
    await world.owner_data(
        "mutation ($s: ID!, $w: ID!) { setWorkerSkill(input: {skillId: $s, workerId: $w, "
        "value: 60}) { userErrors { code } } }",
        {"s": skill_id, "w": worker.global_id},
    )
    # A rule that fires on the next submission: a firing to look up.
    rule = await world.owner_data(
        CREATE_RULE,
        {"input": rule_input(to_global_id("Task", task.id), skill_id, f"{marker} rule")},
    )
    rule_id = rule["createRule"]["rule"]["id"]
    await new_submitted(task)
    firing = await models.RuleFiring.filter(rule_id=from_global_id(rule_id)[1]).first()  # type: ignore[index]
    assert firing is not None, "the world's rule did not fire"
    thread = await conversations.ask_question(worker.principal, task.id, None, f"{marker} question")
    entry = await conversations.publish_faq_entry(
        a.principal, task.id, f"{marker} faq question", "An answer."
    )
    read_only_key = await models.ApiKey.get(id=read_only.key.id)
    world.ids = {
        "account": to_global_id("Account", a.account_id),
        "project": to_global_id("Project", project.id),
        "task": to_global_id("Task", task.id),
        "submission": to_global_id("Submission", pending.id),
        "approved": to_global_id("Submission", approved.id),
        "audit": to_global_id("Audit", audit.id),
        "batch": to_global_id("Batch", batch.id),
        "template": to_global_id("Template", template.id),
        "endpoint": to_global_id("WebhookEndpoint", endpoint.id),
        "event": to_global_id("CallbackEvent", event.id),
        "restriction": to_global_id("Restriction", restriction.id),
        "skill": skill_id,
        "rule": rule_id,
        "firing": to_global_id("RuleFiring", firing.id),
        "thread": to_global_id("Thread", thread.id),
        "faq": to_global_id("FaqEntry", entry.id),
        "member": to_global_id("Member", members[Caller.VIEWER].principal.member_id),
        "owner": to_global_id("Member", a.principal.member_id),
        "api_key": to_global_id("ApiKey", read_only_key.id),
        # Workers are global; these worked for A only.
        "worker": worker.global_id,
        "banned": approved_by.global_id,
    }
    world.secrets = [marker, endpoint.secret, read_only.plain, read_only_key.prefix]
    return world


def rule_input(task_id: str, skill_id: str, name: str) -> dict[str, Any]:
    """A rule of the task that sets the skill to 50 after a submission."""
    return {
        "type": "SUBMITTED_ANSWERS",
        "taskId": task_id,
        "name": name,
        "conditions": [{"metric": "SUBMITTED_COUNT", "operator": "GTE", "value": 1}],
        "action": {"type": "SET_SKILL_VALUE", "skillId": skill_id, "value": 50},
    }


# --- the entries -----------------------------------------------------------------------------


State = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Call:
    """A mutation's input, and how to read what it would change."""

    input: dict[str, Any]
    state: State


Prepare = Callable[[World, Caller], Awaitable[Call]]


@dataclass(frozen=True)
class QueryEntry:
    access: Access
    arguments: Callable[[World], dict[str, Any]] = lambda world: {}
    # The kind of A's object (a key of World.ids) that allowed callers must see in the answer.
    shows: str | None = None


@dataclass(frozen=True)
class MutationEntry:
    access: Access
    prepare: Prepare


@dataclass(frozen=True)
class SubscriptionEntry:
    access: Access
    arguments: Callable[[World], dict[str, Any]] = lambda world: {}


def gid(type_name: str, pk: int) -> str:
    return str(to_global_id(type_name, pk))


def row(model: type[Any], pk: int, *names: str) -> State:
    async def read() -> Any:
        found = await model.get_or_none(id=pk)
        return None if found is None else tuple(getattr(found, name) for name in names)

    return read


def count(model: type[Any], **filters: Any) -> State:
    async def read() -> int:
        return int(await model.filter(**filters).count())

    return read


async def fresh_task(world: World, *, publish: bool = True) -> models.Task:
    return await new_task(world.a, title=world.name("task"), publish=publish)


async def fresh_submitted(world: World) -> models.Submission:
    return await new_submitted(world.task)


async def fresh_rejected(world: World, worker: Worker | None = None) -> models.Submission:
    submitted = await new_submitted(world.task, worker)
    return await review.reject_submission(world.a.principal, submitted.id, "Not the picture.")


async def fresh_lock(world: World, caller: Caller) -> tuple[models.Submission, int]:
    """An approved submission of A with an audit lock the caller holds (the owner's for
    callers who may not audit)."""
    holder = caller if caller in (Caller.AUDITOR, Caller.MANAGER) else Caller.OWNER
    approved = await review.approve_submission(world.a.principal, (await fresh_submitted(world)).id)
    lock = await audits.start_audit(world.principal(holder), approved.id)
    return approved, lock.fencing_token


async def fresh_endpoint(world: World) -> models.WebhookEndpoint:
    return await webhook_endpoints.create_endpoint(
        world.a.principal, f"https://hooks.example.com/{uuid.uuid4().hex}", world.name("hook")
    )


async def fresh_rule(world: World) -> str:
    created = await world.owner_data(
        CREATE_RULE,
        {"input": rule_input(world.ids["task"], world.ids["skill"], world.name("rule"))},
    )
    return str(created["createRule"]["rule"]["id"])


def pk(global_id: str) -> int:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


def task_state(task: models.Task) -> State:
    return row(models.Task, task.id, "status", "budget_minor", "title", "version")


def submission_state(submission: models.Submission) -> State:
    return row(models.Submission, submission.id, "state", "paid_minor", "version")


# Each prepare: what the call acts on (made anew per allowed caller), its input, its state.


async def _create_project(w: World, c: Caller) -> Call:
    return Call({"name": w.name("project")}, count(models.Project, account_id=w.a.account_id))


async def _create_task(w: World, c: Caller) -> Call:
    return Call(
        {
            "projectId": w.ids["project"],
            "title": w.name("task"),
            "instructions": "Label it.",
            "reward": "1.00",
            "budget": "5.00",
            "timeLimitSeconds": 600,
            "proofRequirements": [{"name": "answer", "kind": "TEXT"}],
        },
        count(models.Task, account_id=w.a.account_id),
    )


async def _fund_account(w: World, c: Caller) -> Call:
    return Call(
        {"amount": "1.00", "idempotencyKey": uuid.uuid4().hex},
        row(models.Account, w.a.account_id, "balance_minor"),
    )


async def _update_task(w: World, c: Caller) -> Call:
    draft = await fresh_task(w, publish=False)
    return Call(
        {"taskId": gid("Task", draft.id), "changes": {"title": w.name("renamed")}},
        task_state(draft),
    )


def _task_transition(
    *, publish: bool = True, paused: bool = False, extra: dict[str, Any] | None = None
) -> Prepare:
    async def prepare(w: World, c: Caller) -> Call:
        task = await fresh_task(w, publish=publish)
        if paused:
            task = await task_lifecycle.pause_task(w.a.principal, task.id)
        return Call({"taskId": gid("Task", task.id), **(extra or {})}, task_state(task))

    return prepare


async def _save_template(w: World, c: Caller) -> Call:
    return Call(
        {"taskId": w.ids["task"], "name": w.name("template")},
        count(models.Template, account_id=w.a.account_id),
    )


async def _from_template(w: World, c: Caller) -> Call:
    return Call(
        {"templateId": w.ids["template"], "projectId": w.ids["project"]},
        count(models.Task, account_id=w.a.account_id),
    )


async def _duplicate_task(w: World, c: Caller) -> Call:
    return Call({"taskId": w.ids["task"]}, count(models.Task, account_id=w.a.account_id))


async def _create_batch(w: World, c: Caller) -> Call:
    return Call({"name": w.name("batch")}, count(models.Batch, account_id=w.a.account_id))


async def _update_batch(w: World, c: Caller) -> Call:
    return Call(
        {"batchId": w.ids["batch"], "name": w.name("batch")},
        row(models.Batch, pk(w.ids["batch"]), "name"),
    )


async def _delete_template(w: World, c: Caller) -> Call:
    template = await tasks.save_as_template(w.a.principal, w.task.id, w.name("template"))
    return Call(
        {"templateId": gid("Template", template.id)}, row(models.Template, template.id, "id")
    )


def _review(extra: dict[str, Any], made: str = "submitted") -> Prepare:
    async def prepare(w: World, c: Caller) -> Call:
        submission = await fresh_submitted(w)
        if made == "approved":
            submission = await review.approve_submission(w.a.principal, submission.id)
        return Call(
            {"submissionId": gid("Submission", submission.id), **extra},
            submission_state(submission),
        )

    return prepare


async def _resolve_dispute(w: World, c: Caller) -> Call:
    worker = await new_worker()
    rejected = await fresh_rejected(w, worker)
    disputed = await submissions.dispute_rejection(worker.principal, rejected.id, "It is right.")
    return Call(
        {
            "submissionId": gid("Submission", disputed.id),
            "resolution": "UPHOLD",
            "note": "Checked.",
        },
        submission_state(disputed),
    )


async def _bulk_review(w: World, c: Caller) -> Call:
    submission = await fresh_submitted(w)
    return Call(
        {"submissionIds": [gid("Submission", submission.id)], "decision": "APPROVE"},
        submission_state(submission),
    )


async def _start_submission(w: World, c: Caller) -> Call:
    task = await fresh_task(w)
    return Call({"taskId": gid("Task", task.id)}, count(models.Submission, task_id=task.id))


async def _submit_submission(w: World, c: Caller) -> Call:
    task = await fresh_task(w)
    started = await submissions.start_submission(w.worker.principal, task.id)
    return Call(
        {
            "submissionId": gid("Submission", started.id),
            "response": [{"name": "answer", "value": "a cat"}],
        },
        submission_state(started),
    )


async def _dispute_rejection(w: World, c: Caller) -> Call:
    task = await fresh_task(w)
    rejected = await fresh_rejected_of(w, task)
    return Call(
        {"submissionId": gid("Submission", rejected.id), "reason": "It shows a cat."},
        submission_state(rejected),
    )


async def fresh_rejected_of(w: World, task: models.Task) -> models.Submission:
    """A submission of `task` by the world's worker, rejected."""
    started = await submissions.start_submission(w.worker.principal, task.id)
    sent = await submissions.submit_submission(w.worker.principal, started.id, answer())
    return await review.reject_submission(w.a.principal, sent.id, "Not the picture.")


async def _rate_task(w: World, c: Caller) -> Call:
    task = await fresh_task(w)
    started = await submissions.start_submission(w.worker.principal, task.id)
    sent = await submissions.submit_submission(w.worker.principal, started.id, answer())
    await review.approve_submission(w.a.principal, sent.id)
    return Call(
        {"taskId": gid("Task", task.id), "clarity": 4, "fairness": 5, "comment": "Clear."},
        count(models.TaskRating, task_id=task.id),
    )


async def _start_audit(w: World, c: Caller) -> Call:
    approved = await review.approve_submission(w.a.principal, (await fresh_submitted(w)).id)
    return Call(
        {"submissionId": gid("Submission", approved.id)},
        count(models.AuditLock, submission_id=approved.id, released_at__isnull=True),
    )


async def _start_audit_sample(w: World, c: Caller) -> Call:
    # Every completed submission of A nobody holds is a candidate: make one per call.
    await review.approve_submission(w.a.principal, (await fresh_submitted(w)).id)
    return Call(
        {"filter": {"taskId": w.ids["task"]}, "count": 1},
        count(models.AuditLock, account_id=w.a.account_id, released_at__isnull=True),
    )


def _lock_call(extra: dict[str, Any]) -> Prepare:
    async def prepare(w: World, c: Caller) -> Call:
        approved, token = await fresh_lock(w, c)

        async def state() -> Any:
            lock = await models.AuditLock.get(submission_id=approved.id)
            audited = await models.Audit.filter(submission_id=approved.id).count()
            return (lock.expires_at, lock.released_at, lock.fencing_token, audited)

        return Call(
            {"submissionId": gid("Submission", approved.id), "fencingToken": token, **extra},
            state,
        )

    return prepare


async def _redeliver(w: World, c: Caller) -> Call:
    event = await webhook_endpoints.send_test(w.a.principal, pk(w.ids["endpoint"]))
    await models.OutboxEvent.filter(id=event.id).update(
        status="FAILED", next_attempt_at=clock.now() + timedelta(days=1)
    )
    return Call(
        {"eventId": gid("CallbackEvent", event.id)},
        row(models.OutboxEvent, event.id, "status", "next_attempt_at", "give_up_at"),
    )


async def _enable_endpoint(w: World, c: Caller) -> Call:
    endpoint = await fresh_endpoint(w)
    # As the delivery worker leaves an endpoint that answered 410.
    await models.WebhookEndpoint.filter(id=endpoint.id).update(
        disabled_at=clock.now(), disabled_reason="410 Gone"
    )
    return Call(
        {"endpointId": gid("WebhookEndpoint", endpoint.id)},
        row(models.WebhookEndpoint, endpoint.id, "disabled_at"),
    )


async def _set_callback_url(w: World, c: Caller) -> Call:
    return Call(
        {"callbackUrl": f"https://hooks.example.com/account/{uuid.uuid4().hex}"},
        row(models.Account, w.a.account_id, "callback_url"),
    )


async def _create_endpoint(w: World, c: Caller) -> Call:
    return Call(
        {"url": f"https://hooks.example.com/{uuid.uuid4().hex}", "description": w.name("hook")},
        count(models.WebhookEndpoint, account_id=w.a.account_id, subscribed=True),
    )


async def _update_endpoint(w: World, c: Caller) -> Call:
    endpoint = pk(w.ids["endpoint"])
    return Call(
        {"endpointId": w.ids["endpoint"], "description": w.name("endpoint")},
        row(models.WebhookEndpoint, endpoint, "description"),
    )


async def _delete_endpoint(w: World, c: Caller) -> Call:
    endpoint = await fresh_endpoint(w)
    return Call(
        {"endpointId": gid("WebhookEndpoint", endpoint.id)},
        row(models.WebhookEndpoint, endpoint.id, "subscribed"),
    )


async def _send_test(w: World, c: Caller) -> Call:
    return Call(
        {"endpointId": w.ids["endpoint"]},
        count(models.OutboxEvent, account_id=w.a.account_id),
    )


async def _rotate_secret(w: World, c: Caller) -> Call:
    endpoint = await fresh_endpoint(w)
    return Call(
        {"endpointId": gid("WebhookEndpoint", endpoint.id), "overlapSeconds": 0},
        row(models.WebhookEndpoint, endpoint.id, "secret"),
    )


async def _create_skill(w: World, c: Caller) -> Call:
    return Call(
        {"name": w.name("skill"), "scope": "TASK"},
        count(models.Skill, account_id=w.a.account_id),
    )


async def _update_skill(w: World, c: Caller) -> Call:
    return Call(
        {"skillId": w.ids["skill"], "description": w.name("described")},
        row(models.Skill, pk(w.ids["skill"]), "description"),
    )


async def _set_worker_skill(w: World, c: Caller) -> Call:
    worker = await new_worker()
    return Call(
        {"skillId": w.ids["skill"], "workerId": worker.global_id, "value": 70},
        count(models.WorkerSkill, worker_id=worker.id),
    )


async def _restrict_worker(w: World, c: Caller) -> Call:
    worker = await new_worker()
    return Call(
        {"workerId": worker.global_id, "kind": "BAN", "scope": "ACCOUNT", "reason": "Spam."},
        count(models.Restriction, account_id=w.a.account_id),
    )


async def _lift_restriction(w: World, c: Caller) -> Call:
    worker = await new_worker()
    restriction, _ = await restrictions.restrict_worker(
        w.a.principal,
        worker_id=worker.id,
        kind=RestrictionKind.SUSPENSION,
        scope=RestrictionScope.TASK,
        task_id=w.task.id,
        project_id=None,
        days=3,
        reason="Too fast.",
    )
    return Call(
        {"restrictionId": gid("Restriction", restriction.id)},
        row(models.Restriction, restriction.id, "lifted_at"),
    )


async def _create_rule(w: World, c: Caller) -> Call:
    return Call(
        rule_input(w.ids["task"], w.ids["skill"], w.name("rule")),
        count(models.Rule, account_id=w.a.account_id),
    )


async def _update_rule(w: World, c: Caller) -> Call:
    rule = await fresh_rule(w)
    return Call({"ruleId": rule, "name": w.name("renamed")}, row(models.Rule, pk(rule), "name"))


async def _set_rule_enabled(w: World, c: Caller) -> Call:
    rule = await fresh_rule(w)
    return Call({"ruleId": rule, "enabled": False}, row(models.Rule, pk(rule), "enabled"))


async def _delete_rule(w: World, c: Caller) -> Call:
    rule = await fresh_rule(w)
    return Call({"ruleId": rule}, row(models.Rule, pk(rule), "id"))


async def _add_member(w: World, c: Caller) -> Call:
    return Call(
        {"name": w.name("member"), "email": f"{uuid.uuid4().hex}@example.test", "role": "VIEWER"},
        count(models.Member, account_id=w.a.account_id),
    )


async def _change_role(w: World, c: Caller) -> Call:
    member = await w.a.member(MemberRole.VIEWER)
    return Call(
        {"memberId": gid("Member", member.principal.member_id), "role": "AUDITOR"},
        row(models.Member, member.principal.member_id, "role"),
    )


async def _remove_member(w: World, c: Caller) -> Call:
    member = await w.a.member(MemberRole.VIEWER)
    return Call(
        {"memberId": gid("Member", member.principal.member_id)},
        row(models.Member, member.principal.member_id, "removed_at"),
    )


async def _create_api_key(w: World, c: Caller) -> Call:
    return Call({"name": w.name("key")}, count(models.ApiKey, member__account_id=w.a.account_id))


async def _export_link(w: World, c: Caller) -> Call:
    # A's task in the filter: B's link exports nothing of A (reviewQueue's rule).
    return Call(
        {"filter": {"taskId": w.ids["task"]}},
        count(models.ExportLink, account_id=w.a.account_id),
    )


def _own_key(extra: dict[str, Any]) -> Prepare:
    """A key of the caller's own (the owner's for callers who are not A's members)."""

    async def prepare(w: World, c: Caller) -> Call:
        holder = c if c in w.members else Caller.OWNER
        issued = await api_keys.create_api_key(w.principal(holder), w.name("key"))
        return Call(
            {"keyId": gid("ApiKey", issued.key.id), **extra},
            row(models.ApiKey, issued.key.id, "revoked_at", "expires_at"),
        )

    return prepare


async def _register_worker(w: World, c: Caller) -> Call:
    ref = f"app-user-{uuid.uuid4().hex}"
    return Call(
        {"name": "Kim", "country": "DE", "externalRef": ref},
        count(models.Worker, external_ref=ref),
    )


async def _update_worker(w: World, c: Caller) -> Call:
    worker = await new_worker()
    return Call(
        {"workerId": worker.global_id, "name": w.name("worker")},
        row(models.Worker, worker.id, "name"),
    )


async def _issue_worker_key(w: World, c: Caller) -> Call:
    worker = await new_worker()
    return Call(
        {"workerId": worker.global_id, "name": "phone"}, count(models.ApiKey, worker_id=worker.id)
    )


async def _revoke_worker_key(w: World, c: Caller) -> Call:
    worker = await new_worker()
    issued = await workers.issue_worker_key(worker.id, "phone")
    return Call(
        {"keyId": gid("ApiKey", issued.key.id)},
        row(models.ApiKey, issued.key.id, "revoked_at"),
    )


async def _sandbox_twin(w: World, c: Caller) -> Call:
    return Call({}, count(models.Account, twin_of_id=w.a.account_id))


async def _simulate(w: World, c: Caller) -> Call:
    task = await fresh_task(w)
    return Call(
        {"taskId": gid("Task", task.id), "good": 1, "empty": 0, "duplicate": 0, "tooFast": 0},
        count(models.Submission, task_id=task.id),
    )


async def _ask_question(w: World, c: Caller) -> Call:
    # A task of its own each time: a worker asks a bounded number of questions per task a day.
    task = await fresh_task(w)
    return Call(
        {"taskId": gid("Task", task.id), "body": "May I use a tablet?"},
        count(models.Thread, task_id=task.id),
    )


async def fresh_thread(w: World, worker: Worker | None = None) -> models.Thread:
    """A question on a task of its own, by `worker` (a new one by default)."""
    task = await fresh_task(w)
    asker = worker or await new_worker()
    return await conversations.ask_question(asker.principal, task.id, None, "Is it due today?")


async def _reply_to_team(w: World, c: Caller) -> Call:
    thread = await fresh_thread(w, w.worker)
    await conversations.reply_to_thread(w.a.principal, thread.id, "It is.")
    return Call(
        {"threadId": gid("Thread", thread.id), "body": "Thanks!"},
        row(models.Thread, thread.id, "state", "message_count"),
    )


def _thread_call(extra: dict[str, Any]) -> Prepare:
    async def prepare(w: World, c: Caller) -> Call:
        thread = await fresh_thread(w)
        return Call(
            {"threadId": gid("Thread", thread.id), **extra},
            row(models.Thread, thread.id, "state", "message_count"),
        )

    return prepare


async def _message_worker(w: World, c: Caller) -> Call:
    return Call(
        {"workerId": w.ids["worker"], "body": "Welcome back."},
        count(models.Thread, account_id=w.a.account_id),
    )


async def _send_announcement(w: World, c: Caller) -> Call:
    # One announcement a day per task: a task of its own, with a submission to reach.
    task = await fresh_task(w)
    await new_submitted(task)
    return Call(
        {"taskId": gid("Task", task.id), "body": "New pictures."},
        count(models.Announcement, task_id=task.id),
    )


async def _publish_faq_entry(w: World, c: Caller) -> Call:
    return Call(
        {"taskId": w.ids["task"], "question": "Tablets?", "answer": "Fine."},
        count(models.FaqEntry, task_id=w.task.id),
    )


async def _remove_faq_entry(w: World, c: Caller) -> Call:
    entry = await conversations.publish_faq_entry(w.a.principal, w.task.id, "Phones?", "Fine.")
    return Call({"entryId": gid("FaqEntry", entry.id)}, row(models.FaqEntry, entry.id, "id"))


async def _set_response_target(w: World, c: Caller) -> Call:
    current = (await models.Account.get(id=w.a.account_id)).response_target_seconds
    return Call(
        {"seconds": 3_600 + (current + 60) % 86_400},
        row(models.Account, w.a.account_id, "response_target_seconds"),
    )


def _task(w: World) -> dict[str, Any]:
    return {"taskId": w.ids["task"]}


def _month() -> dict[str, Any]:
    """The last 30 days and the next, which hold everything the world made."""
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(days=30)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }


def oldest(w: World) -> dict[str, Any]:
    """The last of a newest-first list: the world's object, whatever the matrix added since."""
    return {"last": 1}


QUERIES: dict[str, QueryEntry] = {
    "me": QueryEntry(ANYONE),
    "node": QueryEntry(NODE, lambda w: {"id": w.ids["task"]}, shows="task"),
    "account": QueryEntry(MEMBERS_READ, shows="account"),
    "task": QueryEntry(MEMBERS_LOOKUP, lambda w: {"id": w.ids["task"]}, shows="task"),
    "tasks": QueryEntry(
        MEMBERS_FILTERED,
        lambda w: {"filter": {"projectId": w.ids["project"], "search": w.marker}},
        shows="task",
    ),
    "projects": QueryEntry(MEMBERS_READ, oldest, shows="project"),
    "reviewQueue": QueryEntry(MEMBERS_FILTERED, lambda w: {"filter": _task(w)}, shows="submission"),
    "submission": QueryEntry(
        MEMBERS_LOOKUP, lambda w: {"id": w.ids["submission"]}, shows="submission"
    ),
    "availableTasks": QueryEntry(WORKERS_ONLY),
    "mySubmissions": QueryEntry(WORKERS_ONLY),
    "completedSubmissions": QueryEntry(
        MEMBERS_FILTERED, lambda w: {"filter": _task(w), "last": 1}, shows="approved"
    ),
    "auditReport": QueryEntry(MEMBERS_READ, lambda w: {"filter": _task(w)}),
    "auditWeeks": QueryEntry(MEMBERS_READ, lambda w: {"filter": _task(w)}),
    "auditorTracker": QueryEntry(MEMBERS_READ, lambda w: {"filter": _task(w)}),
    "auditorQuality": QueryEntry(MEMBERS_READ, lambda w: {"filter": _task(w)}, shows="owner"),
    "callbackEvents": QueryEntry(MANAGERS_READ, oldest, shows="event"),
    "webhookEndpoints": QueryEntry(MANAGERS_READ, shows="endpoint"),
    "skills": QueryEntry(MEMBERS_READ, shows="skill"),
    "skill": QueryEntry(MEMBERS_LOOKUP, lambda w: {"id": w.ids["skill"]}, shows="skill"),
    "workerSkills": QueryEntry(
        MEMBERS_FILTERED, lambda w: {"workerId": w.ids["worker"]}, shows="skill"
    ),
    "skillHistory": QueryEntry(
        MEMBERS_FILTERED,
        lambda w: {"workerId": w.ids["worker"], "skillId": w.ids["skill"]},
        shows="skill",
    ),
    "restrictions": QueryEntry(
        MEMBERS_FILTERED, lambda w: {"filter": {"workerId": w.ids["banned"]}}, shows="restriction"
    ),
    "restriction": QueryEntry(
        MEMBERS_LOOKUP, lambda w: {"id": w.ids["restriction"]}, shows="restriction"
    ),
    "rules": QueryEntry(MEMBERS_FILTERED, lambda w: {"filter": _task(w)}, shows="rule"),
    "rule": QueryEntry(MEMBERS_LOOKUP, lambda w: {"id": w.ids["rule"]}, shows="rule"),
    "ruleFirings": QueryEntry(
        MEMBERS_FILTERED, lambda w: {"filter": {"ruleId": w.ids["rule"]}, "last": 1}, shows="firing"
    ),
    "dryRunRule": QueryEntry(MEMBERS_NAMING, lambda w: {"input": {"ruleId": w.ids["rule"]}}),
    "members": QueryEntry(MEMBERS_READ, shows="member"),
    "apiKeys": QueryEntry(MEMBERS_READ),
    "workers": QueryEntry(MEMBERS_FILTERED, lambda w: {"filter": _task(w)}, shows="worker"),
    "activityLog": QueryEntry(OWNERS_READ),
    "batches": QueryEntry(MEMBERS_READ, oldest, shows="batch"),
    "templates": QueryEntry(MEMBERS_READ, oldest, shows="template"),
    "rateLimit": QueryEntry(EVERY_CALLER),
    "analytics": QueryEntry(
        MEMBERS_READ, lambda w: {"period": _month(), "scope": _task(w)}, shows="worker"
    ),
    "variantComparison": QueryEntry(
        MEMBERS_READ, lambda w: {"variantGroup": "ab", "period": _month()}
    ),
    "budgetPlan": QueryEntry(MEMBERS_READ, shows="task"),
    "threads": QueryEntry(MEMBERS_FILTERED, lambda w: {"filter": _task(w)}, shows="thread"),
    "threadSummary": QueryEntry(MEMBERS_NAMING, _task),
    "myThreads": QueryEntry(WORKERS_ONLY),
    "myAnnouncements": QueryEntry(WORKERS_ONLY),
    "taskInstructions": QueryEntry(WORKERS_ONLY, _task),
}

MUTATIONS: dict[str, MutationEntry] = {
    "createProject": MutationEntry(MANAGE_OWN, _create_project),
    "createTask": MutationEntry(MANAGE, _create_task),
    "fundAccount": MutationEntry(MANAGE_OWN, _fund_account),
    "updateTask": MutationEntry(MANAGE, _update_task),
    "publishTask": MutationEntry(MANAGE, _task_transition(publish=False)),
    "pauseTask": MutationEntry(MANAGE, _task_transition()),
    "resumeTask": MutationEntry(MANAGE, _task_transition(paused=True)),
    "closeTask": MutationEntry(MANAGE, _task_transition()),
    "changeTaskBudget": MutationEntry(MANAGE, _task_transition(extra={"budget": "12.00"})),
    "saveTaskAsTemplate": MutationEntry(MANAGE, _save_template),
    "createTaskFromTemplate": MutationEntry(MANAGE, _from_template),
    "duplicateTask": MutationEntry(MANAGE, _duplicate_task),
    "createBatch": MutationEntry(MANAGE_OWN, _create_batch),
    "updateBatch": MutationEntry(MANAGE, _update_batch),
    "deleteTemplate": MutationEntry(MANAGE, _delete_template),
    "approveSubmission": MutationEntry(MANAGE, _review({})),
    "rejectSubmission": MutationEntry(MANAGE, _review({"feedback": "Not the picture."})),
    "requestRevision": MutationEntry(MANAGE, _review({"feedback": "Closer, please."})),
    "payBonus": MutationEntry(MANAGE, _review({"amount": "0.50"}, made="approved")),
    "resolveDispute": MutationEntry(MANAGE, _resolve_dispute),
    "bulkReviewSubmissions": MutationEntry(MANAGE, _bulk_review),
    "startSubmission": MutationEntry(WORKERS_ONLY, _start_submission),
    "submitSubmission": MutationEntry(WORKERS_ONLY, _submit_submission),
    "disputeRejection": MutationEntry(WORKERS_ONLY, _dispute_rejection),
    "rateTask": MutationEntry(WORKERS_ONLY, _rate_task),
    "startAudit": MutationEntry(AUDIT, _start_audit),
    "startAuditSample": MutationEntry(AUDIT_OWN, _start_audit_sample),
    "renewAuditLock": MutationEntry(AUDIT, _lock_call({"leaseSeconds": 900})),
    "releaseAuditLock": MutationEntry(AUDIT, _lock_call({})),
    "submitAudit": MutationEntry(AUDIT, _lock_call({"outcome": "ACCEPTED", "comments": "Fine."})),
    "redeliverCallbackEvent": MutationEntry(MANAGE, _redeliver),
    "enableWebhookEndpoint": MutationEntry(MANAGE, _enable_endpoint),
    "setAccountCallbackUrl": MutationEntry(OWNER_OWN, _set_callback_url),
    "createWebhookEndpoint": MutationEntry(MANAGE_OWN, _create_endpoint),
    "updateWebhookEndpoint": MutationEntry(MANAGE, _update_endpoint),
    "deleteWebhookEndpoint": MutationEntry(MANAGE, _delete_endpoint),
    "sendTestWebhook": MutationEntry(MANAGE, _send_test),
    "rotateWebhookSecret": MutationEntry(MANAGE, _rotate_secret),
    "createSkill": MutationEntry(MANAGE_OWN, _create_skill),
    "updateSkill": MutationEntry(MANAGE, _update_skill),
    "setWorkerSkill": MutationEntry(MANAGE, _set_worker_skill),
    # Workers are global: B may restrict any worker in B; nothing of A changes.
    "restrictWorker": MutationEntry(MANAGE_OWN, _restrict_worker),
    "liftRestriction": MutationEntry(MANAGE, _lift_restriction),
    "createRule": MutationEntry(MANAGE, _create_rule),
    "updateRule": MutationEntry(MANAGE, _update_rule),
    "setRuleEnabled": MutationEntry(MANAGE, _set_rule_enabled),
    "deleteRule": MutationEntry(MANAGE, _delete_rule),
    "addMember": MutationEntry(OWNER_OWN, _add_member),
    "changeMemberRole": MutationEntry(OWNER, _change_role),
    "removeMember": MutationEntry(OWNER, _remove_member),
    "createApiKey": MutationEntry(MEMBER_OWN, _create_api_key),
    "createExportLink": MutationEntry(READ_OWN, _export_link),
    "revokeApiKey": MutationEntry(MEMBER, _own_key({})),
    "rotateApiKey": MutationEntry(MEMBER, _own_key({"gracePeriodSeconds": 0})),
    "registerWorker": MutationEntry(OPERATOR, _register_worker),
    "updateWorker": MutationEntry(OPERATOR, _update_worker),
    "issueWorkerKey": MutationEntry(OPERATOR, _issue_worker_key),
    "revokeWorkerKey": MutationEntry(OPERATOR, _revoke_worker_key),
    "createSandboxTwin": MutationEntry(OWNER_OWN, _sandbox_twin),
    # A is a live account; tests/accounts/test_sandbox.py runs it in a sandbox.
    "simulateWorkers": MutationEntry(SANDBOX_ONLY, _simulate),
    "askQuestion": MutationEntry(WORKERS_ONLY, _ask_question),
    "replyToTeam": MutationEntry(WORKERS_ONLY, _reply_to_team),
    "replyToThread": MutationEntry(MANAGE, _thread_call({"body": "It is."})),
    "closeThread": MutationEntry(MANAGE, _thread_call({})),
    # The worker worked for A only: to B it is a worker that does not exist.
    "messageWorker": MutationEntry(MANAGE, _message_worker),
    "sendAnnouncement": MutationEntry(MANAGE, _send_announcement),
    "publishFaqEntry": MutationEntry(MANAGE, _publish_faq_entry),
    "removeFaqEntry": MutationEntry(MANAGE, _remove_faq_entry),
    "setThreadResponseTarget": MutationEntry(OWNER_OWN, _set_response_target),
}

SUBSCRIPTIONS: dict[str, SubscriptionEntry] = {
    "budget": SubscriptionEntry(STREAM, _task),
    "reviewQueue": SubscriptionEntry(STREAM, _task),
    "auditLocks": SubscriptionEntry(STREAM, _task),
    "taskEvents": SubscriptionEntry(STREAM, _task),
    "threadActivity": SubscriptionEntry(STREAM, _task),
}
