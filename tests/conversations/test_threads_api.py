"""Question threads through GraphQL: a worker asks, the team answers, the worker replies;
due times and overdue threads on a controllable clock; limits, mutes, bans and tenancy;
the thanks note of an approval; the question.asked callback; the figures."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from gql_server.clock import FrozenClock
from gql_server.models import Thread, ThreadMessage
from gql_server.services import conversations, streams
from gql_server.services.global_ids import pk_of
from tests.conversations.documents import (
    ASK,
    CLOSE,
    MESSAGE_WORKER,
    MY_THREADS,
    RESTRICT,
    SUMMARY,
    TEAM_REPLY,
    THREADS,
    WORKER_REPLY,
)
from tests.factories import (
    Requester,
    api_funded_draft,
    api_open_task,
    api_review,
    api_start_and_submit,
    api_task_action,
    new_worker,
)
from tests.graphql_client import Api


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


async def _ask(api: Api, key: str, **question: Any) -> dict[str, Any]:
    payload = (await api.data(ASK, {"input": question}, key=key))["askQuestion"]
    return payload  # type: ignore[no-any-return]


async def test_a_worker_asks_a_member_replies_and_the_worker_answers_back(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker = await new_worker()
    asked_at = frozen.now()

    asked = await _ask(api, worker.key, taskId=task_id, body="  May I use a tablet?  ")
    assert asked["userErrors"] == []
    thread = asked["thread"]
    assert thread["state"] == "OPEN" and thread["taskId"] == task_id
    assert _time(thread["askedAt"]) == asked_at
    assert _time(thread["dueAt"]) == asked_at + timedelta(hours=24)
    assert thread["overdue"] is False
    assert thread["messages"] == [
        {
            "author": "WORKER",
            "kind": "QUESTION",
            "body": "May I use a tablet?",
            "createdAt": thread["messages"][0]["createdAt"],
        }
    ]

    frozen.advance(timedelta(hours=3))
    replied = (await api.data(TEAM_REPLY, {"t": thread["id"], "b": "Yes, any device."}, key=owner))[
        "replyToThread"
    ]
    assert replied["userErrors"] == []
    answered = replied["thread"]
    assert answered["state"] == "ANSWERED" and answered["dueAt"] is None
    assert answered["firstResponseSeconds"] == 3 * 3600
    assert answered["worker"] == {"id": worker.global_id}
    assert [m["author"] for m in answered["messages"]] == ["WORKER", "TEAM"]
    assert answered["messages"][1]["member"] is not None

    frozen.advance(timedelta(hours=1))
    back = (
        await api.data(
            WORKER_REPLY, {"t": thread["id"], "b": "Thanks! And a phone?"}, key=worker.key
        )
    )["replyToTeam"]
    assert back["userErrors"] == []
    reopened = back["thread"]
    # Waiting for the team again, due a full target after the worker wrote.
    assert reopened["state"] == "OPEN"
    assert _time(reopened["dueAt"]) == frozen.now() + timedelta(hours=24)
    assert _time(reopened["askedAt"]) == asked_at
    # The worker never sees who on the team wrote.
    assert [(m["author"], m["kind"]) for m in reopened["messages"]] == [
        ("WORKER", "QUESTION"),
        ("TEAM", "REPLY"),
        ("WORKER", "REPLY"),
    ]
    mine = (await api.data(MY_THREADS, key=worker.key))["myThreads"]["edges"]
    assert [edge["node"]["id"] for edge in mine] == [thread["id"]]

    closed = (await api.data(CLOSE, {"t": thread["id"]}, key=owner))["closeThread"]
    assert closed["thread"]["state"] == "CLOSED" and closed["thread"]["closedAt"] is not None
    late = await api.data(WORKER_REPLY, {"t": thread["id"], "b": "Hello?"}, key=worker.key)
    assert [e["code"] for e in late["replyToTeam"]["userErrors"]] == ["INVALID_STATE"]
    assert await ThreadMessage.filter(thread__worker_id=worker.id).count() == 3


async def test_an_unanswered_question_turns_overdue_after_24_hours_and_a_reply_clears_it(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker = await new_worker()
    thread = (await _ask(api, worker.key, taskId=task_id, body="Is a blurry photo fine?"))["thread"]

    async def counts() -> tuple[int, int]:
        summary = (await api.data(SUMMARY, {"t": task_id}, key=owner))["threadSummary"]
        return summary["openCount"], summary["overdueCount"]

    async def overdue_ids() -> list[str]:
        found = await api.data(THREADS, {"f": {"taskId": task_id, "overdue": True}}, key=owner)
        return [edge["node"]["id"] for edge in found["threads"]["edges"]]

    # The sweep covers every account: this test looks at its own thread only.
    thread_pk = pk_of(thread["id"], "Thread")
    frozen.advance(timedelta(hours=23, minutes=59))
    await conversations.mark_overdue()
    assert (await Thread.get(id=thread_pk)).overdue_at is None
    assert await counts() == (1, 0) and await overdue_ids() == []

    frozen.advance(timedelta(minutes=1))
    assert await counts() == (1, 1)
    assert await overdue_ids() == [thread["id"]]
    # The sweep marks it once, for the live stream; the next pass finds nothing new.
    channel = streams.task_threads_channel(pk_of(task_id, "Task"))
    before = await streams.latest_version(channel)
    assert await conversations.mark_overdue() >= 1
    assert (await Thread.get(id=thread_pk)).overdue_at == frozen.now()
    await conversations.mark_overdue()
    (message,) = await streams.replay(channel, before) or []
    assert message.state["overdue"] == 1
    assert [change["change"] for change in message.changes] == ["overdue"]

    replied = await api.data(TEAM_REPLY, {"t": thread["id"], "b": "No, retake it."}, key=owner)
    assert replied["replyToThread"]["thread"]["overdue"] is False
    assert await counts() == (0, 0) and await overdue_ids() == []
    summary = (await api.data(SUMMARY, {"t": task_id}, key=owner))["threadSummary"]
    # Answered a day late: not within the target.
    assert summary["answeredWithinTarget"] == 0.0
    assert summary["medianFirstResponseSeconds"] == 24 * 3600


async def test_the_figures_give_the_median_first_response_and_the_share_within_target(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    first_task = await api_open_task(api, owner)
    second_task = await api_funded_draft(api, owner)
    await api_task_action(api, owner, "publishTask", second_task)
    start = frozen.now()
    answered_after = [timedelta(hours=1), timedelta(hours=5), timedelta(hours=30)]
    threads = []
    for delay in answered_after:
        worker = await new_worker()
        threads.append(
            (
                (await _ask(api, worker.key, taskId=first_task, body="When is it due?"))["thread"],
                delay,
            )
        )
    unanswered = await new_worker()
    await _ask(api, unanswered.key, taskId=second_task, body="Anyone there?")
    for thread, delay in threads:
        frozen.set(start + delay)
        reply = await api.data(TEAM_REPLY, {"t": thread["id"], "b": "Friday."}, key=owner)
        assert reply["replyToThread"]["userErrors"] == []

    period = {
        "from": (start - timedelta(hours=1)).isoformat(),
        "to": (start + timedelta(hours=1)).isoformat(),
    }
    summary = (await api.data(SUMMARY, period, key=owner))["threadSummary"]
    assert summary["questions"] == 4
    assert summary["medianFirstResponseSeconds"] == 5 * 3600
    # Two of three answered within 24 h, and the unanswered one is past its due time.
    assert summary["answeredWithinTarget"] == 50.0
    assert summary["questionsPerTask"] == [
        {"taskId": first_task, "questions": 3},
        {"taskId": second_task, "questions": 1},
    ]
    assert summary["openCount"] == 1 and summary["overdueCount"] == 1
    empty = {
        "from": (start + timedelta(days=5)).isoformat(),
        "to": (start + timedelta(days=6)).isoformat(),
    }
    nothing = (await api.data(SUMMARY, empty, key=owner))["threadSummary"]
    assert nothing["questions"] == 0
    assert nothing["medianFirstResponseSeconds"] is None
    assert nothing["answeredWithinTarget"] is None


async def test_the_account_sets_its_own_response_target(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    target = (
        "mutation ($s: Int!) { setThreadResponseTarget(input: {seconds: $s}) "
        "{ account { responseTargetSeconds } userErrors { field code } } }"
    )
    refused = await api.data(target, {"s": 60}, key=owner)
    assert refused["setThreadResponseTarget"]["userErrors"] == [
        {"field": ["input", "seconds"], "code": "VALIDATION"}
    ]
    changed = await api.data(target, {"s": 4 * 3600}, key=owner)
    assert changed["setThreadResponseTarget"]["account"] == {"responseTargetSeconds": 14400}
    thread = (await _ask(api, (await new_worker()).key, taskId=task_id, body="Hi?"))["thread"]
    assert _time(thread["dueAt"]) == frozen.now() + timedelta(hours=4)


async def test_bad_questions_get_coded_errors_and_change_nothing(
    api: Api, account: Requester
) -> None:
    task_id = await api_open_task(api, account.key)
    worker = await new_worker()

    async def codes(**question: Any) -> list[tuple[list[str] | None, str]]:
        errors = (await _ask(api, worker.key, **question))["userErrors"]
        return [(e["field"], e["code"]) for e in errors]

    assert await codes(taskId=task_id, body="   ") == [(["input", "body"], "VALIDATION")]
    assert await codes(taskId=task_id, body="x" * 5001) == [(["input", "body"], "VALIDATION")]
    assert await codes(body="About what?") == [(["input", "taskId"], "VALIDATION")]
    assert await codes(taskId="VGFzazo5OTk5OTk5OQ==", body="Hi") == [
        (["input", "taskId"], "NOT_FOUND")
    ]
    assert await Thread.filter(worker_id=worker.id).count() == 0

    for n in range(conversations.QUESTIONS_PER_TASK_PER_DAY):
        assert await codes(taskId=task_id, body=f"Question {n}") == []
    assert await codes(taskId=task_id, body="One more") == [(None, "LIMIT_REACHED")]
    assert await Thread.filter(worker_id=worker.id).count() == (
        conversations.QUESTIONS_PER_TASK_PER_DAY
    )


async def test_banned_and_muted_workers_cannot_open_threads(api: Api, account: Requester) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    banned, muted = await new_worker(), await new_worker()
    for worker, kind in ((banned, "BAN"), (muted, "MUTE")):
        restricted = await api.data(
            RESTRICT,
            {
                "input": {
                    "workerId": worker.global_id,
                    "kind": kind,
                    "scope": "ACCOUNT",
                    "reason": "Spam in messages",
                }
            },
            key=owner,
        )
        assert restricted["restrictWorker"]["userErrors"] == []
    for worker in (banned, muted):
        refused = await _ask(api, worker.key, taskId=task_id, body="Why?")
        assert refused["thread"] is None
        assert [e["code"] for e in refused["userErrors"]] == ["RESTRICTED"]
        # No reason is shown to the worker.
        assert "Spam" not in refused["userErrors"][0]["message"]
        assert await Thread.filter(worker_id=worker.id).count() == 0
    # A mute is no ban: the muted worker still works.
    assert await api_start_and_submit(api, muted.key, task_id)
    # A mute applies to the whole account only.
    partial = await api.data(
        RESTRICT,
        {
            "input": {
                "workerId": muted.global_id,
                "kind": "MUTE",
                "scope": "TASK",
                "taskId": task_id,
            }
        },
        key=owner,
    )
    assert [e["code"] for e in partial["restrictWorker"]["userErrors"]] == ["VALIDATION"]


async def test_a_muted_worker_cannot_reply_in_an_open_thread(api: Api, account: Requester) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker = await new_worker()
    thread = (await _ask(api, worker.key, taskId=task_id, body="First question"))["thread"]
    await api.data(TEAM_REPLY, {"t": thread["id"], "b": "Answer"}, key=owner)
    await api.data(
        RESTRICT,
        {"input": {"workerId": worker.global_id, "kind": "MUTE", "scope": "ACCOUNT", "days": 3}},
        key=owner,
    )
    refused = await api.data(WORKER_REPLY, {"t": thread["id"], "b": "But why?"}, key=worker.key)
    assert [e["code"] for e in refused["replyToTeam"]["userErrors"]] == ["RESTRICTED"]
    assert (await Thread.get(id=pk_of(thread["id"], "Thread"))).state == "ANSWERED"


async def test_another_account_sees_nothing_of_a_thread(
    api: Api, account: Requester, other_account: Requester
) -> None:
    task_id = await api_open_task(api, account.key)
    worker = await new_worker()
    thread = (await _ask(api, worker.key, taskId=task_id, body="A private question"))["thread"]
    other = other_account.key

    node = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": thread["id"]}, key=other
    )
    assert node["node"] is None
    listed = await api.data(THREADS, {"f": None}, key=other)
    assert listed["threads"]["totalCount"] == 0
    by_task = await api.data(THREADS, {"f": {"taskId": task_id}}, key=other)
    assert by_task["threads"]["edges"] == []
    reply = await api.data(TEAM_REPLY, {"t": thread["id"], "b": "Hijack"}, key=other)
    assert [e["code"] for e in reply["replyToThread"]["userErrors"]] == ["NOT_FOUND"]
    summary = await api.post(SUMMARY, {"t": task_id}, key=other)
    assert summary["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Another worker does not reach the thread either.
    stranger = await new_worker()
    theirs = await api.data(WORKER_REPLY, {"t": thread["id"], "b": "Me too"}, key=stranger.key)
    assert [e["code"] for e in theirs["replyToTeam"]["userErrors"]] == ["NOT_FOUND"]
    assert (await api.data(MY_THREADS, key=stranger.key))["myThreads"]["edges"] == []
    mine = await api.data(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": thread["id"]}, key=worker.key
    )
    assert mine["node"] == {"id": thread["id"]}


async def test_a_thanks_note_on_approval_reaches_the_worker_thread_of_the_submission(
    api: Api, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker = await new_worker()
    submission_id = await api_start_and_submit(api, worker.key, task_id)
    asked = await _ask(api, worker.key, submissionId=submission_id, body="Was it all right?")
    assert asked["thread"]["submissionId"] == submission_id
    assert asked["thread"]["taskId"] == task_id

    empty = await api_review(api, owner, "approveSubmission", submission_id, ', note: " "')
    assert [e["code"] for e in empty] == ["VALIDATION"]
    assert (
        await api_review(
            api, owner, "approveSubmission", submission_id, ', note: "Great work, thank you!"'
        )
        == []
    )
    mine = (await api.data(MY_THREADS, key=worker.key))["myThreads"]["edges"]
    (thread,) = [edge["node"] for edge in mine]
    assert thread["state"] == "ANSWERED"
    assert [(m["author"], m["kind"], m["body"]) for m in thread["messages"]] == [
        ("WORKER", "QUESTION", "Was it all right?"),
        ("TEAM", "REVIEW_NOTE", "Great work, thank you!"),
    ]


async def test_the_team_writes_only_to_workers_who_worked_for_it(
    api: Api, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    worker, stranger = await new_worker(), await new_worker()
    await api_start_and_submit(api, worker.key, task_id)

    sent = await api.data(
        MESSAGE_WORKER,
        {"input": {"workerId": worker.global_id, "body": "Welcome back!"}},
        key=owner,
    )
    thread = sent["messageWorker"]["thread"]
    assert thread["state"] == "ANSWERED"
    assert thread["messages"] == [{"author": "TEAM", "kind": "MESSAGE", "body": "Welcome back!"}]
    refused = await api.data(
        MESSAGE_WORKER, {"input": {"workerId": stranger.global_id, "body": "Hello"}}, key=owner
    )
    assert [e["code"] for e in refused["messageWorker"]["userErrors"]] == ["NOT_FOUND"]
    assert await Thread.filter(worker_id=stranger.id).count() == 0
    mine = (await api.data(MY_THREADS, key=worker.key))["myThreads"]["edges"]
    assert [edge["node"]["id"] for edge in mine] == [thread["id"]]


async def test_a_question_writes_the_question_asked_callback(api: Api, account: Requester) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    hooked = await api.data(
        'mutation { setAccountCallbackUrl(input: {callbackUrl: "https://hooks.example.com/q"})'
        " { userErrors { code } } }",
        key=owner,
    )
    assert hooked["setAccountCallbackUrl"]["userErrors"] == []
    worker = await new_worker()
    thread = (await _ask(api, worker.key, taskId=task_id, body="Can I skip step 2?"))["thread"]
    events = await api.data(
        "{ callbackEvents(first: 20) { edges { node { type body } } } }", key=owner
    )
    asked = [
        json.loads(edge["node"]["body"])
        for edge in events["callbackEvents"]["edges"]
        if edge["node"]["type"] == "question.asked"
    ]
    assert len(asked) == 1
    data = asked[0]["data"]
    assert data["thread_id"] == thread["id"] and data["task_id"] == task_id
    assert data["worker_id"] == worker.global_id
    assert data["question"] == "Can I skip step 2?"


DASHBOARD = (
    "query ($t: ID!) { threads(filter: {taskId: $t}, first: 50) { edges { node { id state "
    "overdue worker { id country } task { title } messages { author body member { name } } } } } }"
)


async def test_a_page_of_threads_costs_the_same_statements_whatever_its_size(
    api: Api, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)

    class Count(logging.Handler):
        statements = 0

        def emit(self, record: logging.LogRecord) -> None:
            Count.statements += 1

    log = logging.getLogger("tortoise.db_client")

    async def statements() -> int:
        Count.statements = 0
        handler = Count()
        log.setLevel(logging.DEBUG)
        log.addHandler(handler)
        try:
            await api.data(DASHBOARD, {"t": task_id}, key=owner)
        finally:
            log.removeHandler(handler)
            log.setLevel(logging.NOTSET)
        return Count.statements

    async def answered_question() -> None:
        thread = (await _ask(api, (await new_worker()).key, taskId=task_id, body="Hi?"))["thread"]
        await api.data(TEAM_REPLY, {"t": thread["id"], "b": "Hello."}, key=owner)

    await answered_question()
    few = await statements()
    for _ in range(4):
        await answered_question()
    assert await statements() == few
