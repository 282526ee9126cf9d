"""Exports: which reports can be downloaded, their filters read from query parameters, and
the short-lived links that download one without an API key.

Invariants:
- An export kind is one registration in KINDS: its filter (a dataclass of the domain) and
  the function making its report for an account; every writer (tabular.py), the HTTP
  route, the links and the command line serve every kind so registered.
- A filter is read from text parameters named as in the API (camelCase; ids as global
  ids; times ISO 8601 with an offset; a list as comma-separated values), and every bad
  one is reported, as VALIDATION errors at the field's name. Unknown names are ignored.
- Access is that of `reviewQueue`: any member of the account, reading its account only;
  ids of another account's objects select nothing, as ids that do not exist.
- A link is `LINK_PREFIX` + 256 random bits, valid for LINK_LIFETIME from when it is made
  (by the domain clock), as often as it is used in that time. Only its SHA-256 is stored.
  It is bound to the member, the key that made it, the kind, the format and the filter;
  it opens with the member's role of the moment, and stops working as soon as that key
  stops working (revoked, expired, its member removed). A read-only key may make links:
  a link only reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import Field, dataclass, fields
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from gql_server import clock
from gql_server.models import ExportLink
from gql_server.services import api_keys
from gql_server.services.analytics_export import (
    AnalyticsFilter,
    buckets_report,
    budget_plan_report,
    distributions_report,
    variants_report,
    workers_report,
)
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, field_label
from gql_server.services.global_ids import filter_pk, pk_type
from gql_server.services.principals import MemberPrincipal
from gql_server.services.review_queue import QueueFilter
from gql_server.services.submission_export import submissions_report
from gql_server.tabular import Format, Report

LINK_PREFIX = "cwx_"
# Where a link downloads: LINK_PATH + its secret.
LINK_PATH = "/export/links/"
LINK_LIFETIME = timedelta(minutes=5)


class ExportKind(StrEnum):
    SUBMISSIONS = "submissions"
    ANALYTICS_BUCKETS = "analytics-buckets"
    ANALYTICS_WORKERS = "analytics-workers"
    ANALYTICS_DISTRIBUTIONS = "analytics-distributions"
    VARIANTS = "variants"
    BUDGET_PLAN = "budget-plan"


@dataclass(frozen=True)
class KindOfExport:
    filter_type: type[Any]
    report: Callable[[int, Any], Awaitable[Report]]


KINDS: dict[ExportKind, KindOfExport] = {
    ExportKind.SUBMISSIONS: KindOfExport(QueueFilter, submissions_report),
    ExportKind.ANALYTICS_BUCKETS: KindOfExport(AnalyticsFilter, buckets_report),
    ExportKind.ANALYTICS_WORKERS: KindOfExport(AnalyticsFilter, workers_report),
    ExportKind.ANALYTICS_DISTRIBUTIONS: KindOfExport(AnalyticsFilter, distributions_report),
    ExportKind.VARIANTS: KindOfExport(AnalyticsFilter, variants_report),
    ExportKind.BUDGET_PLAN: KindOfExport(AnalyticsFilter, budget_plan_report),
}


# --- filters from text ----------------------------------------------------------------------

# How a parameter's text becomes a value, by the field's type (else the type parses it:
# an enum by its value).
_PARSERS: dict[type, Callable[[str], Any]] = {
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
}


def _one(field: Field[Any], kind: type, raw: str) -> Any:
    label = field_label(field.name)
    try:
        value = _PARSERS.get(kind, kind)(raw)
    except ValueError:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'{label}' is not valid: {raw!r}.", field.name
        ) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'{label}' needs a UTC offset.", field.name
        )
    if isinstance(value, date) and not clock.holds_year(value.year):
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'{label}' must be between the years {clock.FIRST_YEAR} and {clock.LAST_YEAR}.",
            field.name,
        )
    return value


def _value(field: Field[Any], hint: Any, raw: str) -> Any:
    type_name = pk_type(field)
    if type_name is not None:
        return filter_pk(raw, type_name, field.name)
    # `X | None` is X; any other hint is itself.
    optional = get_origin(hint) in (Union, UnionType)
    kind = next(t for t in get_args(hint) if t is not type(None)) if optional else hint
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        values = [part.strip() for part in raw.split(",") if part.strip()]
        if not values:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, f"'{field_label(field.name)}' names nothing.", field.name
            )
        return [_one(field, item, part) for part in values]
    return _one(field, kind, raw)


def filter_from_params(filter_type: type[Any], params: Mapping[str, str]) -> Any:
    """A filter dataclass from text parameters named as in the API (see the module)."""
    hints = get_type_hints(filter_type)
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field in fields(filter_type):
        raw = params.get(field_label(field.name))
        if raw is None:
            continue
        try:
            values[field.name] = _value(field, hints[field.name], raw)
        except UseCaseError as error:
            errors.extend(error.errors)
    if errors:
        raise UseCaseError(errors)
    return filter_type(**values)


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def params_of(values: Mapping[str, Any]) -> dict[str, str]:
    """Text parameters from values named as in the API (a list becomes comma-separated);
    None is left out."""
    return {
        name: ",".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
        for name, value in values.items()
        if value is not None
    }


async def report(account_id: int, kind: ExportKind, params: Mapping[str, str]) -> Report:
    """The report of `kind` over the account, filtered by `params`."""
    registered = KINDS[kind]
    return await registered.report(account_id, filter_from_params(registered.filter_type, params))


# --- links ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedLink:
    """A link just made, with its secret: shown this once only."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenedLink:
    principal: MemberPrincipal
    kind: ExportKind
    format: Format
    params: dict[str, str]


async def create_link(
    principal: MemberPrincipal, kind: ExportKind, format: Format, params: Mapping[str, str]
) -> IssuedLink:
    """A link to download the export; the filter is checked now, as the route would."""
    try:
        filter_from_params(KINDS[kind].filter_type, params)
    except UseCaseError as error:
        raise UseCaseError(
            [FieldError(e.code, e.message, ("filter", *e.field)) for e in error.errors]
        ) from None
    now = clock.now()
    token = api_keys.new_key(LINK_PREFIX)
    expires_at = now + LINK_LIFETIME
    # Links that lapsed are of no use to anyone: each new one clears its member's.
    await ExportLink.filter(member_id=principal.member_id, expires_at__lte=now).delete()
    await ExportLink.create(
        token_hash=api_keys.hash_key(token),
        account_id=principal.account_id,
        member_id=principal.member_id,
        api_key_id=principal.api_key_id,
        kind=kind.value,
        format=format.value,
        params=dict(params),
        expires_at=expires_at,
    )
    return IssuedLink(token, expires_at)


async def open_link(token: str) -> OpenedLink | None:
    """What a link downloads, as whom; None for a link that is unknown, expired, or whose
    key no longer works."""
    if not token.startswith(LINK_PREFIX) or len(token) > 100:
        return None
    link = (
        await ExportLink.filter(token_hash=api_keys.hash_key(token))
        .select_related("api_key", "member")
        .first()
    )
    now = clock.now()
    if link is None or link.expires_at <= now:
        return None
    key, member = link.api_key, link.member
    if not api_keys.is_usable(key, member, now):
        return None
    principal = MemberPrincipal(
        member_id=member.id,
        account_id=member.account_id,
        role=member.role,
        api_key_id=key.id,
        read_only=key.read_only,
        key_prefix=key.prefix,
    )
    return OpenedLink(principal, ExportKind(link.kind), Format(link.format), dict(link.params))
