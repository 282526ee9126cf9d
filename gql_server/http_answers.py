"""The HTTP side of a GraphQL answer: its media type, status code and headers, decided
here and nowhere else, after the GraphQL-over-HTTP specification
(https://graphql.github.io/graphql-over-http/draft/). Pure functions of the request's
Accept header and of the GraphQL response; the view in `app.py` only applies them.

Invariants:
- The media type is chosen from the Accept header alone: the acceptable type with the
  highest weight; on a tie, one named outright over one matched by a wildcard, then the
  one listed first; `*/*`, `application/*` and a missing or empty header choose
  `application/json`. That is the legacy default the graphql-http audit holds servers to
  (its 47DE and 80D8), and it keeps clients older than the specification, which send no
  Accept or a wildcard, exactly as they were. An Accept that allows neither type is
  answered 406.
- `application/json` (legacy): every well-formed request answers 200, whatever its GraphQL
  errors, and its body is the GraphQL response exactly as before (`data: null` included).
- `application/graphql-response+json`: a response with `data` (null or not: execution
  began, field errors are partial results) answers 200. A request error (errors before
  execution, none at a field's path) answers the 4xx or 5xx of its first error's code
  (`REQUEST_ERROR_STATUS`: 400 for a code not listed, 500 for none), and its body has no
  `data` entry.
- A `RATE_LIMITED` or `REPORTS_BUSY` error carrying an integer `retryAfterSeconds` sets
  `Retry-After` under either media type: a legacy client still learns how long to wait.
- A request that is not a well-formed GraphQL-over-HTTP request (bad JSON, a parameter of
  the wrong type, a mutation over GET, an unsupported method or body) is refused with a
  4xx under either media type, as a GraphQL response with only `errors`, each coded; a 405
  says in `Allow` which methods would do.
- Every answer says `Vary: Accept`: GET answers may be cached, and differ by Accept.
- A download (`/export/...`) that cannot start answers JSON `{"error": {"code",
  "message"}}` with the status of its code (`DOWNLOAD_REFUSALS`), never a bare status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# The Content-Type each is answered with. JSON is UTF-8 by definition (RFC 8259), and the
# legacy type stays as it always was; the new one states it, as the specification asks.
CONTENT_TYPES = {GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", JSON: JSON}

# The status of a request error under application/graphql-response+json, by the code of
# its first error. A code not listed answers 400; no code at all, 500: every client error
# is coded on its way out (schema/errors.py), so an uncoded one escaped that, a fault.
REQUEST_ERROR_STATUS = {
    "GRAPHQL_PARSE_FAILED": 400,
    "GRAPHQL_VALIDATION_FAILED": 400,
    "BAD_USER_INPUT": 400,
    "COST_LIMIT_EXCEEDED": 400,
    "DOCUMENT_TOO_LARGE": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}
# Errors that say when to try again (`retryAfterSeconds`), which `Retry-After` repeats.
RETRY_LATER_CODES = frozenset({"RATE_LIMITED", "REPORTS_BUSY"})
# The code of a refused (not well-formed) request, by its status.
REFUSAL_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    503: "SERVICE_UNAVAILABLE",
}
# What a 401 must name (RFC 9110, 11.6.1): how to authenticate.
AUTHENTICATE = 'Bearer realm="gql-server"'


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


def _media_ranges(accept: str) -> list[tuple[str, str, float]]:
    """(type, subtype, weight) of each media range we could answer, in the header's order.
    A range we could not answer in (another charset) or cannot read is left out."""
    ranges = []
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        kind, slash, subtype = media.lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        weight = 1.0
        readable = True
        for parameter in parameters:
            name, _, value = (part.strip().lower() for part in parameter.partition("="))
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    readable = False
                readable = readable and 0.0 <= weight <= 1.0
            elif name == "charset":
                readable = readable and value.strip('"') == "utf-8"
        if readable:
            ranges.append((kind, subtype, weight))
    return ranges


def _specificity(media_range: tuple[str, str], candidate: str) -> int:
    """How closely a media range names `candidate`: 2 outright, 1 by `type/*`, 0 by
    `*/*`, -1 not at all."""
    kind, _, subtype = candidate.partition("/")
    if media_range == (kind, subtype):
        return 2
    if media_range == (kind, "*"):
        return 1
    return 0 if media_range == ("*", "*") else -1


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the Accept header allows neither."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _media_ranges(accept)
    best: tuple[float, int, int] | None = None
    chosen = None
    # JSON first, and only a better rank replaces it: between equals (only wildcards make
    # equals) the legacy type wins.
    for candidate in (JSON, GRAPHQL_RESPONSE_JSON):
        matches = [
            (specificity, -position, weight)
            for position, (kind, subtype, weight) in enumerate(ranges)
            if (specificity := _specificity((kind, subtype), candidate)) >= 0
        ]
        if not matches:
            continue
        # The most specific range that matches gives the weight (RFC 9110, 12.5.1).
        specificity, order, weight = max(matches)
        rank = (weight, specificity, order)
        if weight > 0 and (best is None or rank > best):
            best, chosen = rank, candidate
    return chosen


def _retry_after(errors: list[Mapping[str, Any]]) -> str | None:
    waits = [
        seconds
        for error in errors
        if (extensions := error.get("extensions") or {}).get("code") in RETRY_LATER_CODES
        for seconds in [extensions.get("retryAfterSeconds")]
        if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds >= 0
    ]
    return str(max(waits)) if waits else None


def is_request_error(response: Mapping[str, Any]) -> bool:
    """Errors raised before execution began: no data, and no error at a field's path."""
    errors = response.get("errors") or []
    return (
        response.get("data") is None
        and bool(errors)
        and not any(error.get("path") for error in errors)
    )


def graphql_answer(media_type: str, response: Mapping[str, Any]) -> Answer:
    """The answer to a well-formed GraphQL-over-HTTP request whose GraphQL response is
    `response` (`data`, `errors`, `extensions`), in `media_type` (from `negotiate`)."""
    errors = response.get("errors") or []
    headers = {"Vary": "Accept"}
    if errors and (wait := _retry_after(errors)) is not None:
        headers["Retry-After"] = wait
    status = 200
    body = response
    if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(response):
        code = (errors[0].get("extensions") or {}).get("code")
        status = 500 if code is None else REQUEST_ERROR_STATUS.get(code, 400)
        body = {name: value for name, value in response.items() if name != "data"}
        if status == 401:
            headers["WWW-Authenticate"] = AUTHENTICATE
    return Answer(status, CONTENT_TYPES[media_type], body, headers)


# The operations each method carries (subscriptions go over a websocket at the same path).
OPERATIONS = {"GET": ("query",), "POST": ("query", "mutation")}


def operations_over(method: str) -> tuple[str, ...]:
    return OPERATIONS.get(method, ())


def refused_operation(operation_type: str, method: str) -> tuple[int, str]:
    """The status and message for an operation its method does not carry: a mutation
    over GET is 405 (POST would do); a subscription, which HTTP does not carry here, 400."""
    if operation_type == "mutation":
        return 405, f"A mutation cannot be sent with {method}: send it with POST."
    return 400, (
        f"A {operation_type} cannot be sent with {method}: subscriptions are served over a "
        "websocket (graphql-transport-ws) at this path."
    )


def refusal(status: int, message: str, media_type: str | None, method: str) -> Answer:
    """The answer to a request that is not a well-formed GraphQL-over-HTTP request.
    `media_type` is None when the Accept header allowed neither type: then JSON."""
    chosen = media_type or JSON
    headers = {"Vary": "Accept"}
    if status == 405:
        # GET is refused only for mutations, which POST carries; other methods need either.
        headers["Allow"] = "POST" if method == "GET" else "GET, POST"
    code = REFUSAL_CODES.get(status, "BAD_REQUEST")
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Answer(status, CONTENT_TYPES[chosen], body, headers)


# The status of a refused download (gql_server/downloads.py), by its code.
DOWNLOAD_REFUSALS = {
    "VALIDATION": 400,
    "COST_LIMIT_EXCEEDED": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
    "REPORT_TIMEOUT": 503,
}
# How long a download refused for want of a free stream may wait before it tries again.
BUSY_RETRY_SECONDS = 5


def download_refusal(
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    retry_after_seconds: int | None = None,
) -> Answer:
    """The answer to a download that cannot start: `{"error": {"code", "message"}}` (and
    `details`, one per bad parameter), the same body the audit CSV exports answer with,
    with the status of its code; a refusal for the rate limit says when to try again."""
    status = DOWNLOAD_REFUSALS[code]
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = AUTHENTICATE
    if code == "SERVICE_UNAVAILABLE":
        headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
    if retry_after_seconds is not None:
        headers["Retry-After"] = str(retry_after_seconds)
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    if retry_after_seconds is not None:
        error["retryAfterSeconds"] = retry_after_seconds
    return Answer(status, JSON, {"error": error}, headers)


__all__ = [
    "DOWNLOAD_REFUSALS",
    "GRAPHQL_RESPONSE_JSON",
    "JSON",
    "REQUEST_ERROR_STATUS",
    "Answer",
    "download_refusal",
    "graphql_answer",
    "is_request_error",
    "negotiate",
    "operations_over",
    "refusal",
    "refused_operation",
]
