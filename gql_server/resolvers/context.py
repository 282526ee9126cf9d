"""The per-request GraphQL context: the caller and the request's data loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from gql_server import models
from gql_server.services import audits, batches, callbacks
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal

M = TypeVar("M", bound=Model)
V = TypeVar("V")


def _loader(model: type[M]) -> DataLoader[int, M]:
    async def load(ids: Sequence[int]) -> list[M]:
        found = {row.pk: row for row in await model.filter(id__in=list(ids))}
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


def _reviews_loader() -> DataLoader[int, list[models.Review]]:
    async def load(ids: Sequence[int]) -> list[list[models.Review]]:
        grouped: dict[int, list[models.Review]] = {i: [] for i in ids}
        for review in await models.Review.filter(submission_id__in=list(ids)).order_by(
            "created_at", "id"
        ):
            grouped[review.submission_id].append(review)
        return [grouped[i] for i in ids]

    return DataLoader(load_fn=load)


def _grouped(fetch: Callable[[list[int]], Awaitable[Mapping[int, V]]]) -> DataLoader[int, V]:
    """A loader over a service function that answers for many ids at once."""

    async def load(ids: Sequence[int]) -> list[V]:
        found = await fetch(list(ids))
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """One batch query per model and request, whatever the number of objects asking."""

    account: DataLoader[int, models.Account] = field(
        default_factory=lambda: _loader(models.Account)
    )
    project: DataLoader[int, models.Project] = field(
        default_factory=lambda: _loader(models.Project)
    )
    batch: DataLoader[int, models.Batch] = field(default_factory=lambda: _loader(models.Batch))
    worker: DataLoader[int, models.Worker] = field(default_factory=lambda: _loader(models.Worker))
    task: DataLoader[int, models.Task] = field(default_factory=lambda: _loader(models.Task))
    reviews: DataLoader[int, list[models.Review]] = field(default_factory=_reviews_loader)
    member: DataLoader[int, models.Member] = field(default_factory=lambda: _loader(models.Member))
    submission: DataLoader[int, models.Submission] = field(
        default_factory=lambda: _loader(models.Submission)
    )
    audits: DataLoader[int, list[models.Audit]] = field(
        default_factory=lambda: _grouped(audits.audits_of)
    )
    audit_lock: DataLoader[int, models.AuditLock | None] = field(
        default_factory=lambda: _grouped(audits.held_locks)
    )
    skill: DataLoader[int, models.Skill] = field(default_factory=lambda: _loader(models.Skill))
    rule: DataLoader[int, models.Rule] = field(default_factory=lambda: _loader(models.Rule))
    deliveries: DataLoader[int, list[models.WebhookDelivery]] = field(
        default_factory=lambda: _grouped(callbacks.deliveries_of)
    )
    batch_counts: DataLoader[int, batches.BatchCounts] = field(
        default_factory=lambda: _grouped(batches.counts_of)
    )


@dataclass
class Context:
    principal: Principal | None
    loaders: Loaders = field(default_factory=Loaders)
    # Set by the websocket transport from `connection_init`.
    connection_params: dict[str, object] | None = None

    @property
    def member(self) -> MemberPrincipal:
        """The calling member; only for fields guarded by a member permission."""
        assert isinstance(self.principal, MemberPrincipal)
        return self.principal

    @property
    def worker(self) -> WorkerPrincipal:
        assert isinstance(self.principal, WorkerPrincipal)
        return self.principal

    async def account(self) -> models.Account:
        return await self.loaders.account.load(self.member.account_id)
