"""`node(id:)`: the one registry of the types it fetches, each with the loader that decides
what the caller may see.

Every object type that implements `Node` joins here with `fetches(...)`; the ids it
answers for are named after the first type given (its GraphQL name). `schema/build.py`
adds the registered types to the schema and refuses to build one in which a `Node` type
has no loader, so a new type cannot be forgotten. A loader returns None for anything the
caller may not see: another account's object, or one a worker may not see, is exactly
like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from tortoise.models import Model

from gql_server import models
from gql_server.models.enums import MemberRole
from gql_server.resolvers.common import Info
from gql_server.resolvers.permissions import CanManage
from gql_server.schema.callbacks import CallbackEvent, WebhookEndpoint
from gql_server.schema.conversations import MyThread, Thread
from gql_server.schema.quality import Restriction, Skill
from gql_server.schema.relay import Node
from gql_server.schema.rules import Rule, RuleFiring
from gql_server.schema.types import Account, Batch, FaqEntry, Member, Project, Task, Worker
from gql_server.schema.work import Audit, MySubmission, Submission, Template
from gql_server.services.global_ids import from_global_id
from gql_server.services.principals import (
    MemberPrincipal,
    OperatorPrincipal,
    Principal,
    WorkerPrincipal,
)

NodeLoader = Callable[[Principal, Info, int], Awaitable[Node | None]]

# Id type name -> its loader; and every type a loader may return, in registration order.
_LOADERS: dict[str, NodeLoader] = {}
_TYPES: list[type[Node]] = []


def graphql_name(node_type: type[Node]) -> str:
    return node_type.__strawberry_definition__.name  # type: ignore[attr-defined]


def fetches(*node_types: type[Node]) -> Callable[[NodeLoader], NodeLoader]:
    """Register a loader for ids named after `node_types[0]`; it returns any of them (a
    member's and a worker's view of one object)."""
    name = graphql_name(node_types[0])

    def register(loader: NodeLoader) -> NodeLoader:
        if name in _LOADERS:
            raise TypeError(f"Two loaders for {name} ids.")
        _LOADERS[name] = loader
        _TYPES.extend(node_types)
        return loader

    return register


def fetches_owned(
    node_type: type[Node],
    model: type[Model],
    *,
    priced: bool = False,
    roles: frozenset[MemberRole] = frozenset(MemberRole),
) -> None:
    """Register the common loader: a row of the member's own account, for members with one
    of `roles`. `priced`: the type shows money, so `from_model` takes the currency."""

    async def load(principal: Principal, info: Info, pk: int) -> Node | None:
        if not isinstance(principal, MemberPrincipal) or principal.role not in roles:
            return None
        row = await model.get_or_none(id=pk, account_id=principal.account_id)
        if row is None:
            return None
        convert: Any = node_type.from_model  # type: ignore[attr-defined]
        return convert(row, (await info.context.account()).currency) if priced else convert(row)

    fetches(node_type)(load)


async def load_node(principal: Principal, info: Info, global_id: strawberry.ID) -> Node | None:
    if isinstance(principal, OperatorPrincipal):
        # The operator sees no account's data, and workers through its own fields.
        return None
    decoded = from_global_id(global_id)
    loader = _LOADERS.get(decoded[0]) if decoded else None
    if decoded is None or loader is None:
        return None
    return await loader(principal, info, decoded[1])


def node_types() -> list[type[Node]]:
    """Every type `node(id:)` returns; the schema includes them all."""
    return list(_TYPES)


def missing_loaders(schema: strawberry.Schema) -> list[str]:
    """The object types of `schema` that implement Node but no loader returns."""
    fetched = {graphql_name(t) for t in _TYPES}
    return sorted(
        name
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType)
        and any(interface.name == "Node" for interface in graphql_type.interfaces)
        and name not in fetched
    )


fetches_owned(Project, models.Project)
fetches_owned(Batch, models.Batch)
fetches_owned(Member, models.Member)
fetches_owned(Template, models.Template)
fetches_owned(Audit, models.Audit)
fetches_owned(Skill, models.Skill)
fetches_owned(Restriction, models.Restriction)
fetches_owned(Task, models.Task, priced=True)
fetches_owned(Rule, models.Rule, priced=True)
fetches_owned(RuleFiring, models.RuleFiring, priced=True)
fetches_owned(CallbackEvent, models.OutboxEvent, roles=CanManage.roles)
fetches_owned(WebhookEndpoint, models.WebhookEndpoint, roles=CanManage.roles)
fetches_owned(FaqEntry, models.FaqEntry)


@fetches(Account)
async def _account(principal: Principal, info: Info, pk: int) -> Account | None:
    if isinstance(principal, MemberPrincipal) and pk == principal.account_id:
        return Account.from_model(await info.context.account())
    return None


@fetches(Worker)
async def _worker(principal: Principal, info: Info, pk: int) -> Worker | None:
    """Workers are global: a worker sees itself, a member those who worked for the account."""
    if isinstance(principal, WorkerPrincipal):
        visible = pk == principal.worker_id
    else:
        visible = await models.Submission.filter(
            worker_id=pk, account_id=principal.account_id
        ).exists()
    return Worker.from_model(await info.context.loaders.worker.load(pk)) if visible else None


@fetches(Submission, MySubmission)
async def _submission(
    principal: Principal, info: Info, pk: int
) -> Submission | MySubmission | None:
    """A member sees the account's submissions; a worker its own, as its worker sees them."""
    if isinstance(principal, MemberPrincipal):
        found = await models.Submission.get_or_none(id=pk, account_id=principal.account_id)
        return (
            Submission.from_model(found, (await info.context.account()).currency) if found else None
        )
    mine = await models.Submission.get_or_none(id=pk, worker_id=principal.worker_id)
    if mine is None:
        return None
    account = await info.context.loaders.account.load(mine.account_id)
    return MySubmission.from_model(mine, account.currency)


@fetches(Thread, MyThread)
async def _thread(principal: Principal, info: Info, pk: int) -> Thread | MyThread | None:
    """A member sees the account's threads; a worker its own, as its worker sees them."""
    if isinstance(principal, MemberPrincipal):
        found = await models.Thread.get_or_none(id=pk, account_id=principal.account_id)
        return Thread.from_model(found) if found else None
    mine = await models.Thread.get_or_none(id=pk, worker_id=principal.worker_id)
    return MyThread.from_model(mine) if mine else None
