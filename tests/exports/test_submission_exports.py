"""Exports of submissions as requesters use them: a task's file in CSV and JSON Lines,
read back with Python's csv and json modules, against what GraphQL answers for the same
filter; hostile text; filters; who may download; links for a browser."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from gql_server.downloads import DOWNLOAD_COST
from gql_server.models import ExportLink
from gql_server.models.enums import AuditOutcome, MemberRole, ProofKind
from gql_server.schema.relay import to_global_id
from gql_server.services import api_keys, audits, members, review, submissions
from gql_server.services.tasks import ProofRequirementDraft
from gql_server.settings import Settings
from gql_server.tabular import FORMULA_STARTS, unescape_cell
from tests.factories import Requester, frozen_clock, new_requester, new_task, new_worker
from tests.graphql_client import Api, app_with

pytestmark = pytest.mark.usefixtures("database")

ALL_STATES = [
    "SUBMITTED",
    "APPROVED",
    "REJECTED",
    "REVISION_REQUESTED",
    "EXPIRED",
    "DISPUTED",
    "PARTIALLY_PAID",
]
QUEUE = """query ($f: ReviewQueueFilter) { reviewQueue(filter: $f, first: 100) { edges { node {
  id state response { name value } startedAt submittedAt reviewedAt revisionCount feedback
  reward { amount currency } paid { amount currency } auditStatus auditCount
  reviews { decision }
  task { id title } worker { id name country } } } } }"""
LINK = """mutation ($input: CreateExportLinkInput!) { createExportLink(input: $input) {
  url path expiresAt userErrors { field code message } } }"""
TWO_PROOFS = [
    ProofRequirementDraft("answer", ProofKind.TEXT),
    ProofRequirementDraft("source", ProofKind.LINK, required=False),
]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def _get(api: Api, path: str, key: str | None, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await api.client.get(path, params=params, headers=headers)


async def _work(requester: Requester) -> tuple[str, list[int]]:
    """A task with two proof requirements and submissions in several states: approved and
    audited, rejected, sent back for revision and sent again, waiting."""
    task = await new_task(requester, proof_requirements=TWO_PROOFS, budget="20.00")
    made = []
    people = []
    for n in range(4):
        worker = await new_worker("FR" if n % 2 else "DE")
        people.append(worker)
        started = await submissions.start_submission(worker.principal, task.id)
        response = {"answer": f"answer {n}", **({"source": "https://example.org"} if n else {})}
        made.append(await submissions.submit_submission(worker.principal, started.id, response))
    approved = await review.approve_submission(requester.principal, made[0].id)
    lock = await audits.start_audit(requester.principal, approved.id)
    await audits.submit_audit(
        requester.principal,
        approved.id,
        lock.fencing_token,
        audits.AuditDecision(AuditOutcome.REJECTED, "Not a cat."),
    )
    await review.reject_submission(requester.principal, made[1].id, "Blurry.")
    sent_back = await review.request_revision(requester.principal, made[2].id, "Closer.")
    await submissions.submit_submission(people[2].principal, sent_back.id, {"answer": "again"})
    return to_global_id("Task", task.id), [s.id for s in made]


def _expected(node: dict[str, Any], names: list[str]) -> dict[str, str]:
    """A CSV row as GraphQL tells it: every value as text, empty for null."""
    answers = {p["name"]: p["value"] for p in node["response"] or []}
    reviews = node["reviews"]

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "submission_id": node["id"],
        "task_id": node["task"]["id"],
        "task_title": node["task"]["title"],
        "worker_id": node["worker"]["id"],
        "worker_name": node["worker"]["name"],
        "worker_country": node["worker"]["country"],
        "state": node["state"],
        **{f"response.{name}": text(answers.get(name)) for name in names},
        "started_at": text(node["startedAt"]),
        "submitted_at": text(node["submittedAt"]),
        "reviewed_at": text(node["reviewedAt"]),
        "revision_count": text(node["revisionCount"]),
        "last_review_decision": text(reviews[-1]["decision"] if reviews else None),
        "feedback": text(node["feedback"]),
        "reward": node["reward"]["amount"],
        "paid": node["paid"]["amount"],
        "currency": node["reward"]["currency"],
        "audit_status": text(node["auditStatus"]),
        "audit_count": text(node["auditCount"]),
    }


async def test_a_tasks_csv_and_jsonl_are_the_rows_graphql_lists(
    api: Api, requester: Requester
) -> None:
    task_id, _ = await _work(requester)
    queue_filter = {"taskId": task_id, "states": ALL_STATES}
    nodes = [
        e["node"]
        for e in (await api.data(QUEUE, {"f": queue_filter}, key=requester.key))["reviewQueue"][
            "edges"
        ]
    ]
    assert len(nodes) == 4
    expected = [_expected(node, ["answer", "source"]) for node in nodes]

    response = await _get(
        api, "/export/submissions.csv", requester.key, taskId=task_id, states=",".join(ALL_STATES)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert response.headers["content-disposition"] == 'attachment; filename="submissions.csv"'
    assert response.headers["cache-control"] == "no-store"
    # RFC 4180: CRLF after every row, the header's included.
    assert response.text.count("\r\n") == 5 and response.text.endswith("\r\n")
    rows = _csv(response.text)
    assert rows == expected
    assert list(rows[0])[6:9] == ["state", "response.answer", "response.source"]
    # What the rows hold, beyond agreeing with GraphQL.
    by_state = {row["state"]: row for row in rows}
    assert by_state["APPROVED"]["audit_status"] == "REJECTED"
    assert by_state["APPROVED"]["paid"] == "1.00" and by_state["APPROVED"]["currency"] == "USD"
    assert by_state["REJECTED"]["last_review_decision"] == "REJECTED"
    assert by_state["REJECTED"]["feedback"] == "Blurry."
    resubmitted = by_state["SUBMITTED"]
    assert resubmitted["revision_count"] == "1" and resubmitted["response.answer"] == "again"
    assert resubmitted["last_review_decision"] == "REVISION_REQUESTED"

    lines = await _get(
        api, "/export/submissions.jsonl", requester.key, taskId=task_id, states=",".join(ALL_STATES)
    )
    assert lines.headers["content-type"].startswith("application/jsonl")
    objects = _jsonl(lines.text)
    assert [{k: "" if v is None else str(v) for k, v in o.items()} for o in objects] == expected
    # Raw values: numbers as numbers, nulls as null.
    assert objects[0]["revision_count"] == 0 and objects[0]["reviewed_at"] is not None
    assert resubmitted["submission_id"] in {o["submission_id"] for o in objects}
    assert next(o for o in objects if o["state"] == "SUBMITTED")["response.source"] is not None


HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "'quoted already",
    'comma, "quotes" and\nnewline\r\nand CRLF',
    "Grüße, 日本語, emoji 🙂",
    "plain",
]


async def test_hostile_text_is_safe_in_csv_and_raw_in_jsonl(api: Api, requester: Requester) -> None:
    task = await new_task(requester, budget="20.00")
    sent = {}
    for text in HOSTILE:
        worker = await new_worker()
        started = await submissions.start_submission(worker.principal, task.id)
        done = await submissions.submit_submission(worker.principal, started.id, {"answer": text})
        assert done.response == {"answer": text}
        sent[to_global_id("Submission", done.id)] = text
    task_id = to_global_id("Task", task.id)

    text = (await _get(api, "/export/submissions.csv", requester.key, taskId=task_id)).text
    rows = _csv(text)
    assert len(rows) == len(HOSTILE)
    for row in rows:
        original = sent[row["submission_id"]]
        cell = row["response.answer"]
        if original.startswith(FORMULA_STARTS):
            # One quote in front: a spreadsheet shows the text, runs no formula.
            assert cell == "'" + original
        else:
            assert cell == original
        assert unescape_cell(cell) == original
    # No cell of the file begins a formula.
    assert not any(value.startswith(FORMULA_STARTS[:-1]) for row in rows for value in row.values())
    lines = (await _get(api, "/export/submissions.jsonl", requester.key, taskId=task_id)).text
    assert {o["submission_id"]: o["response.answer"] for o in _jsonl(lines)} == sent


async def test_filters_select_what_review_queue_selects(api: Api, requester: Requester) -> None:
    task_id, _ = await _work(requester)
    other = await new_task(
        requester, proof_requirements=[ProofRequirementDraft("photo", ProofKind.SCREENSHOT_URL)]
    )
    worker = await new_worker()
    started = await submissions.start_submission(worker.principal, other.id)
    await submissions.submit_submission(worker.principal, started.id, {"photo": "https://x/1.png"})

    async def ids(key: str = requester.key, **params: str) -> list[str]:
        answer = await _get(api, "/export/submissions.csv", key, **params)
        assert answer.status_code == 200, answer.text
        return [row["submission_id"] for row in _csv(answer.text)]

    async def queue(**given: Any) -> list[str]:
        data = await api.data(QUEUE, {"f": given}, key=requester.key)
        return [e["node"]["id"] for e in data["reviewQueue"]["edges"]]

    # The defaults are reviewQueue's: SUBMITTED work of the whole account, oldest first.
    assert await ids() == await queue()
    assert len(await ids()) == 3
    assert await ids(states="APPROVED,REJECTED") == await queue(states=["APPROVED", "REJECTED"])
    assert await ids(workerId=worker.global_id) == [to_global_id("Submission", started.id)]
    assert await ids(taskId=task_id, states="SUBMITTED") == await queue(taskId=task_id)
    everything = await ids(states=",".join(ALL_STATES))
    middle = everything[2]
    row = next(
        r
        for r in _csv(
            (
                await _get(
                    api, "/export/submissions.csv", requester.key, states=",".join(ALL_STATES)
                )
            ).text
        )
        if r["submission_id"] == middle
    )
    at = row["submitted_at"]
    assert await ids(states=",".join(ALL_STATES), submittedAfter=at) == await queue(
        states=ALL_STATES, submittedAfter=at
    )
    assert await ids(states=",".join(ALL_STATES), submittedBefore=at) == await queue(
        states=ALL_STATES, submittedBefore=at
    )

    # Across tasks: one column per requirement name of the account's tasks, empty where a
    # submission's task has no such requirement.
    account_wide = _csv((await _get(api, "/export/submissions.csv", requester.key)).text)
    assert [c for c in account_wide[0] if c.startswith("response.")] == [
        "response.answer",
        "response.source",
        "response.photo",
    ]
    photo = next(r for r in account_wide if r["task_id"] == to_global_id("Task", other.id))
    assert (photo["response.photo"], photo["response.answer"]) == ("https://x/1.png", "")

    bad = await _get(
        api,
        "/export/submissions.csv",
        requester.key,
        taskId="nope",
        states="SUBMITTED,SLEEPING",
        submittedAfter="yesterday",
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "VALIDATION"
    assert {d["parameter"] for d in error["details"]} == {"taskId", "states", "submittedAfter"}
    naive = await _get(
        api, "/export/submissions.csv", requester.key, submittedAfter="2026-01-01T00:00:00"
    )
    assert naive.status_code == 400 and "offset" in naive.json()["error"]["message"]
    for path in ("/export/nothing.csv", "/export/submissions.xlsx"):
        missing = await _get(api, path, requester.key)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


async def test_who_may_download(api: Api, requester: Requester) -> None:
    task_id, _ = await _work(requester)
    path = "/export/submissions.csv"
    anonymous = await _get(api, path, None)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert (await _get(api, path, "cwk_not-a-key")).status_code == 401
    worker = await new_worker()
    refused = await _get(api, path, worker.key)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"

    # Every role reads, a viewer's read-only key too.
    viewer = await requester.member(MemberRole.VIEWER)
    read_only = await api_keys.create_api_key(viewer.principal, "wall", None, True)
    for key in (viewer.key, read_only.plain, await requester.member_key(MemberRole.AUDITOR)):
        answer = await _get(api, path, key, taskId=task_id)
        assert answer.status_code == 200 and len(_csv(answer.text)) == 2

    # Another account: A's task names nothing, and its own export holds none of A's work.
    other = await new_requester()
    of_a = await _get(api, path, other.key, taskId=task_id, states=",".join(ALL_STATES))
    assert of_a.status_code == 200 and _csv(of_a.text) == []
    assert of_a.text == (await _get(api, path, other.key, taskId=to_global_id("Task", 10**15))).text
    assert "answer" not in (await _get(api, path, other.key, states=",".join(ALL_STATES))).text


async def _link(api: Api, key: str, **input: Any) -> dict[str, Any]:
    body = await api.post(LINK, {"input": input}, key=key)
    assert "errors" not in body, body
    return dict(body["data"]["createExportLink"])


async def test_a_link_downloads_without_a_key_for_five_minutes(
    api: Api, requester: Requester
) -> None:
    task_id, _ = await _work(requester)
    with frozen_clock() as clock:
        made = await _link(api, requester.key, format="JSONL", filter={"taskId": task_id})
        assert made["userErrors"] == []
        assert made["url"] == "http://test" + made["path"]
        assert made["path"].startswith("/export/links/cwx_")
        by_link = await api.client.get(made["path"])
        assert by_link.status_code == 200
        assert by_link.headers["referrer-policy"] == "no-referrer"
        by_key = await _get(api, "/export/submissions.jsonl", requester.key, taskId=task_id)
        assert by_link.text == by_key.text and len(_jsonl(by_link.text)) == 2
        # Only a hash is stored.
        secret = made["path"].removeprefix("/export/links/")
        assert not await ExportLink.exists(token_hash=secret)
        assert await ExportLink.exists(token_hash=api_keys.hash_key(secret))

        clock.advance(timedelta(minutes=4, seconds=59))
        assert (await api.client.get(made["path"])).status_code == 200
        clock.advance(timedelta(seconds=1))
        expired = await api.client.get(made["path"])
        assert expired.status_code == 404 and expired.json()["error"]["code"] == "NOT_FOUND"

    for wrong in ("cwx_" + "A" * 43, "nothing", made["path"][-5:]):
        answer = await api.client.get("/export/links/" + wrong)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


async def test_a_link_stops_with_its_key_or_its_member(api: Api, requester: Requester) -> None:
    task_id, _ = await _work(requester)
    manager = await requester.member(MemberRole.MANAGER)
    second = await api_keys.create_api_key(manager.principal, "second", None, False)
    by_first = await _link(api, manager.key, filter={"taskId": task_id})
    by_second = await _link(api, second.plain, filter={"taskId": task_id})
    assert (await api.client.get(by_first["path"])).status_code == 200

    await api_keys.revoke_api_key(manager.principal, manager.principal.api_key_id)
    assert (await api.client.get(by_first["path"])).status_code == 404
    assert (await api.client.get(by_second["path"])).status_code == 200

    await members.remove_member(requester.principal, manager.principal.member_id)
    assert (await api.client.get(by_second["path"])).status_code == 404


async def test_the_link_mutation_follows_the_conventions(api: Api, requester: Requester) -> None:
    bad = await _link(
        api, requester.key, filter={"taskId": to_global_id("Worker", 1), "states": []}
    )
    assert bad["url"] is None
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [
        (["input", "filter", "taskId"], "VALIDATION")
    ]
    answered = await api.post(LINK, {"input": {}}, key=requester.key)
    assert answered["extensions"]["cost"]["requestedQueryCost"] >= 10
    assert (await api.post(LINK, {"input": {}}))["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    worker = await new_worker()
    refused = await api.post(LINK, {"input": {}}, key=worker.key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_read_only_key_makes_links_and_nothing_else(api: Api, requester: Requester) -> None:
    task_id, _ = await _work(requester)
    read_only = await api_keys.create_api_key(requester.principal, "wall", None, True)
    made = await _link(api, read_only.plain, filter={"taskId": task_id})
    assert made["userErrors"] == []
    assert len(_csv((await api.client.get(made["path"])).text)) == 2
    # The exception is that mutation alone: beside another, or aliased to hide one, refused.
    for document in (
        'mutation { createExportLink(input: {}) { path } createProject(input: {name: "x"}) '
        "{ project { id } } }",
        'mutation { createExportLink: createProject(input: {name: "x"}) { project { id } } }',
        "mutation { ...F } fragment F on Mutation { createExportLink(input: {}) { path } }",
    ):
        body = await api.post(document, key=read_only.plain)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        assert body["data"] is None
    before = await ExportLink.filter(account_id=requester.account_id).count()
    assert before == 1


async def test_a_download_over_a_keys_whole_budget_is_refused_for_good_not_told_to_wait(
    database: Settings, requester: Requester
) -> None:
    async with app_with(database, key_rate_limits={requester.key[:12]: DOWNLOAD_COST - 1}) as api:
        refused = await _get(api, "/export/submissions.csv", requester.key)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["code"] == "COST_LIMIT_EXCEEDED"
        assert "no wait lets it through" in error["message"]
        assert "retry-after" not in refused.headers


async def test_downloads_spend_their_keys_rate_limit_and_are_refused_past_it(
    database: Settings, requester: Requester
) -> None:
    # A budget of two downloads and a little: making a link spends from it too, and a
    # link's download spends from the key that made it.
    budget = 2 * DOWNLOAD_COST + 60
    async with app_with(database, key_rate_limits={requester.key[:12]: budget}) as api:
        linked = await api.post(LINK, {"input": {"format": "CSV"}}, key=requester.key)
        made = linked["data"]["createExportLink"]
        first = await _get(api, "/export/submissions.csv", requester.key)
        by_link = await api.client.get(made["path"])
        assert (first.status_code, by_link.status_code) == (200, 200)
        asked = await api.post("{ rateLimit { limit remaining } }", key=requester.key)
        spent_on_graphql = sum(
            body["extensions"]["cost"]["requestedQueryCost"] for body in (linked, asked)
        )
        assert asked["data"]["rateLimit"]["limit"] == budget
        assert asked["data"]["rateLimit"]["remaining"] == (
            budget - 2 * DOWNLOAD_COST - spent_on_graphql
        )
        for path in ("/export/submissions.csv", "/export/audits/summary.csv", made["path"]):
            refused = await _get(api, path, requester.key if "links" not in path else None)
            assert refused.status_code == 429, path
            error = refused.json()["error"]
            assert error["code"] == "RATE_LIMITED"
            assert error["retryAfterSeconds"] >= 1
            assert refused.headers["retry-after"] == str(error["retryAfterSeconds"])
