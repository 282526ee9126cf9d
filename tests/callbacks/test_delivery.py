"""Callback delivery: the outbox, signed delivery to a real local receiver, retries with
backoff until a day has passed, claims that lapse, and what is never sent."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Request, Response

from gql_server.models import OutboxEvent, Submission, Task, WebhookDelivery, WebhookEndpoint
from gql_server.models.enums import OutboxStatus
from gql_server.services import callbacks, outbox, submissions
from gql_server.services.callbacks import CallbackSender
from gql_server.services.errors import ErrorCode
from gql_server.services.events import unit_of_work
from tests.callbacks.receiver import Receiver, events_of, reviewed_submission, sender
from tests.factories import (
    Requester,
    Worker,
    answer,
    expect_error,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


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
            task_id = (await Submission.get(id=submission_id)).task_id
            await outbox.enqueue_submission_events(
                outbox.SUBMISSION_AUDITED, task_id, [submission_id]
            )
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
        started = await submissions.start_submission(worker.principal, task.id)
        await submissions.submit_submission(worker.principal, started.id, answer())
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


async def test_events_without_a_callback_url_are_not_written(
    requester: Requester, task: Task, worker: Worker
) -> None:
    started = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, started.id, answer())
    assert await OutboxEvent.filter(submission_id=started.id).count() == 0
