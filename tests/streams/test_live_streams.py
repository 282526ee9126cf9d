"""Live streams end to end: a real `gql-server serve` shared by the module, mutations over
HTTP, and dashboards subscribed with the gql client over graphql-transport-ws: budgets,
the review queue, task events, audit locks, resuming, and who may follow what."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from gql_server.models import Batch
from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from tests.factories import (
    Requester,
    api_funded_draft,
    api_review,
    api_start_and_submit,
    api_task_action,
    figures_of,
    new_worker,
)
from tests.server import Http, LiveClient
from tests.streams.documents import BUDGET, LOCKS, QUEUE, TASK_EVENTS


async def test_a_budget_dashboard_sees_each_money_change_in_order(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_funded_draft(http, owner)
    first_worker, second_worker = (await new_worker()).key, (await new_worker()).key
    async with LiveClient(server, account.key) as live:
        task_stream = live.subscribe(BUDGET, {"t": task_id})
        account_stream = live.subscribe(BUDGET)
        snapshot = (await task_stream.next())["budget"]
        assert snapshot["snapshot"] is True
        assert snapshot["status"] == "DRAFT"
        assert snapshot["taskId"] == task_id and snapshot["balance"] is None
        assert figures_of(snapshot) == ("0.00", "0.00", "0.00", "0.00")
        whole = (await account_stream.next())["budget"]
        assert whole["snapshot"] is True and whole["taskId"] is None and whole["status"] is None
        balance = whole["balance"]["amount"]

        await api_task_action(http, owner, "publishTask", task_id)
        approved_one = await api_start_and_submit(http, first_worker, task_id)
        assert await api_review(http, owner, "approveSubmission", approved_one) == []
        rejected_one = await api_start_and_submit(http, second_worker, task_id)
        assert (
            await api_review(http, owner, "rejectSubmission", rejected_one, ', feedback: "No."')
            == []
        )
        assert await api_review(http, owner, "payBonus", approved_one, ', amount: "0.50"') == []
        # A bonus the budget cannot cover fails, rolls back, and publishes nothing.
        too_much = await api_review(http, owner, "payBonus", approved_one, ', amount: "99.00"')
        assert too_much == [{"code": "INSUFFICIENT_FUNDS"}]
        await api_task_action(http, owner, "closeTask", task_id)

        seen = [(await task_stream.next())["budget"] for _ in range(7)]
        assert [m["version"] for m in seen] == list(
            range(snapshot["version"] + 1, snapshot["version"] + 8)
        )
        assert not any(m["snapshot"] for m in seen)
        assert [[c["cause"] for c in m["changes"]] for m in seen] == [
            ["PUBLISHED"],
            ["STARTED"],
            ["APPROVED"],
            ["STARTED"],
            ["REJECTED"],
            ["BONUS"],
            ["CLOSED"],
        ]
        assert [figures_of(m) for m in seen] == [
            ("30.00", "0.00", "0.00", "30.00"),
            ("30.00", "1.50", "0.00", "28.50"),
            ("30.00", "0.00", "1.50", "28.50"),
            ("30.00", "1.50", "1.50", "27.00"),
            ("30.00", "0.00", "1.50", "28.50"),
            ("30.00", "0.00", "2.00", "28.00"),
            ("2.00", "0.00", "2.00", "0.00"),
        ]
        assert [m["status"] for m in seen] == ["OPEN"] * 6 + ["CLOSED"]

        # The account's stream: its balance and the sums over its tasks, after each change.
        totals = [(await account_stream.next())["budget"] for _ in range(7)]
        assert [m["version"] for m in totals] == list(
            range(whole["version"] + 1, whole["version"] + 8)
        )
        assert totals[0]["changes"] == [{"cause": "PUBLISHED", "taskId": task_id}]
        assert totals[0]["balance"]["amount"] == f"{float(balance) - 30:.2f}"
        assert totals[-1]["balance"]["amount"] == f"{float(balance) - 2:.2f}"
        assert figures_of(totals[-1])[2] == f"{float(figures_of(whole)[2]) + 2:.2f}"


async def test_the_review_queue_sees_submissions_arrive_and_leave(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_funded_draft(http, owner)
    await api_task_action(http, owner, "publishTask", task_id)
    async with LiveClient(server, account.key) as live:
        task_queue = live.subscribe(QUEUE, {"t": task_id})
        account_queue = live.subscribe(QUEUE)
        assert (await task_queue.next())["reviewQueue"]["length"] == 0
        assert (await account_queue.next())["reviewQueue"]["taskId"] is None

        first = await api_start_and_submit(http, (await new_worker()).key, task_id)
        second = await api_start_and_submit(http, (await new_worker()).key, task_id)
        assert await api_review(http, owner, "approveSubmission", first) == []
        assert (
            await api_review(
                http, owner, "requestRevision", second, ', feedback: "Sharper, please."'
            )
            == []
        )

        seen = [(await task_queue.next())["reviewQueue"] for _ in range(4)]
        assert [(m["length"], m["changes"]) for m in seen] == [
            (1, [{"kind": "ADDED", "submissionId": first, "taskId": task_id}]),
            (2, [{"kind": "ADDED", "submissionId": second, "taskId": task_id}]),
            (1, [{"kind": "REMOVED", "submissionId": first, "taskId": task_id}]),
            (0, [{"kind": "REMOVED", "submissionId": second, "taskId": task_id}]),
        ]
        across = [(await account_queue.next())["reviewQueue"] for _ in range(4)]
        assert [m["changes"][0]["kind"] for m in across] == ["ADDED", "ADDED", "REMOVED", "REMOVED"]
        assert [m["version"] for m in across] == list(
            range(across[0]["version"], across[0]["version"] + 4)
        )


async def test_task_events_follow_the_lifecycle(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_funded_draft(http, owner)
    viewer = await account.member_key(MemberRole.VIEWER)
    async with LiveClient(server, viewer) as live:
        events = live.subscribe(TASK_EVENTS, {"t": task_id})
        first = (await events.next())["taskEvents"]
        assert (first["snapshot"], first["status"], first["changes"]) == (True, "DRAFT", [])
        for action in ("publishTask", "pauseTask", "resumeTask", "closeTask"):
            await api_task_action(http, owner, action, task_id)
        seen = [(await events.next())["taskEvents"] for _ in range(4)]
    assert [(m["status"], m["changes"]) for m in seen] == [
        ("OPEN", [{"kind": "OPENED", "closeReason": None}]),
        ("PAUSED", [{"kind": "PAUSED", "closeReason": None}]),
        ("OPEN", [{"kind": "RESUMED", "closeReason": None}]),
        ("CLOSED", [{"kind": "CLOSED", "closeReason": "MANUAL"}]),
    ]
    assert seen[-1]["closeReason"] == "MANUAL"
    assert [m["version"] for m in seen] == [1, 2, 3, 4]


async def test_audit_locks_are_seen_taken_renewed_and_released(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    batch = await Batch.create(account_id=account.account_id, name=f"B {uuid.uuid4().hex[:6]}")
    batch_id = to_global_id("Batch", batch.id)
    task_id = await api_funded_draft(http, owner, batchId=batch_id)
    await api_task_action(http, owner, "publishTask", task_id)
    submission = await api_start_and_submit(http, (await new_worker()).key, task_id)
    assert await api_review(http, owner, "approveSubmission", submission) == []
    auditor = await account.member_key(MemberRole.AUDITOR)
    me = await http.data("{ me { ... on Member { id } } }", key=auditor)
    auditor_id = me["me"]["id"]

    async with LiveClient(server, account.key) as live:
        by_task = live.subscribe(LOCKS, {"t": task_id})
        by_batch = live.subscribe(LOCKS, {"b": batch_id})
        assert (await by_task.next())["auditLocks"]["heldCount"] == 0
        assert (await by_batch.next())["auditLocks"]["batchId"] == batch_id

        taken = await http.data(
            "mutation ($s: ID!) { startAudit(input: {submissionId: $s}) { lock { fencingToken } "
            "userErrors { code } } }",
            {"s": submission},
            key=auditor,
        )
        token = taken["startAudit"]["lock"]["fencingToken"]
        for name in ("renewAuditLock", "releaseAuditLock"):
            done = await http.data(
                f"mutation ($s: ID!, $f: Int!) {{ {name}(input: {{submissionId: $s, "
                "fencingToken: $f}) { userErrors { code } } }",
                {"s": submission, "f": token},
                key=auditor,
            )
            assert done[name]["userErrors"] == []

        lock = {"submissionId": submission, "taskId": task_id, "fencingToken": token}
        for stream in (by_task, by_batch):
            seen = [(await stream.next())["auditLocks"] for _ in range(3)]
            assert [(m["heldCount"], m["changes"]) for m in seen] == [
                (1, [{"kind": "TAKEN", "lock": {**lock, "holderId": auditor_id}}]),
                (1, [{"kind": "RENEWED", "lock": {**lock, "holderId": auditor_id}}]),
                (0, [{"kind": "RELEASED", "lock": {**lock, "holderId": None}}]),
            ]
            assert seen[0]["locks"] == [{**lock, "holderId": auditor_id}]
            assert seen[-1]["locks"] == []


async def test_a_resumed_subscription_misses_nothing(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_funded_draft(http, owner)
    async with LiveClient(server, account.key) as live:
        last_seen = (await live.subscribe(BUDGET, {"t": task_id}).next())["budget"]["version"]

    # While nobody listens: publish and a start.
    await api_task_action(http, owner, "publishTask", task_id)
    submission = await api_start_and_submit(http, (await new_worker()).key, task_id)

    async with LiveClient(server, account.key) as live:
        resumed = live.subscribe(BUDGET, {"t": task_id, "r": last_seen})
        missed = [(await resumed.next())["budget"] for _ in range(2)]
        assert [(m["version"], m["snapshot"]) for m in missed] == [
            (last_seen + 1, False),
            (last_seen + 2, False),
        ]
        assert [m["changes"][0]["cause"] for m in missed] == ["PUBLISHED", "STARTED"]
        # Then it goes on live.
        assert await api_review(http, owner, "approveSubmission", submission) == []
        live_one = (await resumed.next())["budget"]
        assert (live_one["version"], live_one["changes"][0]["cause"]) == (
            last_seen + 3,
            "APPROVED",
        )

        # A version the stream never reached cannot be resumed from: a snapshot instead.
        unknown = live.subscribe(BUDGET, {"t": task_id, "r": 10**6})
        fresh = (await unknown.next())["budget"]
        assert (fresh["snapshot"], fresh["version"]) == (True, last_seen + 3)
        assert figures_of(fresh) == ("30.00", "0.00", "1.50", "28.50")


# --- access -----------------------------------------------------------------------------


async def _refused(live: LiveClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(TransportQueryError) as refused:
        await live.subscribe(document, variables).next()
    assert refused.value.errors, refused.value
    return dict(refused.value.errors[0])


async def test_another_accounts_streams_are_an_error_not_an_empty_stream(
    server: str, http: Http, account: Requester, other_account: Requester
) -> None:
    theirs = await api_funded_draft(http, other_account.key)
    async with LiveClient(server, account.key) as live:
        for document, variables in (
            (BUDGET, {"t": theirs}),
            (QUEUE, {"t": theirs}),
            (TASK_EVENTS, {"t": theirs}),
            (LOCKS, {"t": theirs}),
            (TASK_EVENTS, {"t": to_global_id("Task", 10**9)}),
            (TASK_EVENTS, {"t": "not-an-id"}),
        ):
            error = await _refused(live, document, variables)
            assert error["message"] == "Task not found."
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
        error = await _refused(live, LOCKS, {})
        assert error["extensions"]["userErrors"][0]["code"] == "VALIDATION"
        error = await _refused(live, BUDGET, {"r": -1})
        assert error["extensions"]["userErrors"][0]["field"] == ["resumeFrom"]
        # The connection is still good for the caller's own streams.
        assert (await live.subscribe(BUDGET).next())["budget"]["snapshot"] is True


async def test_workers_may_not_follow_streams(server: str, account: Requester) -> None:
    async with LiveClient(server, (await new_worker()).key) as live:
        error = await _refused(live, BUDGET, {})
    assert error["extensions"]["code"] == "FORBIDDEN"
