"""Announcements (one a day per task, to exactly the workers with a submission on it), the
task FAQ (shown to workers who may see the task, hidden from others and from banned ones),
and the instructions' history kept when a live task's instructions change."""

from __future__ import annotations

from datetime import datetime, timedelta

from gql_server.clock import FrozenClock
from gql_server.models import Announcement
from tests.conversations.documents import (
    ANNOUNCE,
    INSTRUCTIONS,
    MY_ANNOUNCEMENTS,
    PUBLISH_FAQ,
    RESTRICT,
)
from tests.factories import (
    Requester,
    api_funded_draft,
    api_open_task,
    api_start_and_submit,
    api_task_action,
    new_worker,
)
from tests.graphql_client import Api

UPDATE_INSTRUCTIONS = (
    "mutation ($t: ID!, $i: String!) { updateTask(input: {taskId: $t, changes: "
    "{instructions: $i}}) { task { instructions status instructionRevisions { number "
    "instructions author { id } } } userErrors { field code message } } }"
)


async def test_one_announcement_a_day_reaches_exactly_the_workers_with_a_submission(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    other_task = await api_funded_draft(api, owner)
    await api_task_action(api, owner, "publishTask", other_task)
    submitted, started, elsewhere, idle = [await new_worker() for _ in range(4)]
    await api_start_and_submit(api, submitted.key, task_id)
    await api_start_and_submit(api, started.key, task_id, submit=False)
    await api_start_and_submit(api, elsewhere.key, other_task)

    sent = (await api.data(ANNOUNCE, {"t": task_id, "b": "New photos added."}, key=owner))[
        "sendAnnouncement"
    ]
    assert sent["userErrors"] == []
    announcement = sent["announcement"]
    assert announcement["recipientCount"] == 2
    assert sorted(announcement["recipientIds"]) == sorted([submitted.global_id, started.global_id])
    for worker in (submitted, started):
        mine = (await api.data(MY_ANNOUNCEMENTS, key=worker.key))["myAnnouncements"]["edges"]
        assert [edge["node"] for edge in mine] == [{"taskId": task_id, "body": "New photos added."}]
    for worker in (elsewhere, idle):
        assert (await api.data(MY_ANNOUNCEMENTS, key=worker.key))["myAnnouncements"]["edges"] == []

    frozen.advance(timedelta(hours=1))
    again = (await api.data(ANNOUNCE, {"t": task_id, "b": "And more."}, key=owner))[
        "sendAnnouncement"
    ]
    assert again["announcement"] is None
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [
        (["input", "taskId"], "LIMIT_REACHED")
    ]
    assert await Announcement.filter(task__account_id=account.account_id).count() == 1
    # Another task may have its own the same day.
    other = await api.data(ANNOUNCE, {"t": other_task, "b": "Hello."}, key=owner)
    assert other["sendAnnouncement"]["userErrors"] == []

    # The next day (in the account's time zone, UTC here) the task may have one again.
    now = frozen.now()
    frozen.set(datetime(now.year, now.month, now.day, tzinfo=now.tzinfo) + timedelta(days=1))
    tomorrow = await api.data(ANNOUNCE, {"t": task_id, "b": "Day two."}, key=owner)
    assert tomorrow["sendAnnouncement"]["announcement"]["recipientCount"] == 2


async def test_another_account_cannot_announce_on_a_task(
    api: Api, account: Requester, other_account: Requester
) -> None:
    task_id = await api_open_task(api, account.key)
    refused = await api.data(ANNOUNCE, {"t": task_id, "b": "Hi"}, key=other_account.key)
    assert [e["code"] for e in refused["sendAnnouncement"]["userErrors"]] == ["NOT_FOUND"]
    assert await Announcement.filter(task__account_id=account.account_id).count() == 0


async def test_the_faq_is_shown_to_eligible_workers_only(
    api: Api, account: Requester, other_account: Requester
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner, targeting={"countriesAllowed": ["DE"]})
    published = await api.data(
        PUBLISH_FAQ,
        {"input": {"taskId": task_id, "question": "May I use a tablet?", "answer": "Yes."}},
        key=owner,
    )
    assert published["publishFaqEntry"]["userErrors"] == []
    entry_id = published["publishFaqEntry"]["entry"]["id"]
    eligible, ineligible, banned = (
        await new_worker("DE"),
        await new_worker("FR"),
        await new_worker("DE"),
    )

    shown = (await api.data(INSTRUCTIONS, {"t": task_id}, key=eligible.key))["taskInstructions"]
    assert shown["taskId"] == task_id
    assert shown["instructions"] == "Install, use for five minutes, rate honestly."
    assert shown["faq"] == [{"question": "May I use a tablet?", "answer": "Yes."}]
    hidden = await api.data(INSTRUCTIONS, {"t": task_id}, key=ineligible.key)
    assert hidden["taskInstructions"] is None

    await api.data(
        RESTRICT,
        {"input": {"workerId": banned.global_id, "kind": "BAN", "scope": "ACCOUNT"}},
        key=owner,
    )
    assert (await api.data(INSTRUCTIONS, {"t": task_id}, key=banned.key))[
        "taskInstructions"
    ] is None

    # Members see it on the task; another account sees nothing of it.
    task = await api.data(
        "query ($t: ID!) { task(id: $t) { faq { id question } } }", {"t": task_id}, key=owner
    )
    assert task["task"]["faq"] == [{"id": entry_id, "question": "May I use a tablet?"}]
    other = other_account.key
    assert (
        await api.data("query ($id: ID!) { node(id: $id) { id } }", {"id": entry_id}, key=other)
    )["node"] is None
    assert (await api.data("query ($t: ID!) { task(id: $t) { id } }", {"t": task_id}, key=other))[
        "task"
    ] is None
    refused = await api.data(
        PUBLISH_FAQ,
        {"input": {"taskId": task_id, "question": "Spam?", "answer": "Spam."}},
        key=other,
    )
    assert [e["code"] for e in refused["publishFaqEntry"]["userErrors"]] == ["NOT_FOUND"]
    removed = await api.data(
        "mutation ($e: ID!) { removeFaqEntry(input: {entryId: $e}) { userErrors { code } } }",
        {"e": entry_id},
        key=other,
    )
    assert [e["code"] for e in removed["removeFaqEntry"]["userErrors"]] == ["NOT_FOUND"]
    still = (await api.data(INSTRUCTIONS, {"t": task_id}, key=eligible.key))["taskInstructions"]
    assert len(still["faq"]) == 1


async def test_a_bad_faq_entry_is_refused_field_by_field(api: Api, account: Requester) -> None:
    task_id = await api_open_task(api, account.key)
    refused = await api.data(
        PUBLISH_FAQ,
        {"input": {"taskId": task_id, "question": " ", "answer": "x" * 5001}},
        key=account.key,
    )
    assert [(e["field"], e["code"]) for e in refused["publishFaqEntry"]["userErrors"]] == [
        (["input", "question"], "VALIDATION"),
        (["input", "answer"], "VALIDATION"),
    ]


async def test_changing_a_live_tasks_instructions_keeps_their_history(
    api: Api, account: Requester, frozen: FrozenClock
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    early = await new_worker()
    await api_start_and_submit(api, early.key, task_id)
    frozen.advance(timedelta(hours=2))

    changed = (
        await api.data(
            UPDATE_INSTRUCTIONS,
            {"t": task_id, "i": "Install, use for five minutes, rate honestly. Tablets are fine."},
            key=owner,
        )
    )["updateTask"]
    assert changed["userErrors"] == []
    task = changed["task"]
    assert task["status"] == "OPEN"
    assert [(r["number"], r["instructions"]) for r in task["instructionRevisions"]] == [
        (1, "Install, use for five minutes, rate honestly."),
        (2, "Install, use for five minutes, rate honestly. Tablets are fine."),
    ]
    assert task["instructionRevisions"][1]["author"] is not None

    late = await new_worker()
    frozen.advance(timedelta(minutes=5))
    await api_start_and_submit(api, late.key, task_id)
    seen_early = (await api.data(INSTRUCTIONS, {"t": task_id}, key=early.key))["taskInstructions"]
    assert seen_early["agreedRevision"] == 1
    assert seen_early["instructions"].endswith("Tablets are fine.")
    assert [r["number"] for r in seen_early["revisions"]] == [1, 2]
    # Workers do not learn who on the team wrote the instructions.
    assert all(r["author"] is None for r in seen_early["revisions"])
    seen_late = (await api.data(INSTRUCTIONS, {"t": task_id}, key=late.key))["taskInstructions"]
    assert seen_late["agreedRevision"] == 2

    # Anything else of a live task stays as the workers saw it.
    retitled = await api.data(
        'mutation ($t: ID!) { updateTask(input: {taskId: $t, changes: {title: "New"}}) '
        "{ userErrors { code } } }",
        {"t": task_id},
        key=owner,
    )
    assert retitled["updateTask"]["userErrors"] == [{"code": "INVALID_STATE"}]
    empty = await api.data(UPDATE_INSTRUCTIONS, {"t": task_id, "i": "  "}, key=owner)
    assert [e["code"] for e in empty["updateTask"]["userErrors"]] == ["VALIDATION"]
    history = await api.data(
        "query ($t: ID!) { task(id: $t) { instructionRevisions { number } } }",
        {"t": task_id},
        key=owner,
    )
    assert len(history["task"]["instructionRevisions"]) == 2
