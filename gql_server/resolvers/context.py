"""The per-request GraphQL context: the caller and the request's data loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from gql_server import models
from gql_server.services import audits, batches, callbacks, conversations, instructions, workers
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal
from gql_server.services.rate_limits import Bucket, RateLimiter, bucket_for
from gql_server.settings import DEFAULT_MAX_QUERY_COST, DEFAULT_RATE_LIMITS

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


class Loaders:
    """One batch query per model and request, whatever the number of objects asking.

    Each loader is made when first used: a subscription's context lives as long as its
    websocket and uses one loader at most, so thousands of idle dashboards do not each
    hold a dozen empty ones.
    """

    @cached_property
    def account(self) -> DataLoader[int, models.Account]:
        return _loader(models.Account)

    @cached_property
    def project(self) -> DataLoader[int, models.Project]:
        return _loader(models.Project)

    @cached_property
    def batch(self) -> DataLoader[int, models.Batch]:
        return _loader(models.Batch)

    @cached_property
    def worker(self) -> DataLoader[int, models.Worker]:
        return _loader(models.Worker)

    @cached_property
    def task(self) -> DataLoader[int, models.Task]:
        return _loader(models.Task)

    @cached_property
    def reviews(self) -> DataLoader[int, list[models.Review]]:
        return _reviews_loader()

    @cached_property
    def member(self) -> DataLoader[int, models.Member]:
        return _loader(models.Member)

    @cached_property
    def submission(self) -> DataLoader[int, models.Submission]:
        return _loader(models.Submission)

    @cached_property
    def audits(self) -> DataLoader[int, list[models.Audit]]:
        return _grouped(audits.audits_of)

    @cached_property
    def audit_lock(self) -> DataLoader[int, models.AuditLock | None]:
        return _grouped(audits.held_locks)

    @cached_property
    def skill(self) -> DataLoader[int, models.Skill]:
        return _loader(models.Skill)

    @cached_property
    def rule(self) -> DataLoader[int, models.Rule]:
        return _loader(models.Rule)

    @cached_property
    def deliveries(self) -> DataLoader[int, list[models.WebhookDelivery]]:
        return _grouped(callbacks.deliveries_of)

    @cached_property
    def thread_messages(self) -> DataLoader[int, list[models.ThreadMessage]]:
        return _grouped(conversations.messages_of)

    @cached_property
    def faq(self) -> DataLoader[int, list[models.FaqEntry]]:
        return _grouped(conversations.faq_of)

    @cached_property
    def instruction_revisions(self) -> DataLoader[int, list[models.InstructionRevision]]:
        return _grouped(instructions.revisions_of)

    @cached_property
    def batch_counts(self) -> DataLoader[int, batches.BatchCounts]:
        return _grouped(batches.counts_of)

    @cached_property
    def worker_history(self) -> DataLoader[tuple[int, int], workers.WorkerHistory]:
        """Keyed by (account, worker): a worker's history on one account's tasks."""

        async def load(keys: Sequence[tuple[int, int]]) -> list[workers.WorkerHistory]:
            by_account: dict[int, list[int]] = {}
            for account_id, worker_id in keys:
                by_account.setdefault(account_id, []).append(worker_id)
            found = {
                (account_id, worker_id): history
                for account_id, ids in by_account.items()
                for worker_id, history in (await workers.history_on(account_id, ids)).items()
            }
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)


@dataclass(frozen=True)
class RequestPolicy:
    """The limits every request of a server runs under, from its settings. Without a rate
    limiter (the schema executed outside the app) nothing is counted."""

    max_cost: int = DEFAULT_MAX_QUERY_COST
    rate_limiter: RateLimiter | None = None
    rate_limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    key_rate_limits: Mapping[str, int] = field(default_factory=dict)
    # "everyone", "members" (members' keys only) or "off".
    introspection: str = "everyone"


@dataclass
class Context:
    principal: Principal | None
    loaders: Loaders = field(default_factory=Loaders)
    # Set by the websocket transport from `connection_init`.
    connection_params: dict[str, object] | None = None
    # The websocket a subscription's context belongs to (None over HTTP), and the key it
    # gave at connection_init, read again for each of its operations.
    websocket: Any = None
    bearer: str | None = None
    policy: RequestPolicy = field(default_factory=RequestPolicy)
    # The client's address: callers without a key are rate-limited by it.
    address: str | None = None
    # Where the request was sent (scheme, host, root path), for links back to this server.
    base_url: str | None = None
    # What the operation costs (schema/cost.py), once priced.
    cost: int | None = None

    @property
    def bucket(self) -> Bucket:
        """Whose rate limit the request spends."""
        policy = self.policy
        return bucket_for(self.principal, policy.rate_limits, policy.key_rate_limits, self.address)

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
