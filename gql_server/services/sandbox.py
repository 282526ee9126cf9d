"""Sandboxes: accounts to build against without real workers.

A sandbox is an account of its own (`Account.sandbox`): tenancy keeps its data from every
live key and live data from its keys, its members' keys start with `cwk_test_`, and it
funds itself freely with `fundAccount`. An owner makes a sandbox twin of a live account
(same name, currency and time zone; the owner as its owner). Simulated workers exist only
for sandboxes: they see and take sandbox tasks only, and real workers never see a
sandbox's task (`submissions`, `available_tasks`).

`simulate_workers` makes new simulated workers start and submit on a task through the
worker use cases themselves, so limits, targeting, rules, callbacks and live streams all
act on them as on real work. What they answer is chosen by the shares asked for: good
answers, empty ones (optional proofs left blank, required ones refused by the task's own
validation), duplicates of another simulated answer, and answers submitted too fast. A
worker that is not too fast is taken to have started a while before it submits (its
start moved back by up to two minutes), since a simulation has no time to wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from tortoise.exceptions import IntegrityError

from gql_server import clock
from gql_server.models import Account, Member, Submission, Task, Worker
from gql_server.models.enums import ProofKind
from gql_server.services import accounts, submissions
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.tenancy import owned

MAX_SIMULATED = 100
# How long before submitting a simulated worker that is not too fast started.
THINKING_TIME = timedelta(minutes=2)


class AnswerKind(StrEnum):
    GOOD = "GOOD"
    EMPTY = "EMPTY"
    DUPLICATE = "DUPLICATE"
    TOO_FAST = "TOO_FAST"


@dataclass(frozen=True)
class Mix:
    """How many of each kind of answer, out of the simulated workers."""

    good: int = 0
    empty: int = 0
    duplicate: int = 0
    too_fast: int = 0

    @property
    def total(self) -> int:
        return self.good + self.empty + self.duplicate + self.too_fast

    def kinds(self) -> list[AnswerKind]:
        """One kind per worker, interleaved as a real queue would mix them."""
        counts = {
            AnswerKind.GOOD: self.good,
            AnswerKind.EMPTY: self.empty,
            AnswerKind.DUPLICATE: self.duplicate,
            AnswerKind.TOO_FAST: self.too_fast,
        }
        order: list[AnswerKind] = []
        while any(counts.values()):
            for kind, left in counts.items():
                if left:
                    order.append(kind)
                    counts[kind] = left - 1
        return order


@dataclass(frozen=True)
class Refusal:
    kind: AnswerKind
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class Simulation:
    workers: list[Worker]
    submitted: list[Submission]
    refused: list[Refusal]


@dataclass(frozen=True)
class SandboxTwin:
    account: Account
    owner_api_key: str


def _has_twin() -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.DUPLICATE,
        "This account has a sandbox twin already; its owners can make keys there.",
    )


async def create_twin(principal: MemberPrincipal, name: str | None = None) -> SandboxTwin:
    """A sandbox twin of the caller's live account, owned by the caller's person."""
    live = await Account.get(id=principal.account_id)
    if live.sandbox:
        raise UseCaseError.single(ErrorCode.INVALID_STATE, "A sandbox has no sandbox twin.")
    if await Account.exists(twin_of_id=live.id):
        raise _has_twin()
    owner = await Member.get(id=principal.member_id)
    try:
        created = await accounts.create_account(
            name=name if name is not None and name.strip() else f"{live.name} (sandbox)",
            owner_name=owner.name,
            owner_email=owner.email,
            currency=live.currency,
            timezone=live.timezone,
            sandbox=True,
            twin_of=live.id,
        )
    except IntegrityError:
        # Another request made the twin meanwhile (one per account, by a unique index).
        raise _has_twin() from None
    return SandboxTwin(created.account, created.owner_api_key)


def _answer(task: Task, kind: AnswerKind, index: int, tag: str) -> dict[str, str]:
    values = {}
    for requirement in task.proof_requirements:
        name = requirement["name"]
        if kind is AnswerKind.EMPTY:
            values[name] = ""
        elif requirement["kind"] == ProofKind.TEXT.value:
            values[name] = f"Simulated answer {tag}-{index}"
        else:
            values[name] = f"https://sandbox.example/{tag}/{index}/{name}"
    return values


async def _simulated_worker(country: str, tag: str, index: int) -> tuple[Worker, WorkerPrincipal]:
    # Simulated workers act only through this use case: they have no key to sign in with.
    worker = await Worker.create(name=f"Simulated {tag}-{index}", country=country, simulated=True)
    return worker, WorkerPrincipal(worker.id, api_key_id=0)


def _country(task: Task) -> str:
    """A country the task's targeting admits."""
    targeting = task.targeting or {}
    allowed = targeting.get("countries_allowed") or []
    if allowed:
        return str(allowed[0])
    denied = set(targeting.get("countries_denied") or [])
    return next((code for code in ("US", "DE", "IN", "BR", "PH") if code not in denied), "US")


async def simulate_workers(principal: MemberPrincipal, task_id: int | None, mix: Mix) -> Simulation:
    account = await Account.get(id=principal.account_id)
    if not account.sandbox:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "Simulated workers exist only in a sandbox (createSandboxTwin makes one).",
        )
    negative = min(mix.good, mix.empty, mix.duplicate, mix.too_fast) < 0
    if negative or not 1 <= mix.total <= MAX_SIMULATED:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"Ask for 1 to {MAX_SIMULATED} simulated workers in all, none negative.",
            "good",
        )
    task = await owned(Task, account.id, task_id, "Task", "task_id")
    tag = uuid.uuid4().hex[:6]
    workers: list[Worker] = []
    done: list[Submission] = []
    refused: list[Refusal] = []
    # What duplicates copy: the first answer a simulated worker got accepted for review.
    reference: dict[str, str] | None = None
    for index, kind in enumerate(mix.kinds()):
        worker, as_worker = await _simulated_worker(_country(task), tag, index)
        workers.append(worker)
        try:
            started = await submissions.start_submission(as_worker, task.id)
            if kind is not AnswerKind.TOO_FAST:
                await Submission.filter(id=started.id).update(
                    created_at=clock.now() - THINKING_TIME
                )
            answer = _answer(task, kind, index, tag)
            if kind is AnswerKind.DUPLICATE and reference is not None:
                answer = reference
            submitted = await submissions.submit_submission(as_worker, started.id, answer)
        except UseCaseError as error:
            first = error.errors[0]
            refused.append(Refusal(kind, first.code, first.message))
            continue
        if reference is None and kind is not AnswerKind.EMPTY:
            reference = answer
        done.append(submitted)
    return Simulation(workers, done, refused)
