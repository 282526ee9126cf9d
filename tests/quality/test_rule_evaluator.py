"""The pure evaluator: every metric, every operator, the seeds' examples at their boundaries."""

from __future__ import annotations

import operator as op
import os
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gql_server.rules.actions import (
    AcceptAnswers,
    Action,
    Approve,
    Ban,
    PayBonus,
    Reject,
    SetSkillFromAcceptedPercent,
    SetSkillValue,
    SuspendInTask,
    TopUp,
)
from gql_server.rules.config import Condition, RuleConfig
from gql_server.rules.evaluation import Decision, evaluate, holds, metrics_needed
from gql_server.rules.metrics import SPECS, Measured, Metric, MetricRef
from gql_server.rules.triggers import FAMILIES
from gql_server.rules.validation import parse_rule
from gql_server.rules.vocabulary import BanScope, Operator, RuleType

PROPERTIES = settings(database=None, derandomize=os.environ.get("CI") == "true")

M = Metric
T = RuleType
OP = Operator


def ref(metric: Metric, parameter: int | None = None) -> MetricRef:
    return MetricRef(metric, parameter)


def rule(rule_type: RuleType, *conditions: dict[str, Any], action: dict[str, Any]) -> RuleConfig:
    """A config as the services would save it: through validation."""
    config = parse_rule(
        rule_type=rule_type,
        recent_values=None,
        conditions=list(conditions),
        action=action,
        acceptance_mode="MANUAL",
    )
    assert isinstance(config, RuleConfig), config
    return config


def when(metric: str, operator: str, value: float, **extra: Any) -> dict[str, Any]:
    return {"metric": metric, "operator": operator, "value": value, **extra}


def review(reviewed: int, accepted: int) -> dict[MetricRef, int | None]:
    """What the loader computes for review results: counts only."""
    return {
        ref(M.REVIEWED_COUNT): reviewed,
        ref(M.ACCEPTED_COUNT): accepted,
        ref(M.REJECTED_COUNT): reviewed - accepted,
    }


# Operators.

OPERATOR_TABLE = [
    (OP.GT, 51, 50, True),
    (OP.GT, 50, 50, False),
    (OP.GT, 49, 50, False),
    (OP.GTE, 51, 50, True),
    (OP.GTE, 50, 50, True),
    (OP.GTE, 49, 50, False),
    (OP.LT, 51, 50, False),
    (OP.LT, 50, 50, False),
    (OP.LT, 49, 50, True),
    (OP.LTE, 51, 50, False),
    (OP.LTE, 50, 50, True),
    (OP.LTE, 49, 50, True),
    (OP.EQ, 51, 50, False),
    (OP.EQ, 50, 50, True),
    (OP.EQ, 49, 50, False),
    (OP.NEQ, 51, 50, True),
    (OP.NEQ, 50, 50, False),
    (OP.NEQ, 49, 50, True),
]


def test_the_operator_table_names_every_operator() -> None:
    assert {row[0] for row in OPERATOR_TABLE} == set(Operator)


@pytest.mark.parametrize(("operator", "measured", "value", "expected"), OPERATOR_TABLE)
def test_each_operator_below_at_and_above_its_value(
    operator: Operator, measured: int, value: int, expected: bool
) -> None:
    assert holds(operator, measured, value) is expected
    assert holds(operator, Fraction(measured), float(value)) is expected


@pytest.mark.parametrize("operator", list(Operator))
@pytest.mark.parametrize("value", [0, 50, 100])
def test_nothing_holds_of_an_undefined_metric(operator: Operator, value: int) -> None:
    assert holds(operator, None, value) is False


def test_a_decimal_value_means_its_decimal_digits() -> None:
    exactly = Fraction(333, 10)  # 333 of 1000 accepted
    assert holds(OP.EQ, exactly, 33.3)
    assert not holds(OP.GT, exactly, 33.3)
    assert holds(OP.GT, Fraction(100, 3), 33.3)
    assert holds(OP.LT, Fraction(100, 3), 33.34)


# Every metric: a loaded example, what it measures, and each operator around that value.

EXAMPLES: dict[Metric, tuple[MetricRef, dict[MetricRef, int | None], Measured]] = {
    M.REVIEWED_COUNT: (ref(M.REVIEWED_COUNT), {ref(M.REVIEWED_COUNT): 4}, 4),
    M.ACCEPTED_COUNT: (ref(M.ACCEPTED_COUNT), {ref(M.ACCEPTED_COUNT): 3}, 3),
    M.REJECTED_COUNT: (ref(M.REJECTED_COUNT), {ref(M.REJECTED_COUNT): 1}, 1),
    M.ACCEPTED_PERCENT: (
        ref(M.ACCEPTED_PERCENT),
        {ref(M.ACCEPTED_COUNT): 3, ref(M.REVIEWED_COUNT): 4},
        Fraction(75),
    ),
    M.REJECTED_PERCENT: (
        ref(M.REJECTED_PERCENT),
        {ref(M.REJECTED_COUNT): 2, ref(M.REVIEWED_COUNT): 3},
        Fraction(200, 3),
    ),
    # Wilson's 95% lower bound of 3 of 4: about 30.06%.
    M.ACCEPTED_LOWER_BOUND: (
        ref(M.ACCEPTED_LOWER_BOUND),
        {ref(M.ACCEPTED_COUNT): 3, ref(M.REVIEWED_COUNT): 4},
        None,
    ),
    M.INCOME_LAST_24_HOURS: (ref(M.INCOME_LAST_24_HOURS), {ref(M.INCOME_LAST_24_HOURS): 501}, 501),
    M.SUBMITTED_COUNT: (ref(M.SUBMITTED_COUNT), {ref(M.SUBMITTED_COUNT): 21}, 21),
    M.RECENT_COUNT: (ref(M.RECENT_COUNT), {ref(M.RECENT_COUNT): 10}, 10),
    M.FAST_COUNT: (ref(M.FAST_COUNT, 20), {ref(M.FAST_COUNT, 20): 3}, 3),
    M.AUDITED_COUNT: (ref(M.AUDITED_COUNT), {ref(M.AUDITED_COUNT): 5}, 5),
    M.AUDIT_ACCEPTED_COUNT: (ref(M.AUDIT_ACCEPTED_COUNT), {ref(M.AUDIT_ACCEPTED_COUNT): 3}, 3),
    M.AUDIT_FIXED_COUNT: (ref(M.AUDIT_FIXED_COUNT), {ref(M.AUDIT_FIXED_COUNT): 1}, 1),
    M.AUDIT_REJECTED_COUNT: (ref(M.AUDIT_REJECTED_COUNT), {ref(M.AUDIT_REJECTED_COUNT): 2}, 2),
    M.AUDIT_ACCEPTED_PERCENT: (
        ref(M.AUDIT_ACCEPTED_PERCENT),
        {ref(M.AUDIT_ACCEPTED_COUNT): 3, ref(M.AUDITED_COUNT): 5},
        Fraction(60),
    ),
    M.AUDIT_FIXED_PERCENT: (
        ref(M.AUDIT_FIXED_PERCENT),
        {ref(M.AUDIT_FIXED_COUNT): 1, ref(M.AUDITED_COUNT): 8},
        Fraction(25, 2),
    ),
    M.AUDIT_REJECTED_PERCENT: (
        ref(M.AUDIT_REJECTED_PERCENT),
        {ref(M.AUDIT_REJECTED_COUNT): 2, ref(M.AUDITED_COUNT): 5},
        Fraction(40),
    ),
    M.WORKER_SKILL: (ref(M.WORKER_SKILL, 7), {ref(M.WORKER_SKILL, 7): 95}, 95),
    M.RESPONSE_SECONDS: (ref(M.RESPONSE_SECONDS), {ref(M.RESPONSE_SECONDS): 12}, 12),
    M.PROOF_ITEMS_COUNT: (ref(M.PROOF_ITEMS_COUNT), {ref(M.PROOF_ITEMS_COUNT): 2}, 2),
    M.MISSING_PROOF_COUNT: (ref(M.MISSING_PROOF_COUNT), {ref(M.MISSING_PROOF_COUNT): 1}, 1),
    M.DUPLICATE_PROOF_COUNT: (ref(M.DUPLICATE_PROOF_COUNT), {ref(M.DUPLICATE_PROOF_COUNT): 1}, 1),
    M.REMAINING_BUDGET: (ref(M.REMAINING_BUDGET), {ref(M.REMAINING_BUDGET): 250}, 250),
    M.REMAINING_REWARDS: (ref(M.REMAINING_REWARDS), {ref(M.REMAINING_REWARDS): 1}, 1),
    M.TOPPED_UP_TOTAL: (ref(M.TOPPED_UP_TOTAL), {ref(M.TOPPED_UP_TOTAL): 5_000}, 5_000),
}
COMPARE = {OP.GT: op.gt, OP.GTE: op.ge, OP.LT: op.lt, OP.LTE: op.le, OP.EQ: op.eq, OP.NEQ: op.ne}


def plain_action(metric: Metric) -> Action:
    """An action of the metric's family that needs no metric of its own to resolve."""
    family = next(f for f in FAMILIES if metric in f.metrics)
    if family.rule_type is T.AUTOMATION:
        return (
            TopUp(100, 1_000_000)
            if metric in {M.REMAINING_BUDGET, M.TOPPED_UP_TOTAL, M.REMAINING_REWARDS}
            else Approve()
        )
    return SuspendInTask(1)


def test_every_metric_has_an_example() -> None:
    assert set(EXAMPLES) == set(Metric)


@pytest.mark.parametrize("metric", list(Metric))
def test_each_metric_is_measured_from_what_the_loader_gives(metric: Metric) -> None:
    metric_ref, loaded, expected = EXAMPLES[metric]
    config = RuleConfig(
        T.REVIEW_RESULTS, None, (Condition(metric_ref, OP.GTE, 0),), SuspendInTask(1)
    )
    assert metrics_needed(config) == frozenset(loaded)
    measured = evaluate(config, loaded).metrics[metric_ref]
    if metric is M.ACCEPTED_LOWER_BOUND:
        assert measured == pytest.approx(30.06, abs=0.01)
    else:
        assert measured == expected


@pytest.mark.parametrize("operator", list(Operator))
@pytest.mark.parametrize("metric", list(Metric))
def test_each_metric_with_each_operator(metric: Metric, operator: Operator) -> None:
    metric_ref, loaded, _ = EXAMPLES[metric]
    action = plain_action(metric)
    loaded = {ref(M.TOPPED_UP_TOTAL): 0, **loaded} if isinstance(action, TopUp) else loaded
    rule_type = next(f.rule_type for f in FAMILIES if metric in f.metrics)
    measured = evaluate(
        RuleConfig(rule_type, None, (Condition(metric_ref, OP.GTE, 0),), action), loaded
    ).metrics[metric_ref]
    assert measured is not None
    # Whole values just below, at and just above what was measured.
    for value in sorted({int(measured) - 1, int(measured), int(measured) + 1}):
        config = RuleConfig(rule_type, None, (Condition(metric_ref, operator, value),), action)
        decision = evaluate(config, loaded)
        assert decision.fired is COMPARE[operator](measured, value), (value, decision)
        assert decision.action == (action if decision.fired else None)


@pytest.mark.parametrize(
    "metric",
    [
        M.ACCEPTED_PERCENT,
        M.REJECTED_PERCENT,
        M.ACCEPTED_LOWER_BOUND,
        M.AUDIT_ACCEPTED_PERCENT,
        M.AUDIT_FIXED_PERCENT,
        M.AUDIT_REJECTED_PERCENT,
    ],
)
@pytest.mark.parametrize("operator", list(Operator))
def test_a_share_of_nothing_satisfies_no_condition(metric: Metric, operator: Operator) -> None:
    loaded = {r: 0 for r in ref(metric).loaded_refs()}
    config = RuleConfig(
        T.REVIEW_RESULTS, None, (Condition(ref(metric), operator, 0),), SuspendInTask(1)
    )
    decision = evaluate(config, loaded)
    assert decision.metrics[ref(metric)] is None
    assert not decision.fired and decision.action is None


@pytest.mark.parametrize("operator", list(Operator))
def test_a_skill_the_worker_does_not_have_satisfies_no_condition(operator: Operator) -> None:
    config = rule(
        T.AUTOMATION, when("WORKER_SKILL", operator, 50, skill_id=3), action={"type": "APPROVE"}
    )
    assert not evaluate(config, {ref(M.WORKER_SKILL, 3): None}).fired


def test_a_metric_the_loader_forgot_is_a_programming_error() -> None:
    config = rule(
        T.REVIEW_RESULTS, when("REJECTED_PERCENT", "GT", 50), action={"type": "ACCEPT_ANSWERS"}
    )
    with pytest.raises(ValueError, match="REJECTED_COUNT was not loaded"):
        evaluate(config, {ref(M.REVIEWED_COUNT): 3})


def test_a_metric_ref_carries_its_parameter_exactly_when_it_takes_one() -> None:
    with pytest.raises(ValueError, match="skill_id"):
        MetricRef(M.WORKER_SKILL)
    with pytest.raises(ValueError):
        MetricRef(M.REVIEWED_COUNT, 3)
    assert MetricRef(M.WORKER_SKILL, 3).key == "WORKER_SKILL:3"
    assert MetricRef(M.FAST_COUNT, 20).key == "FAST_COUNT:20"
    assert MetricRef(M.REVIEWED_COUNT).key == "REVIEWED_COUNT"


# The seeds' examples, exactly as they read.

BAN_15_DAYS = {"type": "BAN", "scope": "PROJECT", "days": 15, "reason": "Too many mistakes."}


@pytest.mark.parametrize(
    ("reviewed", "rejected", "fires"),
    [
        (0, 0, False),
        (1, 0, False),
        (1, 1, True),
        (2, 1, False),  # exactly 50% is not more than 50%
        (3, 2, True),
        (4, 2, False),
        (100, 50, False),
        (101, 51, True),
        (1000, 501, True),
    ],
)
def test_more_than_half_rejected_bans_for_15_days(
    reviewed: int, rejected: int, fires: bool
) -> None:
    config = rule(T.REVIEW_RESULTS, when("REJECTED_PERCENT", "GT", 50), action=BAN_15_DAYS)
    decision = evaluate(config, review(reviewed, reviewed - rejected))
    assert decision.fired is fires
    assert decision.action == (Ban(BanScope.PROJECT, 15, "Too many mistakes.") if fires else None)


@pytest.mark.parametrize(
    ("reviewed", "accepted", "skill"),
    [
        (0, 0, None),
        (2, 2, None),  # not yet 3 reviewed
        (3, 2, 67),
        (3, 3, 100),
        (3, 0, 0),
        (3, 1, 33),
        (8, 1, 13),  # 12.5 rounds up, as a person rounds
        (8, 3, 38),  # 37.5
        (200, 1, 1),  # 0.5
    ],
)
def test_after_3_reviewed_the_skill_is_the_accepted_share(
    reviewed: int, accepted: int, skill: int | None
) -> None:
    config = rule(
        T.REVIEW_RESULTS,
        when("REVIEWED_COUNT", "GTE", 3),
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 4},
    )
    assert metrics_needed(config) == {ref(M.REVIEWED_COUNT), ref(M.ACCEPTED_COUNT)}
    decision = evaluate(config, review(reviewed, accepted))
    assert decision.action == (None if skill is None else SetSkillValue(4, skill))
    assert decision.fired is (skill is not None)


def test_the_skill_from_the_share_waits_for_a_share() -> None:
    config = rule(
        T.REVIEW_RESULTS,
        when("REVIEWED_COUNT", "GTE", 0),
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 4},
    )
    assert not evaluate(config, review(0, 0)).fired
    assert evaluate(config, review(1, 1)).action == SetSkillValue(4, 100)


def test_the_skill_from_an_audit_share_is_the_accepted_share_of_audits() -> None:
    config = rule(
        T.AUDIT_RESULTS,
        when("AUDITED_COUNT", "GTE", 3),
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 9},
    )
    assert metrics_needed(config) == {ref(M.AUDITED_COUNT), ref(M.AUDIT_ACCEPTED_COUNT)}
    loaded = {ref(M.AUDITED_COUNT): 4, ref(M.AUDIT_ACCEPTED_COUNT): 3}
    assert evaluate(config, loaded).action == SetSkillValue(9, 75)


@pytest.mark.parametrize(("income", "fires"), [(0, False), (499, False), (500, False), (501, True)])
def test_more_than_5_dollars_in_24_hours_suspends(income: int, fires: bool) -> None:
    config = rule(
        T.EARNINGS,
        when("INCOME_LAST_24_HOURS", "GT", 500),
        action={"type": "SUSPEND_IN_TASK", "days": 1, "reason": "Earnings limit."},
    )
    decision = evaluate(config, {ref(M.INCOME_LAST_24_HOURS): income})
    assert decision.fired is fires
    assert decision.action == (SuspendInTask(1, "Earnings limit.") if fires else None)


@pytest.mark.parametrize(("submitted", "fires"), [(1, False), (20, False), (21, True), (40, True)])
def test_more_than_20_submissions_in_the_task_suspends(submitted: int, fires: bool) -> None:
    config = rule(
        T.SUBMITTED_ANSWERS,
        when("SUBMITTED_COUNT", "GT", 20),
        action={"type": "SUSPEND_IN_TASK", "days": 7},
    )
    assert evaluate(config, {ref(M.SUBMITTED_COUNT): submitted}).fired is fires


def test_fast_responses_among_the_recent_ones() -> None:
    config = rule(
        T.FAST_RESPONSES,
        when("RECENT_COUNT", "GTE", 5),
        when("FAST_COUNT", "GTE", 3, threshold_seconds=15),
        action={"type": "BAN", "scope": "ACCOUNT", "permanent": True, "reason": "Bot."},
    )
    assert metrics_needed(config) == {ref(M.RECENT_COUNT), ref(M.FAST_COUNT, 15)}
    assert not evaluate(config, {ref(M.RECENT_COUNT): 4, ref(M.FAST_COUNT, 15): 4}).fired
    assert not evaluate(config, {ref(M.RECENT_COUNT): 10, ref(M.FAST_COUNT, 15): 2}).fired
    decision = evaluate(config, {ref(M.RECENT_COUNT): 5, ref(M.FAST_COUNT, 15): 3})
    assert decision.action == Ban(BanScope.ACCOUNT, None, "Bot.")


def test_each_threshold_of_fast_responses_is_its_own_metric() -> None:
    config = rule(
        T.FAST_RESPONSES,
        when("FAST_COUNT", "GTE", 1, threshold_seconds=5),
        when("FAST_COUNT", "GTE", 4, threshold_seconds=30),
        action={"type": "SUSPEND_IN_TASK", "days": 1},
    )
    assert metrics_needed(config) == {ref(M.FAST_COUNT, 5), ref(M.FAST_COUNT, 30)}
    assert evaluate(config, {ref(M.FAST_COUNT, 5): 1, ref(M.FAST_COUNT, 30): 4}).fired
    assert not evaluate(config, {ref(M.FAST_COUNT, 5): 0, ref(M.FAST_COUNT, 30): 9}).fired


# The Wilson lower bound: a small perfect record is weaker evidence than a large one.


def test_2_of_2_accepted_is_not_200_of_200() -> None:
    lower_bound = rule(
        T.REVIEW_RESULTS,
        when("ACCEPTED_LOWER_BOUND", "GTE", 90),
        action={"type": "ACCEPT_ANSWERS"},
    )
    share = rule(
        T.REVIEW_RESULTS, when("ACCEPTED_PERCENT", "GTE", 90), action={"type": "ACCEPT_ANSWERS"}
    )
    small, large = evaluate(lower_bound, review(2, 2)), evaluate(lower_bound, review(200, 200))
    assert small.metrics[ref(M.ACCEPTED_LOWER_BOUND)] == pytest.approx(34.24, abs=0.01)
    assert large.metrics[ref(M.ACCEPTED_LOWER_BOUND)] == pytest.approx(98.12, abs=0.01)
    assert not small.fired
    assert large.action == AcceptAnswers()
    # Nothing accepted is 0%, however many were reviewed.
    assert evaluate(lower_bound, review(3, 0)).metrics[ref(M.ACCEPTED_LOWER_BOUND)] == 0
    assert evaluate(share, review(2, 2)).fired and evaluate(share, review(200, 200)).fired


# Automation rules of the first seed.


def submission(
    skill: int | None = 95,
    missing: int = 0,
    items: int = 2,
    duplicates: int = 0,
    seconds: int = 120,
) -> dict[MetricRef, int | None]:
    return {
        ref(M.WORKER_SKILL, 3): skill,
        ref(M.MISSING_PROOF_COUNT): missing,
        ref(M.PROOF_ITEMS_COUNT): items,
        ref(M.DUPLICATE_PROOF_COUNT): duplicates,
        ref(M.RESPONSE_SECONDS): seconds,
    }


def test_auto_approval_on_a_skill_threshold_and_complete_proof() -> None:
    config = rule(
        T.AUTOMATION,
        when("WORKER_SKILL", "GTE", 90, skill_id=3),
        when("MISSING_PROOF_COUNT", "EQ", 0),
        action={"type": "APPROVE"},
    )
    assert evaluate(config, submission(skill=90)).action == Approve()
    assert not evaluate(config, submission(skill=89)).fired
    assert not evaluate(config, submission(skill=None)).fired
    assert not evaluate(config, submission(missing=1)).fired


@pytest.mark.parametrize(
    ("spam", "caught", "fine"),
    [
        (when("PROOF_ITEMS_COUNT", "EQ", 0), submission(items=0), submission(items=1)),
        (when("DUPLICATE_PROOF_COUNT", "GT", 0), submission(duplicates=1), submission()),
        (when("RESPONSE_SECONDS", "LT", 30), submission(seconds=29), submission(seconds=30)),
    ],
)
def test_auto_rejection_of_obvious_spam(spam: dict, caught: dict, fine: dict) -> None:
    config = rule(T.AUTOMATION, spam, action={"type": "REJECT", "reason": "Spam."})
    assert evaluate(config, caught).action == Reject("Spam.")
    assert not evaluate(config, fine).fired


def test_a_bonus_for_exceptional_work() -> None:
    config = rule(
        T.AUTOMATION,
        when("WORKER_SKILL", "GTE", 98, skill_id=3),
        action={"type": "PAY_BONUS", "amount": 250},
    )
    assert evaluate(config, submission(skill=99)).action == PayBonus(250)
    assert not evaluate(config, submission(skill=97)).fired


@pytest.mark.parametrize(
    ("remaining_rewards", "topped_up", "amount"),
    [
        (0, 0, 5_000),
        (0, 15_000, 5_000),
        (0, 17_000, 3_000),  # only what fits under the cap
        (0, 19_999, 1),
        (0, 20_000, None),  # the cap is reached
        (0, 25_000, None),
        (1, 0, None),  # not depleted
    ],
)
def test_a_depleted_budget_is_topped_up_up_to_a_cap(
    remaining_rewards: int, topped_up: int, amount: int | None
) -> None:
    config = rule(
        T.AUTOMATION,
        when("REMAINING_REWARDS", "EQ", 0),
        action={"type": "TOP_UP", "amount": 5_000, "cap": 20_000},
    )
    assert metrics_needed(config) == {ref(M.REMAINING_REWARDS), ref(M.TOPPED_UP_TOTAL)}
    decision = evaluate(
        config, {ref(M.REMAINING_REWARDS): remaining_rewards, ref(M.TOPPED_UP_TOTAL): topped_up}
    )
    assert decision.action == (None if amount is None else TopUp(amount, 20_000))


def test_an_unknown_top_up_total_tops_up_nothing() -> None:
    config = rule(
        T.AUTOMATION,
        when("REMAINING_BUDGET", "LT", 100),
        action={"type": "TOP_UP", "amount": 5_000, "cap": 20_000},
    )
    loaded = {ref(M.REMAINING_BUDGET): 0, ref(M.TOPPED_UP_TOTAL): None}
    assert not evaluate(config, loaded).fired


# What a firing records.


def test_a_decision_records_the_values_that_made_it_fire() -> None:
    config = rule(
        T.REVIEW_RESULTS,
        when("REVIEWED_COUNT", "GTE", 3),
        when("REJECTED_PERCENT", "GT", 50),
        action=BAN_15_DAYS,
    )
    decision = evaluate(config, review(3, 1))
    assert decision == Decision(
        True,
        {
            ref(M.REVIEWED_COUNT): 3,
            ref(M.REJECTED_PERCENT): Fraction(200, 3),
            ref(M.REJECTED_COUNT): 2,
        },
        Ban(BanScope.PROJECT, 15, "Too many mistakes."),
    )
    assert decision.metrics_json() == {
        "REVIEWED_COUNT": 3,
        "REJECTED_PERCENT": pytest.approx(66.6667, abs=1e-4),
        "REJECTED_COUNT": 2,
    }
    assert decision.action_json() == {
        "type": "BAN",
        "scope": "PROJECT",
        "days": 15,
        "permanent": False,
        "reason": "Too many mistakes.",
    }


def test_a_decision_that_does_not_fire_still_says_why() -> None:
    config = rule(T.REVIEW_RESULTS, when("REJECTED_PERCENT", "GT", 50), action=BAN_15_DAYS)
    decision = evaluate(config, review(2, 1))
    assert not decision.fired and decision.action is None and decision.action_json() is None
    assert decision.metrics_json() == {
        "REJECTED_PERCENT": 50.0,
        "REJECTED_COUNT": 1,
        "REVIEWED_COUNT": 2,
    }


def test_a_resolved_skill_is_recorded_as_the_value_it_sets() -> None:
    config = rule(
        T.REVIEW_RESULTS,
        when("REVIEWED_COUNT", "GTE", 3),
        action={"type": "SET_SKILL_FROM_ACCEPTED_PERCENT", "skill_id": 4},
    )
    decision = evaluate(config, review(3, 2))
    assert decision.action_json() == {"type": "SET_SKILL_VALUE", "skill_id": 4, "value": 67}
    assert decision.metrics_json()["ACCEPTED_PERCENT"] == pytest.approx(66.6667, abs=1e-4)


def test_all_conditions_must_hold() -> None:
    config = rule(
        T.REVIEW_RESULTS,
        when("REVIEWED_COUNT", "GTE", 10),
        when("ACCEPTED_PERCENT", "GTE", 80),
        action={"type": "ACCEPT_ANSWERS"},
    )
    assert evaluate(config, review(10, 8)).fired
    assert not evaluate(config, review(9, 9)).fired
    assert not evaluate(config, review(10, 7)).fired


# Properties, against integer arithmetic as the oracle.

COUNTS = st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@PROPERTIES
@given(COUNTS, st.integers(0, 100), st.sampled_from(list(Operator)))
def test_a_rejected_share_condition_is_exact(
    counts: tuple[int, int], value: int, operator: Operator
) -> None:
    reviewed, rejected = counts
    config = RuleConfig(
        T.REVIEW_RESULTS,
        None,
        (Condition(ref(M.REJECTED_PERCENT), operator, value),),
        SuspendInTask(1),
    )
    # rejected / reviewed <op> value / 100  <=>  100 * rejected <op> value * reviewed
    expected = reviewed > 0 and COMPARE[operator](100 * rejected, value * reviewed)
    assert evaluate(config, review(reviewed, reviewed - rejected)).fired is expected


@PROPERTIES
@given(COUNTS)
def test_shares_are_percentages_that_add_up(counts: tuple[int, int]) -> None:
    reviewed, accepted = counts
    config = RuleConfig(
        T.REVIEW_RESULTS,
        None,
        tuple(
            Condition(ref(m), OP.GTE, 0)
            for m in (M.ACCEPTED_PERCENT, M.REJECTED_PERCENT, M.ACCEPTED_LOWER_BOUND)
        ),
        SuspendInTask(1),
    )
    metrics = evaluate(config, review(reviewed, accepted)).metrics
    shares = [metrics[ref(m)] for m in (M.ACCEPTED_PERCENT, M.REJECTED_PERCENT)]
    bound = metrics[ref(M.ACCEPTED_LOWER_BOUND)]
    if reviewed == 0:
        assert shares == [None, None] and bound is None
        return
    accepted_share, rejected_share = shares
    assert accepted_share is not None and rejected_share is not None and bound is not None
    assert accepted_share + rejected_share == 100
    assert 0 <= bound <= accepted_share <= 100


@PROPERTIES
@given(st.integers(1, 5_000))
def test_a_longer_perfect_record_has_a_higher_lower_bound(n: int) -> None:
    config = RuleConfig(
        T.REVIEW_RESULTS,
        None,
        (Condition(ref(M.ACCEPTED_LOWER_BOUND), OP.GTE, 0),),
        SuspendInTask(1),
    )

    def bound(k: int) -> Measured:
        return evaluate(config, review(k, k)).metrics[ref(M.ACCEPTED_LOWER_BOUND)]

    smaller, larger = bound(n), bound(n + 1)
    assert smaller is not None and larger is not None and smaller < larger < 100


@PROPERTIES
@given(COUNTS.filter(lambda c: c[0] > 0))
def test_the_skill_is_the_share_rounded_half_up(counts: tuple[int, int]) -> None:
    reviewed, accepted = counts
    config = RuleConfig(
        T.REVIEW_RESULTS,
        None,
        (Condition(ref(M.REVIEWED_COUNT), OP.GTE, 1),),
        SetSkillFromAcceptedPercent(1),
    )
    # floor(100 a / n + 1/2) = floor((200 a + n) / 2n)
    expected = (200 * accepted + reviewed) // (2 * reviewed)
    assert evaluate(config, review(reviewed, accepted)).action == SetSkillValue(1, expected)


@PROPERTIES
@given(
    st.integers(0, 10**6),
    st.integers(-(10**6), 10**6),
    st.sampled_from(list(Operator)),
)
def test_operators_are_complements_and_mirrors(
    measured: int, value: int, operator: Operator
) -> None:
    complement = {OP.GT: OP.LTE, OP.GTE: OP.LT, OP.EQ: OP.NEQ}
    complement |= {b: a for a, b in complement.items()}
    mirror = {OP.GT: OP.LT, OP.GTE: OP.LTE, OP.EQ: OP.EQ, OP.NEQ: OP.NEQ}
    mirror |= {b: a for a, b in mirror.items()}
    assert holds(operator, measured, value) is not holds(complement[operator], measured, value)
    assert holds(operator, measured, value) is holds(mirror[operator], value, measured)
    assert holds(operator, measured, value) is COMPARE[operator](measured, value)


@PROPERTIES
@given(
    st.integers(1, 10_000),
    st.integers(1, 10_000),
    st.lists(st.integers(0, 3), min_size=1, max_size=30),
)
def test_top_ups_never_exceed_their_cap(amount: int, extra: int, rounds: list[int]) -> None:
    cap = amount + extra
    config = RuleConfig(
        T.AUTOMATION,
        None,
        (Condition(ref(M.REMAINING_REWARDS), OP.EQ, 0),),
        TopUp(amount, cap),
    )
    total = 0
    for remaining in rounds:
        decision = evaluate(
            config, {ref(M.REMAINING_REWARDS): remaining, ref(M.TOPPED_UP_TOTAL): total}
        )
        if decision.fired:
            assert isinstance(decision.action, TopUp)
            assert 0 < decision.action.amount <= amount
            total += decision.action.amount
        else:
            assert remaining != 0 or total == cap
        assert total <= cap


def test_every_metric_spec_is_consistent() -> None:
    for metric, spec in SPECS.items():
        derived = spec.derive is not None
        assert derived == bool(spec.inputs), metric
        assert not (derived and spec.parameter), metric
        assert all(SPECS[i].derive is None for i in spec.inputs), metric
