"""What a request costs: computed from the schema's declared prices before anything runs,
refused over the maximum with no SQL run, and answered in `extensions.cost`."""

from __future__ import annotations

import logging
from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from gql_server.schema.build import schema
from gql_server.schema.cost import (
    DECISIONS_PER_SUBMISSION,
    DEFAULT_LIST_SIZE,
    INTROSPECTION_COST,
    MUTATION_WEIGHT,
    TOTAL_COUNT_WEIGHT,
    operation_cost,
    price_list,
)
from gql_server.services.pagination import DEFAULT_PAGE_SIZE
from gql_server.settings import DEFAULT_MAX_QUERY_COST, Settings
from tests.factories import Requester
from tests.graphql_client import Api, app_with

PRICES = price_list(schema._schema)


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return operation_cost(schema._schema, PRICES, operation, fragments, variables)


# --- the price of a document, without a database -------------------------------------------


def test_scalars_and_typename_are_free_and_an_object_costs_one() -> None:
    assert cost("{ __typename }") == 0
    assert cost("{ account { name currency } }") == 1


def test_a_connection_costs_its_page_of_nodes_by_first_or_last() -> None:
    assert cost("{ tasks(first: 7) { edges { node { id } } } }") == 1 + 7
    assert cost("{ tasks(last: 3) { edges { cursor node { id } } } }") == 1 + 3
    # Without a slicing argument: the default page.
    assert cost("{ tasks { edges { node { id } } } }") == 1 + DEFAULT_PAGE_SIZE
    # The page size from a variable, as execution reads it.
    document = "query($n: Int) { tasks(first: $n) { edges { node { id } } } }"
    assert cost(document, {"n": 40}) == 1 + 40
    assert cost(document, {"n": 100.0}) == 1 + 100
    assert cost(document, {}) == 1 + DEFAULT_PAGE_SIZE
    defaulted = "query($n: Int = 100) { tasks(first: $n) { edges { node { id } } } }"
    assert cost(defaulted, {}) == 1 + 100


def test_nested_costs_multiply_and_counts_cost_their_weight() -> None:
    document = """{ reviewQueue(first: 100) { totalCount pageInfo { hasNextPage }
        edges { node { id task { project { id } } reviews { decision } } } } }"""
    per_node = 1 + (1 + 1) + DECISIONS_PER_SUBMISSION
    assert cost(document) == 1 + TOTAL_COUNT_WEIGHT + 1 + 100 * per_node


def test_aliases_count_each_time_and_fragments_on_abstract_types_count_the_dearest() -> None:
    one = cost("{ a: tasks(first: 10) { edges { node { id } } } }")
    assert (
        cost(
            "{ a: tasks(first: 10) { edges { node { id } } } b: tasks(first: 10) {"
            " edges { node { id } } } }"
        )
        == 2 * one
    )
    document = """{ node(id: "x") { id ... on Task { project { id } }
        ... on Submission { task { project { id } } reviews { decision } } } }"""
    assert cost(document) == 1 + max(1, 2 + DECISIONS_PER_SUBMISSION)
    spread = """query { node(id: "x") { ...S } }
        fragment S on Submission { task { id } }"""
    assert cost(spread) == 1 + 1


def test_a_mutation_weighs_ten_and_a_report_two_hundred_and_introspection_is_flat() -> None:
    mutation = """mutation { approveSubmission(input: {submissionId: "x"}) {
        submission { id } userErrors { code } } }"""
    assert cost(mutation) == MUTATION_WEIGHT + 1 + 1 + DEFAULT_LIST_SIZE
    assert cost("{ auditReport { completedCount } }") == 200 + 1
    assert cost("{ auditWeeks { completedCount } }") == 200 + 4
    assert cost("{ __schema { types { name fields { name } } } }") == INTROSPECTION_COST


def test_the_schema_declares_the_prices_for_clients_to_compute() -> None:
    printed = schema.as_str()
    assert "directive @cost(weight: String!) on FIELD_DEFINITION | OBJECT" in printed
    query, mutation = schema._schema.query_type, schema._schema.mutation_type
    assert query is not None and mutation is not None
    connections = [name for name, f in query.fields.items() if "first" in f.args]
    assert {"tasks", "reviewQueue", "availableTasks", "workers"} <= set(connections)
    for name in connections:
        size = PRICES.fields[("Query", name)].size
        assert size is not None and size.slicing_arguments == ["first", "last"], name
        assert size.sized_fields == ["edges"] and size.assumed_size == DEFAULT_PAGE_SIZE
    assert printed.count('@listSize(assumedSize: 20, slicingArguments: ["first", "last"]') == (
        len(connections)
    )
    for name in mutation.fields:
        assert PRICES.fields[("Mutation", name)].weight == MUTATION_WEIGHT, name


# --- over HTTP ---------------------------------------------------------------------------------


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _statements_of(api: Api, key: str, query: str) -> tuple[int, dict[str, Any]]:
    log = logging.getLogger("tortoise.db_client")
    counter = _Statements()
    log.setLevel(logging.DEBUG)
    log.addHandler(counter)
    try:
        response = await api.client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
        )
    finally:
        log.removeHandler(counter)
        log.setLevel(logging.NOTSET)
    return counter.count, response.json()


ATTACK = (
    "{ "
    + " ".join(
        f"q{i}: reviewQueue(first: 100) {{ edges {{ node {{ id task {{ id project {{ id }} }} "
        "worker { id } reviews { decision } audits { id } } } }"
        for i in range(29)
    )
    + " }"
)


async def test_a_request_over_the_maximum_is_refused_before_any_sql(
    api: Api, account: Requester
) -> None:
    await _statements_of(api, account.key, "{ __typename }")  # the key's first use is noted
    baseline, _ = await _statements_of(api, account.key, "{ __typename }")
    statements, body = await _statements_of(api, account.key, ATTACK)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] == cost(ATTACK) > DEFAULT_MAX_QUERY_COST
    assert error["extensions"]["maximumCost"] == DEFAULT_MAX_QUERY_COST
    assert str(DEFAULT_MAX_QUERY_COST) in error["message"]
    # Only what identifying the key takes: nothing of the query ran.
    assert statements == baseline


async def test_reports_under_many_aliases_are_refused(api: Api, account: Requester) -> None:
    reports = "{ " + " ".join(f"r{i}: auditReport {{ completedCount }}" for i in range(28)) + " }"
    dry_runs = (
        "{ "
        + " ".join(
            f'd{i}: dryRunRule(input: {{ruleId: "x"}}) {{ matches {{ worker {{ id }} }} }}'
            for i in range(29)
        )
        + " }"
    )
    await _statements_of(api, account.key, "{ __typename }")
    baseline, _ = await _statements_of(api, account.key, "{ __typename }")
    weeks = "{ " + " ".join(f"w{i}: auditWeeks {{ completedCount }}" for i in range(28)) + " }"
    for document in (reports, weeks, dry_runs):
        statements, body = await _statements_of(api, account.key, document)
        assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED", body
        assert statements == baseline


async def test_every_answered_request_says_its_cost(api: Api, account: Requester) -> None:
    document = "{ tasks(first: 5) { edges { node { id } } } }"
    response = await api.client.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {account.key}"}
    )
    body = response.json()
    assert "errors" not in body
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 6,
        "maximumQueryCost": DEFAULT_MAX_QUERY_COST,
    }


async def test_the_maximum_is_a_setting(database: Settings, account: Requester) -> None:
    async with app_with(database, max_query_cost=10) as api:
        fits = await api.post("{ tasks(first: 9) { edges { node { id } } } }", key=account.key)
        assert "errors" not in fits
        over = await api.post("{ tasks(first: 10) { edges { node { id } } } }", key=account.key)
        assert over["errors"][0]["extensions"] == {
            "code": "COST_LIMIT_EXCEEDED",
            "cost": 11,
            "maximumCost": 10,
        }
