"""The words of a rule: its trigger type, the event that evaluates it, operators, action kinds.

These mirror the stored enumerations by value (`RuleType` is `RuleType`, `BanScope` is a
subset of `RestrictionScope`) without importing the models, so that the rules stay pure:
importing `gql_server.models` pulls in the ORM.
"""

from __future__ import annotations

from enum import StrEnum


class RuleType(StrEnum):
    """A rule's type: which history its metrics are computed from (the seeds' rule names)."""

    REVIEW_RESULTS = "REVIEW_RESULTS"
    EARNINGS = "EARNINGS"
    SUBMITTED_ANSWERS = "SUBMITTED_ANSWERS"
    FAST_RESPONSES = "FAST_RESPONSES"
    AUDIT_RESULTS = "AUDIT_RESULTS"
    AUTOMATION = "AUTOMATION"


class Event(StrEnum):
    """What happened, after which (in the same transaction) the rule is evaluated."""

    # A review decided the pay of one of the worker's submissions.
    REVIEW = "REVIEW"
    # The worker was paid from the task (reward, bonus, partial payment).
    PAYMENT = "PAYMENT"
    # The worker submitted (or resubmitted) a response.
    SUBMISSION = "SUBMISSION"
    # An auditor decided on one of the worker's submissions.
    AUDIT = "AUDIT"
    # The task's remaining budget went down (a start committed a reward, a bonus was paid).
    BUDGET_CHANGE = "BUDGET_CHANGE"


class Operator(StrEnum):
    """How a metric is compared with a condition's value: `metric <operator> value`."""

    GT = "GT"  # more than
    GTE = "GTE"  # at least
    LT = "LT"  # less than
    LTE = "LTE"  # at most
    EQ = "EQ"  # exactly
    NEQ = "NEQ"  # anything but


class ActionType(StrEnum):
    """What a rule does when all its conditions hold."""

    SET_SKILL_FROM_ACCEPTED_PERCENT = "SET_SKILL_FROM_ACCEPTED_PERCENT"
    SET_SKILL_VALUE = "SET_SKILL_VALUE"
    ACCEPT_ANSWERS = "ACCEPT_ANSWERS"
    DECLINE_ANSWERS = "DECLINE_ANSWERS"
    SUSPEND_IN_TASK = "SUSPEND_IN_TASK"
    BAN = "BAN"
    PAY_BONUS = "PAY_BONUS"
    # Automation only: about the submission that was just submitted, or the task's budget.
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    TOP_UP = "TOP_UP"


class BanScope(StrEnum):
    """Where a ban keeps the worker out: the rule's project, or all the account's projects."""

    PROJECT = "PROJECT"
    ACCOUNT = "ACCOUNT"
