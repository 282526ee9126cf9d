"""Audits through GraphQL and the CSV export, as auditors use them: locks, fixes and the
trail, who may audit or read, samples and the reports."""

from __future__ import annotations

import csv
import io

import pytest

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from tests.factories import Requester, new_completed, new_requester
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


async def test_an_auditor_locks_fixes_and_the_trail_is_readable(
    api: Api, requester: Requester
) -> None:
    [done] = await new_completed(requester, 1)
    submission = to_global_id("Submission", done.id)
    auditor = await requester.member_key(MemberRole.AUDITOR)
    colleague = await requester.member_key(MemberRole.AUDITOR)

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


async def test_viewers_read_reports_but_cannot_audit_and_accounts_stay_apart(
    api: Api, requester: Requester
) -> None:
    [done] = await new_completed(requester, 1)
    submission = to_global_id("Submission", done.id)
    viewer = await requester.member_key(MemberRole.VIEWER)
    refused = await api.post(START, {"id": submission}, key=viewer)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    report = await api.data("{ auditReport { completedCount auditedCount } }", key=viewer)
    assert report["auditReport"] == {"completedCount": 1, "auditedCount": 0}

    stranger = await (await new_requester()).member_key(MemberRole.AUDITOR)
    foreign = (await api.data(START, {"id": submission}, key=stranger))["startAudit"]
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]
    assert (await api.data("{ auditReport { completedCount } }", key=stranger))["auditReport"][
        "completedCount"
    ] == 0


async def test_a_sample_and_the_reports(api: Api, requester: Requester) -> None:
    work = await new_completed(requester, 4)
    task_id = to_global_id("Task", work[0].task_id)
    auditor = await requester.member_key(MemberRole.AUDITOR)
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
