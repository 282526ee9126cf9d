"""Live streams end to end: a real `gql-server serve`, mutations over HTTP, and dashboards
subscribed with the gql client over graphql-transport-ws."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
import websockets
from gql.transport.exceptions import TransportQueryError

from gql_server.models import Batch
from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.services.accounts import register_worker
from gql_server.settings import Settings
from tests.conftest import AccountFixture
from tests.server import Http, LiveClient, running_server, ws_url
from tests.tasks.test_create_task import CREATE_PROJECT, _valid

FIGURES = "figures { budget { amount } committed { amount } spent { amount } remaining { amount } }"
BUDGET = (
    "subscription ($t: ID, $r: Int) { budget(taskId: $t, resumeFrom: $r) { version snapshot "
    f"taskId status balance {{ amount }} {FIGURES} changes {{ cause taskId }} }} }}"
)
QUEUE = (
    "subscription ($t: ID, $r: Int) { reviewQueue(taskId: $t, resumeFrom: $r) { version "
    "snapshot taskId length changes { kind submissionId taskId } } }"
)
TASK_EVENTS = (
    "subscription ($t: ID!) { taskEvents(taskId: $t) { version snapshot taskId status "
    "closeReason changes { kind closeReason } } }"
)
LOCK = "submissionId taskId holderId fencingToken"
LOCKS = (
    "subscription ($t: ID, $b: ID) { auditLocks(taskId: $t, batchId: $b) { version snapshot "
    f"taskId batchId heldCount locks {{ {LOCK} }} changes {{ kind lock {{ {LOCK} }} }} }} }}"
)


@pytest.fixture(scope="module")
def server(database: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"DATABASE_URL": database.database_url, "GQL_BACKGROUND_IN_PROCESS": "false"}
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    with running_server(env, cwd=tmp_path_factory.mktemp("server")) as base:
        yield base


@pytest_asyncio.fixture
async def http(server: str) -> AsyncIterator[Http]:
    client = Http(server)
    try:
        yield client
    finally:
        await client.client.aclose()


def figures(message: dict[str, Any]) -> tuple[str, str, str, str]:
    f = message["figures"]
    return (
        f["budget"]["amount"],
        f["committed"]["amount"],
        f["spent"]["amount"],
        f["remaining"]["amount"],
    )


class Requester:
    """The requester's side, over HTTP."""

    def __init__(self, http: Http, key: str) -> None:
        self.http = http
        self.key = key

    async def mutate(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        data = await self.http.data(document, variables, key=self.key)
        (payload,) = data.values()
        return payload

    async def draft_task(self, **changes: Any) -> str:
        """A DRAFT task of a funded account (100.00 more on each call)."""
        await self.mutate(
            'mutation ($k: String) { fundAccount(input: {amount: "100.00", idempotencyKey: $k})'
            " { userErrors { code } } }",
            {"k": uuid.uuid4().hex},
        )
        project = await self.mutate(CREATE_PROJECT, {"name": f"Live {uuid.uuid4().hex[:6]}"})
        created = await self.mutate(
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } "
            "userErrors { field code } } }",
            {"input": _valid(project["project"]["id"], **{"targeting": {}, **changes})},
        )
        assert created["userErrors"] == [], created
        return str(created["task"]["id"])

    async def task_action(self, name: str, task_id: str) -> None:
        payload = await self.mutate(
            f"mutation ($t: ID!) {{ {name}(input: {{taskId: $t}}) {{ userErrors {{ code }} }} }}",
            {"t": task_id},
        )
        assert payload["userErrors"] == [], payload

    async def review(self, name: str, submission_id: str, extra: str = "") -> list[Any]:
        payload = await self.mutate(
            f"mutation ($s: ID!) {{ {name}(input: {{submissionId: $s{extra}}}) "
            "{ userErrors { code } } }",
            {"s": submission_id},
        )
        return list(payload["userErrors"])


async def start_and_submit(http: Http, worker: str, task_id: str, *, submit: bool = True) -> str:
    started = await http.data(
        "mutation ($t: ID!) { startSubmission(input: {taskId: $t}) { submission { id } "
        "userErrors { code message } } }",
        {"t": task_id},
        key=worker,
    )
    submission = started["startSubmission"]["submission"]
    assert submission is not None, started
    if submit:
        sent = await http.data(
            "mutation ($s: ID!) { submitSubmission(input: {submissionId: $s, response: "
            '[{name: "screenshot", value: "https://img.example/1.png"}]}) { userErrors { code } } }',
            {"s": submission["id"]},
            key=worker,
        )
        assert sent["submitSubmission"]["userErrors"] == []
    return str(submission["id"])


async def new_worker() -> str:
    return (await register_worker(name="Live Worker", country="DE")).api_key


async def test_a_budget_dashboard_sees_each_money_change_in_order(
    server: str, http: Http, account: AccountFixture
) -> None:
    owner = Requester(http, account.owner_key)
    task_id = await owner.draft_task()
    first_worker, second_worker = await new_worker(), await new_worker()
    async with LiveClient(server, account.owner_key) as live:
        task_stream = live.subscribe(BUDGET, {"t": task_id})
        account_stream = live.subscribe(BUDGET)
        snapshot = (await task_stream.next())["budget"]
        assert snapshot["snapshot"] is True
        assert snapshot["status"] == "DRAFT"
        assert snapshot["taskId"] == task_id and snapshot["balance"] is None
        assert figures(snapshot) == ("0.00", "0.00", "0.00", "0.00")
        whole = (await account_stream.next())["budget"]
        assert whole["snapshot"] is True and whole["taskId"] is None and whole["status"] is None
        balance = whole["balance"]["amount"]

        await owner.task_action("publishTask", task_id)
        approved_one = await start_and_submit(http, first_worker, task_id)
        assert await owner.review("approveSubmission", approved_one) == []
        rejected_one = await start_and_submit(http, second_worker, task_id)
        assert await owner.review("rejectSubmission", rejected_one, ', feedback: "No."') == []
        assert await owner.review("payBonus", approved_one, ', amount: "0.50"') == []
        # A bonus the budget cannot cover fails, rolls back, and publishes nothing.
        too_much = await owner.review("payBonus", approved_one, ', amount: "99.00"')
        assert too_much == [{"code": "INSUFFICIENT_FUNDS"}]
        await owner.task_action("closeTask", task_id)

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
        assert [figures(m) for m in seen] == [
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
        assert figures(totals[-1])[2] == f"{float(figures(whole)[2]) + 2:.2f}"


async def test_the_review_queue_sees_submissions_arrive_and_leave(
    server: str, http: Http, account: AccountFixture
) -> None:
    owner = Requester(http, account.owner_key)
    task_id = await owner.draft_task()
    await owner.task_action("publishTask", task_id)
    async with LiveClient(server, account.owner_key) as live:
        task_queue = live.subscribe(QUEUE, {"t": task_id})
        account_queue = live.subscribe(QUEUE)
        assert (await task_queue.next())["reviewQueue"]["length"] == 0
        assert (await account_queue.next())["reviewQueue"]["taskId"] is None

        first = await start_and_submit(http, await new_worker(), task_id)
        second = await start_and_submit(http, await new_worker(), task_id)
        assert await owner.review("approveSubmission", first) == []
        assert await owner.review("requestRevision", second, ', feedback: "Sharper, please."') == []

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
    server: str, http: Http, account: AccountFixture
) -> None:
    owner = Requester(http, account.owner_key)
    task_id = await owner.draft_task()
    viewer = await account.member_key(MemberRole.VIEWER)
    async with LiveClient(server, viewer) as live:
        events = live.subscribe(TASK_EVENTS, {"t": task_id})
        first = (await events.next())["taskEvents"]
        assert (first["snapshot"], first["status"], first["changes"]) == (True, "DRAFT", [])
        for action in ("publishTask", "pauseTask", "resumeTask", "closeTask"):
            await owner.task_action(action, task_id)
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
    server: str, http: Http, account: AccountFixture
) -> None:
    owner = Requester(http, account.owner_key)
    batch = await Batch.create(account_id=account.account_id, name=f"B {uuid.uuid4().hex[:6]}")
    batch_id = to_global_id("Batch", batch.id)
    task_id = await owner.draft_task(batchId=batch_id)
    await owner.task_action("publishTask", task_id)
    submission = await start_and_submit(http, await new_worker(), task_id)
    assert await owner.review("approveSubmission", submission) == []
    auditor = await account.member_key(MemberRole.AUDITOR)
    me = await http.data("{ me { ... on Member { id } } }", key=auditor)
    auditor_id = me["me"]["id"]

    async with LiveClient(server, account.owner_key) as live:
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
    server: str, http: Http, account: AccountFixture
) -> None:
    owner = Requester(http, account.owner_key)
    task_id = await owner.draft_task()
    async with LiveClient(server, account.owner_key) as live:
        last_seen = (await live.subscribe(BUDGET, {"t": task_id}).next())["budget"]["version"]

    # While nobody listens: publish and a start.
    await owner.task_action("publishTask", task_id)
    submission = await start_and_submit(http, await new_worker(), task_id)

    async with LiveClient(server, account.owner_key) as live:
        resumed = live.subscribe(BUDGET, {"t": task_id, "r": last_seen})
        missed = [(await resumed.next())["budget"] for _ in range(2)]
        assert [(m["version"], m["snapshot"]) for m in missed] == [
            (last_seen + 1, False),
            (last_seen + 2, False),
        ]
        assert [m["changes"][0]["cause"] for m in missed] == ["PUBLISHED", "STARTED"]
        # Then it goes on live.
        assert await owner.review("approveSubmission", submission) == []
        live_one = (await resumed.next())["budget"]
        assert (live_one["version"], live_one["changes"][0]["cause"]) == (
            last_seen + 3,
            "APPROVED",
        )

        # A version the stream never reached cannot be resumed from: a snapshot instead.
        unknown = live.subscribe(BUDGET, {"t": task_id, "r": 10**6})
        fresh = (await unknown.next())["budget"]
        assert (fresh["snapshot"], fresh["version"]) == (True, last_seen + 3)
        assert figures(fresh) == ("30.00", "0.00", "1.50", "28.50")


# --- access -----------------------------------------------------------------------------


async def _refused(live: LiveClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(TransportQueryError) as refused:
        await live.subscribe(document, variables).next()
    assert refused.value.errors, refused.value
    return dict(refused.value.errors[0])


async def test_another_accounts_streams_are_an_error_not_an_empty_stream(
    server: str, http: Http, account: AccountFixture, other_account: AccountFixture
) -> None:
    theirs = await Requester(http, other_account.owner_key).draft_task()
    async with LiveClient(server, account.owner_key) as live:
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


async def test_workers_may_not_follow_streams(server: str, account: AccountFixture) -> None:
    async with LiveClient(server, await new_worker()) as live:
        error = await _refused(live, BUDGET, {})
    assert error["extensions"]["code"] == "FORBIDDEN"


# --- the protocol -----------------------------------------------------------------------


async def _closed_with(socket: websockets.ClientConnection) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def _init(key: str) -> str:
    return json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})


def _subscribe(operation_id: str, document: str = BUDGET) -> str:
    return json.dumps(
        {"id": operation_id, "type": "subscribe", "payload": {"query": document, "variables": {}}}
    )


async def test_connection_init_without_a_key_is_refused(server: str) -> None:
    for payload in ({}, {"Authorization": ""}, {"Authorization": "Basic abc"}):
        async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert await _closed_with(ws) == 4403


async def test_subscribing_before_the_ack_closes_the_connection(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_subscribe("1"))
        assert await _closed_with(ws) == 4401


async def test_a_duplicate_operation_id_closes_the_connection(
    server: str, account: AccountFixture
) -> None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_init(account.owner_key))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(_subscribe("same"))
        first = json.loads(await ws.recv())
        assert (first["id"], first["type"]) == ("same", "next")
        await ws.send(_subscribe("same"))
        assert await _closed_with(ws) == 4409


async def test_the_subscription_cap_refuses_one_more(server: str, account: AccountFixture) -> None:
    from gql_server.app import MAX_SUBSCRIPTIONS_PER_CONNECTION as CAP

    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(_init(account.owner_key))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for n in range(CAP):
            await ws.send(_subscribe(str(n)))
        started = {json.loads(await ws.recv())["id"] for _ in range(CAP)}
        assert started == {str(n) for n in range(CAP)}
        await ws.send(_subscribe("one-more"))
        refused = json.loads(await ws.recv())
        assert refused["id"] == "one-more" and refused["type"] == "error"
        assert refused["payload"][0]["message"] == "Subscription limit reached"
        # Completing one makes room again.
        await ws.send(json.dumps({"id": "0", "type": "complete"}))
        await ws.send(_subscribe("room"))
        assert json.loads(await ws.recv()) | {"payload": None} == {
            "id": "room",
            "type": "next",
            "payload": None,
        }
