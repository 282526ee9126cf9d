"""The limits every document runs under (depth 12, 30 aliases, 5000 tokens) hold for every
request, also when the document's parse and validation come from the caches."""

from __future__ import annotations

from typing import Any

from gql_server.schema.build import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from gql_server.schema.strings import MAX_DOCUMENT_CHARS, MAX_STRING_CHARS
from gql_server.settings import Settings
from tests.factories import Requester
from tests.graphql_client import Api, app_with


async def _errors(api: Api, query: str, key: str) -> list[dict[str, Any]]:
    response = await api.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
    )
    return list(response.json().get("errors") or [])


def _nested(depth: int) -> str:
    """A valid document `depth` fields deep: a submission's audits' submission's audits..."""
    fields = [("audits", "submission")[level % 2] for level in range(depth - 2)]
    inner = "id"
    for field in reversed(fields):
        inner = f"{field} {{ {inner} }}"
    return '{ node(id: "x") { ... on Submission { ' + inner + " } } }"


def _too_deep(errors: list[dict[str, Any]]) -> bool:
    return any(
        "exceeds maximum operation depth" in e["message"]
        and e["extensions"]["code"] == "DEPTH_LIMIT_EXCEEDED"
        for e in errors
    )


async def test_a_document_deeper_than_the_limit_is_refused_every_time(
    database: Settings, account: Requester
) -> None:
    # Lists nested this deep cost more than the default maximum: the depth is the subject.
    async with app_with(database, max_query_cost=10**9) as api:
        for _ in range(2):  # the second answers come from the caches
            assert await _errors(api, _nested(MAX_DEPTH), account.key) == []
            assert _too_deep(await _errors(api, _nested(MAX_DEPTH + 2), account.key))


async def test_more_aliases_than_the_limit_are_refused_every_time(
    api: Api, account: Requester
) -> None:
    allowed = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES)) + " }"
    refused = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }"
    for _ in range(2):
        assert await _errors(api, allowed, account.key) == []
        errors = await _errors(api, refused, account.key)
        assert errors and "aliases" in errors[0]["message"]
        assert errors[0]["extensions"]["code"] == "ALIAS_LIMIT_EXCEEDED"


async def test_more_tokens_than_the_limit_are_refused_every_time(
    api: Api, account: Requester
) -> None:
    # "{", "}" and one name per field: MAX_TOKENS of them is over the limit.
    refused = "{ " + " ".join("__typename" for _ in range(MAX_TOKENS)) + " }"
    for _ in range(2):
        errors = await _errors(api, refused, account.key)
        assert errors and "token" in errors[0]["message"].lower()
        assert errors[0]["extensions"]["code"] == "TOKEN_LIMIT_EXCEEDED"


async def test_a_document_longer_than_the_limit_is_refused_before_parsing(
    api: Api, account: Requester
) -> None:
    # Few tokens, many characters: a comment is no token.
    document = "{ __typename }\n#" + "x" * MAX_DOCUMENT_CHARS
    for _ in range(2):
        [error] = await _errors(api, document, account.key)
        assert error["extensions"]["code"] == "DOCUMENT_TOO_LARGE"
        assert str(MAX_DOCUMENT_CHARS) in error["message"]


async def test_a_string_longer_than_any_field_holds_is_refused_and_changes_nothing(
    api: Api, account: Requester
) -> None:
    create = "mutation ($n: String!) { createProject(input: {name: $n}) { project { id } } }"
    response = await api.client.post(
        "/graphql",
        json={"query": create, "variables": {"n": "p" * (MAX_STRING_CHARS + 1)}},
        headers={"Authorization": f"Bearer {account.key}"},
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(MAX_STRING_CHARS) in error["message"]
    projects = await api.data("{ projects { totalCount } }", key=account.key)
    assert projects["projects"]["totalCount"] == 0


async def test_a_search_longer_than_any_title_is_refused(api: Api, account: Requester) -> None:
    body = await api.post(
        "query ($s: String) { tasks(filter: {search: $s}) { totalCount } }",
        {"s": "t" * 201},
        key=account.key,
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "200" in error["message"]


async def test_a_document_that_does_not_parse_says_so_with_its_code(
    api: Api, account: Requester
) -> None:
    for _ in range(2):
        [error] = await _errors(api, "{ tasks { ", account.key)
        assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        assert error["message"].startswith("Syntax Error")


async def test_circular_fragments_are_refused_before_anything_runs(
    api: Api, account: Requester
) -> None:
    document = """query { ...A }
      fragment A on Query { account { name } ...B }
      fragment B on Query { ...A }"""
    for _ in range(2):
        errors = await _errors(api, document, account.key)
        assert errors and errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Cannot spread fragment" in errors[0]["message"]


async def test_fragments_that_expand_exponentially_are_refused_before_validation(
    api: Api, account: Requester
) -> None:
    """Each fragment spreads the next twice: 40 levels expand to 2^40 spreads, which the
    depth rule alone would walk for hours."""
    levels = 40
    fragments = " ".join(
        f"fragment f{i} on Query {{ ...f{i + 1} ...f{i + 1} }}" for i in range(levels)
    )
    document = f"query {{ ...f0 }} {fragments} fragment f{levels} on Query {{ __typename }}"
    for _ in range(2):
        [error] = await _errors(api, document, account.key)
        assert error["extensions"]["code"] == "FRAGMENT_LIMIT_EXCEEDED"
