"""Rule configs for the tests of their validation and storage: a valid action for every
type, conditions with their parameters, and parse_rule wrapped to say what it accepted or
refused at which field."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import settings

from gql_server.models.enums import AcceptanceMode
from gql_server.rules.config import RuleConfig
from gql_server.rules.metrics import SPECS, Metric, Parameter
from gql_server.rules.validation import RuleError, parse_rule
from gql_server.rules.vocabulary import ActionType, RuleType

PROPERTIES = settings(database=None, derandomize=os.environ.get("CI") == "true")


T = RuleType


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


def default_action(rule_type: RuleType) -> dict[str, Any]:
    if rule_type is T.AUTOMATION:
        return ACTIONS[A.APPROVE]
    return ACTIONS[A.SUSPEND_IN_TASK]


def parse(
    rule_type: RuleType | str = T.REVIEW_RESULTS,
    conditions: Any = None,
    action: Any = None,
    *,
    recent_values: Any = None,
    mode: AcceptanceMode | None = MANUAL,
) -> RuleConfig | list[RuleError]:
    if conditions is None:
        conditions = [condition(M.REVIEWED_COUNT)]
    if action is None and isinstance(rule_type, RuleType):
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
