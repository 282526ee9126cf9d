"""The GraphQL side of exports: a short-lived download link (the files are served over
HTTP, gql_server/downloads.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server import tabular
from gql_server.schema.analytics import AnalyticsPeriodInput, AnalyticsScopeInput
from gql_server.schema.errors import UserError
from gql_server.schema.inputs import ReviewQueueFilter
from gql_server.services import exports as domain

ExportKind = strawberry.enum(
    domain.ExportKind,
    description="What an export holds. SUBMISSIONS: the submissions `reviewQueue(filter:)` "
    "lists, one row each, with their responses, reviews, money and audit status. The "
    "analytics, for the scope and period of `analytics`: ANALYTICS_BUCKETS (a row a day or "
    "week), ANALYTICS_WORKERS (a row a worker), ANALYTICS_DISTRIBUTIONS (starts by country, "
    "local hour, weekday), VARIANTS (`variantComparison`, the group given as the scope's "
    "variantGroup), BUDGET_PLAN (`budgetPlan`; no period needed).",
)
ExportFormat = strawberry.enum(
    tabular.Format,
    name="ExportFormat",
    description="CSV (RFC 4180, UTF-8, safe to open in a spreadsheet) or JSON Lines.",
)


@strawberry.input
class CreateExportLinkInput:
    kind: ExportKind = domain.ExportKind.SUBMISSIONS
    format: ExportFormat = tabular.Format.CSV
    filter: ReviewQueueFilter | None = strawberry.field(
        default=None, description="The submissions to export, as for `reviewQueue`."
    )
    period: AnalyticsPeriodInput | None = strawberry.field(
        default=None, description="For the analytics kinds: the period, as for `analytics`."
    )
    scope: AnalyticsScopeInput | None = strawberry.field(
        default=None, description="For the analytics kinds: the scope, as for `analytics`."
    )


@strawberry.type
class CreateExportLinkPayload:
    url: str | None = strawberry.field(
        default=None,
        description="GET it without an Authorization header until `expiresAt` (5 minutes): "
        "the file downloads. The link is a secret: shown this once, stored only as a hash, "
        "and it stops working when the key that made it does.",
    )
    path: str | None = strawberry.field(
        default=None, description="The same link, relative to this server."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
