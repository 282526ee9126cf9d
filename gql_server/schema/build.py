"""Assembles the schema from the root resolvers, with the limits every request runs under."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from gql_server.resolvers.administration import AdministrationMutations, AdministrationQueries
from gql_server.resolvers.analytics import AnalyticsQueries
from gql_server.resolvers.audits import AuditMutations, AuditQueries
from gql_server.resolvers.callbacks import CallbackMutations, CallbackQueries
from gql_server.resolvers.conversations import ConversationMutations, ConversationQueries
from gql_server.resolvers.exports import ExportMutations
from gql_server.resolvers.fan_out import SharingExecutor
from gql_server.resolvers.mutation import Mutation as FoundationMutations
from gql_server.resolvers.nodes import missing_loaders, node_types
from gql_server.resolvers.permissions import (
    FreshWebsocketCaller,
    IntrospectionPolicy,
    ReadOnlyKeys,
)
from gql_server.resolvers.quality import QualityMutations, QualityQueries
from gql_server.resolvers.query import Query as FoundationQueries
from gql_server.resolvers.rate_limits import RateLimitQueries, SpendRateLimit
from gql_server.resolvers.review import ReviewMutations, ReviewQueries
from gql_server.resolvers.rules import RuleMutations, RuleQueries
from gql_server.resolvers.subscription import Subscription
from gql_server.resolvers.task_admin import TaskAdminMutations, TaskOrganisationQueries
from gql_server.resolvers.work import WorkMutations, WorkQueries
from gql_server.schema.cost import QueryCost, SpreadLimit, declare_defaults, price_list
from gql_server.schema.errors import ShapeErrors, is_expected
from gql_server.schema.parse_cache import ParserCache
from gql_server.schema.scalars import SCALAR_MAP
from gql_server.schema.strings import CheckStrings

logger = logging.getLogger(__name__)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
# Distinct documents whose parse and validation are kept (per process, least recently
# used first out): the queries of the clients in use, not every text anyone sends.
CACHED_DOCUMENTS = 512
# The limits as validation rules, made once: the validation cache knows a document by its
# text and its rules, so rules made anew for each request would never be found in it.
LIMIT_RULES = (depth_rule(MAX_DEPTH, None), aliases_rule(MAX_ALIASES))


Query = merge_types(
    "Query",
    (
        FoundationQueries,
        ReviewQueries,
        WorkQueries,
        AuditQueries,
        CallbackQueries,
        QualityQueries,
        RuleQueries,
        AdministrationQueries,
        TaskOrganisationQueries,
        RateLimitQueries,
        AnalyticsQueries,
        ConversationQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        FoundationMutations,
        TaskAdminMutations,
        ReviewMutations,
        WorkMutations,
        AuditMutations,
        CallbackMutations,
        QualityMutations,
        RuleMutations,
        AdministrationMutations,
        ExportMutations,
        ConversationMutations,
    ),
)


class ProductSchema(strawberry.Schema):
    """Strawberry's schema, but the errors the API means to answer (a refused key, a bad
    argument, a limit) are logged at DEBUG: only the unexpected reach the error log, each
    with its traceback."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = []
        for error in errors:
            if is_expected(error):
                logger.debug("answered: %s", error.message)
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


def build_schema() -> strawberry.Schema:
    declare_defaults(Query, Mutation)
    built = ProductSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Every Node type, also those reachable only through the interface.
        types=node_types(),
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Before the validation rules (the depth rule walks every spread).
            SpreadLimit,
            lambda: AddValidationRules(list(LIMIT_RULES)),
            # Parsing and validating a document again for every request was about 40% of
            # a trivial request's time.
            lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
            lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
            CheckStrings,
            FreshWebsocketCaller,
            IntrospectionPolicy,
            # Priced before anything runs; the price is spent from the caller's bucket.
            lambda: QueryCost(prices),
            SpendRateLimit,
            ReadOnlyKeys,
            ShapeErrors,
        ],
        config=StrawberryConfig(disable_field_suggestions=True, scalar_map=SCALAR_MAP),
        # Executes a stream message once per distinct selection, not once per subscriber.
        execution_context_class=SharingExecutor,
    )
    # Read by QueryCost (above) from the schema just built, before any request runs.
    prices = price_list(built._schema)
    missing = missing_loaders(built)
    if missing:
        raise TypeError(
            f"Node types without a loader for node(id:): {', '.join(missing)} "
            "(register them in gql_server/resolvers/nodes.py)."
        )
    return built


schema = build_schema()
