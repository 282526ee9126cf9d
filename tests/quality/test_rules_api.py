"""Rules through GraphQL: the seeds' four examples end to end with their boundaries, every
invalid config refused at its field with nothing stored, firings, dry runs, automation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from gql_server.models import Restriction, Rule
from gql_server.schema.relay import from_global_id, to_global_id
from gql_server.services.accounts import register_worker
from tests.conftest import AccountFixture, Api
from tests.factories import frozen_clock
from tests.tasks.test_create_task import CREATE_PROJECT, _valid

RULE_FIELDS = """
  id name type recentValues enabled
  conditions { metric operator value amount { amount } skillId thresholdSeconds }
  action { type skillId value days permanent scope reason amount { amount } cap { amount } }
  task { id } project { id }
"""
CREATE_RULE = f"""
mutation ($input: CreateRuleInput!) {{
  createRule(input: $input) {{ rule {{ {RULE_FIELDS} }} userErrors {{ field code message }} }}
}}
"""
START = "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id state } userErrors { code message } } }"
SUBMIT = 'mutation ($id: ID!, $v: String!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: $v}]}) { submission { id state } userErrors { field code } } }'
APPROVE = "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) { submission { state } userErrors { code } } }"
REJECT = 'mutation ($id: ID!) { rejectSubmission(input: {submissionId: $id, feedback: "Not what was asked."}) { submission { state } userErrors { code } } }'
LISTING = "{ availableTasks(first: 100) { edges { node { id } } } }"
FIRINGS = """
query ($f: RuleFiringFilter) { ruleFirings(filter: $f, first: 50) { totalCount edges { node {
  id rule { id } worker { id } task { id } submission { id } createdAt
  metrics { metric value amount { amount } skillId thresholdSeconds }
  action { type days scope reason }
  outcome { restrictionId skillValue reviewedSubmissionIds amount { amount } restriction { kind reason endsAt } }
} } } }
"""


class Session:
    """A requester's account through the API: a funded project, tasks, rules, reviews."""

    def __init__(self, api: Api, account: AccountFixture) -> None:
        self.api = api
        self.account = account
        self.owner = account.owner_key
        self.project = ""

    async def setup(self, fund: str = "500.00") -> Session:
        data = await self.api.data(CREATE_PROJECT, {"name": "Rules"}, key=self.owner)
        self.project = data["createProject"]["project"]["id"]
        funded = await self.api.data(
            "mutation ($k: String!, $a: Decimal!) { fundAccount(input: {amount: $a, idempotencyKey: $k}) { userErrors { code } } }",
            {"k": uuid.uuid4().hex, "a": fund},
            key=self.owner,
        )
        assert funded["fundAccount"]["userErrors"] == []
        return self

    async def task(self, *, project: str | None = None, **changes: Any) -> str:
        values = {"targeting": {}, "maxSubmissionsPerWorker": 30, **changes}
        created = await self.api.data(
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { field code } } }",
            {"input": _valid(project or self.project, **values)},
            key=self.owner,
        )
        assert created["createTask"]["userErrors"] == [], created
        task_id = created["createTask"]["task"]["id"]
        published = await self.api.data(
            "mutation ($id: ID!) { publishTask(input: {taskId: $id}) { userErrors { code } } }",
            {"id": task_id},
            key=self.owner,
        )
        assert published["publishTask"]["userErrors"] == []
        return task_id

    async def rule(self, **values: Any) -> dict[str, Any]:
        data = await self.api.data(CREATE_RULE, {"input": values}, key=self.owner)
        payload = data["createRule"]
        assert payload["userErrors"] == [], payload
        return payload["rule"]

    async def refused(self, **values: Any) -> list[dict[str, Any]]:
        before = await Rule.filter(account_id=self.account.account_id).count()
        data = await self.api.data(CREATE_RULE, {"input": values}, key=self.owner)
        payload = data["createRule"]
        assert payload["rule"] is None and payload["userErrors"], payload
        assert await Rule.filter(account_id=self.account.account_id).count() == before
        return payload["userErrors"]

    async def start(self, worker: str, task_id: str) -> dict[str, Any]:
        data = await self.api.data(START, {"id": task_id}, key=worker)
        return data["startSubmission"]

    async def submitted(self, worker: str, task_id: str, value: str | None = None) -> str:
        started = await self.start(worker, task_id)
        assert started["userErrors"] == [], started
        sid = started["submission"]["id"]
        proof = value or f"https://img.example/{uuid.uuid4().hex}.png"
        sent = await self.api.data(SUBMIT, {"id": sid, "v": proof}, key=worker)
        assert sent["submitSubmission"]["userErrors"] == [], sent
        return sid

    async def review(self, submission_id: str, approve: bool) -> None:
        data = await self.api.data(
            APPROVE if approve else REJECT, {"id": submission_id}, key=self.owner
        )
        payload = data["approveSubmission" if approve else "rejectSubmission"]
        assert payload["userErrors"] == [], payload

    async def firings(self, **filter: str) -> list[dict[str, Any]]:
        data = await self.api.data(FIRINGS, {"f": filter}, key=self.owner)
        return [edge["node"] for edge in data["ruleFirings"]["edges"]]

    async def visible(self, worker: str) -> set[str]:
        data = await self.api.data(LISTING, key=worker)
        return {edge["node"]["id"] for edge in data["availableTasks"]["edges"]}


async def session(api: Api, account: AccountFixture, fund: str = "500.00") -> Session:
    return await Session(api, account).setup(fund)


async def new_worker_key() -> str:
    return (await register_worker(name=f"W {uuid.uuid4().hex[:6]}", country="DE")).api_key


async def worker_id(api: Api, key: str) -> str:
    return (await api.data("{ me { ... on Worker { id } } }", key=key))["me"]["id"]


def cond(metric: str, operator: str, value: float | None = None, **extra: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"metric": metric, "operator": operator, **extra}
    if value is not None:
        given["value"] = value
    return given


def metric_values(firing: dict[str, Any]) -> dict[str, Any]:
    return {
        m["metric"]: m["amount"]["amount"] if m["amount"] else m["value"] for m in firing["metrics"]
    }


# --- seed: more than 50% rejected -> ban for 15 days ---------------------------------------


async def test_more_than_half_rejected_bans_for_15_days(api: Api, account: AccountFixture) -> None:
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
    worker = await new_worker_key()
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
    s: Session, api: Api, rule: dict[str, Any], worker: str, task: str, elsewhere: str, now: Any
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
    api: Api, account: AccountFixture
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
    good, poor = await new_worker_key(), await new_worker_key()
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


async def test_more_than_5_dollars_in_24_hours_suspends(api: Api, account: AccountFixture) -> None:
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
    worker, patient = await new_worker_key(), await new_worker_key()
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


async def test_more_than_20_submissions_in_the_task_suspends(
    api: Api, account: AccountFixture
) -> None:
    s = await session(api, account)
    task = await s.task(reward="0.10", budget="10.00")
    rule = await s.rule(
        taskId=task,
        type="SUBMITTED_ANSWERS",
        conditions=[cond("SUBMITTED_COUNT", "GT", 20)],
        action={"type": "SUSPEND_IN_TASK", "days": 7},
    )
    worker = await new_worker_key()
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


# --- invalid configs ------------------------------------------------------------------------


async def test_every_invalid_config_is_refused_at_its_field(
    api: Api, account: AccountFixture, other_account: AccountFixture
) -> None:
    s = await session(api, account)
    manual = await s.task()
    automatic = await s.task(acceptanceMode="AUTOMATIC")
    foreign_skill = (
        await api.data(
            'mutation { createSkill(input: {name: "Theirs"}) { skill { id } } }',
            key=other_account.owner_key,
        )
    )["createSkill"]["skill"]["id"]
    ban = {"type": "BAN", "scope": "PROJECT", "days": 15}
    rejected = [cond("REJECTED_PERCENT", "GT", 50)]
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"conditions": [], "action": ban}, ["input", "conditions"], "VALIDATION"),
        ({"action": ban}, ["input", "conditions"], "VALIDATION"),
        ({"conditions": rejected}, ["input", "action"], "VALIDATION"),
        (
            {"type": "EARNINGS", "conditions": [cond("REVIEWED_COUNT", "GTE", 3)], "action": ban},
            ["input", "conditions", "0", "metric"],
            "VALIDATION",
        ),
        (
            {"conditions": [cond("REJECTED_PERCENT", "GT", 150)], "action": ban},
            ["input", "conditions", "0", "value"],
            "VALIDATION",
        ),
        (
            {"conditions": [cond("ACCEPTED_PERCENT", "GTE", -5)], "action": ban},
            ["input", "conditions", "0", "value"],
            "VALIDATION",
        ),
        (
            {"conditions": [cond("REVIEWED_COUNT", "GTE", -1)], "action": ban},
            ["input", "conditions", "0", "value"],
            "VALIDATION",
        ),
        (
            {"conditions": [cond("REVIEWED_COUNT", "GTE", 2.5)], "action": ban},
            ["input", "conditions", "0", "value"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": {**ban, "days": -1}},
            ["input", "action", "days"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": {"type": "SUSPEND_IN_TASK", "days": 0}},
            ["input", "action", "days"],
            "VALIDATION",
        ),
        (
            {
                "type": "FAST_RESPONSES",
                "conditions": [cond("FAST_COUNT", "GTE", 2, thresholdSeconds=-5)],
                "action": ban,
            },
            ["input", "conditions", "0", "thresholdSeconds"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": ban, "recentValues": -3},
            ["input", "recentValues"],
            "VALIDATION",
        ),
        (
            {"taskId": automatic, "conditions": rejected, "action": {"type": "ACCEPT_ANSWERS"}},
            ["input", "action", "type"],
            "VALIDATION",
        ),
        (
            {
                "taskId": automatic,
                "conditions": rejected,
                "action": {"type": "DECLINE_ANSWERS", "reason": "No."},
            },
            ["input", "action", "type"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": {"type": "DECLINE_ANSWERS"}},
            ["input", "action", "reason"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": {"type": "TOP_UP", "amount": "5.00"}},
            ["input", "action", "type"],
            "VALIDATION",
        ),
        (
            {"conditions": rejected, "action": {"type": "SET_SKILL_VALUE", "value": 50}},
            ["input", "action", "skillId"],
            "VALIDATION",
        ),
        (
            {
                "conditions": rejected,
                "action": {"type": "SET_SKILL_VALUE", "skillId": foreign_skill, "value": 50},
            },
            ["input", "action", "skillId"],
            "NOT_FOUND",
        ),
        (
            {
                "conditions": rejected,
                "action": {"type": "SET_SKILL_VALUE", "skillId": "garbage", "value": 101},
            },
            ["input", "action", "skillId"],
            "NOT_FOUND",
        ),
        (
            {
                "type": "EARNINGS",
                "conditions": [cond("INCOME_LAST_24_HOURS", "GT", amount="5")],
                "action": ban,
            },
            ["input", "conditions", "0", "amount"],
            "VALIDATION",
        ),
        (
            {
                "type": "EARNINGS",
                "conditions": [cond("INCOME_LAST_24_HOURS", "GT", 500)],
                "action": ban,
            },
            ["input", "conditions", "0", "value"],
            "VALIDATION",
        ),
        (
            {
                "type": "AUTOMATION",
                "conditions": [cond("REMAINING_REWARDS", "EQ", 0)],
                "action": {"type": "TOP_UP", "amount": "5.00", "cap": "1.00"},
            },
            ["input", "action", "cap"],
            "VALIDATION",
        ),
        (
            {"taskId": None, "conditions": rejected, "action": ban},
            ["input", "taskId"],
            "VALIDATION",
        ),
        (
            {"taskId": to_global_id("Task", 10**12), "conditions": rejected, "action": ban},
            ["input", "taskId"],
            "NOT_FOUND",
        ),
    ]
    for changes, field, code in cases:
        values = {"taskId": manual, "type": "REVIEW_RESULTS", **changes}
        if values["taskId"] is None:
            del values["taskId"]
        errors = await s.refused(**values)
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in errors
        ], (changes, errors)
        assert all(e["message"] for e in errors)
    # Every problem at once.
    errors = await s.refused(
        taskId=manual,
        type="REVIEW_RESULTS",
        conditions=[cond("REJECTED_PERCENT", "GT", 150), cond("REVIEWED_COUNT", "GTE", -1)],
        action={"type": "BAN", "scope": "PROJECT"},
    )
    assert [e["field"] for e in errors] == [
        ["input", "conditions", "0", "value"],
        ["input", "conditions", "1", "value"],
        ["input", "action", "days"],
    ]


async def test_only_managers_change_rules_and_members_read_them(
    api: Api, account: AccountFixture, other_account: AccountFixture
) -> None:
    from gql_server.models.enums import MemberRole

    s = await session(api, account)
    task = await s.task()
    viewer = await account.member_key(MemberRole.VIEWER)
    values = {
        "taskId": task,
        "type": "REVIEW_RESULTS",
        "conditions": [cond("REVIEWED_COUNT", "GTE", 3)],
        "action": {"type": "SUSPEND_IN_TASK", "days": 1},
    }
    denied = await api.post(CREATE_RULE, {"input": values}, key=viewer)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rule = await s.rule(**values)
    read = await api.data(
        "query ($t: ID!, $id: ID!) { rules(filter: {taskId: $t}) { totalCount edges { node { id } } } node(id: $id) { ... on Rule { type } } }",
        {"t": task, "id": rule["id"]},
        key=viewer,
    )
    assert read["rules"]["totalCount"] == 1 and read["node"] == {"type": "REVIEW_RESULTS"}
    foreign = await api.data(
        "query ($id: ID!) { rule(id: $id) { id } node(id: $id) { id } }",
        {"id": rule["id"]},
        key=other_account.owner_key,
    )
    assert foreign == {"rule": None, "node": None}
    changed = await api.data(
        "mutation ($id: ID!) { setRuleEnabled(input: {ruleId: $id, enabled: false}) { rule { enabled } userErrors { code } } }",
        {"id": rule["id"]},
        key=other_account.owner_key,
    )
    assert changed["setRuleEnabled"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_update_enable_disable_delete(api: Api, account: AccountFixture) -> None:
    s = await session(api, account)
    task = await s.task()
    rule = await s.rule(
        taskId=task,
        type="REVIEW_RESULTS",
        conditions=[cond("REJECTED_PERCENT", "GT", 50)],
        action={"type": "SUSPEND_IN_TASK", "days": 1},
    )
    update = f"""
    mutation ($input: UpdateRuleInput!) {{ updateRule(input: $input) {{ rule {{ {RULE_FIELDS} }} userErrors {{ field code }} }} }}
    """
    updated = await api.data(
        update,
        {"input": {"ruleId": rule["id"], "recentValues": 10, "name": "Strict"}},
        key=s.owner,
    )
    assert updated["updateRule"]["rule"]["recentValues"] == 10
    assert updated["updateRule"]["rule"]["conditions"] == rule["conditions"]
    refused = await api.data(
        update,
        {"input": {"ruleId": rule["id"], "conditions": [cond("REVIEWED_COUNT", "GT", 10)]}},
        key=s.owner,
    )
    # More than 10 of the last 10 can never hold.
    assert refused["updateRule"]["userErrors"] == [
        {"field": ["input", "conditions", "0", "value"], "code": "VALIDATION"}
    ]
    stored = await Rule.get(id=from_global_id(rule["id"])[1])
    assert stored.conditions[0]["metric"] == "REJECTED_PERCENT" and stored.name == "Strict"
    disabled = await api.data(
        "mutation ($id: ID!) { setRuleEnabled(input: {ruleId: $id, enabled: false}) { rule { enabled } } }",
        {"id": rule["id"]},
        key=s.owner,
    )
    assert disabled["setRuleEnabled"]["rule"] == {"enabled": False}
    listed = await api.data(
        "query ($t: ID!) { rules(filter: {taskId: $t, enabled: true}) { totalCount } }",
        {"t": task},
        key=s.owner,
    )
    assert listed["rules"]["totalCount"] == 0
    deleted = await api.data(
        "mutation ($id: ID!) { deleteRule(input: {ruleId: $id}) { deletedRuleId userErrors { code } } }",
        {"id": rule["id"]},
        key=s.owner,
    )
    assert deleted["deleteRule"] == {"deletedRuleId": rule["id"], "userErrors": []}
    again = await api.data(
        "mutation ($id: ID!) { deleteRule(input: {ruleId: $id}) { deletedRuleId userErrors { code } } }",
        {"id": rule["id"]},
        key=s.owner,
    )
    assert again["deleteRule"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_project_rules_are_listed_with_the_task_when_asked(
    api: Api, account: AccountFixture
) -> None:
    s = await session(api, account)
    task = await s.task()
    values = {
        "type": "REVIEW_RESULTS",
        "conditions": [cond("REVIEWED_COUNT", "GTE", 3)],
        "action": {"type": "SUSPEND_IN_TASK", "days": 1},
    }
    own = await s.rule(taskId=task, **values)
    shared = await s.rule(projectId=s.project, **values)
    query = "query ($t: ID!, $all: Boolean!) { rules(filter: {taskId: $t, includeProjectRules: $all}) { edges { node { id project { id } } } } }"
    alone = await api.data(query, {"t": task, "all": False}, key=s.owner)
    assert [e["node"]["id"] for e in alone["rules"]["edges"]] == [own["id"]]
    both = await api.data(query, {"t": task, "all": True}, key=s.owner)
    assert [e["node"]["id"] for e in both["rules"]["edges"]] == [own["id"], shared["id"]]
    assert both["rules"]["edges"][1]["node"]["project"] == {"id": s.project}


# --- dry runs -------------------------------------------------------------------------------

DRY_RUN = """
query ($input: DryRunRuleInput!) { dryRunRule(input: $input) {
  evaluatedCount matchedCount truncated
  matches { worker { id } task { id } submission { id } metrics { metric value } action { type value } }
} }
"""


async def test_a_dry_run_lists_who_the_rule_would_act_on(api: Api, account: AccountFixture) -> None:
    s = await session(api, account)
    task = await s.task()
    sloppy, fine = await new_worker_key(), await new_worker_key()
    for worker, plan in ((sloppy, [False, False, True]), (fine, [True, True, False])):
        for approve in plan:
            await s.review(await s.submitted(worker, task), approve)
    config = {
        "taskId": task,
        "type": "REVIEW_RESULTS",
        "conditions": [cond("REJECTED_PERCENT", "GT", 50)],
        "action": {"type": "BAN", "scope": "ACCOUNT", "days": 15},
    }
    data = await api.data(DRY_RUN, {"input": config}, key=s.owner)
    result = data["dryRunRule"]
    assert (result["evaluatedCount"], result["matchedCount"], result["truncated"]) == (2, 1, False)
    [match] = result["matches"]
    assert match["task"] == {"id": task}
    assert {m["metric"]: m["value"] for m in match["metrics"]} == {
        "REJECTED_PERCENT": pytest.approx(200 / 3),
        "REJECTED_COUNT": 2.0,
        "REVIEWED_COUNT": 3.0,
    }
    assert match["worker"]["id"] == await worker_id(api, sloppy)
    assert await Restriction.filter(account_id=account.account_id).count() == 0
    # A saved rule, by id.
    rule = await s.rule(**config)
    saved = await api.data(DRY_RUN, {"input": {"ruleId": rule["id"]}}, key=s.owner)
    assert saved["dryRunRule"]["matchedCount"] == 1
    # A bad config is BAD_USER_INPUT with the userErrors.
    bad = await api.post(DRY_RUN, {"input": {**config, "conditions": []}}, key=s.owner)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["userErrors"][0]["field"] == ["input", "conditions"]


# --- automation -----------------------------------------------------------------------------


async def test_automation_auto_approves_on_criteria(api: Api, account: AccountFixture) -> None:
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
    trusted = await register_worker(name="Trusted", country="DE")
    other = await new_worker_key()
    set_skill = "mutation ($s: ID!, $w: ID!) { setWorkerSkill(input: {skillId: $s, workerId: $w, value: 95}) { userErrors { code } } }"
    result = await api.data(
        set_skill, {"s": skill, "w": to_global_id("Worker", trusted.id)}, key=s.owner
    )
    assert result["setWorkerSkill"]["userErrors"] == []
    approved = await s.submitted(trusted.api_key, task)
    pending = await s.submitted(other, task)
    states = await api.data(
        "query ($a: ID!, $b: ID!) { a: submission(id: $a) { state reviews { actorKind } } b: submission(id: $b) { state } }",
        {"a": approved, "b": pending},
        key=s.owner,
    )
    assert states["a"] == {"state": "APPROVED", "reviews": [{"actorKind": "RULE"}]}
    assert states["b"] == {"state": "SUBMITTED"}


async def test_automation_rejects_spam_before_automatic_acceptance(
    api: Api, account: AccountFixture
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
        worker = await new_worker_key()
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


async def test_automation_tops_up_the_budget_up_to_the_cap(
    api: Api, account: AccountFixture
) -> None:
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
    worker = await new_worker_key()
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


async def test_automation_bonus_for_exceptional_work(api: Api, account: AccountFixture) -> None:
    s = await session(api, account)
    task = await s.task(reward="1.00")
    await s.rule(
        taskId=task,
        type="AUTOMATION",
        conditions=[cond("RESPONSE_SECONDS", "GTE", 120)],
        action={"type": "PAY_BONUS", "amount": "0.50"},
    )
    worker = await new_worker_key()
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
