"""Checking a rule config as a caller sent it: the typed config, or every problem at once.

Pure: whether a skill id names one of the account's skills is for the services to check.
Field paths name the config's own fields (snake_case, list indexes as ints), like the
services' FieldError paths; the API layer spells them as its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from gql_server.rules.actions import (
    AcceptAnswers,
    Action,
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
from gql_server.rules.metrics import SPECS, Metric, MetricRef, MetricSpec, Parameter
from gql_server.rules.triggers import Family, families_of, family_of
from gql_server.rules.vocabulary import ActionType, BanScope, Operator, RuleType

VALIDATION = "VALIDATION"
MAX_CONDITIONS = 20
MAX_RECENT_VALUES = 10_000
# Longer than ten years is what `permanent` is for.
MAX_DAYS = 3_650
MAX_THRESHOLD_SECONDS = 7 * 24 * 3600
MAX_REASON_LENGTH = 2_000
# Acting on answers as if they were reviewed makes no sense where nobody reviews.
NEEDS_MANUAL_REVIEW = frozenset(
    {ActionType.ACCEPT_ANSWERS, ActionType.DECLINE_ANSWERS, ActionType.APPROVE}
)

Path = tuple[str | int, ...]
_INPUT_ORDER = ("type", "recent_values", "conditions", "action")
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class RuleError:
    """One problem of a config; the services turn it into their FieldError(code, message, field)."""

    code: str
    message: str
    field: Path


def _label(segment: str | int) -> str:
    """How a message names a field to a person: as clients spell it (camelCase)."""
    head, *rest = str(segment).split("_")
    return head + "".join(part.title() for part in rest)


def _whole_number(raw: object) -> int | None:
    """`raw` as an int if it is one (20.0 from a Float input counts); bools are not numbers."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return None


def _number(raw: object) -> int | float | None:
    """`raw` as a finite number, whole ones as int so that stored configs compare equal."""
    whole = _whole_number(raw)
    if whole is not None:
        return whole
    if isinstance(raw, float) and math.isfinite(raw):
        return raw
    return None


class _Check:
    """Collects problems, so that a caller learns all of them in one answer."""

    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    def fail(self, path: Path, message: str) -> None:
        self.errors.append(RuleError(VALIDATION, message, path))

    def enum(self, kind: type[E], raw: object, path: Path) -> E | None:
        if raw is None:
            self.fail(path, f"'{_label(path[-1])}' is required.")
            return None
        try:
            return kind(raw)
        except ValueError:
            self.fail(path, f"Unknown {_label(path[-1])} {raw!r}; one of: {', '.join(kind)}.")
            return None

    def whole(self, raw: object, path: Path, *, low: int, high: int | None) -> int | None:
        name = _label(path[-1])
        if raw is None:
            self.fail(path, f"'{name}' is required.")
            return None
        value = _whole_number(raw)
        if value is None:
            self.fail(path, f"'{name}' must be a whole number.")
        elif high is None and value < low:
            self.fail(path, f"'{name}' must be at least {low}.")
        elif high is not None and not low <= value <= high:
            self.fail(path, f"'{name}' must be from {low} to {high}.")
        else:
            return value
        return None

    def text(self, raw: object, path: Path, *, required: bool) -> str | None:
        name = _label(path[-1])
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.fail(path, f"'{name}' must not be empty.")
                return None
            return ""
        if not isinstance(raw, str):
            self.fail(path, f"'{name}' must be text.")
            return None
        if len(raw.strip()) > MAX_REASON_LENGTH:
            self.fail(path, f"'{name}' is longer than {MAX_REASON_LENGTH} characters.")
            return None
        return raw.strip()


class _Fields:
    """The fields of one input object, each read once, so that unknown ones can be named."""

    def __init__(self, check: _Check, raw: Mapping[str, Any], path: Path) -> None:
        self.check, self.raw, self.path = check, raw, path
        self.read: set[str] = set()

    def get(self, key: str) -> tuple[object, Path]:
        self.read.add(key)
        return self.raw.get(key), (*self.path, key)

    def refuse_unknown(self) -> None:
        for key, value in self.raw.items():
            if key not in self.read and value is not None:
                self.check.fail((*self.path, str(key)), f"Unknown field '{key}'.")


def parse_rule(
    *,
    rule_type: object,
    recent_values: object,
    conditions: object,
    action: object,
    acceptance_mode: str | None,
) -> RuleConfig | list[RuleError]:
    """A config as sent (conditions and action in their stored JSON shape) or its problems.

    `acceptance_mode` is the task's (`AcceptanceMode` value); None for a project's rule,
    whose tasks may differ.
    """
    check = _Check()
    type_ = check.enum(RuleType, rule_type, ("type",))
    parsed_action = _action(check, action, type_, acceptance_mode)
    families: tuple[Family, ...] = ()
    if type_ is not None:
        family = None if parsed_action is None else family_of(type_, parsed_action.type)
        families = (family,) if family else families_of(type_)
    window = _recent_values(check, recent_values, type_, families)
    parsed_conditions = _conditions(check, conditions, type_, families, window)
    if check.errors or type_ is None or parsed_action is None or parsed_conditions is None:
        # In the order of the input, though the action is read first (it decides the metrics).
        return sorted(check.errors, key=lambda e: _INPUT_ORDER.index(str(e.field[0])))
    return RuleConfig(type_, window, parsed_conditions, parsed_action)


def load_rule(
    *, rule_type: object, recent_values: object, conditions: object, action: object
) -> RuleConfig:
    """A stored config (Rule.type, recent_values, conditions, action), valid when it was saved."""
    config = parse_rule(
        rule_type=rule_type,
        recent_values=recent_values,
        conditions=conditions,
        action=action,
        acceptance_mode=None,
    )
    if isinstance(config, list):
        raise ValueError("; ".join(f"{'.'.join(map(str, e.field))}: {e.message}" for e in config))
    return config


def _recent_values(
    check: _Check, raw: object, rule_type: RuleType | None, families: tuple[Family, ...]
) -> int | None:
    if raw is None:
        return None
    path: Path = ("recent_values",)
    if rule_type is not None and not any(f.windowed for f in families):
        check.fail(path, f"'recentValues' does not apply to {rule_type} rules.")
        return None
    return check.whole(raw, path, low=1, high=MAX_RECENT_VALUES)


def _conditions(
    check: _Check,
    raw: object,
    rule_type: RuleType | None,
    families: tuple[Family, ...],
    window: int | None,
) -> tuple[Condition, ...] | None:
    path: Path = ("conditions",)
    if raw is not None and not isinstance(raw, list | tuple):
        check.fail(path, "'conditions' must be a list of conditions.")
        return None
    if not raw:
        check.fail(path, "A rule needs at least one condition.")
        return None
    if len(raw) > MAX_CONDITIONS:
        check.fail(path, f"A rule has at most {MAX_CONDITIONS} conditions.")
        return None
    allowed = tuple(dict.fromkeys(m for f in families for m in f.metrics))
    context = f"{rule_type} rules"
    if len(families) == 1 and len(families_of(families[0].rule_type)) > 1:
        context += f" about {families[0].event}"
    parsed = [
        _condition(check, item, (*path, index), allowed, context, window)
        for index, item in enumerate(raw)
    ]
    return tuple(c for c in parsed if c is not None) if all(parsed) else None


def _condition(
    check: _Check,
    raw: object,
    path: Path,
    allowed: tuple[Metric, ...],
    context: str,
    window: int | None,
) -> Condition | None:
    if not isinstance(raw, Mapping):
        check.fail(path, "A condition is an object with 'metric', 'operator' and 'value'.")
        return None
    fields = _Fields(check, raw, path)
    metric = check.enum(Metric, *fields.get("metric"))
    operator = check.enum(Operator, *fields.get("operator"))
    raw_value, value_path = fields.get("value")
    parameters = {p: fields.get(p.value) for p in Parameter}
    fields.refuse_unknown()
    if metric is None:
        return None
    if allowed and metric not in allowed:
        check.fail(
            (*path, "metric"),
            f"{metric} is not a metric of {context}; use one of: {', '.join(allowed)}.",
        )
        return None
    spec = SPECS[metric]
    parameter = _parameter(check, spec, metric, parameters)
    value = _condition_value(check, raw_value, value_path, spec, metric)
    if value is None or operator is None or (spec.parameter and parameter is None):
        return None
    never = _never_holds(spec, operator, value, window)
    if never:
        check.fail(value_path, f"This condition can never hold: {spec.label} {never}.")
        return None
    return Condition(MetricRef(metric, parameter), operator, value)


def _parameter(
    check: _Check,
    spec: MetricSpec,
    metric: Metric,
    given: Mapping[Parameter, tuple[object, Path]],
) -> int | None:
    found = None
    for parameter, (raw, path) in given.items():
        if parameter is spec.parameter:
            high = MAX_THRESHOLD_SECONDS if parameter is Parameter.THRESHOLD_SECONDS else None
            found = check.whole(raw, path, low=1, high=high)
        elif raw is not None:
            check.fail(path, f"'{_label(path[-1])}' does not apply to {metric}.")
    return found


def _condition_value(
    check: _Check, raw: object, path: Path, spec: MetricSpec, metric: Metric
) -> int | float | None:
    if raw is None:
        check.fail(path, "'value' is required.")
        return None
    scale = spec.scale
    value = _whole_number(raw) if scale.whole else _number(raw)
    if value is None or value < 0 or (scale.high is not None and value > scale.high):
        check.fail(path, f"'value' for {metric} must be {scale.description}.")
        return None
    return value


def _never_holds(
    spec: MetricSpec, operator: Operator, value: int | float, window: int | None
) -> str | None:
    """Why `metric <operator> value` is false for every value the metric can take, if it is.

    Every metric is 0 or more; shares and skills are at most 100, and a count over the worker's
    recent values is at most that many ("more than 10 reviewed of the last 5" never holds).
    """
    high, note = spec.scale.high, ""
    if spec.windowed and window is not None:
        high, note = window, f" with recentValues = {window}"
    if operator is Operator.LT and value <= 0:
        return "is never below 0"
    if high is not None and (
        (operator is Operator.GT and value >= high)
        or (operator in (Operator.GTE, Operator.EQ) and value > high)
    ):
        return f"is at most {high}{note}"
    return None


def _action(
    check: _Check, raw: object, rule_type: RuleType | None, acceptance_mode: str | None
) -> Action | None:
    path: Path = ("action",)
    if not raw:
        check.fail(path, "A rule needs an action.")
        return None
    if not isinstance(raw, Mapping):
        check.fail(path, "An action is an object with a 'type' and its parameters.")
        return None
    fields = _Fields(check, raw, path)
    action_type = check.enum(ActionType, *fields.get("type"))
    if action_type is None:
        return None
    type_path: Path = (*path, "type")
    if rule_type is not None and family_of(rule_type, action_type) is None:
        offered = dict.fromkeys(a for f in families_of(rule_type) for a in sorted(f.actions))
        check.fail(
            type_path,
            f"{action_type} is not an action of {rule_type} rules; "
            f"use one of: {', '.join(offered)}.",
        )
    if action_type in NEEDS_MANUAL_REVIEW and acceptance_mode == "AUTOMATIC":
        check.fail(
            type_path, f"{action_type} needs manual review; the task accepts answers automatically."
        )
    before = len(check.errors)
    action = _action_parameters(check, action_type, fields)
    fields.refuse_unknown()
    return action if len(check.errors) == before else None


def _action_parameters(check: _Check, action_type: ActionType, fields: _Fields) -> Action | None:
    """The action of `action_type` from its fields; None (with problems recorded) if invalid."""
    A = ActionType

    def whole(key: str, low: int, high: int | None = None) -> int | None:
        return check.whole(*fields.get(key), low=low, high=high)

    def text(key: str, *, required: bool) -> str | None:
        return check.text(*fields.get(key), required=required)

    match action_type:
        case A.SET_SKILL_FROM_ACCEPTED_PERCENT:
            skill = whole("skill_id", 1)
            return None if skill is None else SetSkillFromAcceptedPercent(skill)
        case A.SET_SKILL_VALUE:
            skill, value = whole("skill_id", 1), whole("value", 0, 100)
            return None if skill is None or value is None else SetSkillValue(skill, value)
        case A.ACCEPT_ANSWERS:
            return AcceptAnswers()
        case A.APPROVE:
            return Approve()
        case A.DECLINE_ANSWERS | A.REJECT:
            reason = text("reason", required=True)
            if reason is None:
                return None
            return DeclineAnswers(reason) if action_type is A.DECLINE_ANSWERS else Reject(reason)
        case A.SUSPEND_IN_TASK:
            days, reason = whole("days", 1, MAX_DAYS), text("reason", required=False)
            return None if days is None or reason is None else SuspendInTask(days, reason)
        case A.BAN:
            return _ban(check, fields)
        case A.PAY_BONUS:
            amount = whole("amount", 1)
            return None if amount is None else PayBonus(amount)
        case A.TOP_UP:
            amount, cap = whole("amount", 1), whole("cap", 1)
            if amount is None or cap is None:
                return None
            if cap < amount:
                check.fail((*fields.path, "cap"), "'cap' must be at least 'amount'.")
                return None
            return TopUp(amount, cap)


def _ban(check: _Check, fields: _Fields) -> Ban | None:
    scope = check.enum(BanScope, *fields.get("scope"))
    reason = check.text(*fields.get("reason"), required=False)
    permanent, permanent_path = fields.get("permanent")
    raw_days, days_path = fields.get("days")
    days = None
    if permanent is not None and not isinstance(permanent, bool):
        check.fail(permanent_path, "'permanent' must be true or false.")
        return None
    if permanent:
        if raw_days is not None:
            check.fail(days_path, "A permanent ban has no 'days'.")
            return None
    elif raw_days is None:
        check.fail(days_path, "'days' is required, unless the ban is permanent.")
        return None
    else:
        days = check.whole(raw_days, days_path, low=1, high=MAX_DAYS)
        if days is None:
            return None
    return None if scope is None or reason is None else Ban(scope, days, reason)
