"""Who may call a field: reusable permission classes for roles and for workers, the
refusal of every mutation sent with a read-only key (but the declared few that only
read), and who may introspect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    OperationDefinitionNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types.graphql import OperationType

from gql_server.models.enums import MemberRole
from gql_server.resolvers.context import Loaders
from gql_server.schema.errors import Forbidden, Unauthenticated
from gql_server.services import api_keys
from gql_server.services.principals import MemberPrincipal, OperatorPrincipal, WorkerPrincipal


def _principal(info: Any) -> Any:
    principal = info.context.principal
    if principal is None:
        raise Unauthenticated("Send an API key as 'Authorization: Bearer <key>'.")
    return principal


class IsAuthenticated(BasePermission):
    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        _principal(info)
        return True


class _MemberWithRole(BasePermission):
    roles: frozenset[MemberRole] = frozenset(MemberRole)

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = _principal(info)
        if not isinstance(principal, MemberPrincipal):
            raise Forbidden("This field is for members of a requester account.")
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise Forbidden(
                f"This needs one of the roles {allowed}; your role is {principal.role}."
            )
        return True


class IsMember(_MemberWithRole):
    """Any member of an account, whatever the role (reading)."""


class CanManage(_MemberWithRole):
    """Post tasks, review work, move money."""

    roles = frozenset({MemberRole.OWNER, MemberRole.MANAGER})


class CanAudit(_MemberWithRole):
    roles = frozenset({MemberRole.OWNER, MemberRole.MANAGER, MemberRole.AUDITOR})


class IsOwner(_MemberWithRole):
    roles = frozenset({MemberRole.OWNER})


class IsOperator(BasePermission):
    """The instance's operator key (made on the command line, never by an account)."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if not isinstance(_principal(info), OperatorPrincipal):
            raise Forbidden("This field is for the instance's operator key.")
        return True


class IsWorker(BasePermission):
    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if not isinstance(_principal(info), WorkerPrincipal):
            raise Forbidden("This field is for workers.")
        return True


class FreshWebsocketCaller(SchemaExtension):
    """Over a websocket the key was given once, at `connection_init`: each operation sent
    on it (queries and mutations too, which graphql-transport-ws carries) reads the caller
    from that key again, so a revoked key or a changed role holds for the next operation,
    exactly as over HTTP. An unusable key leaves no caller: the operation is refused
    UNAUTHENTICATED by its permission. The connection's loaders start afresh too, so that
    nothing read for an earlier operation is served as current."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        token = getattr(context, "bearer", None)
        if getattr(context, "websocket", None) is not None and token:
            caller = await api_keys.identify(token)
            context.principal = caller.principal if caller is not None else None
            context.loaders = Loaders()
        yield


# The mutations a read-only key may send, because they only read: a link to download an
# export changes nothing but the link itself (which holds no data).
READ_ONLY_MUTATIONS = frozenset({"createExportLink"})


def _only_reads(document: DocumentNode | None, operation_name: str | None) -> bool:
    """Whether the operation's root fields are all READ_ONLY_MUTATIONS. Anything but plain
    fields at the root (a fragment) counts as changing something."""
    if document is None:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return False
    selections = chosen[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in READ_ONLY_MUTATIONS for s in selections)


class ReadOnlyKeys(SchemaExtension):
    """A mutation sent with a read-only key is refused whole, FORBIDDEN, before anything of
    it runs: one check for the operation, so that no mutation, present or future, can
    forget it. The one exception is declared: an operation of READ_ONLY_MUTATIONS only."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if (
            context.operation_type is OperationType.MUTATION
            and getattr(principal, "read_only", False)
            and not _only_reads(context.graphql_document, context.operation_name)
        ):
            context.result = ExecutionResult(
                data=None,
                errors=[Forbidden("This API key is read-only: it makes no changes.")],
            )
        yield


class _Introspects(Visitor):
    """Finds `__schema` or `__type` anywhere in a document (`__typename` is no
    introspection: it names an object's type, which its global id tells anyway)."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value in ("__schema", "__type"):
            self.found = True
            return self.BREAK
        return None


def introspects(document: DocumentNode) -> bool:
    visitor = _Introspects()
    visit(document, visitor)
    return visitor.found


class IntrospectionPolicy(SchemaExtension):
    """Who may read the schema through introspection: everyone (dev mode), members' keys
    only (the production default), or no one (`GQL_INTROSPECTION`). Refused whole, before
    anything runs; the schema is published as schema.graphql for everyone else."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        policy = getattr(execution.context, "policy", None)
        allowed = getattr(policy, "introspection", "everyone")
        document = execution.graphql_document
        text = execution.query or ""
        if (
            allowed != "everyone"
            and document is not None
            # A document that names neither field cannot introspect: most skip the walk.
            and ("__schema" in text or "__type" in text or not text)
            and introspects(document)
        ):
            principal = getattr(execution.context, "principal", None)
            error: Forbidden | Unauthenticated | None = None
            if allowed == "off":
                error = Forbidden("Introspection is off on this server; see schema.graphql.")
            elif principal is None:
                error = Unauthenticated("Introspection needs a member's API key.")
            elif not isinstance(principal, MemberPrincipal):
                error = Forbidden("Introspection is for members of a requester account.")
            if error is not None:
                raise error
        yield
