"""Audit outcomes: accepted, fixed and rejected build the trail and the callback body; a bad
decision is refused at its field and keeps the lock."""

from __future__ import annotations

import pytest

from gql_server.models import Audit, OutboxEvent, Submission
from gql_server.models.enums import AuditOutcome, MemberRole
from gql_server.services import audits
from gql_server.services.audits import AuditDecision
from gql_server.services.errors import ErrorCode
from tests.factories import Requester, expect_error, new_completed

pytestmark = pytest.mark.usefixtures("database")


async def test_accepted_then_fixed_then_rejected_builds_the_callback_body(
    requester: Requester,
) -> None:
    [submission] = await new_completed(requester, 1, callback_url="https://partner.example/hook")
    member = (await requester.member(MemberRole.AUDITOR)).principal

    async def audit(decision: AuditDecision) -> dict[str, object]:
        lock = await audits.start_audit(member, submission.id)
        await audits.submit_audit(member, submission.id, lock.fencing_token, decision)
        event = (
            await OutboxEvent.filter(submission_id=submission.id, event_type="submission.audited")
            .order_by("-id")
            .first()
        )
        assert event is not None
        assert event.payload["type"] == "submission.audited"
        return event.payload["data"]

    body = await audit(AuditDecision(AuditOutcome.ACCEPTED, "Looks right."))
    assert body["response"] == {"answer": "answer 0"}
    assert body["customer_review_status"] == "Accepted"
    assert body["customer_review_comments"] == ["Looks right."]
    assert body["prior_responses"] == []

    body = await audit(AuditDecision(AuditOutcome.FIXED, "Typo fixed.", {"answer": "a dog"}))
    assert body["response"] == {"answer": "a dog"}
    assert body["customer_review_status"] == "Fixed"
    assert body["customer_review_comments"] == ["Looks right.", "Typo fixed."]
    assert body["prior_responses"] == [{"answer": "answer 0"}]

    body = await audit(AuditDecision(AuditOutcome.REJECTED, "It is a wolf, not a dog."))
    assert body["response"] == {"answer": "a dog"}
    assert body["customer_review_status"] == "Rejected"
    assert body["customer_review_comments"] == [
        "Looks right.",
        "Typo fixed.",
        "It is a wolf, not a dog.",
    ]
    assert body["prior_responses"] == [{"answer": "answer 0"}]

    trail = await Audit.filter(submission_id=submission.id).order_by("created_at", "id")
    assert [a.outcome for a in trail] == [
        AuditOutcome.ACCEPTED,
        AuditOutcome.FIXED,
        AuditOutcome.REJECTED,
    ]
    stored = await Submission.get(id=submission.id)
    assert (stored.audit_count, stored.audit_status) == (3, AuditOutcome.REJECTED)


async def test_bad_decisions_are_refused_and_keep_the_lock(requester: Requester) -> None:
    [submission] = await new_completed(requester, 1)
    member = (await requester.member(MemberRole.AUDITOR)).principal
    lock = await audits.start_audit(member, submission.id)
    cases = [
        (AuditDecision(AuditOutcome.REJECTED, "  "), ("comments",)),
        (AuditDecision(AuditOutcome.FIXED, "fixed"), ("corrected_response",)),
        (
            AuditDecision(AuditOutcome.FIXED, "", {"answer": "x", "extra": "y"}),
            ("corrected_response", "extra"),
        ),
        (
            AuditDecision(AuditOutcome.FIXED, "", {"answer": ""}),
            ("corrected_response", "answer"),
        ),
        (
            AuditDecision(AuditOutcome.ACCEPTED, "", {"answer": "x"}),
            ("corrected_response",),
        ),
        (AuditDecision(AuditOutcome.ACCEPTED, "x" * 5001), ("comments",)),
    ]
    for decision, field in cases:
        error = await expect_error(
            ErrorCode.VALIDATION,
            audits.submit_audit(member, submission.id, lock.fencing_token, decision),
        )
        assert error.errors[0].field == field
    assert await Audit.filter(submission_id=submission.id).count() == 0
    # Still held: the auditor can fix the input and send again.
    await audits.submit_audit(
        member, submission.id, lock.fencing_token, AuditDecision(AuditOutcome.ACCEPTED)
    )
