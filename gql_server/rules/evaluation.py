"""Evaluation: a rule config and the worker's loaded metrics in, a decision out.

No database and no clock: the services load what `metrics_needed` names (SQL aggregates over
the window of `history.history_window`), call `evaluate`, and apply the decision's action in
the transaction of the event.
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from gql_server.rules.actions import (
    Action,
    SetSkillFromAcceptedPercent,
    SetSkillValue,
    TopUp,
    action_to_json,
)
from gql_server.rules.config import RuleConfig
from gql_server.rules.metrics import Loaded, Measured, Metric, MetricRef
from gql_server.rules.vocabulary import Operator

_COMPARE: Mapping[Operator, Callable[[Any, Any], bool]] = {
    Operator.GT: op.gt,
    Operator.GTE: op.ge,
    Operator.LT: op.lt,
    Operator.LTE: op.le,
    Operator.EQ: op.eq,
    Operator.NEQ: op.ne,
}
_TOPPED_UP = MetricRef(Metric.TOPPED_UP_TOTAL)


@dataclass(frozen=True)
class Decision:
    fired: bool
    # Every value the rule looked at: why it fired (the firing record), or why not (dry runs).
    metrics: Mapping[MetricRef, Measured]
    # What to apply, parameters resolved; None when the rule does not fire.
    action: Action | None

    def metrics_json(self) -> dict[str, int | float | None]:
        """The firing record's `metrics`: {"REJECTED_PERCENT": 66.66..., "WORKER_SKILL:7": 95}."""
        return {
            ref.key: float(value) if isinstance(value, Fraction) else value
            for ref, value in self.metrics.items()
        }

    def action_json(self) -> dict[str, Any] | None:
        return None if self.action is None else action_to_json(self.action)


def holds(operator: Operator, measured: Measured, value: int | float) -> bool:
    """`measured <operator> value`, exactly; nothing holds of an undefined metric (0 of 0 is
    no percentage), not even NEQ. A decimal value means its decimal digits: 33.3 is 333/10."""
    if measured is None:
        return False
    exact = Fraction(str(value)) if isinstance(value, float) else value
    return _COMPARE[operator](measured, exact)


def _measured_refs(config: RuleConfig) -> tuple[MetricRef, ...]:
    refs = [condition.ref for condition in config.conditions]
    accepted_percent = config.family.accepted_percent
    if isinstance(config.action, SetSkillFromAcceptedPercent) and accepted_percent is not None:
        refs.append(MetricRef(accepted_percent))
    if isinstance(config.action, TopUp):
        refs.append(_TOPPED_UP)
    return tuple(dict.fromkeys(refs))


def metrics_needed(config: RuleConfig) -> frozenset[MetricRef]:
    """What the loader must compute for `evaluate`: counts and sums only, never shares."""
    return frozenset(loaded for ref in _measured_refs(config) for loaded in ref.loaded_refs())


def evaluate(config: RuleConfig, loaded: Mapping[MetricRef, Loaded]) -> Decision:
    """Whether the rule fires on these metrics, and what it then does.

    All conditions must hold. An action that cannot be resolved does not fire: a skill from
    the accepted share when nothing was reviewed, a top-up when the cap is reached.
    """
    refs = _measured_refs(config)
    measured = {ref: ref.measure(loaded) for ref in refs}
    # The counts behind the shares too: "66.7% rejected" means more with "of 3 reviewed".
    inputs = {r: loaded[r] for ref in refs for r in ref.loaded_refs() if r not in measured}
    met = all(holds(c.operator, measured[c.ref], c.value) for c in config.conditions)
    action = _resolve(config, measured) if met else None
    return Decision(action is not None, measured | inputs, action)


def _round_half_up(share: Fraction | int) -> int:
    """2 of 3 is 67 and 1 of 8 is 13, as a person rounds (not to even, like `round`)."""
    return math.floor(share + Fraction(1, 2))


def _resolve(config: RuleConfig, measured: Mapping[MetricRef, Measured]) -> Action | None:
    action = config.action
    accepted_percent = config.family.accepted_percent
    if isinstance(action, SetSkillFromAcceptedPercent) and accepted_percent is not None:
        share = measured[MetricRef(accepted_percent)]
        return None if share is None else SetSkillValue(action.skill_id, _round_half_up(share))
    if isinstance(action, TopUp):
        topped_up = measured[_TOPPED_UP]
        room = 0 if topped_up is None else action.cap - topped_up
        return TopUp(min(action.amount, room), action.cap) if room > 0 else None
    return action
