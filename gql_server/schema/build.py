"""Assembles the schema from the root resolvers, with the limits every request runs under."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from gql_server.resolvers.mutation import Mutation
from gql_server.resolvers.query import Query
from gql_server.schema.errors import ShapeErrors
from gql_server.schema.scalars import SCALAR_MAP
from gql_server.schema.types import Account, Member, Project, Task, Worker

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Account, Member, Worker, Project, Task],
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ShapeErrors,
        ],
        config=StrawberryConfig(disable_field_suggestions=True, scalar_map=SCALAR_MAP),
    )


schema = build_schema()
