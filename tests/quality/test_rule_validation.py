"""Rule configs: the vocabulary, validation of what callers send, and the stored JSON shape."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gql_server.models.enums import AcceptanceMode, RestrictionScope, RuleType
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
from gql_server.rules.metrics import SPECS, Metric, MetricRef, Parameter
from gql_server.rules.triggers import FAMILIES, families_of
from gql_server.rules.validation import (
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_RECENT_VALUES,
    RuleError,
    load_rule,
    parse_rule,
)
from gql_server.rules.vocabulary import ActionType, BanScope, Event, Operator, TriggerType

PROPERTIES = settings(database=None, derandomize=os.environ.get("CI") == "true")

T = TriggerType
A = ActionType
M = Metric
MANUAL = AcceptanceMode.MANUAL
AUTOMATIC = AcceptanceMode.AUTOMATIC

# A valid action and a valid condition for every family, to vary one part at a time.
ACTIONS: dict[ActionType, dict[str, Any]] = {
    A.SET_SKILL_FROM_ACCEPTED_PERCENT: {"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 7},
    A.SET_SKILL_VALUE: {"type": "SET_SKILL_VALUE", "skill_id": 7, "value": 80},
    A.ACCEPT_ANSWERS: {"type": "ACCEPT_ANSWERS"},
    A.DECLINE_ANSWERS: {"type": "DECLINE_ANSWERS", "reason": "Too many mistakes."},
    A.SUSPEND_IN_TASK: {"type": "SUSPEND_IN_TASK", "days": 1},
    A.BAN: {"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Careless."},
    A.PAY_BONUS: {"type": "PAY_BONUS", "amount": 100},
    A.APPROVE: {"type": "APPROVE"},
    A.REJECT: {"type": "REJECT", "reason": "Spam."},
    A.TOP_UP: {"type": "TOP_UP", "amount": 5_000, "cap": 20_000},
}
PARAMETERS = {Parameter.SKILL_ID: 7, Parameter.THRESHOLD_SECONDS: 20}


def condition(metric: Metric, operator: str = "GTE", value: Any = 1, **extra: Any) -> dict:
    parameter = SPECS[metric].parameter
    if parameter is not None:
        extra.setdefault(parameter.value, PARAMETERS[parameter])
    return {"metric": metric.value, "operator": operator, "value": value, **extra}


def default_action(rule_type: TriggerType) -> dict[str, Any]:
    if rule_type is T.AUTOMATION:
        return ACTIONS[A.APPROVE]
    return ACTIONS[A.SUSPEND_IN_TASK]


def parse(
    rule_type: TriggerType | str = T.REVIEW_RESULTS,
    conditions: Any = None,
    action: Any = None,
    *,
    recent_values: Any = None,
    mode: AcceptanceMode | None = MANUAL,
) -> RuleConfig | list[RuleError]:
    if conditions is None:
        conditions = [condition(M.REVIEWED_COUNT)]
    if action is None and isinstance(rule_type, TriggerType):
        action = default_action(rule_type)
    return parse_rule(
        rule_type=rule_type,
        recent_values=recent_values,
        conditions=conditions,
        action=action,
        acceptance_mode=mode,
    )


def valid(**kwargs: Any) -> RuleConfig:
    config = parse(**kwargs)
    assert isinstance(config, RuleConfig), config
    return config


def refused(**kwargs: Any) -> dict[tuple[str, ...], str]:
    """The problems, by field path; every one has the VALIDATION code."""
    errors = parse(**kwargs)
    assert isinstance(errors, list) and errors, errors
    assert {e.code for e in errors} == {"VALIDATION"}
    assert all(e.message.strip() for e in errors)
    return {e.field: e.message for e in errors}


def refused_at(path: tuple[str, ...], **kwargs: Any) -> str:
    errors = refused(**kwargs)
    assert list(errors) == [path], errors
    return errors[path]


def test_the_vocabulary_mirrors_the_stored_enumerations() -> None:
    assert [t.value for t in TriggerType] == [t.value for t in RuleType]
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
    assert {f.rule_type for f in FAMILIES} == set(TriggerType)


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
@pytest.mark.parametrize("rule_type", list(TriggerType))
def test_a_metric_is_accepted_exactly_for_its_rule_type(
    rule_type: TriggerType, metric: Metric
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
            ("input", "conditions", "0", "metric"),
            rule_type=rule_type,
            conditions=[condition(metric)],
            action=action,
        )
        assert metric.value in message and rule_type.value in message


@pytest.mark.parametrize("action_type", list(ActionType))
@pytest.mark.parametrize("rule_type", list(TriggerType))
def test_an_action_is_accepted_exactly_for_its_rule_types(
    rule_type: TriggerType, action_type: ActionType
) -> None:
    family = next((f for f in families_of(rule_type) if action_type in f.actions), None)
    metric = (family or families_of(rule_type)[0]).metrics[0]
    kwargs: dict[str, Any] = {
        "rule_type": rule_type,
        "conditions": [condition(metric)],
        "action": ACTIONS[action_type],
    }
    if family is None:
        message = refused_at(("input", "action", "type"), **kwargs)
        assert action_type.value in message
    else:
        assert valid(**kwargs).action.type is action_type


def test_the_automation_action_decides_which_metrics_apply() -> None:
    message = refused_at(
        ("input", "conditions", "0", "metric"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.REMAINING_REWARDS, "EQ", 0)],
        action=ACTIONS[A.APPROVE],
    )
    assert "SUBMISSION" in message and "WORKER_SKILL" in message
    refused_at(
        ("input", "conditions", "0", "metric"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.WORKER_SKILL, "GTE", 90)],
        action=ACTIONS[A.TOP_UP],
    )


def test_a_bonus_never_follows_earnings_which_it_would_raise() -> None:
    refused_at(
        ("input", "action", "type"),
        rule_type=T.EARNINGS,
        conditions=[condition(M.INCOME_LAST_24_HOURS, "GT", 500)],
        action=ACTIONS[A.PAY_BONUS],
    )


# Refusals, each at the field at fault.

CONDITION_0 = ("input", "conditions", "0")


@pytest.mark.parametrize("conditions", [None, [], ()])
def test_a_rule_needs_a_condition(conditions: Any) -> None:
    errors = parse_rule(
        rule_type="REVIEW_RESULTS",
        recent_values=None,
        conditions=conditions,
        action=ACTIONS[A.BAN],
        acceptance_mode="MANUAL",
    )
    assert errors == [
        RuleError("VALIDATION", "A rule needs at least one condition.", ("input", "conditions"))
    ]


@pytest.mark.parametrize("action", [None, {}])
def test_a_rule_needs_an_action(action: Any) -> None:
    errors = parse_rule(
        rule_type="REVIEW_RESULTS",
        recent_values=None,
        conditions=[condition(M.REVIEWED_COUNT)],
        action=action,
        acceptance_mode="MANUAL",
    )
    assert errors == [RuleError("VALIDATION", "A rule needs an action.", ("input", "action"))]


def test_an_unknown_or_missing_rule_type_is_refused() -> None:
    message = refused_at(("input", "type"), rule_type="GOLDEN_SET", action=ACTIONS[A.BAN])
    assert "GOLDEN_SET" in message and "REVIEW_RESULTS" in message
    errors = parse_rule(
        rule_type=None,
        recent_values=None,
        conditions=[condition(M.REVIEWED_COUNT)],
        action=ACTIONS[A.BAN],
        acceptance_mode=None,
    )
    assert [e.field for e in errors] == [("input", "type")]


def test_an_unknown_rule_type_still_checks_the_rest() -> None:
    errors = parse_rule(
        rule_type="NOPE",
        recent_values=0,
        conditions=[{"metric": "NOPE", "operator": "GT", "value": 1}],
        action={"type": "NOPE"},
        acceptance_mode=None,
    )
    assert [e.field for e in errors] == [
        ("input", "type"),
        ("input", "recentValues"),
        (*CONDITION_0, "metric"),
        ("input", "action", "type"),
    ]


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"operator": "GT", "value": 1}, "metric"),
        ({"metric": "REJECTED", "operator": "GT", "value": 1}, "metric"),
        ({"metric": 5, "operator": "GT", "value": 1}, "metric"),
        ({"metric": "REVIEWED_COUNT", "value": 1}, "operator"),
        ({"metric": "REVIEWED_COUNT", "operator": ">", "value": 1}, "operator"),
        ({"metric": "REVIEWED_COUNT", "operator": "gt", "value": 1}, "operator"),
        ({"metric": "REVIEWED_COUNT", "operator": "GT"}, "value"),
        ({"metric": "REVIEWED_COUNT", "operator": "GT", "value": 1, "days": 3}, "days"),
        ({"metric": "REVIEWED_COUNT", "operator": "GT", "value": 1, "skill_id": 3}, "skillId"),
        ({"metric": "SUBMITTED_COUNT", "operator": "GT", "value": 1}, "metric"),
    ],
)
def test_a_malformed_condition_is_refused_at_its_field(raw: dict, path: str) -> None:
    refused_at((*CONDITION_0, path), conditions=[raw])


@pytest.mark.parametrize("raw", ["REVIEWED_COUNT > 3", 3, None, ["REVIEWED_COUNT"]])
def test_a_condition_must_be_an_object(raw: Any) -> None:
    refused_at(CONDITION_0, conditions=[raw])


def test_conditions_must_be_a_list_of_limited_length() -> None:
    refused_at(("input", "conditions"), conditions={"metric": "REVIEWED_COUNT"})
    many = [condition(M.REVIEWED_COUNT)] * (MAX_CONDITIONS + 1)
    assert "at most" in refused_at(("input", "conditions"), conditions=many)
    assert valid(conditions=[condition(M.REVIEWED_COUNT)] * MAX_CONDITIONS)


PERCENT_METRICS = [m for m in Metric if SPECS[m].scale.high == 100]
WHOLE_METRICS = [m for m in Metric if SPECS[m].scale.whole]


def rule_type_of(metric: Metric) -> tuple[TriggerType, dict[str, Any]]:
    family = next(f for f in FAMILIES if metric in f.metrics)
    return family.rule_type, ACTIONS[min(family.actions)]


@pytest.mark.parametrize("value", [-1, -0.01, 100.01, 101, 1e9])
@pytest.mark.parametrize("metric", PERCENT_METRICS)
def test_a_percentage_or_skill_outside_0_to_100_is_refused(metric: Metric, value: float) -> None:
    rule_type, action = rule_type_of(metric)
    message = refused_at(
        (*CONDITION_0, "value"),
        rule_type=rule_type,
        conditions=[condition(metric, "GTE", value)],
        action=action,
    )
    assert "from 0 to 100" in message


@pytest.mark.parametrize("value", [-1, -500, 2.5, 0.1])
@pytest.mark.parametrize("metric", WHOLE_METRICS)
def test_a_count_amount_or_duration_is_whole_and_not_negative(metric: Metric, value: float) -> None:
    rule_type, action = rule_type_of(metric)
    message = refused_at(
        (*CONDITION_0, "value"),
        rule_type=rule_type,
        conditions=[condition(metric, "GTE", value)],
        action=action,
    )
    assert "whole number" in message and metric.value in message


@pytest.mark.parametrize("value", [True, False, "3", None, math.nan, math.inf, [3], {"amount": 3}])
def test_a_value_must_be_a_number(value: Any) -> None:
    refused_at((*CONDITION_0, "value"), conditions=[condition(M.ACCEPTED_PERCENT, "GT", value)])


@pytest.mark.parametrize(
    ("metric", "operator", "value", "recent_values"),
    [
        (M.REJECTED_PERCENT, "GT", 100, None),
        (M.ACCEPTED_LOWER_BOUND, "GT", 100, None),
        (M.ACCEPTED_PERCENT, "LT", 0, None),
        (M.REVIEWED_COUNT, "LT", 0, None),
        (M.REVIEWED_COUNT, "GT", 5, 5),
        (M.REVIEWED_COUNT, "GTE", 6, 5),
        (M.REJECTED_COUNT, "EQ", 11, 10),
    ],
)
def test_a_condition_that_can_never_hold_is_refused(
    metric: Metric, operator: str, value: int, recent_values: int | None
) -> None:
    message = refused_at(
        (*CONDITION_0, "value"),
        conditions=[condition(metric, operator, value)],
        recent_values=recent_values,
    )
    assert message.startswith("This condition can never hold")


@pytest.mark.parametrize(
    ("metric", "operator", "value", "recent_values"),
    [
        (M.REJECTED_PERCENT, "GTE", 100, None),
        (M.REJECTED_PERCENT, "EQ", 100, None),
        (M.ACCEPTED_PERCENT, "LTE", 0, None),
        (M.REVIEWED_COUNT, "GTE", 5, 5),
        (M.REVIEWED_COUNT, "GT", 4, 5),
        (M.REVIEWED_COUNT, "GT", 500, None),
        (M.REVIEWED_COUNT, "NEQ", 0, 1),
    ],
)
def test_a_condition_that_can_hold_at_its_edge_is_accepted(
    metric: Metric, operator: str, value: int, recent_values: int | None
) -> None:
    valid(conditions=[condition(metric, operator, value)], recent_values=recent_values)


def test_submitted_answers_are_not_capped_by_a_window() -> None:
    valid(rule_type=T.SUBMITTED_ANSWERS, conditions=[condition(M.SUBMITTED_COUNT, "GT", 1_000)])


@pytest.mark.parametrize("threshold", [None, 0, -5, 2.5, "20", 7 * 24 * 3600 + 1])
def test_fast_responses_need_a_positive_whole_threshold(threshold: Any) -> None:
    refused_at(
        (*CONDITION_0, "thresholdSeconds"),
        rule_type=T.FAST_RESPONSES,
        conditions=[
            {"metric": "FAST_COUNT", "operator": "GT", "value": 2, "threshold_seconds": threshold}
        ],
    )


@pytest.mark.parametrize("skill_id", [None, 0, -1, 1.5, "7"])
def test_a_skill_condition_names_its_skill(skill_id: Any) -> None:
    refused_at(
        (*CONDITION_0, "skillId"),
        rule_type=T.AUTOMATION,
        conditions=[
            {"metric": "WORKER_SKILL", "operator": "GTE", "value": 90, "skill_id": skill_id}
        ],
    )


def test_a_parameter_of_another_metric_is_refused() -> None:
    refused_at(
        (*CONDITION_0, "thresholdSeconds"),
        rule_type=T.FAST_RESPONSES,
        conditions=[condition(M.RECENT_COUNT, "GTE", 5, threshold_seconds=10)],
    )


@pytest.mark.parametrize("recent_values", [0, -1, 2.5, "10", True, MAX_RECENT_VALUES + 1])
def test_recent_values_are_a_whole_number_of_at_least_1(recent_values: Any) -> None:
    refused_at(("input", "recentValues"), recent_values=recent_values)


@pytest.mark.parametrize("rule_type", [T.EARNINGS, T.SUBMITTED_ANSWERS, T.AUTOMATION])
def test_recent_values_apply_only_to_result_histories(rule_type: TriggerType) -> None:
    family = families_of(rule_type)[0]
    message = refused_at(
        ("input", "recentValues"),
        rule_type=rule_type,
        conditions=[condition(family.metrics[0])],
        action=ACTIONS[min(family.actions)],
        recent_values=10,
    )
    assert rule_type.value in message


@pytest.mark.parametrize("action_type", [A.ACCEPT_ANSWERS, A.DECLINE_ANSWERS])
def test_accept_and_decline_are_refused_on_an_automatic_task(action_type: ActionType) -> None:
    message = refused_at(("input", "action", "type"), action=ACTIONS[action_type], mode=AUTOMATIC)
    assert "automatically" in message


def test_automatic_approval_by_a_rule_is_refused_on_an_automatic_task() -> None:
    refused_at(
        ("input", "action", "type"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.WORKER_SKILL, "GTE", 90)],
        action=ACTIONS[A.APPROVE],
        mode=AUTOMATIC,
    )


ACTION = ("input", "action")


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "FINE"}, "type"),
        ({"type": None, "days": 3}, "type"),
        ({"days": 3}, "type"),
        ({"type": "BAN", "scope": "PROJECT", "days": 0}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "days": -15}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "days": 1.5}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "days": MAX_DAYS + 1}, "days"),
        ({"type": "BAN", "scope": "PROJECT"}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "permanent": False}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "permanent": True, "days": 15}, "days"),
        ({"type": "BAN", "scope": "PROJECT", "permanent": 1}, "permanent"),
        ({"type": "BAN", "days": 15}, "scope"),
        ({"type": "BAN", "scope": "TASK", "days": 15}, "scope"),
        ({"type": "BAN", "scope": "PROJECT", "days": 15, "reason": 5}, "reason"),
        ({"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "x" * 2001}, "reason"),
        ({"type": "SUSPEND_IN_TASK", "days": 0}, "days"),
        ({"type": "SUSPEND_IN_TASK", "days": -1}, "days"),
        ({"type": "SUSPEND_IN_TASK"}, "days"),
        ({"type": "SUSPEND_IN_TASK", "days": 3, "scope": "PROJECT"}, "scope"),
        ({"type": "DECLINE_ANSWERS"}, "reason"),
        ({"type": "DECLINE_ANSWERS", "reason": "   "}, "reason"),
        ({"type": "SET_SKILL_VALUE", "skill_id": 1, "value": 101}, "value"),
        ({"type": "SET_SKILL_VALUE", "skill_id": 1, "value": -1}, "value"),
        ({"type": "SET_SKILL_VALUE", "skill_id": 1, "value": 50.5}, "value"),
        ({"type": "SET_SKILL_VALUE", "skill_id": 1}, "value"),
        ({"type": "SET_SKILL_VALUE", "value": 50}, "skillId"),
        ({"type": "SET_SKILL_FROM_ACCEPTED_PERCENT"}, "skillId"),
        ({"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 0}, "skillId"),
        ({"type": "PAY_BONUS", "amount": 0}, "amount"),
        ({"type": "PAY_BONUS", "amount": -100}, "amount"),
        ({"type": "PAY_BONUS", "amount": "1.00"}, "amount"),
        ({"type": "ACCEPT_ANSWERS", "reason": "Good."}, "reason"),
    ],
)
def test_a_malformed_action_is_refused_at_its_field(action: dict, field: str) -> None:
    refused_at((*ACTION, field), action=action)


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "REJECT"}, "reason"),
        ({"type": "REJECT", "reason": ""}, "reason"),
        ({"type": "PAY_BONUS", "amount": -1}, "amount"),
    ],
)
def test_a_malformed_automation_action_is_refused_at_its_field(action: dict, field: str) -> None:
    refused_at(
        (*ACTION, field),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.PROOF_ITEMS_COUNT, "EQ", 0)],
        action=action,
    )


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "TOP_UP", "amount": 0, "cap": 100}, "amount"),
        ({"type": "TOP_UP", "amount": -5, "cap": 100}, "amount"),
        ({"type": "TOP_UP", "amount": 500}, "cap"),
        ({"type": "TOP_UP", "amount": 500, "cap": -1}, "cap"),
        ({"type": "TOP_UP", "amount": 500, "cap": 499}, "cap"),
    ],
)
def test_a_top_up_has_a_positive_amount_within_its_cap(action: dict, field: str) -> None:
    refused_at(
        (*ACTION, field),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.REMAINING_REWARDS, "EQ", 0)],
        action=action,
    )


@pytest.mark.parametrize("action", ["BAN", ["BAN"], 15])
def test_an_action_must_be_an_object(action: Any) -> None:
    refused_at(ACTION, action=action)


def test_every_problem_is_reported_at_once() -> None:
    errors = refused(
        recent_values=0,
        conditions=[
            condition(M.REJECTED_PERCENT, "GT", 150),
            condition(M.REVIEWED_COUNT, "GTE", -3),
            {"metric": "ACCEPTED_PERCENT", "operator": "ABOUT", "value": 50},
        ],
        action={"type": "BAN", "scope": "PROJECT", "days": 0},
    )
    assert set(errors) == {
        ("input", "recentValues"),
        (*CONDITION_0, "value"),
        ("input", "conditions", "1", "value"),
        ("input", "conditions", "2", "operator"),
        ("input", "action", "days"),
    }


# The stored shape.


def test_the_stored_shape_of_a_rule() -> None:
    config = valid(
        rule_type=T.FAST_RESPONSES,
        recent_values=10,
        conditions=[
            condition(M.RECENT_COUNT, "GTE", 5),
            condition(M.FAST_COUNT, "GT", 2, threshold_seconds=20),
        ],
        action={"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Bot."},
    )
    assert config.conditions_json() == [
        {"metric": "RECENT_COUNT", "operator": "GTE", "value": 5},
        {"metric": "FAST_COUNT", "operator": "GT", "value": 2, "threshold_seconds": 20},
    ]
    assert config.action_json() == {
        "type": "BAN",
        "scope": "PROJECT",
        "days": 15,
        "permanent": False,
        "reason": "Bot.",
    }
    permanent = valid(action={"type": "BAN", "scope": "ACCOUNT", "permanent": True})
    assert permanent.action_json() == {
        "type": "BAN",
        "scope": "ACCOUNT",
        "days": None,
        "permanent": True,
        "reason": "",
    }


@pytest.mark.parametrize("action_type", list(ActionType))
def test_every_action_survives_storage(action_type: ActionType) -> None:
    family = next(f for f in FAMILIES if action_type in f.actions)
    config = valid(
        rule_type=family.rule_type,
        conditions=[condition(family.metrics[0])],
        action=ACTIONS[action_type],
        mode=None,
    )
    assert config.action_json()["type"] == action_type.value
    assert (
        load_rule(
            rule_type=config.type.value,
            recent_values=config.recent_values,
            conditions=config.conditions_json(),
            action=config.action_json(),
        )
        == config
    )


def test_a_corrupt_stored_rule_cannot_be_loaded() -> None:
    with pytest.raises(ValueError, match=r"input\.action\.days"):
        load_rule(
            rule_type="REVIEW_RESULTS",
            recent_values=None,
            conditions=[condition(M.REVIEWED_COUNT)],
            action={"type": "BAN", "scope": "PROJECT", "days": 0},
        )


def test_a_config_with_an_action_outside_its_family_has_no_event() -> None:
    config = RuleConfig(T.EARNINGS, None, (), PayBonus(100))
    with pytest.raises(ValueError, match="PAY_BONUS"):
        _ = config.event


# Properties.


def _valid_condition(family_metrics: tuple[Metric, ...]) -> st.SearchStrategy[dict]:
    def build(metric: Metric) -> st.SearchStrategy[dict]:
        scale = SPECS[metric].scale
        high = scale.high if scale.high is not None else 10**6
        numbers = (
            st.integers(0, high)
            if scale.whole
            else st.one_of(st.integers(0, high), st.floats(0, high, allow_nan=False))
        )
        parameter = SPECS[metric].parameter
        extra = {} if parameter is None else {parameter.value: st.integers(1, 3600)}
        return st.fixed_dictionaries(
            {
                "metric": st.just(metric.value),
                # Conditions that can hold whatever the value and the window.
                "operator": st.sampled_from(["LTE", "NEQ"]),
                "value": numbers,
                **extra,
            }
        )

    return st.sampled_from(family_metrics).flatmap(build)


@st.composite
def raw_rules(draw: st.DrawFn) -> dict[str, Any]:
    family = draw(st.sampled_from(FAMILIES))
    action_type = draw(st.sampled_from(sorted(family.actions)))
    action = dict(ACTIONS[action_type])
    if action_type is A.BAN:
        action.update(draw(st.sampled_from([{"days": 3}, {"days": None, "permanent": True}])))
    return {
        "rule_type": family.rule_type.value,
        "recent_values": draw(st.none() | st.integers(1, 100)) if family.windowed else None,
        "conditions": draw(st.lists(_valid_condition(family.metrics), min_size=1, max_size=4)),
        "action": action,
    }


@PROPERTIES
@given(raw_rules())
def test_a_valid_config_survives_storage(raw: dict[str, Any]) -> None:
    config = parse_rule(**raw, acceptance_mode=None)
    assert isinstance(config, RuleConfig), config
    stored = load_rule(
        rule_type=config.type.value,
        recent_values=config.recent_values,
        conditions=config.conditions_json(),
        action=config.action_json(),
    )
    assert stored == config
    assert len(config.conditions) == len(raw["conditions"])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
NAMES = st.sampled_from(
    [*TriggerType, *Metric, *Operator, *ActionType, *BanScope, "x", "skill_id", "days"]
)


@PROPERTIES
@given(
    rule_type=NAMES | JSON,
    recent_values=JSON,
    conditions=st.lists(
        st.dictionaries(
            st.sampled_from(["metric", "operator", "value", "skill_id", "threshold_seconds"]),
            NAMES | JSON,
        )
    )
    | JSON,
    action=st.dictionaries(
        st.sampled_from(["type", "days", "scope", "reason", "amount", "cap", "permanent"]),
        NAMES | JSON,
    )
    | JSON,
    mode=st.sampled_from([None, "MANUAL", "AUTOMATIC"]),
)
def test_any_input_gives_a_config_or_field_errors(
    rule_type: Any, recent_values: Any, conditions: Any, action: Any, mode: str | None
) -> None:
    result = parse_rule(
        rule_type=rule_type,
        recent_values=recent_values,
        conditions=conditions,
        action=action,
        acceptance_mode=mode,
    )
    if isinstance(result, list):
        assert result
        assert all(e.field[0] == "input" and e.code == "VALIDATION" for e in result)
    else:
        assert result.conditions and result.action
