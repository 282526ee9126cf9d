"""Factories of the tests: accounts, members, workers, tasks and submissions, the checks on
the money, and the same parties driven through the GraphQL API.

Every call makes new rows (a new account, a new worker), so each test owns its data and
needs no cleanup. The sweeps are the exception that proves the rule: they look at every
account, so a test of a sweep checks the states of its own rows, never the count a sweep
returns. tests/conftest.py exposes the usual ones as fixtures (`requester`, `task`,
`worker`, `account`, `other_account`); a test that needs more, or other settings, calls
these functions.

Service-level tests call the services with the principals held here, the way the
resolvers do after authentication; API-level tests use the API keys held with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from gql_server import clock
from gql_server.models import (
    Account,
    ApiKey,
    Dispute,
    IdempotencyRecord,
    LedgerEntry,
    Project,
    Review,
    Submission,
    Task,
    TaskDayCounter,
    TaskWorkerCounter,
)
from gql_server.models.enums import MemberRole, ProofKind
from gql_server.schema.relay import to_global_id
from gql_server.services import accounts, ledger, members, review, submissions, workers
from gql_server.services.available_tasks import available_tasks
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.pagination import PageRequest
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import ProofRequirementDraft, TaskDraft, create_task
from tests.graphql_client import Api

T = TypeVar("T")


# --- parties -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A member of an account: the principal the services take, and the member's API key."""

    principal: MemberPrincipal
    key: str


@dataclass(frozen=True)
class Requester:
    """An account, with its owner as the acting member: the owner's principal for the
    services and API key for the API, and (unless made without) one project."""

    account_id: int
    principal: MemberPrincipal
    key: str
    project_id: int | None

    async def member(self, role: MemberRole, name: str | None = None) -> Member:
        """A new member of the account with `role` (named after the role by default)."""
        added = await members.create_member(
            self.account_id,
            name or f"{role.value.title()} {uuid.uuid4().hex[:4]}",
            f"{uuid.uuid4().hex}@example.test",
            role,
        )
        key = await ApiKey.get(member_id=added.member.id)
        principal = MemberPrincipal(added.member.id, self.account_id, role, key.id)
        return Member(principal, added.api_key)

    async def member_key(self, role: MemberRole) -> str:
        """The API key of a new member of the account with `role`."""
        return (await self.member(role)).key


@dataclass(frozen=True)
class Worker:
    """A registered worker: the principal the services take, and the worker's API key."""

    id: int
    principal: WorkerPrincipal
    key: str
    country: str

    @property
    def global_id(self) -> str:
        return to_global_id("Worker", self.id)


# What the requesters of the submission tests (and a few others) start with: 100.00.
FUNDED = 10_000


async def new_requester(
    *, fund_minor: int = 100_000, timezone: str = "UTC", project: bool = True
) -> Requester:
    """A new account; funded with `fund_minor` (1000.00 by default) and with one project,
    unless told otherwise."""
    created = await accounts.create_account(
        name=f"Account {uuid.uuid4().hex[:8]}",
        owner_name="Owner",
        owner_email=f"{uuid.uuid4().hex}@example.test",
        timezone=timezone,
    )
    owner = created.owner
    key = await ApiKey.get(member_id=owner.id)
    principal = MemberPrincipal(owner.id, created.account.id, owner.role, key.id)
    project_id = None
    if project:
        project_id = (await Project.create(account_id=created.account.id, name="Project")).id
    if fund_minor:
        await accounts.fund_account(principal, fund_minor)
    return Requester(created.account.id, principal, created.owner_api_key, project_id)


async def new_worker(country: str = "DE") -> Worker:
    registered = await workers.register_worker(f"Worker {uuid.uuid4().hex[:6]}", country)
    assert registered.api_key is not None
    pk = registered.worker.id
    key = await ApiKey.get(worker_id=pk)
    return Worker(pk, WorkerPrincipal(pk, key.id), registered.api_key, country)


# --- tasks and submissions -----------------------------------------------------------------


def draft(**changes: Any) -> TaskDraft:
    values: dict[str, Any] = {
        "title": "Label the picture",
        "instructions": "Say what the picture shows.",
        "reward": "1.00",
        "budget": "10.00",
        "time_limit_seconds": 600,
        "proof_requirements": [ProofRequirementDraft("answer", ProofKind.TEXT)],
    }
    values.update(changes)
    return TaskDraft(**values)


async def new_task(requester: Requester, *, publish: bool = True, **changes: Any) -> Task:
    """A task with one required text proof named "answer"; published (funded) by default."""
    assert requester.project_id is not None, "a task needs a requester made with a project"
    task = await create_task(requester.principal, requester.project_id, draft(**changes))
    if publish:
        task = await publish_task(requester.principal, task.id)
    return task


def answer(text: str = "a cat") -> dict[str, str]:
    return {"answer": text}


async def new_started(task: Task, worker: Worker | None = None) -> Submission:
    """A submission of `task` started by `worker` (a new one by default)."""
    worker = worker or await new_worker()
    return await submissions.start_submission(worker.principal, task.id)


async def new_submitted(
    task: Task, worker: Worker | None = None, text: str = "a cat"
) -> Submission:
    """A submission of `task` started and submitted by `worker` (a new one by default)."""
    worker = worker or await new_worker()
    started = await submissions.start_submission(worker.principal, task.id)
    return await submissions.submit_submission(worker.principal, started.id, answer(text))


async def new_completed(requester: Requester, count: int, **task_changes: Any) -> list[Submission]:
    """`count` approved submissions of one new task (budget `count`.00), each by its own
    worker, answered "answer 0", "answer 1", ..."""
    task = await new_task(
        requester, budget=f"{count}.00", max_submissions_per_worker=1, **task_changes
    )
    done = []
    for n in range(count):
        submitted = await new_submitted(task, text=f"answer {n}")
        done.append(await review.approve_submission(requester.principal, submitted.id))
    return done


async def available_task_ids(worker: Worker) -> set[int]:
    """The ids of the tasks the worker is offered (the first hundred)."""
    listing = await available_tasks(worker.principal, PageRequest(first=100))
    return {task.id for _, task in listing.items}


# --- the money and what a use case changed ---------------------------------------------------


async def figures(task_id: int) -> tuple[int, int, int, int]:
    """(budget, committed, spent, remaining) of the task's columns."""
    task = await Task.get(id=task_id)
    return task.budget_minor, task.committed_minor, task.spent_minor, task.remaining_minor


async def balance(account_id: int) -> int:
    return (await Account.get(id=account_id)).balance_minor


async def assert_ledger_consistent(account_id: int) -> None:
    """Every figure column equals its ledger sum; no bucket is negative; budgets add up."""
    account = await Account.get(id=account_id)
    assert account.balance_minor >= 0
    assert account.balance_minor == await ledger.account_balance_from_ledger(account_id)
    for task in await Task.filter(account_id=account_id):
        from_ledger = await ledger.task_figures_from_ledger(task.id)
        columns = (task.budget_minor, task.committed_minor, task.spent_minor, task.remaining_minor)
        assert columns == (
            from_ledger.budget_minor,
            from_ledger.committed_minor,
            from_ledger.spent_minor,
            from_ledger.remaining_minor,
        ), f"task {task.id}: columns {columns} differ from the ledger {from_ledger}"
        assert min(columns) >= 0, f"task {task.id}: a negative bucket {columns}"
        assert task.budget_minor == task.committed_minor + task.spent_minor + task.remaining_minor


async def expect_error(code: ErrorCode, call: Awaitable[Any]) -> UseCaseError:
    """Await `call`, which must fail with exactly one error of `code`."""
    with pytest.raises(UseCaseError) as raised:
        await call
    codes = [e.code for e in raised.value.errors]
    assert codes == [code], raised.value.errors
    return raised.value


async def snapshot(account_id: int) -> dict[str, Any]:
    """Everything a use case on the account could change, for 'changed nothing' checks."""
    tasks = await Task.filter(account_id=account_id).order_by("id")
    task_ids = [t.id for t in tasks]
    submissions = await Submission.filter(account_id=account_id).order_by("id")
    submission_ids = [s.id for s in submissions]
    return {
        "balance": await balance(account_id),
        "tasks": [
            (
                t.id,
                t.status,
                t.close_reason,
                t.budget_minor,
                t.committed_minor,
                t.spent_minor,
                t.remaining_minor,
                t.requested_budget_minor,
                t.slots_taken,
                t.approved_count,
                t.version,
            )
            for t in tasks
        ],
        "submissions": [
            (
                s.id,
                s.state,
                s.paid_minor,
                s.version,
                s.response,
                s.prior_responses,
                s.feedback,
                s.revision_count,
                s.slot_released,
            )
            for s in submissions
        ],
        "ledger": await LedgerEntry.filter(account_id=account_id).count(),
        "reviews": await Review.filter(submission_id__in=submission_ids).count()
        if submission_ids
        else 0,
        "disputes": sorted(
            await Dispute.filter(submission_id__in=submission_ids).values_list("id", "status")
        )
        if submission_ids
        else [],
        "worker_counters": sorted(
            await TaskWorkerCounter.filter(task_id__in=task_ids).values_list(
                "task_id", "worker_id", "slots_taken"
            )
        )
        if task_ids
        else [],
        "day_counters": sorted(
            await TaskDayCounter.filter(task_id__in=task_ids).values_list("task_id", "started")
        )
        if task_ids
        else [],
        "idempotency_records": await IdempotencyRecord.all().count(),
    }


async def expect_unchanged(account_id: int, code: ErrorCode, call: Awaitable[Any]) -> UseCaseError:
    """`call` fails with `code` and changes nothing on the account."""
    before = await snapshot(account_id)
    error = await expect_error(code, call)
    assert await snapshot(account_id) == before
    await assert_ledger_consistent(account_id)
    return error


@contextmanager
def frozen_clock(start: datetime | None = None) -> Iterator[clock.FrozenClock]:
    """Install a FrozenClock (by default at the real now) and restore the previous clock."""
    frozen = clock.FrozenClock(start or datetime.now(UTC).replace(microsecond=0))
    previous = clock.set_clock(frozen)
    try:
        yield frozen
    finally:
        clock.set_clock(previous)


# --- through the API -------------------------------------------------------------------------

FIGURES = "figures { budget { amount } committed { amount } spent { amount } remaining { amount } }"
CREATE_PROJECT = """
mutation ($name: String!) { createProject(input: {name: $name}) { project { id } userErrors { code } } }
"""
CREATE_TASK = """
mutation ($input: CreateTaskInput!) {
  createTask(input: $input) {
    task {
      id title status reward { amount currency } requestedBudget { amount }
      figures { budget { amount } committed { amount } spent { amount } remaining { amount } }
      proofRequirements { name kind required }
      maxSubmissionsPerWorker timeLimitSeconds acceptanceMode autoApprovalDelaySeconds
      targeting { countriesAllowed countriesDenied minApprovalRate }
      project { name }
    }
    userErrors { field message code }
  }
}
"""


def figures_of(payload: dict[str, Any]) -> tuple[str, str, str, str]:
    """(budget, committed, spent, remaining) amounts of a task or a budget message."""
    f = payload["figures"]
    return (
        f["budget"]["amount"],
        f["committed"]["amount"],
        f["spent"]["amount"],
        f["remaining"]["amount"],
    )


def task_input(project_id: str, **changes: Any) -> dict[str, Any]:
    """A valid CreateTaskInput: reward 1.50, budget 30.00, one screenshot proof, DE and US."""
    task = {
        "projectId": project_id,
        "title": "Rate the app",
        "instructions": "Install, use for five minutes, rate honestly.",
        "reward": "1.50",
        "budget": "30.00",
        "timeLimitSeconds": 1800,
        "proofRequirements": [{"name": "screenshot", "kind": "SCREENSHOT_URL"}],
        "targeting": {"countriesAllowed": ["us", "DE"], "minApprovalRate": 90},
    }
    task.update(changes)
    return task


async def api_mutate(api: Api, key: str, document: str, variables: dict[str, Any]) -> Any:
    """The payload of the one mutation in `document`."""
    data = await api.data(document, variables, key=key)
    (payload,) = data.values()
    return payload


async def api_project(api: Api, key: str, name: str = "Main") -> str:
    data = await api.data(CREATE_PROJECT, {"name": name}, key=key)
    return data["createProject"]["project"]["id"]


async def api_draft(api: Api, key: str, project_name: str = "Main") -> tuple[str, str]:
    """(project id, task id) of a new project and a DRAFT task of `task_input` in it."""
    project = await api_project(api, key, project_name)
    created = await api.data(CREATE_TASK, {"input": task_input(project)}, key=key)
    return project, created["createTask"]["task"]["id"]


async def api_funded_draft(api: Api, key: str, **changes: Any) -> str:
    """A DRAFT task (no targeting) in a new project of an account funded with 100.00 more
    on each call."""
    await api_mutate(
        api,
        key,
        'mutation ($k: String) { fundAccount(input: {amount: "100.00", idempotencyKey: $k})'
        " { userErrors { code } } }",
        {"k": uuid.uuid4().hex},
    )
    project = await api_project(api, key, f"Live {uuid.uuid4().hex[:6]}")
    created = await api_mutate(
        api,
        key,
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } "
        "userErrors { field code } } }",
        {"input": task_input(project, **{"targeting": {}, **changes})},
    )
    assert created["userErrors"] == [], created
    return str(created["task"]["id"])


async def api_open_task(api: Api, key: str, **changes: Any) -> str:
    """An OPEN task (no targeting) of an account funded with 100.00 once (the funding's
    idempotency key is fixed: calling again for the same account adds nothing)."""
    project = await api_project(api, key, "Session")
    fund = await api.data(
        'mutation { fundAccount(input: {amount: "100.00", idempotencyKey: "fund-1"}) { account { balance { amount } } userErrors { code } } }',
        key=key,
    )
    assert fund["fundAccount"]["userErrors"] == []
    created = await api.data(
        "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { field code } } }",
        {"input": task_input(project, **{"targeting": {}, **changes})},
        key=key,
    )
    task_id = created["createTask"]["task"]["id"]
    published = await api.data(
        f"mutation ($id: ID!) {{ publishTask(input: {{taskId: $id}}) {{ task {{ status {FIGURES} }} userErrors {{ code }} }} }}",
        {"id": task_id},
        key=key,
    )
    assert published["publishTask"]["task"]["status"] == "OPEN"
    return task_id


async def api_task_action(api: Api, key: str, name: str, task_id: str) -> None:
    """`name` (publishTask, pauseTask, ...) on the task, which must succeed."""
    payload = await api_mutate(
        api,
        key,
        f"mutation ($t: ID!) {{ {name}(input: {{taskId: $t}}) {{ userErrors {{ code }} }} }}",
        {"t": task_id},
    )
    assert payload["userErrors"] == [], payload


async def api_review(
    api: Api, key: str, name: str, submission_id: str, extra: str = ""
) -> list[Any]:
    """The userErrors of `name` (approveSubmission, payBonus, ...) on the submission."""
    payload = await api_mutate(
        api,
        key,
        f"mutation ($s: ID!) {{ {name}(input: {{submissionId: $s{extra}}}) "
        "{ userErrors { code } } }",
        {"s": submission_id},
    )
    return list(payload["userErrors"])


async def api_visible_tasks(api: Api, worker_key: str) -> set[str]:
    """The ids of the tasks the worker is offered (the first hundred)."""
    data = await api.data(
        "{ availableTasks(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }",
        key=worker_key,
    )
    return {edge["node"]["id"] for edge in data["availableTasks"]["edges"]}


async def api_start_codes(api: Api, worker_key: str, task_id: str) -> list[str]:
    """The codes of the userErrors of the worker's startSubmission of the task."""
    body = await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) "
        "{ submission { id } userErrors { code message } } }",
        {"id": task_id},
        key=worker_key,
    )
    return [e["code"] for e in body["startSubmission"]["userErrors"]]


async def api_start_and_submit(
    api: Api, worker_key: str, task_id: str, *, submit: bool = True
) -> str:
    """The id of a submission the worker started (and by default submitted) on the task."""
    started = await api.data(
        "mutation ($t: ID!) { startSubmission(input: {taskId: $t}) { submission { id } "
        "userErrors { code message } } }",
        {"t": task_id},
        key=worker_key,
    )
    submission = started["startSubmission"]["submission"]
    assert submission is not None, started
    if submit:
        sent = await api.data(
            "mutation ($s: ID!) { submitSubmission(input: {submissionId: $s, response: "
            '[{name: "screenshot", value: "https://img.example/1.png"}]}) { userErrors { code } } }',
            {"s": submission["id"]},
            key=worker_key,
        )
        assert sent["submitSubmission"]["userErrors"] == []
    return str(submission["id"])
