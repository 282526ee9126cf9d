"""The per-request GraphQL context: the caller and the request's data loaders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from gql_server import models
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal

M = TypeVar("M", bound=Model)


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
