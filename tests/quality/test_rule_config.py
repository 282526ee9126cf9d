"""Rule configs: the vocabulary, the seeds' examples as a requester configures them, and
which metrics and actions each rule type takes."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from gql_server.models.enums import RestrictionScope
from gql_server.rules.actions import (
    AcceptAnswers,
    Approve,
    Ban,
    DeclineAnswers,
    PayBonus,
    Reject,
    SetSkillFromAcceptedPercent,
    SetSkillValue,
    SuspendInTask,
    TopUp,
)
from gql_server.rules.config import Condition, RuleConfig
from gql_server.rules.metrics import Metric, MetricRef
from gql_server.rules.triggers import FAMILIES, families_of
from gql_server.rules.vocabulary import ActionType, BanScope, Event, Operator, RuleType
from tests.quality.rule_configs import (
    ACTIONS,
    AUTOMATIC,
    MANUAL,
    A,
    M,
    T,
    condition,
    parse,
    refused_at,
    valid,
)


def test_a_ban_scope_is_one_a_restriction_can_have() -> None:
    # (A rule's type is stored as it is declared: the models use the rules' RuleType.)
    assert {s.value for s in BanScope} < {s.value for s in RestrictionScope}


def test_the_rules_package_loads_neither_the_orm_nor_graphql() -> None:
    code = (
        "import sys, gql_server.rules.validation, gql_server.rules.evaluation, "
        "gql_server.rules.history\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tortoise', 'strawberry', 'graphql') or m.startswith('gql_server.models')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_every_metric_and_action_belongs_to_a_family() -> None:
    assert {m for f in FAMILIES for m in f.metrics} == set(Metric)
    assert {a for f in FAMILIES for a in f.actions} == set(ActionType)
    assert {f.rule_type for f in FAMILIES} == set(RuleType)


# The seeds' examples, as a requester would configure them.


def test_more_than_half_rejected_bans_for_15_days() -> None:
    config = valid(
        conditions=[condition(M.REJECTED_PERCENT, "GT", 50)],
        action={"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Too many mistakes."},
    )
    assert config == RuleConfig(
        T.REVIEW_RESULTS,
        None,
        (Condition(MetricRef(M.REJECTED_PERCENT), Operator.GT, 50),),
        Ban(BanScope.PROJECT, 15, "Too many mistakes."),
    )
    assert config.event is Event.REVIEW


def test_after_3_reviewed_the_skill_is_the_accepted_share() -> None:
    config = valid(
        conditions=[condition(M.REVIEWED_COUNT, "GTE", 3)],
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 4},
    )
    assert config.action == SetSkillFromAcceptedPercent(4)
    assert config.conditions == (Condition(MetricRef(M.REVIEWED_COUNT), Operator.GTE, 3),)


def test_more_than_5_dollars_in_24_hours_suspends() -> None:
    config = valid(
        rule_type=T.EARNINGS,
        conditions=[condition(M.INCOME_LAST_24_HOURS, "GT", 500)],
        action={"type": "SUSPEND_IN_TASK", "days": 1, "reason": "Earnings limit."},
    )
    assert config.action == SuspendInTask(1, "Earnings limit.")
    assert config.event is Event.PAYMENT


def test_more_than_20_submissions_in_the_task_suspends() -> None:
    config = valid(
        rule_type=T.SUBMITTED_ANSWERS,
        conditions=[condition(M.SUBMITTED_COUNT, "GT", 20)],
        action={"type": "SUSPEND_IN_TASK", "days": 7},
    )
    assert config.conditions[0].value == 20
    assert config.event is Event.SUBMISSION


def test_automation_rules_of_the_first_seed() -> None:
    approve = valid(
        rule_type=T.AUTOMATION,
        conditions=[
            condition(M.WORKER_SKILL, "GTE", 90, skill_id=3),
            condition(M.MISSING_PROOF_COUNT, "EQ", 0),
        ],
        action={"type": "APPROVE"},
    )
    assert approve.action == Approve()
    assert approve.conditions[0].ref == MetricRef(M.WORKER_SKILL, 3)
    assert approve.event is Event.SUBMISSION
    for spam in (
        condition(M.PROOF_ITEMS_COUNT, "EQ", 0),
        condition(M.DUPLICATE_PROOF_COUNT, "GT", 0),
        condition(M.RESPONSE_SECONDS, "LT", 30),
    ):
        reject = valid(rule_type=T.AUTOMATION, conditions=[spam], action=ACTIONS[A.REJECT])
        assert reject.action == Reject("Spam.")
    bonus = valid(
        rule_type=T.AUTOMATION,
        conditions=[condition(M.WORKER_SKILL, "GTE", 98)],
        action={"type": "PAY_BONUS", "amount": 250},
    )
    assert bonus.action == PayBonus(250)
    top_up = valid(
        rule_type=T.AUTOMATION,
        conditions=[condition(M.REMAINING_REWARDS, "EQ", 0)],
        action={"type": "TOP_UP", "amount": 5_000, "cap": 20_000},
    )
    assert top_up.action == TopUp(5_000, 20_000)
    assert top_up.event is Event.BUDGET_CHANGE


def test_fast_responses_compare_with_a_threshold_time() -> None:
    config = valid(
        rule_type=T.FAST_RESPONSES,
        recent_values=10,
        conditions=[condition(M.FAST_COUNT, "GTE", 3, threshold_seconds=15)],
        action={"type": "BAN", "scope": "ACCOUNT", "permanent": True},
    )
    assert config.conditions[0].ref == MetricRef(M.FAST_COUNT, 15)
    assert config.action == Ban(BanScope.ACCOUNT, None, "")
    assert config.recent_values == 10


def test_several_conditions_are_all_kept_in_order() -> None:
    config = valid(
        recent_values=10,
        conditions=[
            condition(M.REVIEWED_COUNT, "GTE", 10),
            condition(M.ACCEPTED_LOWER_BOUND, "GTE", 80),
            condition(M.ACCEPTED_PERCENT, "NEQ", 100),
        ],
        action=ACTIONS[A.ACCEPT_ANSWERS],
    )
    assert [c.ref.metric for c in config.conditions] == [
        M.REVIEWED_COUNT,
        M.ACCEPTED_LOWER_BOUND,
        M.ACCEPTED_PERCENT,
    ]
    assert config.action == AcceptAnswers()


def test_percentages_may_have_decimals_and_whole_floats_become_ints() -> None:
    config = valid(
        conditions=[
            condition(M.ACCEPTED_PERCENT, "GTE", 33.3),
            condition(M.REVIEWED_COUNT, "GTE", 3.0),
            condition(M.REJECTED_PERCENT, "LTE", 50.0),
        ]
    )
    values = [c.value for c in config.conditions]
    assert values == [33.3, 3, 50]
    assert [type(v) for v in values] == [float, int, int]


def test_accept_and_decline_are_fine_on_a_manual_task_and_a_project() -> None:
    for mode in (MANUAL, None):
        for action in (A.ACCEPT_ANSWERS, A.DECLINE_ANSWERS):
            assert isinstance(parse(action=ACTIONS[action], mode=mode), RuleConfig)
    assert valid(action=ACTIONS[A.DECLINE_ANSWERS]).action == DeclineAnswers("Too many mistakes.")


def test_automatic_rejection_of_spam_works_on_an_automatic_task() -> None:
    config = valid(
        rule_type=T.AUTOMATION,
        conditions=[condition(M.PROOF_ITEMS_COUNT, "EQ", 0)],
        action=ACTIONS[A.REJECT],
        mode=AUTOMATIC,
    )
    assert config.action == Reject("Spam.")


def test_reasons_are_trimmed_and_optional_for_bans_and_suspensions() -> None:
    config = valid(action={"type": "SUSPEND_IN_TASK", "days": 3, "reason": "  Too fast.  "})
    assert config.action == SuspendInTask(3, "Too fast.")
    assert valid(action={"type": "BAN", "scope": "ACCOUNT", "days": 1}).action == Ban(
        BanScope.ACCOUNT, 1, ""
    )


def test_a_skill_value_is_set_from_0_to_100() -> None:
    for value in (0, 100):
        config = valid(action={"type": "SET_SKILL_VALUE", "skill_id": 1, "value": value})
        assert config.action == SetSkillValue(1, value)


# Which metrics and actions each rule type takes.


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("rule_type", list(RuleType))
def test_a_metric_is_accepted_exactly_for_its_rule_type(
    rule_type: RuleType, metric: Metric
) -> None:
    family = next(
        (f for f in families_of(rule_type) if metric in f.metrics), families_of(rule_type)[0]
    )
    action = ACTIONS[min(family.actions)]
    result = parse(rule_type, [condition(metric)], action)
    if metric in family.metrics:
        assert isinstance(result, RuleConfig), result
        assert result.conditions[0].ref.metric is metric
    else:
        message = refused_at(
            ("conditions", 0, "metric"),
            rule_type=rule_type,
            conditions=[condition(metric)],
            action=action,
        )
        assert metric.value in message and rule_type.value in message


@pytest.mark.parametrize("action_type", list(ActionType))
@pytest.mark.parametrize("rule_type", list(RuleType))
def test_an_action_is_accepted_exactly_for_its_rule_types(
    rule_type: RuleType, action_type: ActionType
) -> None:
    family = next((f for f in families_of(rule_type) if action_type in f.actions), None)
    metric = (family or families_of(rule_type)[0]).metrics[0]
    kwargs: dict[str, Any] = {
        "rule_type": rule_type,
        "conditions": [condition(metric)],
        "action": ACTIONS[action_type],
    }
    if family is None:
        message = refused_at(("action", "type"), **kwargs)
        assert action_type.value in message
    else:
        assert valid(**kwargs).action.type is action_type


def test_the_automation_action_decides_which_metrics_apply() -> None:
    message = refused_at(
        ("conditions", 0, "metric"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.REMAINING_REWARDS, "EQ", 0)],
        action=ACTIONS[A.APPROVE],
    )
    assert "SUBMISSION" in message and "WORKER_SKILL" in message
    refused_at(
        ("conditions", 0, "metric"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.WORKER_SKILL, "GTE", 90)],
        action=ACTIONS[A.TOP_UP],
    )


def test_a_bonus_never_follows_earnings_which_it_would_raise() -> None:
    refused_at(
        ("action", "type"),
        rule_type=T.EARNINGS,
        conditions=[condition(M.INCOME_LAST_24_HOURS, "GT", 500)],
        action=ACTIONS[A.PAY_BONUS],
    )
