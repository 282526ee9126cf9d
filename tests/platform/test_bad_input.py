"""Bad input of any kind gets a coded client error and changes nothing, never INTERNAL:
control characters in any string, ids beyond 64 bits, dates beyond what the databases
hold, moments without their UTC offset, over-long URLs and filters, values that do not
fit their variable's type, an amount with a trailing newline, and a balance past its cap.
Each case is what a third-party client (or the fuzz run, tests/platform/test_fuzz.py) sent
to the server and got "Internal error." for."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gql_server.models import Account, LedgerEntry, Project, Task
from gql_server.schema.relay import to_global_id
from gql_server.services.ledger import MAX_BALANCE_MINOR
from tests.factories import Requester, new_task
from tests.graphql_client import Api

HUGE_TASK = base64.urlsafe_b64encode(f"Task:{2**63}".encode()).decode().rstrip("=")
HUGE_SUBMISSION = base64.urlsafe_b64encode(f"Submission:{2**64}".encode()).decode().rstrip("=")


def _codes(body: dict[str, Any]) -> list[str]:
    found = [error["extensions"]["code"] for error in body.get("errors") or []]
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            found += [error["code"] for error in payload.get("userErrors") or []]
    return found


async def _refused(
    api: Api, key: str, document: str, variables: dict[str, Any] | None = None
) -> list[str]:
    body = await api.post(document, variables, key=key)
    codes = _codes(body)
    assert codes and "INTERNAL" not in codes, body
    return codes


CONTROL = [
    ('mutation { createProject(input: {name: "a\\u0000b"}) { userErrors { code } } }', None),
    (
        "mutation ($n: String!) { createProject(input: {name: $n}) { userErrors { code } } }",
        {"n": "bell\x07"},
    ),
    ('{ tasks(filter: {search: "x\\u0000"}) { totalCount } }', None),
    (
        'mutation ($k: String) { closeTask(input: {taskId: "VGFzazox", idempotencyKey: $k})'
        " { userErrors { code } } }",
        {"k": "key\x00"},
    ),
]


@pytest.mark.parametrize(("document", "variables"), CONTROL)
async def test_control_characters_are_refused_in_every_string(
    api: Api, requester: Requester, document: str, variables: dict[str, Any] | None
) -> None:
    before = await Project.filter(account_id=requester.account_id).count()
    assert await _refused(api, requester.key, document, variables) == ["BAD_USER_INPUT"]
    assert await Project.filter(account_id=requester.account_id).count() == before


async def test_tab_line_feed_and_carriage_return_are_fine(api: Api, requester: Requester) -> None:
    made = await api.data(
        "mutation ($n: String!) { createProject(input: {name: $n}) { project { name } } }",
        {"n": "two\tcolumns\r\nand lines"},
        key=requester.key,
    )
    assert made["createProject"]["project"]["name"].startswith("two\tcolumns")


async def test_ids_beyond_64_bits_name_nothing(api: Api, requester: Requester) -> None:
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": HUGE_TASK}, key=requester.key
    )
    task = await api.data(
        "query ($id: ID!) { task(id: $id) { id } }", {"id": HUGE_TASK}, key=requester.key
    )
    assert node == {"node": None} and task == {"task": None}
    approve = await _refused(
        api,
        requester.key,
        "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) { userErrors { code } } }",
        {"id": HUGE_SUBMISSION},
    )
    assert approve == ["NOT_FOUND"]
    queue = await api.post(
        "query ($t: ID) { reviewQueue(filter: {taskId: $t}) { totalCount } }",
        {"t": HUGE_TASK},
        key=requester.key,
    )
    assert "INTERNAL" not in _codes(queue)


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (
            'mutation { createApiKey(input: {expiresAt: "9999-12-31T23:59:59+00:00"}) { userErrors { code } } }',
            None,
        ),
        (
            "query ($a: DateTime) { reviewQueue(filter: {submittedAfter: $a}) { totalCount } }",
            {"a": "0001-01-01T00:00:00+14:00"},
        ),
        ('{ auditReport(filter: {weekOf: "9999-12-31"}) { completedCount } }', None),
        (
            "query ($a: DateTime) { reviewQueue(filter: {submittedAfter: $a}) { totalCount } }",
            {"a": "soon"},
        ),
    ],
)
async def test_dates_beyond_what_the_databases_hold_are_refused(
    api: Api, requester: Requester, document: str, variables: dict[str, Any] | None
) -> None:
    codes = await _refused(api, requester.key, document, variables)
    assert codes[0] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")


async def test_a_moment_without_its_offset_is_refused(api: Api, requester: Requester) -> None:
    # Found by the fuzz run: a task's expiry without an offset was compared with the
    # server's aware clock, and the TypeError came back as INTERNAL.
    task = {
        "projectId": to_global_id("Project", requester.project_id or 0),
        "title": "Label",
        "instructions": "Say what it shows.",
        "reward": "1.00",
        "budget": "5.00",
        "expiresAt": "2099-01-01T09:30:00",
    }
    document = "mutation ($i: CreateTaskInput!) { createTask(input: $i) { userErrors { code } } }"
    before = await Task.filter(account_id=requester.account_id).count()
    body = await api.post(document, {"i": task}, key=requester.key)
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert "UTC offset" in body["errors"][0]["message"]
    literal = 'mutation { createApiKey(input: {expiresAt: "2099-01-01T09:30:00"}) { secret } }'
    assert await _refused(api, requester.key, literal) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await Task.filter(account_id=requester.account_id).count() == before


async def test_a_task_filter_longer_than_its_column_is_refused(
    api: Api, requester: Requester
) -> None:
    # Found by the fuzz run: PostgreSQL refused a variant group longer than its column
    # (100) as a parameter, and the error came back as INTERNAL.
    document = "query ($f: TaskFilter) { tasks(filter: $f) { totalCount } }"
    for given, field in (
        ({"variantGroup": "v" * 101}, "variantGroup"),
        ({"search": "s" * 201}, "search"),
    ):
        body = await api.post(document, {"f": given}, key=requester.key)
        assert _codes(body) == ["BAD_USER_INPUT"], body
        (error,) = body["errors"][0]["extensions"]["userErrors"]
        assert (error["code"], error["field"]) == ("VALIDATION", ["filter", field])
    fits = await api.data(document, {"f": {"variantGroup": "v" * 100}}, key=requester.key)
    assert fits["tasks"]["totalCount"] == 0


async def test_variables_that_do_not_fit_their_type_are_bad_user_input(
    api: Api, requester: Requester
) -> None:
    fund = "mutation ($a: Decimal!) { fundAccount(input: {amount: $a}) { userErrors { code } } }"
    project = (
        "mutation ($i: CreateProjectInput!) { createProject(input: $i) { userErrors { code } } }"
    )
    states = "query ($s: [SubmissionState!]) { reviewQueue(filter: {states: $s}) { totalCount } }"
    for document, variables in (
        (fund, {"a": 5}),
        (fund, {}),
        (project, {"i": {"name": "x", "bogus": 1}}),
        (states, {"s": ["NOPE"]}),
    ):
        body = await api.post(document, variables, key=requester.key)
        assert _codes(body) == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["message"].startswith("Variable '$")
    assert await LedgerEntry.filter(account_id=requester.account_id, reason="FUND").count() == 1


async def test_a_trailing_newline_is_no_amount_and_a_balance_has_a_cap(
    api: Api, requester: Requester
) -> None:
    fund = (
        "mutation ($a: Decimal!) { fundAccount(input: {amount: $a}) { userErrors { code field } } }"
    )
    newline = (await api.data(fund, {"a": "1.00\n"}, key=requester.key))["fundAccount"]
    assert newline["userErrors"] == [{"code": "VALIDATION", "field": ["input", "amount"]}]
    before = (await Account.get(id=requester.account_id)).balance_minor
    await Account.filter(id=requester.account_id).update(balance_minor=MAX_BALANCE_MINOR - 100)
    try:
        over = (await api.data(fund, {"a": "5.00"}, key=requester.key))["fundAccount"]
        assert [e["code"] for e in over["userErrors"]] == ["VALIDATION"]
        assert (await Account.get(id=requester.account_id)).balance_minor == MAX_BALANCE_MINOR - 100
    finally:
        await Account.filter(id=requester.account_id).update(balance_minor=before)


async def test_an_over_long_callback_url_is_refused(api: Api, requester: Requester) -> None:
    task = await new_task(requester, publish=False)
    # Longer than the column (2,048), shorter than any string may be (schema/strings.py).
    long_url = "https://hooks.example/" + "x" * 3_000
    updated = await _refused(
        api,
        requester.key,
        "mutation ($t: ID!, $u: String) { updateTask(input: {taskId: $t, changes: {callbackUrl: $u}})"
        " { userErrors { code } } }",
        {"t": to_global_id("Task", task.id), "u": long_url},
    )
    assert updated == ["VALIDATION"]
    endpoint = await _refused(
        api,
        requester.key,
        "mutation ($u: String!) { createWebhookEndpoint(input: {url: $u}) { userErrors { code } } }",
        {"u": long_url},
    )
    assert endpoint == ["VALIDATION"]


async def test_errors_suggest_nothing_of_the_schema(api: Api, requester: Requester) -> None:
    for document in (
        "query ($s: TaskStatus) { tasks(filter: {status: $s}) { totalCount } }",
        "{ taks { totalCount } }",
        "{ tasks(filter: {statuses: [OPN]}) { totalCount } }",
    ):
        body = await api.post(document, key=requester.key)
        assert body["errors"], body
        for error in body["errors"]:
            assert "Did you mean" not in error["message"], error
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        # The document's faults, found by validation.
        ("query ($a: Int) { __typename }", {"a": 1}, "GRAPHQL_VALIDATION_FAILED"),
        ("query { reviewQueue(first: $n) { totalCount } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query ($n: String) { reviewQueue(first: $n) { totalCount } }",
            {"n": "5"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        # The variables' values, which do not fit the types the document declares.
        ("query ($n: Int) { reviewQueue(first: $n) { totalCount } }", {"n": "x"}, "BAD_USER_INPUT"),
        ("query ($n: Int!) { reviewQueue(first: $n) { totalCount } }", None, "BAD_USER_INPUT"),
        (
            "query ($n: Int!) { reviewQueue(first: $n) { totalCount } }",
            {"n": None},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_a_variable_is_a_validation_fault_of_the_document_or_bad_input_of_its_value(
    api: Api, requester: Requester, document: str, variables: dict[str, Any] | None, code: str
) -> None:
    assert await _refused(api, requester.key, document, variables) == [code]
