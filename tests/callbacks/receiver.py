"""A local receiver of callbacks and the sender that delivers to it, for the callback tests."""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gql_server.models import OutboxEvent
from gql_server.services import review, submissions
from gql_server.services.callback_guard import callback_client
from gql_server.services.callbacks import CallbackSender
from tests.factories import Requester, answer, new_task, new_worker


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


async def deliver_to(receiver: Receiver, rounds: int = 1000) -> None:
    """Deliver due callbacks until `receiver` has had one, or none are due: events that
    other tests left undelivered (hundreds, due earlier, their receivers gone) come first,
    20 a round, and each failed attempt moves its event past the fresh ones."""
    for _ in range(rounds):
        if receiver.requests or not await sender().deliver_due():
            return


async def reviewed_submission(requester: Requester, url: str) -> int:
    """Approve one submission of a task whose callback URL is `url`; return its id."""
    task = await new_task(requester, callback_url=url)
    worker = await new_worker()
    started = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, started.id, answer())
    await review.approve_submission(requester.principal, started.id)
    return started.id


async def events_of(submission_id: int) -> list[OutboxEvent]:
    return await OutboxEvent.filter(submission_id=submission_id).order_by("id")
