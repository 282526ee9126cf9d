"""A valid rule config, typed: what validation produces, evaluation reads and the services store.

Stored forms (Rule.conditions, Rule.action) are the `*_json()` methods' output; they parse
back into an equal config with `validation.load_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gql_server.rules.actions import Action, action_to_json
from gql_server.rules.metrics import MetricRef
from gql_server.rules.triggers import Family, family_of
from gql_server.rules.vocabulary import Event, Operator, RuleType


@dataclass(frozen=True)
class Condition:
    """`metric <operator> value`; a value is whole for counts, money and seconds."""

    ref: MetricRef
    operator: Operator
    value: int | float

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "metric": self.ref.metric.value,
            "operator": self.operator.value,
            "value": self.value,
        }
        parameter = self.ref.spec.parameter
        if parameter is not None:
            data[parameter.value] = self.ref.parameter
        return data


@dataclass(frozen=True)
class RuleConfig:
    type: RuleType
    # How many of the worker's most recent results the metrics count; None = all.
    recent_values: int | None
    # All must hold.
    conditions: tuple[Condition, ...]
    action: Action

    @property
    def family(self) -> Family:
        family = family_of(self.type, self.action.type)
        if family is None:
            raise ValueError(f"{self.action.type} is not an action of {self.type} rules")
        return family

    @property
    def event(self) -> Event:
        """What must happen for the rule to be evaluated."""
        return self.family.event

    def conditions_json(self) -> list[dict[str, Any]]:
        return [condition.to_json() for condition in self.conditions]

    def action_json(self) -> dict[str, Any]:
        return action_to_json(self.action)
