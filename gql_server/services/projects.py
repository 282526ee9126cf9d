"""Projects: the groups of tasks that skills and bans can span."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from gql_server.models import Project
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal


async def create_project(principal: MemberPrincipal, name: str, description: str = "") -> Project:
    name = name.strip()
    errors = []
    if not name or len(name) > 200:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "'name' must be 1 to 200 characters.", ("name",))
        )
    if len(description) > 10_000:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "'description' is longer than 10000 characters.",
                ("description",),
            )
        )
    if errors:
        raise UseCaseError(errors)
    try:
        async with in_transaction():
            return await Project.create(
                account_id=principal.account_id, name=name, description=description
            )
    except IntegrityError:
        raise UseCaseError.single(
            ErrorCode.DUPLICATE, f"A project named {name!r} already exists.", "name"
        ) from None


async def list_projects(account_id: int, page: PageRequest) -> Page[Project]:
    return await paginate(Project.filter(account_id=account_id), SortKey("created_at", True), page)
