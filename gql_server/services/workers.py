"""Workers: registered by the operator (the partner application they sign up through),
global across accounts, and seen by an account only for the work they did for it.

Invariants:
- Registration is idempotent by the partner's external reference: registering one
  reference again returns the worker it made, without a new key, also when two
  registrations race (the reference is unique in the database).
- Only the operator registers workers and manages their keys; a worker's keys are shown
  once, stored hashed, and a revoked one fails from the next request on.
- A member sees the workers with a submission on one of its account's tasks, and nothing
  of what they did for other accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import ApiKey, LedgerEntry, Submission, Worker, WorkerSkill
from gql_server.models.enums import LedgerReason, SubmissionState
from gql_server.models.vocabulary import PAID_STATES, PENDING_REVIEW_STATES
from gql_server.services.api_keys import issue_key, issue_key_record
from gql_server.services.errors import ErrorCode, UseCaseError, not_found
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate

MAX_NAME = 200
MAX_REFERENCE = 200
WORKER_ORDER = SortKey("created_at", False)


@dataclass(frozen=True)
class RegisteredWorker:
    """A worker, with its first key when this call made it (None when it existed)."""

    worker: Worker
    api_key: str | None

    @property
    def created(self) -> bool:
        return self.api_key is not None


@dataclass(frozen=True)
class IssuedWorkerKey:
    key: ApiKey
    plain: str


def _name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"A worker's name is 1 to {MAX_NAME} characters.", "name"
        )
    return text


def country_code(country: str) -> str:
    code = country.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Country must be an ISO 3166-1 alpha-2 code like 'DE'.", "country"
        )
    return code


def _reference(external_ref: str | None) -> str | None:
    if external_ref is None:
        return None
    text = external_ref.strip()
    if not text or len(text) > MAX_REFERENCE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"An external reference is 1 to {MAX_REFERENCE} characters.",
            "external_ref",
        )
    return text


async def register_worker(
    name: str, country: str, external_ref: str | None = None
) -> RegisteredWorker:
    """A new worker with a first key, or the one already registered with `external_ref`."""
    name, code, reference = _name(name), country_code(country), _reference(external_ref)
    if reference is not None:
        existing = await Worker.get_or_none(external_ref=reference)
        if existing is not None:
            return RegisteredWorker(existing, None)
    try:
        async with in_transaction():
            worker = await Worker.create(name=name, country=code, external_ref=reference)
            key = await issue_key(worker=worker, name="worker key")
    except IntegrityError:
        # A registration with the same reference committed first: that one is the worker.
        if reference is None:
            raise
        return RegisteredWorker(await Worker.get(external_ref=reference), None)
    return RegisteredWorker(worker, key)


async def _worker(worker_id: int | None) -> Worker:
    # Simulated workers belong to sandboxes: the operator neither sees nor manages them.
    worker = (
        await Worker.get_or_none(id=worker_id, simulated=False) if worker_id is not None else None
    )
    if worker is None:
        raise not_found("Worker", "worker_id")
    return worker


async def update_worker(
    worker_id: int | None, name: str | None = None, country: str | None = None
) -> Worker:
    """Change a worker's profile; what is not given stays."""
    worker = await _worker(worker_id)
    changed = []
    if name is not None:
        worker.name = _name(name)
        changed.append("name")
    if country is not None:
        worker.country = country_code(country)
        changed.append("country")
    if changed:
        await worker.save(update_fields=changed)
    return worker


async def issue_worker_key(worker_id: int | None, name: str = "") -> IssuedWorkerKey:
    worker = await _worker(worker_id)
    text = name.strip()
    if len(text) > MAX_NAME:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'name' is longer than {MAX_NAME} characters.", "name"
        )
    key, plain = await issue_key_record(None, worker, text or "worker key", None, False)
    return IssuedWorkerKey(key, plain)


async def revoke_worker_key(key_id: int | None) -> ApiKey:
    """End a worker's key now; revoking it again changes nothing."""
    key = (
        await ApiKey.filter(id=key_id, worker_id__isnull=False).first()
        if key_id is not None
        else None
    )
    if key is None:
        raise not_found("API key", "key_id")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await ApiKey.filter(id=key.id, revoked_at=None).update(revoked_at=key.revoked_at)
    return key


@dataclass(frozen=True)
class WorkerFilter:
    """Every field narrows."""

    country: str | None = None
    task_id: int | None = None
    skill_id: int | None = None


async def account_workers(
    account_id: int, wanted: WorkerFilter, request: PageRequest
) -> Page[Worker]:
    """The workers who did work for the account (a submission on one of its tasks)."""
    work = Submission.filter(account_id=account_id)
    if wanted.task_id is not None:
        work = work.filter(task_id=wanted.task_id)
    workers = Worker.filter(id__in=Subquery(work.values("worker_id")))
    if wanted.country is not None:
        workers = workers.filter(country=country_code(wanted.country))
    if wanted.skill_id is not None:
        # The account's skill only: another account's skill id matches no one.
        holders = WorkerSkill.filter(skill_id=wanted.skill_id, skill__account_id=account_id)
        workers = workers.filter(id__in=Subquery(holders.values("worker_id")))
    return await paginate(workers, WORKER_ORDER, request)


@dataclass(frozen=True)
class WorkerHistory:
    """What a worker did on one account's tasks: submissions by outcome, and earnings."""

    submissions: int = 0
    pending: int = 0
    paid: int = 0
    rejected: int = 0
    earned_minor: int = 0


_EARNINGS = (LedgerReason.PAY, LedgerReason.BONUS, LedgerReason.PARTIAL_PAYMENT)


async def history_on(account_id: int, worker_ids: Sequence[int]) -> dict[int, WorkerHistory]:
    """Each worker's history on the account's tasks only, in two grouped queries."""
    counts: dict[int, dict[str, int]] = {pk: {} for pk in worker_ids}
    rows = (
        await Submission.filter(account_id=account_id, worker_id__in=list(worker_ids))
        .annotate(n=Count("id"))
        .group_by("worker_id", "state")
        .values("worker_id", "state", "n")
    )
    for row in rows:
        counts[row["worker_id"]][str(row["state"])] = int(row["n"])
    earned = {
        row["worker_id"]: int(row["total"] or 0)
        for row in await LedgerEntry.filter(
            account_id=account_id, worker_id__in=list(worker_ids), reason__in=_EARNINGS
        )
        .annotate(total=Sum("amount_minor"))
        .group_by("worker_id")
        .values("worker_id", "total")
    }

    def of(pk: int) -> WorkerHistory:
        by_state = counts[pk]
        return WorkerHistory(
            submissions=sum(by_state.values()),
            pending=sum(by_state.get(s.value, 0) for s in PENDING_REVIEW_STATES),
            paid=sum(by_state.get(s.value, 0) for s in PAID_STATES),
            rejected=by_state.get(SubmissionState.REJECTED.value, 0),
            earned_minor=earned.get(pk, 0),
        )

    return {pk: of(pk) for pk in worker_ids}
