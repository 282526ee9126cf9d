"""Downloads of exports over HTTP, streamed: `GET /export/<kind>.<format>` with a member's
API key, and `GET /export/links/<secret>` (a link `createExportLink` made) without one.

Invariants:
- The filter is the query parameters, named as in GraphQL (services/exports.py); a bad
  one answers 400 VALIDATION with every bad parameter in `details`, before any row is read.
- Access is `reviewQueue`'s: no key or an unusable one 401 UNAUTHENTICATED, a worker's or
  the operator's key 403 FORBIDDEN, an unknown kind or format 404 NOT_FOUND; a link that is
  unknown, expired or whose key no longer works 404 NOT_FOUND, one answer for all three.
- Rows are written as they are read (tabular.py): the status and headers, then the header
  row, leave before the database has answered; nothing holds more than a chunk.
- A download that ends early (the client went away) closes its report at once, and so its
  database cursor and connection. At most `max_streams` downloads run at a time per
  process (each may hold a database connection throughout); one more answers 503 with
  Retry-After.
- A download spends `DOWNLOAD_COST` points of its key's rate limit (a link's: of the key
  that made it), as an aggregated report does in GraphQL; over the budget it answers 429
  RATE_LIMITED with Retry-After and `retryAfterSeconds`, before anything is read.
- The answer is never cached or sent on as a referrer (`Cache-Control: no-store`,
  `Referrer-Policy: no-referrer`): a link's secret is in its path. The access log never
  shows it (cli.py's access log filter).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gql_server import http_answers
from gql_server.schema.cost import REPORT_COST
from gql_server.services import exports, report_reads
from gql_server.services.errors import UseCaseError, field_label
from gql_server.services.principals import MemberPrincipal, Principal
from gql_server.services.rate_limits import Allowance, RateLimiter, bucket_for
from gql_server.tabular import MEDIA_TYPES, Format, chunks

Authenticate = Callable[[object], Awaitable[Principal | None]]
# Spends a download's points from its key's budget: None when allowed, what is left when not.
Spend = Callable[[MemberPrincipal], Awaitable[Allowance | None]]
LINK_PATH = exports.LINK_PATH
# A download reads a whole report, however little of it the client keeps.
DOWNLOAD_COST = REPORT_COST


def spending(
    limiter: RateLimiter | None, budgets: Mapping[str, int], key_budgets: Mapping[str, int]
) -> Spend:
    """What downloads spend their points with: the GraphQL requests' limiter and budgets."""

    async def spend(principal: MemberPrincipal) -> Allowance | None:
        if limiter is None:
            return None
        return await limiter.spend(bucket_for(principal, budgets, key_budgets, None), DOWNLOAD_COST)

    return spend


async def refused_for_rate(spend: Spend, principal: MemberPrincipal) -> Response | None:
    """The 429 of a download over its key's budget, or None when it may go on."""
    left = await spend(principal)
    if left is None:
        return None
    if left.retry_after_seconds is None:
        return _refused(
            "COST_LIMIT_EXCEEDED",
            f"A download costs {DOWNLOAD_COST} points, more than this key's whole budget of "
            f"{left.limit} points per minute: no wait lets it through.",
        )
    return _refused(
        "RATE_LIMITED",
        f"Rate limit reached: this key has {left.remaining} of its {left.limit} points per "
        f"minute left and a download costs {DOWNLOAD_COST}; retry in "
        f"{left.retry_after_seconds} s.",
        retry_after_seconds=left.retry_after_seconds,
    )


def _refused(
    code: str,
    message: str,
    details: list[dict[str, object]] | None = None,
    retry_after_seconds: int | None = None,
) -> Response:
    answer = http_answers.download_refusal(code, message, details, retry_after_seconds)
    return JSONResponse(dict(answer.body), status_code=answer.status, headers=dict(answer.headers))


class HideLinkSecrets(logging.Filter):
    """Keeps the secret of a download link out of uvicorn's access log: the path of a link
    is logged with its secret replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                LINK_PATH + "<secret>"
                if isinstance(arg, str) and arg.startswith(LINK_PATH)
                else arg
                for arg in record.args
            )
        return True


class _Stream(StreamingResponse):
    """A streamed answer that closes its body however the sending ends, and gives its
    place back."""

    def __init__(
        self,
        body: AsyncGenerator[str, None],
        headers: Mapping[str, str],
        media: str,
        release: Callable[[], None],
    ) -> None:
        super().__init__(body, headers=headers, media_type=media)
        self._body = body
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with aclosing(self._body):
                await super().__call__(scope, receive, send)
        finally:
            self._release()


class Downloads:
    """The download routes of one app, and the count of its running downloads."""

    def __init__(self, authenticate: Authenticate, spend: Spend, max_streams: int) -> None:
        self._authenticate = authenticate
        self._spend = spend
        self._max_streams = max_streams
        self.running = 0

    def routes(self) -> list[Route]:
        return [
            Route(LINK_PATH + "{secret}", self.by_link),
            Route("/export/{kind}.{format}", self.by_key),
        ]

    async def by_key(self, request: Request) -> Response:
        principal = await self._authenticate(request.headers.get("authorization"))
        if principal is None:
            return _refused(
                "UNAUTHENTICATED", "Send a member's API key as 'Authorization: Bearer <key>'."
            )
        if not isinstance(principal, MemberPrincipal):
            return _refused("FORBIDDEN", "Exports are for members of a requester account.")
        try:
            kind = exports.ExportKind(request.path_params["kind"])
            kind_format = Format(request.path_params["format"])
        except ValueError:
            kinds = ", ".join(k.value for k in exports.ExportKind)
            formats = ", ".join(f.value for f in Format)
            return _refused("NOT_FOUND", f"Exports: {kinds}; formats: {formats}.")
        return await self._download(principal, kind, kind_format, request.query_params)

    async def by_link(self, request: Request) -> Response:
        opened = await exports.open_link(request.path_params["secret"])
        if opened is None:
            return _refused(
                "NOT_FOUND",
                "This download link is unknown, has expired, or its key no longer works: "
                "make a new one with createExportLink.",
            )
        return await self._download(opened.principal, opened.kind, opened.format, opened.params)

    async def _download(
        self,
        principal: MemberPrincipal,
        kind: exports.ExportKind,
        kind_format: Format,
        params: Mapping[str, str],
    ) -> Response:
        if self.running >= self._max_streams:
            return _refused(
                "SERVICE_UNAVAILABLE",
                "Too many downloads are running on this server; retry shortly.",
            )
        # Taken before the first await, so that concurrent requests cannot all pass the check.
        self.running += 1
        try:
            if (over := await refused_for_rate(self._spend, principal)) is not None:
                self._released()
                return over
            report = await exports.report(principal.account_id, kind, params)
        except UseCaseError as error:
            self._released()
            details = [
                {"parameter": field_label(e.field[-1]) if e.field else None, "message": e.message}
                for e in error.errors
            ]
            return _refused("VALIDATION", str(error), details)
        except report_reads.ReportsBusy as busy:
            self._released()
            return _refused("SERVICE_UNAVAILABLE", str(busy))
        except report_reads.ReportTimedOut as slow:
            self._released()
            return _refused("REPORT_TIMEOUT", str(slow))
        except BaseException:
            self._released()
            raise
        filename = f"{kind.value}.{kind_format.value}"
        return _Stream(
            chunks(report, kind_format),
            {
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
            MEDIA_TYPES[kind_format],
            self._released,
        )

    def _released(self) -> None:
        self.running -= 1
