"""The HTTP answer to a GraphQL request, decided without a server (gql_server/http_answers.py):
the media type from Accept, the status and headers from the GraphQL response."""

from __future__ import annotations

from typing import Any

import pytest

from gql_server.http_answers import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    graphql_answer,
    negotiate,
    operations_over,
    refusal,
    refused_operation,
)

PARSE_FAILED = {
    "data": None,
    "errors": [{"message": "Syntax Error", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}],
}


def _request_error(code: str | None, **extensions: Any) -> dict[str, Any]:
    coded = {"code": code, **extensions} if code else extensions
    return {"data": None, "errors": [{"message": "refused", "extensions": coded}]}


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("  ", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
        # What the specification recommends clients send.
        (
            "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8",
            GRAPHQL_RESPONSE_JSON,
        ),
        # Equal weights: the one listed first.
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", JSON),
        # Weights decide over order.
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.2, application/json;q=0.9", JSON),
        # A type named outright wins over one a wildcard matches, at equal weight.
        (f"*/*, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/*, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        # A browser's.
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        # q=0 refuses a type, even one a wildcard would allow.
        ("*/*, application/json;q=0", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0", JSON),
        # A charset other than UTF-8 we cannot answer in.
        (f"{GRAPHQL_RESPONSE_JSON}; charset=iso-8859-1, application/json", JSON),
        # Unreadable ranges are left out, the rest still count.
        (f"nonsense, {GRAPHQL_RESPONSE_JSON};q=abc, application/json", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=2, application/json;q=0.1", JSON),
    ],
)
def test_the_media_type_follows_the_accept_header(accept: str | None, chosen: str) -> None:
    assert negotiate(accept) == chosen


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/event-stream",
        "application/xml, text/*",
        "application/json;q=0, application/graphql-response+json;q=0",
        "*/*;q=0",
        "nonsense",
    ],
)
def test_an_accept_that_allows_neither_type_chooses_none(accept: str) -> None:
    assert negotiate(accept) is None


def test_legacy_json_answers_200_with_the_body_unchanged_whatever_the_errors() -> None:
    for response in (PARSE_FAILED, _request_error("FORBIDDEN"), _request_error(None)):
        answer = graphql_answer(JSON, response)
        assert (answer.status, answer.content_type, answer.body) == (200, JSON, response)
        assert answer.headers == {"Vary": "Accept"}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("GRAPHQL_PARSE_FAILED", 400),
        ("GRAPHQL_VALIDATION_FAILED", 400),
        ("BAD_USER_INPUT", 400),
        ("COST_LIMIT_EXCEEDED", 400),
        ("DOCUMENT_TOO_LARGE", 400),
        ("A_CODE_NOT_LISTED", 400),
        ("UNAUTHENTICATED", 401),
        ("FORBIDDEN", 403),
        ("INTERNAL", 500),
        # No code: it escaped the shaping of errors, a fault of ours.
        (None, 500),
    ],
)
def test_a_request_error_answers_its_status_without_data(code: str | None, status: int) -> None:
    response = _request_error(code)
    answer = graphql_answer(GRAPHQL_RESPONSE_JSON, response)
    assert answer.status == status
    assert answer.content_type == "application/graphql-response+json; charset=utf-8"
    assert answer.body == {"errors": response["errors"]}


def test_the_first_error_decides_the_status() -> None:
    response = {
        "data": None,
        "errors": [
            {"message": "a", "extensions": {"code": "FORBIDDEN"}},
            {"message": "b", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}},
        ],
    }
    assert graphql_answer(GRAPHQL_RESPONSE_JSON, response).status == 403


def test_an_unauthenticated_request_error_says_how_to_authenticate() -> None:
    answer = graphql_answer(GRAPHQL_RESPONSE_JSON, _request_error("UNAUTHENTICATED"))
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_field_errors_answer_200_with_their_data_null_or_not() -> None:
    at_a_field = {"message": "no", "path": ["me"], "extensions": {"code": "UNAUTHENTICATED"}}
    for data in (None, {"node": None, "__typename": "Query"}):
        response = {"data": data, "errors": [at_a_field]}
        answer = graphql_answer(GRAPHQL_RESPONSE_JSON, response)
        assert (answer.status, answer.body) == (200, response)


def test_a_success_answers_200_with_its_extensions() -> None:
    response = {"data": {"__typename": "Query"}, "extensions": {"cost": 1}}
    answer = graphql_answer(GRAPHQL_RESPONSE_JSON, response)
    assert (answer.status, answer.body, answer.headers) == (200, response, {"Vary": "Accept"})


def test_rate_limited_is_429_with_retry_after_and_legacy_clients_get_the_header_too() -> None:
    response = _request_error("RATE_LIMITED", retryAfterSeconds=7)
    modern = graphql_answer(GRAPHQL_RESPONSE_JSON, response)
    assert (modern.status, modern.headers["Retry-After"]) == (429, "7")
    assert "data" not in modern.body
    legacy = graphql_answer(JSON, response)
    assert (legacy.status, legacy.headers["Retry-After"], legacy.body) == (200, "7", response)


@pytest.mark.parametrize("wait", [None, "7", 1.5, True, -1])
def test_retry_after_is_only_sent_for_a_whole_number_of_seconds(wait: object) -> None:
    extensions = {} if wait is None else {"retryAfterSeconds": wait}
    answer = graphql_answer(GRAPHQL_RESPONSE_JSON, _request_error("RATE_LIMITED", **extensions))
    assert answer.status == 429
    assert "Retry-After" not in answer.headers


def test_the_longest_wait_of_several_rate_limits_is_the_one_said() -> None:
    response = {
        "data": None,
        "errors": [
            {"message": "a", "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": 3}},
            {"message": "b", "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": 30}},
        ],
    }
    assert graphql_answer(JSON, response).headers["Retry-After"] == "30"


def test_get_carries_queries_and_post_queries_and_mutations() -> None:
    assert operations_over("GET") == ("query",)
    assert operations_over("POST") == ("query", "mutation")
    assert operations_over("PUT") == ()


def test_a_mutation_over_get_is_405_and_a_subscription_over_http_400() -> None:
    status, message = refused_operation("mutation", "GET")
    assert status == 405 and "POST" in message
    status, message = refused_operation("subscription", "POST")
    assert status == 400 and "websocket" in message


@pytest.mark.parametrize(
    ("status", "method", "code", "allow"),
    [
        (400, "POST", "BAD_REQUEST", None),
        (404, "GET", "NOT_FOUND", None),
        (405, "GET", "METHOD_NOT_ALLOWED", "POST"),
        (405, "HEAD", "METHOD_NOT_ALLOWED", "GET, POST"),
        (406, "POST", "NOT_ACCEPTABLE", None),
    ],
)
def test_a_refused_request_is_a_coded_graphql_error(
    status: int, method: str, code: str, allow: str | None
) -> None:
    answer = refusal(status, "why", GRAPHQL_RESPONSE_JSON, method)
    assert answer.status == status
    assert answer.body == {"errors": [{"message": "why", "extensions": {"code": code}}]}
    assert answer.headers.get("Allow") == allow
    assert answer.content_type.startswith(GRAPHQL_RESPONSE_JSON)


def test_a_refusal_to_a_client_that_accepts_neither_type_is_json() -> None:
    assert refusal(406, "why", None, "POST").content_type == JSON
