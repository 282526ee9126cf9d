"""Which metrics and actions go together, per rule type and the event that evaluates the rule.

A rule type has one family, except AUTOMATION: its action says whether it is about the
submission just submitted (approve, reject, bonus) or about the task's budget (top up), and
so which metrics its conditions may use and when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from gql_server.rules.metrics import Metric
from gql_server.rules.vocabulary import ActionType, Event, RuleType

M = Metric
A = ActionType

# What the seeds offer on every worker-history rule: skills, accept / decline, suspend, ban.
_WORKER_ACTIONS = frozenset(
    {A.SET_SKILL_VALUE, A.ACCEPT_ANSWERS, A.DECLINE_ANSWERS, A.SUSPEND_IN_TASK, A.BAN}
)


@dataclass(frozen=True)
class Family:
    rule_type: RuleType
    event: Event
    metrics: tuple[Metric, ...]
    actions: frozenset[ActionType]
    # Whether "recent values to use" applies: the metrics are over the worker's last N results.
    windowed: bool = False
    # The share that SET_SKILL_FROM_ACCEPTED_PERCENT copies into the skill, if the family has one.
    accepted_percent: Metric | None = None


FAMILIES: tuple[Family, ...] = (
    Family(
        RuleType.REVIEW_RESULTS,
        Event.REVIEW,
        (
            M.REVIEWED_COUNT,
            M.ACCEPTED_COUNT,
            M.REJECTED_COUNT,
            M.ACCEPTED_PERCENT,
            M.REJECTED_PERCENT,
            M.ACCEPTED_LOWER_BOUND,
        ),
        _WORKER_ACTIONS | {A.SET_SKILL_FROM_ACCEPTED_PERCENT, A.PAY_BONUS},
        windowed=True,
        accepted_percent=M.ACCEPTED_PERCENT,
    ),
    # No bonus here: a bonus is a payment, which would evaluate the rule again.
    Family(RuleType.EARNINGS, Event.PAYMENT, (M.INCOME_LAST_24_HOURS,), _WORKER_ACTIONS),
    Family(RuleType.SUBMITTED_ANSWERS, Event.SUBMISSION, (M.SUBMITTED_COUNT,), _WORKER_ACTIONS),
    Family(
        RuleType.FAST_RESPONSES,
        Event.SUBMISSION,
        (M.RECENT_COUNT, M.FAST_COUNT),
        _WORKER_ACTIONS,
        windowed=True,
    ),
    Family(
        RuleType.AUDIT_RESULTS,
        Event.AUDIT,
        (
            M.AUDITED_COUNT,
            M.AUDIT_ACCEPTED_COUNT,
            M.AUDIT_FIXED_COUNT,
            M.AUDIT_REJECTED_COUNT,
            M.AUDIT_ACCEPTED_PERCENT,
            M.AUDIT_FIXED_PERCENT,
            M.AUDIT_REJECTED_PERCENT,
        ),
        _WORKER_ACTIONS | {A.SET_SKILL_FROM_ACCEPTED_PERCENT, A.PAY_BONUS},
        windowed=True,
        accepted_percent=M.AUDIT_ACCEPTED_PERCENT,
    ),
    Family(
        RuleType.AUTOMATION,
        Event.SUBMISSION,
        (
            M.WORKER_SKILL,
            M.RESPONSE_SECONDS,
            M.PROOF_ITEMS_COUNT,
            M.MISSING_PROOF_COUNT,
            M.DUPLICATE_PROOF_COUNT,
        ),
        frozenset({A.APPROVE, A.REJECT, A.PAY_BONUS}),
    ),
    Family(
        RuleType.AUTOMATION,
        Event.BUDGET_CHANGE,
        (M.REMAINING_BUDGET, M.REMAINING_REWARDS, M.TOPPED_UP_TOTAL),
        frozenset({A.TOP_UP}),
    ),
)


def families_of(rule_type: RuleType) -> tuple[Family, ...]:
    return tuple(f for f in FAMILIES if f.rule_type is rule_type)


def family_of(rule_type: RuleType, action_type: ActionType) -> Family | None:
    """The family a rule of this type and action belongs to; None: the type has no such action."""
    return next((f for f in families_of(rule_type) if action_type in f.actions), None)
