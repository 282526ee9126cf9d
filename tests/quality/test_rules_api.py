"""Managing rules through GraphQL: every invalid config refused at its field with nothing
stored, who may change or read rules, update, enable, disable, delete, project rules with
a task's, and dry runs."""

from __future__ import annotations

from typing import Any

import pytest

from gql_server.models import Restriction, Rule
from gql_server.schema.relay import to_global_id
from gql_server.services.global_ids import from_global_id
from tests.factories import Requester, new_worker
from tests.graphql_client import Api
from tests.quality.rules_session import CREATE_RULE, RULE_FIELDS, cond, session, worker_id

# --- invalid configs ------------------------------------------------------------------------


async def test_every_invalid_config_is_refused_at_its_field(
    api: Api, account: Requester, other_account: Requester
) -> None:
    s = await session(api, account)
    manual = await s.task()
    automatic = await s.task(acceptanceMode="AUTOMATIC")
    foreign_skill = (
        await api.data(
            'mutation { createSkill(input: {name: "Theirs"}) { skill { id } } }',
            key=other_account.key,
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
    api: Api, account: Requester, other_account: Requester
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
        key=other_account.key,
    )
    assert foreign == {"rule": None, "node": None}
    changed = await api.data(
        "mutation ($id: ID!) { setRuleEnabled(input: {ruleId: $id, enabled: false}) { rule { enabled } userErrors { code } } }",
        {"id": rule["id"]},
        key=other_account.key,
    )
    assert changed["setRuleEnabled"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_update_enable_disable_delete(api: Api, account: Requester) -> None:
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
    api: Api, account: Requester
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


async def test_a_dry_run_lists_who_the_rule_would_act_on(api: Api, account: Requester) -> None:
    s = await session(api, account)
    task = await s.task()
    sloppy, fine = (await new_worker()).key, (await new_worker()).key
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
