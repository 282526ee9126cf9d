"""Audits and callbacks through GraphQL and the CSV export, as auditors and partners use them."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.services import accounts, submissions
from tests.factories import Requester, answer, new_requester, new_task, new_worker
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")

START = """mutation ($id: ID!) { startAudit(input: {submissionId: $id}) {
  lock { fencingToken heldByMe held expiresAt holder { name } }
  userErrors { field code message } } }"""
SUBMIT = """mutation ($input: SubmitAuditInput!) { submitAudit(input: $input) {
  audit { id outcome comments correctedResponse { name value } auditor { role } }
  submission { auditStatus auditCount auditComments response { name value }
               priorResponses { name value } auditLock { held } }
  userErrors { field code message } } }"""


async def key_for(requester: Requester, role: MemberRole) -> str:
    credential = await accounts.add_member(
        account_id=requester.account_id,
        name=f"{role.value.title()} {uuid.uuid4().hex[:4]}",
        email=f"{uuid.uuid4().hex}@example.test",
        role=role,
    )
    return credential.api_key


async def approved(requester: Requester, count: int, **task: Any) -> tuple[str, list[str]]:
    """The task's id and the ids of `count` approved submissions of it."""
    created = await new_task(requester, budget=f"{count}.00", **task)
    ids = []
    for n in range(count):
        worker = await new_worker()
        started = await submissions.start_submission(worker, created.id)
        await submissions.submit_submission(worker, started.id, answer(f"answer {n}"))
        await submissions.approve_submission(requester.principal, started.id)
        ids.append(to_global_id("Submission", started.id))
    return to_global_id("Task", created.id), ids


async def test_an_auditor_locks_fixes_and_the_trail_is_readable(api: Api) -> None:
    requester = await new_requester()
    _, [submission] = await approved(requester, 1)
    auditor = await key_for(requester, MemberRole.AUDITOR)
    colleague = await key_for(requester, MemberRole.AUDITOR)

    lock = (await api.data(START, {"id": submission}, key=auditor))["startAudit"]["lock"]
    assert lock["heldByMe"] and lock["held"] and lock["fencingToken"] == 1

    other = (await api.data(START, {"id": submission}, key=colleague))["startAudit"]
    assert other["lock"] is None
    assert [e["code"] for e in other["userErrors"]] == ["LOCKED"]

    seen = await api.data(
        "query ($id: ID!) { submission(id: $id) { auditLock { heldByMe holder { name } } } }",
        {"id": submission},
        key=colleague,
    )
    assert seen["submission"]["auditLock"]["heldByMe"] is False
    assert seen["submission"]["auditLock"]["holder"]["name"].startswith("Auditor")

    fixed = await api.data(
        SUBMIT,
        {
            "input": {
                "submissionId": submission,
                "fencingToken": 1,
                "outcome": "FIXED",
                "comments": "Spelling.",
                "correctedResponse": [{"name": "answer", "value": "fixed answer"}],
            }
        },
        key=auditor,
    )
    payload = fixed["submitAudit"]
    assert payload["userErrors"] == []
    assert payload["audit"]["outcome"] == "FIXED"
    assert payload["audit"]["auditor"]["role"] == "AUDITOR"
    assert payload["submission"] == {
        "auditStatus": "FIXED",
        "auditCount": 1,
        "auditComments": ["Spelling."],
        "response": [{"name": "answer", "value": "fixed answer"}],
        "priorResponses": [[{"name": "answer", "value": "answer 0"}]],
        "auditLock": None,
    }
    node = await api.data(
        "query ($id: ID!) { node(id: $id) { ... on Audit { outcome submission { id } } } }",
        {"id": payload["audit"]["id"]},
        key=colleague,
    )
    assert node["node"] == {"outcome": "FIXED", "submission": {"id": submission}}

    stale = await api.data(
        SUBMIT,
        {"input": {"submissionId": submission, "fencingToken": 1, "outcome": "ACCEPTED"}},
        key=auditor,
    )
    assert [e["code"] for e in stale["submitAudit"]["userErrors"]] == ["STALE_LOCK"]


async def test_viewers_read_reports_but_cannot_audit_and_accounts_stay_apart(api: Api) -> None:
    requester = await new_requester()
    _, [submission] = await approved(requester, 1)
    viewer = await key_for(requester, MemberRole.VIEWER)
    refused = await api.post(START, {"id": submission}, key=viewer)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    report = await api.data("{ auditReport { completedCount auditedCount } }", key=viewer)
    assert report["auditReport"] == {"completedCount": 1, "auditedCount": 0}

    stranger = await key_for(await new_requester(), MemberRole.AUDITOR)
    foreign = (await api.data(START, {"id": submission}, key=stranger))["startAudit"]
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]
    assert (await api.data("{ auditReport { completedCount } }", key=stranger))["auditReport"][
        "completedCount"
    ] == 0


async def test_a_sample_and_the_reports(api: Api) -> None:
    requester = await new_requester()
    task_id, _ = await approved(requester, 4)
    auditor = await key_for(requester, MemberRole.AUDITOR)
    sample = await api.data(
        """mutation ($task: ID!) { startAuditSample(input: {filter: {taskId: $task,
             auditStatus: NEVER_AUDITED}, count: 3, leaseSeconds: 120}) {
             locks { fencingToken submission { id } } userErrors { code } } }""",
        {"task": task_id},
        key=auditor,
    )
    locks = sample["startAuditSample"]["locks"]
    assert len(locks) == 3 and len({lock["submission"]["id"] for lock in locks}) == 3
    for lock, outcome in zip(locks, ["ACCEPTED", "REJECTED", "ACCEPTED"], strict=True):
        done = await api.data(
            SUBMIT,
            {
                "input": {
                    "submissionId": lock["submission"]["id"],
                    "fencingToken": lock["fencingToken"],
                    "outcome": outcome,
                    "comments": "Not what was asked." if outcome == "REJECTED" else "",
                }
            },
            key=auditor,
        )
        assert done["submitAudit"]["userErrors"] == []

    report = await api.data(
        """query ($task: ID!) { auditReport(filter: {taskId: $task}) {
             completedCount auditedCount defectiveCount defectRate
             defectRateInterval { low high }
             counts { audits accepted fixed rejected } }
           auditWeeks(filter: {taskId: $task}) { weekStart completedCount auditedCount }
           auditorQuality(filter: {taskId: $task}) { auditor { role } submissionsAudited
             counts { audits rejected } }
           completedSubmissions(filter: {taskId: $task, auditStatus: AUDITED}, first: 10) {
             totalCount edges { node { completedAt audits { auditor { name } createdAt } } } } }""",
        {"task": task_id},
        key=auditor,
    )
    summary = report["auditReport"]
    assert summary["completedCount"] == 4 and summary["auditedCount"] == 3
    assert summary["defectiveCount"] == 1
    assert summary["defectRate"] == pytest.approx(33.33)
    assert summary["defectRateInterval"]["low"] < 33.33 < summary["defectRateInterval"]["high"]
    assert summary["counts"] == {"audits": 3, "accepted": 2, "fixed": 0, "rejected": 1}
    assert len(report["auditWeeks"]) == 4
    assert report["auditorQuality"] == [
        {
            "auditor": {"role": "AUDITOR"},
            "submissionsAudited": 3,
            "counts": {"audits": 3, "rejected": 1},
        }
    ]
    listed = report["completedSubmissions"]
    assert listed["totalCount"] == 3
    assert all(edge["node"]["completedAt"] and edge["node"]["audits"] for edge in listed["edges"])

    response = await api.client.get(
        "/export/audits/summary.csv",
        params={"taskId": task_id},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert (row["completed"], row["audited"], row["defective"], row["rejected"]) == (
        "4",
        "3",
        "1",
        "1",
    )
    per_submission = await api.client.get(
        "/export/audits/submissions.csv",
        params={"taskId": task_id, "auditStatus": "AUDITED"},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    rows = list(csv.DictReader(io.StringIO(per_submission.text)))
    assert len(rows) == 3 and all(r["last_auditor_name"].startswith("Auditor") for r in rows)

    bad = await api.client.get(
        "/export/audits/summary.csv",
        params={"completedFrom": "yesterday"},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION"
    anonymous = await api.client.get("/export/audits/summary.csv")
    assert anonymous.status_code == 401


async def test_partners_see_every_attempt_and_can_ask_for_redelivery(api: Api) -> None:
    requester = await new_requester()
    _, [submission] = await approved(requester, 1, callback_url="https://partner.example/hooks")
    manager = await key_for(requester, MemberRole.MANAGER)
    events = await api.data(
        """query ($id: ID!) { callbackEvents(filter: {submissionId: $id}, first: 10) {
             edges { node { id type status webhookId body deliveries { attempt } } } }
           webhookEndpoints { url signingSecret disabledAt } }""",
        {"id": submission},
        key=manager,
    )
    nodes = [edge["node"] for edge in events["callbackEvents"]["edges"]]
    assert sorted(n["type"] for n in nodes) == ["submission.reviewed", "submission.submitted"]
    assert all(n["status"] == "PENDING" and n["webhookId"].startswith("msg_") for n in nodes)
    [endpoint] = events["webhookEndpoints"]
    assert endpoint["url"] == "https://partner.example/hooks"
    assert endpoint["signingSecret"].startswith("whsec_")

    again = await api.data(
        "mutation ($id: ID!) { redeliverCallbackEvent(input: {eventId: $id}) { event { status } userErrors { code } } }",
        {"id": nodes[0]["id"]},
        key=manager,
    )
    assert again["redeliverCallbackEvent"] == {"event": {"status": "PENDING"}, "userErrors": []}

    auditor = await key_for(requester, MemberRole.AUDITOR)
    hidden = await api.post("{ callbackEvents(first: 1) { totalCount } }", key=auditor)
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_account_callback_url_is_checked_and_used_without_a_task_url(api: Api) -> None:
    requester = await new_requester()
    owner = await key_for(requester, MemberRole.OWNER)
    mutation = """mutation ($url: String) { setAccountCallbackUrl(input: {callbackUrl: $url}) {
        account { callbackUrl } userErrors { field code } } }"""
    refused = await api.data(mutation, {"url": "ftp://partner.example/x"}, key=owner)
    assert refused["setAccountCallbackUrl"]["userErrors"] == [
        {"field": ["input", "callbackUrl"], "code": "VALIDATION"}
    ]
    saved = await api.data(mutation, {"url": "https://partner.example/all"}, key=owner)
    assert saved["setAccountCallbackUrl"]["account"]["callbackUrl"] == "https://partner.example/all"
    _, [submission] = await approved(requester, 1)
    manager = await key_for(requester, MemberRole.MANAGER)
    events = await api.data(
        "query ($id: ID!) { callbackEvents(filter: {submissionId: $id}) { totalCount } }",
        {"id": submission},
        key=manager,
    )
    assert events["callbackEvents"]["totalCount"] == 2
