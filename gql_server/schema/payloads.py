"""Mutation payloads: the changed objects and the expected failures."""

from __future__ import annotations

import strawberry

from gql_server.schema.errors import UserError
from gql_server.schema.types import Project, Task


@strawberry.type
class CreateProjectPayload:
    project: Project | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateTaskPayload:
    task: Task | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
