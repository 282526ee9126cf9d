"""CSV exports of the audit reports: `GET /export/audits/<report>.csv`, same filters as GraphQL.

Reports: `summary`, `weeks`, `batches` (auditor tracker), `auditors` (auditor quality) and
`submissions` (per submission, streamed in chunks). The filter is the domain's
`AuditFilter`, its fields as query parameters named as in GraphQL: taskId, batchId,
auditorId (global ids), completedFrom, completedTo (ISO 8601 with offset), weekOf (a
date), auditStatus.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gql_server.downloads import Authenticate, Spend, refused_for_rate
from gql_server.models import Batch, Member
from gql_server.services import audits
from gql_server.services.errors import UseCaseError
from gql_server.services.exports import filter_from_params
from gql_server.services.global_ids import global_id
from gql_server.services.principals import MemberPrincipal

_CHUNK = 500


def audit_filter(params: Mapping[str, str]) -> audits.AuditFilter:
    """The domain's audit filter from query parameters named as in the API (its fields in
    camelCase, ids as global ids); every bad one is reported."""
    filtered: audits.AuditFilter = filter_from_params(audits.AuditFilter, params)
    return filtered


def _csv(rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(
            "" if v is None else v.isoformat() if hasattr(v, "isoformat") else v for v in row
        )
    return buffer.getvalue()


_OUTCOMES = ("audits", "accepted", "fixed", "rejected")


def _outcomes(counts: audits.OutcomeCounts) -> list[int]:
    return [counts.audits, counts.accepted, counts.fixed, counts.rejected]


async def _summary(account_id: int, given: audits.AuditFilter) -> AsyncIterator[str]:
    summary = await audits.audit_summary(account_id, given)
    interval = summary.defect_rate_interval
    yield _csv(
        [
            [
                "completed",
                "audited",
                "defective",
                *_OUTCOMES,
                "defect_rate_percent",
                "defect_rate_low_percent",
                "defect_rate_high_percent",
            ],
            [
                summary.completed,
                summary.audited,
                summary.defective,
                *_outcomes(summary.counts),
                summary.defect_rate,
                interval.low if interval else None,
                interval.high if interval else None,
            ],
        ]
    )


async def _weeks(account_id: int, given: audits.AuditFilter) -> AsyncIterator[str]:
    weeks = await audits.weekly_counts(account_id, given)
    yield _csv(
        [["week_start", "starts_at", "ends_at", "completed", "audited"]]
        + [[w.week_start, w.starts_at, w.ends_at, w.completed, w.audited] for w in weeks]
    )


async def _batches(account_id: int, given: audits.AuditFilter) -> AsyncIterator[str]:
    rows = await audits.batch_counts(account_id, given)
    names = dict(await Batch.filter(id__in=[r.batch_id for r in rows]).values_list("id", "name"))
    yield _csv(
        [["batch_id", "batch_name", "completed", "audited", *_OUTCOMES]]
        + [
            [
                global_id("Batch", r.batch_id),
                names.get(r.batch_id),
                r.completed,
                r.audited,
                *_outcomes(r.counts),
            ]
            for r in rows
        ]
    )


async def _auditors(account_id: int, given: audits.AuditFilter) -> AsyncIterator[str]:
    rows = await audits.auditor_counts(account_id, given)
    names = dict(await Member.filter(id__in=[r.auditor_id for r in rows]).values_list("id", "name"))
    yield _csv(
        [["auditor_id", "auditor_name", "submissions_audited", *_OUTCOMES]]
        + [
            [
                global_id("Member", r.auditor_id),
                names.get(r.auditor_id),
                r.submissions,
                *_outcomes(r.counts),
            ]
            for r in rows
        ]
    )


async def _submissions(account_id: int, given: audits.AuditFilter) -> AsyncIterator[str]:
    yield _csv(
        [
            [
                "submission_id",
                "task_id",
                "worker_id",
                "completed_at",
                "audit_status",
                "audit_count",
                "last_auditor_id",
                "last_auditor_name",
                "last_audited_at",
            ]
        ]
    )
    after = 0
    while True:
        chunk = (
            await audits.completed_submissions(account_id, given)
            .filter(id__gt=after)
            .order_by("id")
            .limit(_CHUNK)
        )
        if not chunk:
            return
        trail = await audits.audits_of([s.id for s in chunk])
        auditor_ids = {a[-1].auditor_id for a in trail.values() if a and a[-1].auditor_id}
        names = dict(await Member.filter(id__in=auditor_ids).values_list("id", "name"))
        rows = []
        for s in chunk:
            last = trail[s.id][-1] if trail[s.id] else None
            rows.append(
                [
                    global_id("Submission", s.id),
                    global_id("Task", s.task_id),
                    global_id("Worker", s.worker_id),
                    s.reviewed_at,
                    s.audit_status.value if s.audit_status else None,
                    s.audit_count,
                    global_id("Member", last.auditor_id) if last and last.auditor_id else None,
                    names.get(last.auditor_id) if last and last.auditor_id else None,
                    last.created_at if last else None,
                ]
            )
        yield _csv(rows)
        after = chunk[-1].id


REPORTS: dict[str, Callable[[int, audits.AuditFilter], AsyncIterator[str]]] = {
    "summary": _summary,
    "weeks": _weeks,
    "batches": _batches,
    "auditors": _auditors,
    "submissions": _submissions,
}


def audit_export(
    authenticate: Authenticate, spend: Spend
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = await authenticate(request.headers.get("authorization"))
        if principal is None:
            return JSONResponse(
                {"error": {"code": "UNAUTHENTICATED", "message": "A member's API key is needed."}},
                status_code=401,
            )
        # A worker's or the operator's key is a valid key, for something else: as in GraphQL.
        if not isinstance(principal, MemberPrincipal):
            return JSONResponse(
                {"error": {"code": "FORBIDDEN", "message": "The reports are for members."}},
                status_code=403,
            )
        report = REPORTS.get(request.path_params["report"])
        if report is None:
            return JSONResponse(
                {"error": {"code": "NOT_FOUND", "message": f"Reports: {', '.join(REPORTS)}."}},
                status_code=404,
            )
        try:
            given = audit_filter(request.query_params)
        except UseCaseError as error:
            return JSONResponse(
                {"error": {"code": error.errors[0].code.value, "message": str(error)}},
                status_code=400,
            )
        if (over := await refused_for_rate(spend, principal)) is not None:
            return over
        filename = f"audit-{request.path_params['report']}.csv"
        return StreamingResponse(
            report(principal.account_id, given),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    return endpoint
