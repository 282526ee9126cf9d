"""Batches: named groups of an account's tasks, for the audit tracker and reports.

A batch's name is unique in its account (compared as given, after trimming). A task joins a
batch when it is created or, while it is a draft, by changing its `batch_id`
(`tasks.update_task`); a batch is never deleted, so that reports of past work keep it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from gql_server.models import Batch, Submission, Task
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

MAX_NAME = 200
BATCH_ORDER = SortKey("created_at", True)


def _name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"A batch's name is 1 to {MAX_NAME} characters.", "name"
        )
    return text


def _taken(name: str) -> UseCaseError:
    return UseCaseError.single(ErrorCode.DUPLICATE, f"A batch named {name!r} exists.", "name")


async def create_batch(principal: MemberPrincipal, name: str) -> Batch:
    text = _name(name)
    try:
        return await Batch.create(account_id=principal.account_id, name=text)
    except IntegrityError:
        raise _taken(text) from None


async def rename_batch(principal: MemberPrincipal, batch_id: int | None, name: str) -> Batch:
    batch = await owned(Batch, principal.account_id, batch_id, "Batch", "batch_id")
    text = _name(name)
    if text != batch.name:
        try:
            await Batch.filter(id=batch.id).update(name=text)
        except IntegrityError:
            raise _taken(text) from None
        batch.name = text
    return batch


async def list_batches(account_id: int, request: PageRequest) -> Page[Batch]:
    """The account's batches, newest first."""
    return await paginate(Batch.filter(account_id=account_id), BATCH_ORDER, request)


@dataclass(frozen=True)
class BatchCounts:
    tasks: int = 0
    submissions: int = 0


async def counts_of(batch_ids: Sequence[int]) -> Mapping[int, BatchCounts]:
    """The tasks and submissions of each batch: two grouped queries for all of them."""
    tasks = {
        row["batch_id"]: int(row["n"])
        for row in await Task.filter(batch_id__in=list(batch_ids))
        .annotate(n=Count("id"))
        .group_by("batch_id")
        .values("batch_id", "n")
    }
    submissions = {
        row["task__batch_id"]: int(row["n"])
        for row in await Submission.filter(task__batch_id__in=list(batch_ids))
        .annotate(n=Count("id"))
        .group_by("task__batch_id")
        .values("task__batch_id", "n")
    }
    return {pk: BatchCounts(tasks.get(pk, 0), submissions.get(pk, 0)) for pk in batch_ids}
