"""Who may call a field: reusable permission classes for roles and for workers."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from gql_server.models.enums import MemberRole
from gql_server.schema.errors import Forbidden, Unauthenticated
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal


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


class IsWorker(BasePermission):
    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if not isinstance(_principal(info), WorkerPrincipal):
            raise Forbidden("This field is for workers.")
        return True
