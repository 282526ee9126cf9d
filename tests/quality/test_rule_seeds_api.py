"""The seeds' four example rules end to end through GraphQL, each at its boundaries: what
fired, what the worker could then (not) do and see, and for how long."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gql_server.models import Restriction
from gql_server.services.global_ids import from_global_id
from tests.factories import CREATE_PROJECT, Requester, frozen_clock, new_worker
from tests.graphql_client import Api
from tests.quality.rules_session import START, RulesSession, cond, metric_values, session, worker_id

# --- seed: more than 50% rejected -> ban for 15 days ---------------------------------------


async def test_more_than_half_rejected_bans_for_15_days(api: Api, account: Requester) -> None:
    s = await session(api, account)
    task = await s.task()
    other_project = (await api.data(CREATE_PROJECT, {"name": "Other"}, key=s.owner))[
        "createProject"
    ]["project"]["id"]
    elsewhere = await s.task(project=other_project)
    rule = await s.rule(
        taskId=task,
        name="Careless workers",
        type="REVIEW_RESULTS",
        conditions=[cond("REJECTED_PERCENT", "GT", 50), cond("REVIEWED_COUNT", "GTE", 4)],
        action={"type": "BAN", "scope": "ACCOUNT", "days": 15, "reason": "Half of it was wrong."},
    )
    assert rule["conditions"][0] == {
        "metric": "REJECTED_PERCENT",
        "operator": "GT",
        "value": 50.0,
        "amount": None,
        "skillId": None,
        "thresholdSeconds": None,
    }
    assert rule["action"]["days"] == 15 and rule["action"]["permanent"] is False
    worker = (await new_worker()).key
    with frozen_clock() as frozen:
        pending = [await s.submitted(worker, task) for _ in range(5)]
        # R (1 of 1: under the minimum), A, R (2 of 3: under it), A (2 of 4 = 50%: not more).
        for submission, approve in zip(pending, [False, True, False, True], strict=False):
            frozen.advance(timedelta(seconds=1))
            await s.review(submission, approve)
        assert await s.firings(ruleId=rule["id"]) == []
        assert {task, elsewhere} <= await s.visible(worker)
        # 3 of 5 = 60%: banned.
        frozen.advance(timedelta(seconds=1))
        await s.review(pending[4], False)
        await _banned(s, api, rule, worker, task, elsewhere, frozen.now())
        # For 15 days.
        frozen.advance(timedelta(days=15, seconds=1))
        assert {task, elsewhere} <= await s.visible(worker)


async def _banned(
    s: RulesSession,
    api: Api,
    rule: dict[str, Any],
    worker: str,
    task: str,
    elsewhere: str,
    now: Any,
) -> None:
    """What the firing recorded, and what the banned worker can (not) do and see."""
    [firing] = await s.firings(ruleId=rule["id"])
    assert metric_values(firing) == {
        "REJECTED_PERCENT": 60.0,
        "REVIEWED_COUNT": 5.0,
        "REJECTED_COUNT": 3.0,
    }
    assert firing["worker"]["id"] == await worker_id(api, worker)
    node = await s.api.data(
        "query ($id: ID!) { node(id: $id) { ... on RuleFiring { action { type } rule { name } } } }",
        {"id": firing["id"]},
        key=s.owner,
    )
    assert node["node"] == {"action": {"type": "BAN"}, "rule": {"name": "Careless workers"}}
    restriction = firing["outcome"]["restriction"]
    assert restriction["kind"] == "BAN" and restriction["reason"] == "Half of it was wrong."
    [stored] = await Restriction.filter(rule_id=from_global_id(rule["id"])[1])
    assert stored.ends_at == now + timedelta(days=15)
    # The worker sees none of the account's tasks, cannot start them, never reads why.
    assert not {task, elsewhere} & await s.visible(worker)
    for task_id in (task, elsewhere):
        refused = await api.post(START, {"id": task_id}, key=worker)
        assert [e["code"] for e in refused["data"]["startSubmission"]["userErrors"]] == [
            "RESTRICTED"
        ]
        assert "Half" not in str(refused)
    for document in (
        "{ restrictions(first: 5) { totalCount } }",
        "{ ruleFirings(first: 5) { totalCount } }",
        "{ rules(first: 5) { totalCount } }",
    ):
        denied = await api.post(document, key=worker)
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "Half" not in str(denied)


# --- seed: after 3 reviewed, skill := % accepted -------------------------------------------


async def test_after_3_reviewed_the_skill_is_the_accepted_share(
    api: Api, account: Requester
) -> None:
    s = await session(api, account)
    created = await api.data(
        'mutation { createSkill(input: {name: "Accuracy"}) { skill { id } userErrors { code } } }',
        key=s.owner,
    )
    skill = created["createSkill"]["skill"]["id"]
    task = await s.task()
    rule = await s.rule(
        taskId=task,
        type="REVIEW_RESULTS",
        conditions=[cond("REVIEWED_COUNT", "GTE", 3)],
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skillId": skill},
    )
    good, poor = (await new_worker()).key, (await new_worker()).key
    with frozen_clock() as frozen:
        for worker, plan in ((good, [True, True, False]), (poor, [True, False, False])):
            done = [await s.submitted(worker, task) for _ in plan]
            for submission, approve in zip(done, plan, strict=True):
                frozen.advance(timedelta(seconds=1))
                if submission == done[-1]:
                    # Two reviewed: no value yet.
                    mine = await s.firings(ruleId=rule["id"], workerId=await worker_id(api, worker))
                    assert mine == []
                await s.review(submission, approve)
    values = sorted(f["outcome"]["skillValue"] for f in await s.firings(ruleId=rule["id"]))
    assert values == [33, 67]
    # A task for workers with the skill at 60 or more admits one and hides the other.
    filtered = await s.task(
        targeting={"skillFilters": [{"skillId": skill, "operator": "GTE", "value": 60}]}
    )
    assert filtered in await s.visible(good)
    assert filtered not in await s.visible(poor)
    assert (await s.start(good, filtered))["userErrors"] == []
    assert [e["code"] for e in (await s.start(poor, filtered))["userErrors"]] == ["NOT_ELIGIBLE"]


# --- seed: more than $5 earned in 24 hours -> suspended ------------------------------------


async def test_more_than_5_dollars_in_24_hours_suspends(api: Api, account: Requester) -> None:
    s = await session(api, account)
    task = await s.task(reward="1.00", budget="30.00")
    rule = await s.rule(
        taskId=task,
        type="EARNINGS",
        conditions=[cond("INCOME_LAST_24_HOURS", "GT", amount="5.00")],
        action={"type": "SUSPEND_IN_TASK", "days": 1, "reason": "Earnings limit."},
    )
    assert rule["conditions"][0]["amount"] == {"amount": "5.00"}
    assert rule["conditions"][0]["value"] is None
    worker, patient = (await new_worker()).key, (await new_worker()).key
    with frozen_clock() as frozen:
        for _ in range(5):
            await s.review(await s.submitted(worker, task), True)
        # Exactly $5.00 is not more than $5.
        assert await s.firings(ruleId=rule["id"]) == []
        sixth = await s.submitted(worker, task)
        await s.review(sixth, True)
        [firing] = await s.firings(ruleId=rule["id"])
        assert metric_values(firing) == {"INCOME_LAST_24_HOURS": "6.00"}
        assert firing["action"] == {
            "type": "SUSPEND_IN_TASK",
            "days": 1,
            "scope": None,
            "reason": "Earnings limit.",
        }
        assert task not in await s.visible(worker)
        refused = await s.start(worker, task)
        assert [e["code"] for e in refused["userErrors"]] == ["RESTRICTED"]
        # Income older than 24 hours does not count.
        for _ in range(5):
            await s.review(await s.submitted(patient, task), True)
        frozen.advance(timedelta(hours=24, seconds=1))
        await s.review(await s.submitted(patient, task), True)
        assert len(await s.firings(ruleId=rule["id"])) == 1
        assert task in await s.visible(patient)


# --- seed: more than 20 submissions in the task -> suspended -------------------------------


async def test_more_than_20_submissions_in_the_task_suspends(api: Api, account: Requester) -> None:
    s = await session(api, account)
    task = await s.task(reward="0.10", budget="10.00")
    rule = await s.rule(
        taskId=task,
        type="SUBMITTED_ANSWERS",
        conditions=[cond("SUBMITTED_COUNT", "GT", 20)],
        action={"type": "SUSPEND_IN_TASK", "days": 7},
    )
    worker = (await new_worker()).key
    sent = [await s.submitted(worker, task) for _ in range(20)]
    # Exactly 20 is not more than 20.
    assert await s.firings(ruleId=rule["id"]) == []
    last = await s.submitted(worker, task)
    [firing] = await s.firings(ruleId=rule["id"])
    assert metric_values(firing) == {"SUBMITTED_COUNT": 21.0}
    assert firing["submission"]["id"] == last
    assert [e["code"] for e in (await s.start(worker, task))["userErrors"]] == ["RESTRICTED"]
    # What was sent before stays valid and payable.
    await s.review(sent[0], True)
    await s.review(last, True)
