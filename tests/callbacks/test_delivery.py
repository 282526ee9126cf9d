"""Callbacks: the outbox, signed delivery to a real local receiver, retries, and the SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpcore
import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Request, Response

from gql_server.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from gql_server.models.enums import OutboxStatus
from gql_server.services import callbacks, outbox, submissions
from gql_server.services.callback_guard import callback_client, refusal, resolve_public
from gql_server.services.callbacks import CallbackSender
from gql_server.services.errors import ErrorCode
from gql_server.services.events import unit_of_work
from gql_server.settings import Settings
from tests import REPO_ROOT
from tests.factories import (
    Requester,
    answer,
    expect_error,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


@pytest_asyncio.fixture(autouse=True)
async def only_this_tests_events(database: Settings) -> AsyncIterator[None]:
    # Other tests leave events for receivers that do not exist; they are not this test's.
    await OutboxEvent.filter(status=OutboxStatus.PENDING).update(status=OutboxStatus.FAILED)
    yield


class Receiver:
    """Answers with the given statuses in turn (the last one repeats) and keeps every request."""

    def __init__(self, server: HTTPServer, statuses: list[int], path: str = "/hook") -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], str]] = []
        self.url = server.url_for(path)
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data(as_text=True)))
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return Response("", status=status)


def sender(timeout: float = 5.0) -> CallbackSender:
    return CallbackSender(lambda: callback_client(allow_private=True, timeout_seconds=timeout))


async def reviewed_submission(requester: Requester, url: str) -> int:
    """Approve one submission of a task whose callback URL is `url`; return its id."""
    task = await new_task(requester, callback_url=url)
    worker = await new_worker()
    started = await submissions.start_submission(worker, task.id)
    await submissions.submit_submission(worker, started.id, answer())
    await submissions.approve_submission(requester.principal, started.id)
    return started.id


async def events_of(submission_id: int) -> list[OutboxEvent]:
    return await OutboxEvent.filter(submission_id=submission_id).order_by("id")


async def test_a_failing_receiver_gets_the_same_signed_event_until_it_succeeds(
    httpserver: HTTPServer,
) -> None:
    receiver = Receiver(httpserver, [500, 503, 200])
    requester = await new_requester()
    with frozen_clock() as clock:
        submission_id = await reviewed_submission(requester, receiver.url)
        submitted, reviewed = await events_of(submission_id)
        assert (submitted.event_type, reviewed.event_type) == (
            "submission.submitted",
            "submission.reviewed",
        )
        send = sender()
        assert await send.deliver_due() == 2  # submitted: 500; reviewed: 503
        for _ in range(20):
            if (await OutboxEvent.get(id=reviewed.id)).status == OutboxStatus.DELIVERED:
                break
            clock.advance(timedelta(minutes=5))
            await send.deliver_due()

    endpoint = await WebhookEndpoint.get(url=receiver.url, account_id=requester.account_id)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for headers, body in receiver.requests:
        verified = Webhook(endpoint.secret).verify(body, headers)
        by_id.setdefault(headers["Webhook-Id"], []).append(verified)
    assert set(by_id) == {submitted.message_id, reviewed.message_id}
    # Every attempt of one event is the same message: same id, same body.
    for bodies in by_id.values():
        assert all(b == bodies[0] for b in bodies)
    assert by_id[reviewed.message_id][0]["type"] == "submission.reviewed"
    assert by_id[reviewed.message_id][0]["data"]["state"] == "APPROVED"

    for event in (submitted, reviewed):
        stored = await OutboxEvent.get(id=event.id)
        assert stored.status == OutboxStatus.DELIVERED
        attempts = await WebhookDelivery.filter(event_id=event.id).order_by("attempt")
        assert [a.attempt for a in attempts] == list(range(1, len(attempts) + 1))
        assert attempts[-1].succeeded and attempts[-1].status_code == 200
        assert all(not a.succeeded and a.error for a in attempts[:-1])
        assert all(a.latency_ms is not None for a in attempts)
    attempts = await WebhookDelivery.filter(event_id__in=[submitted.id, reviewed.id]).order_by("id")
    assert [a.status_code for a in attempts][:3] == [500, 503, 200]


def test_retries_back_off_exponentially_with_jitter() -> None:
    rng = random.Random(7)
    delays = [callbacks.retry_delay(n, rng) for n in range(1, 16)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(callbacks.LONGEST_RETRY, callbacks.FIRST_RETRY * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({d.total_seconds() for d in delays[-5:]}) == 5  # jittered, not in lockstep


async def test_retries_stop_a_day_after_the_event(httpserver: HTTPServer) -> None:
    receiver = Receiver(httpserver, [500])
    requester = await new_requester()
    with frozen_clock() as clock:
        submission_id = await reviewed_submission(requester, receiver.url)
        send = sender()
        for _ in range(200):
            await send.deliver_due()
            clock.advance(timedelta(hours=1))
            if all(e.status == OutboxStatus.FAILED for e in await events_of(submission_id)):
                break
    for event in await events_of(submission_id):
        assert event.status == OutboxStatus.FAILED
        last = await WebhookDelivery.filter(event_id=event.id).order_by("-attempt").first()
        assert last is not None and last.created_at <= event.give_up_at
        assert event.attempts >= 10


async def test_a_rolled_back_transaction_sends_nothing(httpserver: HTTPServer) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, receiver.url)
    before = await OutboxEvent.all().count()
    with pytest.raises(RuntimeError):
        async with unit_of_work():
            await outbox.enqueue_submission_events(outbox.SUBMISSION_AUDITED, [submission_id])
            raise RuntimeError("the use case failed after writing its event")
    assert await OutboxEvent.all().count() == before
    await sender().deliver_due()
    assert [json.loads(body)["type"] for _, body in receiver.requests] == [
        "submission.submitted",
        "submission.reviewed",
    ]


async def test_a_sender_that_died_holding_a_claim_is_taken_over_after_the_claim_lapses(
    httpserver: HTTPServer,
) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    with frozen_clock() as clock:
        submission_id = await reviewed_submission(requester, receiver.url)
        # The first sender claims and dies before sending anything.
        claimed = await sender()._claim("dead-sender")
        assert len(claimed) == 2
        assert await sender().deliver_due() == 0
        clock.advance(callbacks.CLAIM_FOR)
        assert await sender().deliver_due() == 2
    assert len(receiver.requests) == 2
    assert all(e.status == OutboxStatus.DELIVERED for e in await events_of(submission_id))


async def test_concurrent_senders_never_send_one_event_twice(httpserver: HTTPServer) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    task = await new_task(requester, callback_url=receiver.url, budget="12.00")
    for _ in range(12):
        worker = await new_worker()
        started = await submissions.start_submission(worker, task.id)
        await submissions.submit_submission(worker, started.id, answer())
    senders = [CallbackSender(sender()._client_factory, batch_size=3) for _ in range(4)]
    for _ in range(10):
        if not sum(await asyncio.gather(*(s.deliver_due() for s in senders))):
            break
    ids = [headers["Webhook-Id"] for headers, _ in receiver.requests]
    assert len(ids) == 12
    assert len(set(ids)) == 12


async def test_gone_disables_the_endpoint_and_redelivery_waits_for_it(
    httpserver: HTTPServer,
) -> None:
    receiver = Receiver(httpserver, [410, 200])
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, receiver.url)
    await sender().deliver_due()
    assert len(receiver.requests) == 1
    endpoint = await WebhookEndpoint.get(account_id=requester.account_id, url=receiver.url)
    assert endpoint.disabled_at is not None
    events = await events_of(submission_id)
    assert [e.status for e in events] == [OutboxStatus.DISABLED, OutboxStatus.DISABLED]

    await expect_error(
        ErrorCode.INVALID_STATE, callbacks.redeliver_event(requester.principal, events[1].id)
    )
    await callbacks.enable_endpoint(requester.principal, endpoint.id)
    again = await callbacks.redeliver_event(requester.principal, events[1].id)
    assert again.status == OutboxStatus.PENDING
    await sender().deliver_due()
    assert len(receiver.requests) == 2
    assert receiver.requests[1][0]["Webhook-Id"] == events[1].message_id
    assert (await OutboxEvent.get(id=events[1].id)).status == OutboxStatus.DELIVERED


async def test_redirects_are_not_followed(httpserver: HTTPServer) -> None:
    target = Receiver(httpserver, [200], path="/elsewhere")
    httpserver.expect_request("/moved", method="POST").respond_with_response(
        Response("", status=307, headers={"Location": target.url})
    )
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, httpserver.url_for("/moved"))
    await sender().deliver_due()
    assert target.requests == []
    attempt = await WebhookDelivery.filter(event_id=(await events_of(submission_id))[0].id).first()
    assert attempt is not None and attempt.status_code == 307 and not attempt.succeeded
    assert "not followed" in (attempt.error or "")


async def test_each_attempt_has_a_timeout(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(5)
        return Response("", status=200)

    httpserver.expect_request("/slow", method="POST").respond_with_handler(slow)
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, httpserver.url_for("/slow"))
    try:
        await sender(timeout=1).deliver_due()
    finally:
        release.set()
    attempt = await WebhookDelivery.filter(event_id=(await events_of(submission_id))[0].id).first()
    assert attempt is not None and attempt.status_code is None
    assert "Timeout" in (attempt.error or "")
    assert (await events_of(submission_id))[0].status == OutboxStatus.PENDING


async def test_events_without_a_callback_url_are_not_written() -> None:
    requester = await new_requester()
    task = await new_task(requester)
    worker = await new_worker()
    started = await submissions.start_submission(worker, task.id)
    await submissions.submit_submission(worker, started.id, answer())
    assert await OutboxEvent.filter(submission_id=started.id).count() == 0


@pytest.fixture
def worker_env(database: Settings) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database.database_url,
        "GQL_ALLOW_PRIVATE_CALLBACKS": "true",
        "GQL_LOG_LEVEL": "warning",
    }
    env.pop("REDIS_URL", None)
    yield env


async def test_an_event_committed_while_no_worker_runs_is_delivered_when_one_starts(
    httpserver: HTTPServer, worker_env: dict[str, str]
) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, receiver.url)
    assert receiver.requests == []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql_server",
        "worker",
        cwd=REPO_ROOT,
        env=worker_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # Until the worker has recorded both deliveries, not just sent them.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            e.status == OutboxStatus.DELIVERED for e in await events_of(submission_id)
        ):
            assert process.returncode is None, "the worker exited early"
            await asyncio.sleep(0.1)
    finally:
        process.kill()
        await process.wait()
    assert sorted(json.loads(body)["type"] for _, body in receiver.requests) == [
        "submission.reviewed",
        "submission.submitted",
    ]
    assert all(e.status == OutboxStatus.DELIVERED for e in await events_of(submission_id))


async def test_a_worker_killed_while_sending_leaves_the_event_to_the_next_one(
    httpserver: HTTPServer, worker_env: dict[str, str]
) -> None:
    arrived, release = threading.Event(), threading.Event()
    received: list[str] = []

    def hold_first(request: Request) -> Response:
        received.append(request.headers["webhook-id"])
        if len(received) == 1:
            arrived.set()
            release.wait(10)
        return Response("", status=200)

    httpserver.expect_request("/hold", method="POST").respond_with_handler(hold_first)
    requester = await new_requester()
    task = await new_task(requester, callback_url=httpserver.url_for("/hold"))
    worker = await new_worker()
    started = await submissions.start_submission(worker, task.id)
    await submissions.submit_submission(worker, started.id, answer())
    [event] = await events_of(started.id)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gql_server", "worker", cwd=REPO_ROOT, env=worker_env
    )
    try:
        assert await asyncio.to_thread(arrived.wait, 30), "the worker never sent the event"
    finally:
        process.kill()  # SIGKILL mid-request: no chance to record anything
        await process.wait()
        release.set()
    assert (await OutboxEvent.get(id=event.id)).status == OutboxStatus.PENDING

    # The dead worker's claim lapses; the next worker sends the same message again.
    with frozen_clock(datetime.now(UTC) + callbacks.CLAIM_FOR + timedelta(seconds=1)):
        assert await sender().deliver_due() == 1
    assert received == [event.message_id, event.message_id]
    assert (await OutboxEvent.get(id=event.id)).status == OutboxStatus.DELIVERED


REFUSED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "2130706433",  # 127.0.0.1 in decimal
    "0x7f000001",  # in hex
    "0177.0.0.1",  # in octal
    "127.1",  # short form
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "fe80::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "metadata.google.internal",
    "224.0.0.1",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_private_addresses_are_refused_in_every_spelling(host: str) -> None:
    with pytest.raises(httpcore.ConnectError, match=r"refused|metadata"):
        await resolve_public(host, 80)


def test_public_addresses_pass_the_guard() -> None:
    for address in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"):
        assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://2130706433:{port}/hook",
        "http://0x7f000001:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://localhost:{port}/hook",
        "ftp://127.0.0.1:{port}/hook",
    ],
)
async def test_the_guard_refuses_at_send_time(httpserver: HTTPServer, url: str) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    target = url.format(port=httpserver.port)
    task = await new_task(requester, callback_url=receiver.url)
    # The URL changes after it was checked on save (or a name now resolves elsewhere).
    await WebhookEndpoint.filter(account_id=requester.account_id).update(url=target)
    worker = await new_worker()
    started = await submissions.start_submission(worker, task.id)
    await submissions.submit_submission(worker, started.id, answer())
    guarded = CallbackSender(lambda: callback_client(allow_private=False, timeout_seconds=2))
    await guarded.deliver_due()
    assert receiver.requests == []
    [event] = await events_of(started.id)
    [attempt] = await WebhookDelivery.filter(event_id=event.id)
    assert not attempt.succeeded and "refused" in (attempt.error or "")
