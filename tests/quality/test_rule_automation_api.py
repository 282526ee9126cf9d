"""Automation rules through GraphQL: approving on criteria, rejecting spam before automatic
acceptance, topping up a budget up to its cap, and a bonus for exceptional work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.factories import Requester, frozen_clock, new_worker
from tests.graphql_client import Api
from tests.quality.rules_session import SUBMIT, cond, session


async def test_automation_auto_approves_on_criteria(api: Api, account: Requester) -> None:
    s = await session(api, account)
    skill = (
        await api.data(
            'mutation { createSkill(input: {name: "Trusted"}) { skill { id } } }', key=s.owner
        )
    )["createSkill"]["skill"]["id"]
    task = await s.task()
    await s.rule(
        taskId=task,
        type="AUTOMATION",
        conditions=[
            cond("WORKER_SKILL", "GTE", 90, skillId=skill),
            cond("MISSING_PROOF_COUNT", "EQ", 0),
        ],
        action={"type": "APPROVE"},
    )
    trusted = await new_worker()
    other = (await new_worker()).key
    set_skill = "mutation ($s: ID!, $w: ID!) { setWorkerSkill(input: {skillId: $s, workerId: $w, value: 95}) { userErrors { code } } }"
    result = await api.data(set_skill, {"s": skill, "w": trusted.global_id}, key=s.owner)
    assert result["setWorkerSkill"]["userErrors"] == []
    approved = await s.submitted(trusted.key, task)
    pending = await s.submitted(other, task)
    states = await api.data(
        "query ($a: ID!, $b: ID!) { a: submission(id: $a) { state reviews { actorKind } } b: submission(id: $b) { state } }",
        {"a": approved, "b": pending},
        key=s.owner,
    )
    assert states["a"] == {"state": "APPROVED", "reviews": [{"actorKind": "RULE"}]}
    assert states["b"] == {"state": "SUBMITTED"}


async def test_automation_rejects_spam_before_automatic_acceptance(
    api: Api, account: Requester
) -> None:
    s = await session(api, account)
    task = await s.task(
        acceptanceMode="AUTOMATIC",
        proofRequirements=[{"name": "screenshot", "kind": "SCREENSHOT_URL", "required": False}],
    )
    for conditions, reason in (
        ([cond("PROOF_ITEMS_COUNT", "EQ", 0)], "Empty proof."),
        ([cond("DUPLICATE_PROOF_COUNT", "GT", 0)], "Copied proof."),
        ([cond("RESPONSE_SECONDS", "LT", 30)], "Too fast."),
    ):
        await s.rule(
            taskId=task,
            type="AUTOMATION",
            conditions=conditions,
            action={"type": "REJECT", "reason": reason},
        )
    query = "query ($id: ID!) { submission(id: $id) { state feedback } }"

    async def send(value: str, seconds: int) -> dict[str, Any]:
        worker = (await new_worker()).key
        started = (await s.start(worker, task))["submission"]["id"]
        frozen.advance(timedelta(seconds=seconds))
        await api.data(SUBMIT, {"id": started, "v": value}, key=worker)
        return (await api.data(query, {"id": started}, key=s.owner))["submission"]

    with frozen_clock() as frozen:
        good = await send("https://img.example/original.png", 60)
        empty = await send("", 60)
        copied = await send("https://img.example/original.png", 60)
        fast = await send("https://img.example/other.png", 5)
    assert good == {"state": "APPROVED", "feedback": None}
    assert empty == {"state": "REJECTED", "feedback": "Empty proof."}
    assert copied == {"state": "REJECTED", "feedback": "Copied proof."}
    assert fast == {"state": "REJECTED", "feedback": "Too fast."}


async def test_automation_tops_up_the_budget_up_to_the_cap(api: Api, account: Requester) -> None:
    s = await session(api, account, fund="10.00")
    task = await s.task(reward="1.00", budget="2.00")
    rule = await s.rule(
        taskId=task,
        type="AUTOMATION",
        conditions=[cond("REMAINING_REWARDS", "EQ", 0)],
        action={"type": "TOP_UP", "amount": "2.00", "cap": "3.00"},
    )
    assert rule["action"]["amount"] == {"amount": "2.00"}
    assert rule["action"]["cap"] == {"amount": "3.00"}
    worker = (await new_worker()).key
    for _ in range(5):
        assert (await s.start(worker, task))["userErrors"] == []
    refused = await s.start(worker, task)
    assert [e["code"] for e in refused["userErrors"]] == ["INSUFFICIENT_FUNDS"]
    figures = await api.data(
        "query ($id: ID!) { task(id: $id) { figures { budget { amount } remaining { amount } } } account { balance { amount } } }",
        {"id": task},
        key=s.owner,
    )
    assert figures["task"]["figures"] == {
        "budget": {"amount": "5.00"},
        "remaining": {"amount": "0.00"},
    }
    assert figures["account"]["balance"] == {"amount": "5.00"}
    fired = await s.firings(ruleId=rule["id"])
    assert sorted(f["outcome"]["amount"]["amount"] for f in fired) == ["1.00", "2.00"]
    assert all(f["worker"] is None for f in fired)


async def test_automation_bonus_for_exceptional_work(api: Api, account: Requester) -> None:
    s = await session(api, account)
    task = await s.task(reward="1.00")
    await s.rule(
        taskId=task,
        type="AUTOMATION",
        conditions=[cond("RESPONSE_SECONDS", "GTE", 120)],
        action={"type": "PAY_BONUS", "amount": "0.50"},
    )
    worker = (await new_worker()).key
    with frozen_clock() as frozen:
        started = (await s.start(worker, task))["submission"]["id"]
        frozen.advance(timedelta(minutes=5))
        await api.data(SUBMIT, {"id": started, "v": "https://img.example/x.png"}, key=worker)
    await s.review(started, True)
    paid = await api.data(
        "query ($id: ID!) { submission(id: $id) { paid { amount } } }",
        {"id": started},
        key=s.owner,
    )
    assert paid["submission"]["paid"] == {"amount": "1.50"}
