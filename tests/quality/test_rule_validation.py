"""Validation of rule configs: each refusal at the field at fault, with the VALIDATION code,
and every problem at once."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gql_server.rules.metrics import SPECS, Metric
from gql_server.rules.triggers import FAMILIES, families_of
from gql_server.rules.validation import (
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_RECENT_VALUES,
    RuleError,
    parse_rule,
)
from gql_server.rules.vocabulary import ActionType, RuleType
from tests.quality.rule_configs import (
    ACTIONS,
    AUTOMATIC,
    A,
    M,
    T,
    condition,
    refused,
    refused_at,
    valid,
)

CONDITION_0 = ("conditions", 0)


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
        RuleError("VALIDATION", "A rule needs at least one condition.", ("conditions",))
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
    assert errors == [RuleError("VALIDATION", "A rule needs an action.", ("action",))]


def test_an_unknown_or_missing_rule_type_is_refused() -> None:
    message = refused_at(("type",), rule_type="GOLDEN_SET", action=ACTIONS[A.BAN])
    assert "GOLDEN_SET" in message and "REVIEW_RESULTS" in message
    errors = parse_rule(
        rule_type=None,
        recent_values=None,
        conditions=[condition(M.REVIEWED_COUNT)],
        action=ACTIONS[A.BAN],
        acceptance_mode=None,
    )
    assert [e.field for e in errors] == [("type",)]


def test_an_unknown_rule_type_still_checks_the_rest() -> None:
    errors = parse_rule(
        rule_type="NOPE",
        recent_values=0,
        conditions=[{"metric": "NOPE", "operator": "GT", "value": 1}],
        action={"type": "NOPE"},
        acceptance_mode=None,
    )
    assert [e.field for e in errors] == [
        ("type",),
        ("recent_values",),
        (*CONDITION_0, "metric"),
        ("action", "type"),
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
        ({"metric": "REVIEWED_COUNT", "operator": "GT", "value": 1, "skill_id": 3}, "skill_id"),
        ({"metric": "SUBMITTED_COUNT", "operator": "GT", "value": 1}, "metric"),
    ],
)
def test_a_malformed_condition_is_refused_at_its_field(raw: dict, path: str) -> None:
    refused_at((*CONDITION_0, path), conditions=[raw])


@pytest.mark.parametrize("raw", ["REVIEWED_COUNT > 3", 3, None, ["REVIEWED_COUNT"]])
def test_a_condition_must_be_an_object(raw: Any) -> None:
    refused_at(CONDITION_0, conditions=[raw])


def test_conditions_must_be_a_list_of_limited_length() -> None:
    refused_at(("conditions",), conditions={"metric": "REVIEWED_COUNT"})
    many = [condition(M.REVIEWED_COUNT)] * (MAX_CONDITIONS + 1)
    assert "at most" in refused_at(("conditions",), conditions=many)
    assert valid(conditions=[condition(M.REVIEWED_COUNT)] * MAX_CONDITIONS)


PERCENT_METRICS = [m for m in Metric if SPECS[m].scale.high == 100]
WHOLE_METRICS = [m for m in Metric if SPECS[m].scale.whole]


def rule_type_of(metric: Metric) -> tuple[RuleType, dict[str, Any]]:
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
        (*CONDITION_0, "threshold_seconds"),
        rule_type=T.FAST_RESPONSES,
        conditions=[
            {"metric": "FAST_COUNT", "operator": "GT", "value": 2, "threshold_seconds": threshold}
        ],
    )


@pytest.mark.parametrize("skill_id", [None, 0, -1, 1.5, "7"])
def test_a_skill_condition_names_its_skill(skill_id: Any) -> None:
    refused_at(
        (*CONDITION_0, "skill_id"),
        rule_type=T.AUTOMATION,
        conditions=[
            {"metric": "WORKER_SKILL", "operator": "GTE", "value": 90, "skill_id": skill_id}
        ],
    )


def test_a_parameter_of_another_metric_is_refused() -> None:
    refused_at(
        (*CONDITION_0, "threshold_seconds"),
        rule_type=T.FAST_RESPONSES,
        conditions=[condition(M.RECENT_COUNT, "GTE", 5, threshold_seconds=10)],
    )


@pytest.mark.parametrize("recent_values", [0, -1, 2.5, "10", True, MAX_RECENT_VALUES + 1])
def test_recent_values_are_a_whole_number_of_at_least_1(recent_values: Any) -> None:
    refused_at(("recent_values",), recent_values=recent_values)


@pytest.mark.parametrize("rule_type", [T.EARNINGS, T.SUBMITTED_ANSWERS, T.AUTOMATION])
def test_recent_values_apply_only_to_result_histories(rule_type: RuleType) -> None:
    family = families_of(rule_type)[0]
    message = refused_at(
        ("recent_values",),
        rule_type=rule_type,
        conditions=[condition(family.metrics[0])],
        action=ACTIONS[min(family.actions)],
        recent_values=10,
    )
    assert rule_type.value in message


@pytest.mark.parametrize("action_type", [A.ACCEPT_ANSWERS, A.DECLINE_ANSWERS])
def test_accept_and_decline_are_refused_on_an_automatic_task(action_type: ActionType) -> None:
    message = refused_at(("action", "type"), action=ACTIONS[action_type], mode=AUTOMATIC)
    assert "automatically" in message


def test_automatic_approval_by_a_rule_is_refused_on_an_automatic_task() -> None:
    refused_at(
        ("action", "type"),
        rule_type=T.AUTOMATION,
        conditions=[condition(M.WORKER_SKILL, "GTE", 90)],
        action=ACTIONS[A.APPROVE],
        mode=AUTOMATIC,
    )


ACTION = ("action",)


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
        ({"type": "SET_SKILL_VALUE", "value": 50}, "skill_id"),
        ({"type": "SET_SKILL_FROM_ACCEPTED_PERCENT"}, "skill_id"),
        ({"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 0}, "skill_id"),
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
        ("recent_values",),
        (*CONDITION_0, "value"),
        ("conditions", 1, "value"),
        ("conditions", 2, "operator"),
        ("action", "days"),
    }
