"""The threadActivity stream end to end: a real `gql-server serve`, mutations over HTTP, a
dashboard subscribed over graphql-transport-ws with the gql client."""

from __future__ import annotations

import pytest
from gql.transport.exceptions import TransportQueryError

from tests.conversations.documents import (
    ASK,
    MESSAGE_WORKER,
    MY_THREADS,
    TEAM_REPLY,
    THREAD_ACTIVITY,
)
from tests.factories import (
    Requester,
    api_open_task,
    api_review,
    api_start_and_submit,
    new_worker,
)
from tests.server import Http, LiveClient


async def test_a_dashboard_sees_the_open_count_go_up_on_a_question_and_down_on_the_reply(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(http, owner)
    worker = await new_worker()
    async with LiveClient(server, owner) as live:
        task_stream = live.subscribe(THREAD_ACTIVITY, {"t": task_id})
        account_stream = live.subscribe(THREAD_ACTIVITY)
        first = (await task_stream.next())["threadActivity"]
        assert first["snapshot"] is True and first["taskId"] == task_id
        assert (first["openCount"], first["overdueCount"]) == (0, 0)
        whole = (await account_stream.next())["threadActivity"]
        assert whole["snapshot"] is True and whole["taskId"] is None

        asked = await http.data(
            ASK, {"input": {"taskId": task_id, "body": "Is the app free?"}}, key=worker.key
        )
        thread_id = asked["askQuestion"]["thread"]["id"]
        question = (await task_stream.next())["threadActivity"]
        assert question["version"] == first["version"] + 1 and question["snapshot"] is False
        assert question["openCount"] == 1
        assert question["changes"] == [
            {
                "kind": "ASKED",
                "threadId": thread_id,
                "taskId": task_id,
                "workerId": worker.global_id,
            }
        ]
        assert (await account_stream.next())["threadActivity"]["openCount"] == 1

        await http.data(TEAM_REPLY, {"t": thread_id, "b": "Yes, it is."}, key=owner)
        reply = (await task_stream.next())["threadActivity"]
        assert reply["version"] == question["version"] + 1
        assert reply["openCount"] == 0
        assert [c["kind"] for c in reply["changes"]] == ["TEAM_REPLIED"]
        assert (await account_stream.next())["threadActivity"]["openCount"] == 0


async def test_every_message_of_the_team_shows_to_the_rest_of_the_team(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(http, owner)
    worker = await new_worker()
    await api_start_and_submit(http, worker.key, task_id)
    async with LiveClient(server, owner) as live:
        stream = live.subscribe(THREAD_ACTIVITY)
        first = (await stream.next())["threadActivity"]
        sent = await http.data(
            MESSAGE_WORKER,
            {"input": {"workerId": worker.global_id, "taskId": task_id, "body": "Thanks!"}},
            key=owner,
        )
        thread_id = sent["messageWorker"]["thread"]["id"]
        opened = (await stream.next())["threadActivity"]
        assert opened["version"] == first["version"] + 1
        assert opened["changes"] == [
            {
                "kind": "TEAM_OPENED",
                "threadId": thread_id,
                "taskId": task_id,
                "workerId": worker.global_id,
            }
        ]
        # A second message in a thread that waits for the worker still shows.
        await http.data(TEAM_REPLY, {"t": thread_id, "b": "And welcome back."}, key=owner)
        again = (await stream.next())["threadActivity"]
        assert [c["kind"] for c in again["changes"]] == ["TEAM_REPLIED"]
        assert (again["openCount"], again["overdueCount"]) == (0, 0)


async def test_a_review_note_without_a_thread_opens_one_the_team_sees(
    server: str, http: Http, account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(http, owner)
    worker = await new_worker()
    submission_id = await api_start_and_submit(http, worker.key, task_id)
    async with LiveClient(server, owner) as live:
        stream = live.subscribe(THREAD_ACTIVITY, {"t": task_id})
        first = (await stream.next())["threadActivity"]
        noted = await api_review(
            http, owner, "approveSubmission", submission_id, ', note: "Thanks, well done."'
        )
        assert noted == []
        opened = (await stream.next())["threadActivity"]
        (thread,) = [
            e["node"] for e in (await http.data(MY_THREADS, key=worker.key))["myThreads"]["edges"]
        ]
        assert opened["version"] == first["version"] + 1
        # It waits for the worker, so it is not open for the team.
        assert (opened["openCount"], opened["overdueCount"]) == (0, 0)
        assert opened["changes"] == [
            {
                "kind": "TEAM_OPENED",
                "threadId": thread["id"],
                "taskId": task_id,
                "workerId": worker.global_id,
            }
        ]
    assert thread["state"] == "ANSWERED"
    assert thread["messages"] == [
        {"author": "TEAM", "kind": "REVIEW_NOTE", "body": "Thanks, well done."}
    ]
    about = await http.data(
        "query ($id: ID!) { node(id: $id) { ... on Thread { submissionId } } }",
        {"id": thread["id"]},
        key=owner,
    )
    assert about["node"] == {"submissionId": submission_id}


async def test_another_account_cannot_follow_a_tasks_threads(
    server: str, http: Http, account: Requester, other_account: Requester
) -> None:
    task_id = await api_open_task(http, account.key)
    async with LiveClient(server, other_account.key) as live:
        stream = live.subscribe(THREAD_ACTIVITY, {"t": task_id})
        with pytest.raises(TransportQueryError) as refused:
            await stream.next()
    assert "Task not found" in str(refused.value)
