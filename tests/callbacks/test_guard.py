"""The SSRF guard: private, loopback and metadata addresses refused in every spelling, public
ones allowed, and the check made again at send time."""

from __future__ import annotations

import ipaddress

import httpcore
import pytest
from pytest_httpserver import HTTPServer

from gql_server.models import WebhookDelivery, WebhookEndpoint
from gql_server.services import submissions
from gql_server.services.callback_guard import callback_client, refusal, resolve_public
from gql_server.services.callbacks import CallbackSender
from tests.callbacks.receiver import Receiver, events_of
from tests.factories import answer, new_requester, new_task, new_worker

pytestmark = pytest.mark.usefixtures("database")


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
    started = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, started.id, answer())
    guarded = CallbackSender(lambda: callback_client(allow_private=False, timeout_seconds=2))
    await guarded.deliver_due()
    assert receiver.requests == []
    [event] = await events_of(started.id)
    [attempt] = await WebhookDelivery.filter(event_id=event.id)
    assert not attempt.succeeded and "refused" in (attempt.error or "")
