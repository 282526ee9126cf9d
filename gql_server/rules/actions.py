"""A rule's action with its parameters, one class per kind so that appliers can `match` on it.

Amounts are integer minor units of the account's currency; the services convert Money.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from gql_server.rules.vocabulary import ActionType, BanScope


@dataclass(frozen=True)
class SetSkillFromAcceptedPercent:
    """skill := accepted %; evaluation resolves it to a SetSkillValue with the rounded share."""

    type: ClassVar[ActionType] = ActionType.SET_SKILL_FROM_ACCEPTED_PERCENT
    skill_id: int


@dataclass(frozen=True)
class SetSkillValue:
    type: ClassVar[ActionType] = ActionType.SET_SKILL_VALUE
    skill_id: int
    value: int


@dataclass(frozen=True)
class AcceptAnswers:
    """Approve the worker's pending and future submissions in the task (manual review only)."""

    type: ClassVar[ActionType] = ActionType.ACCEPT_ANSWERS


@dataclass(frozen=True)
class DeclineAnswers:
    """Reject the worker's pending and future submissions in the task, with `reason`."""

    type: ClassVar[ActionType] = ActionType.DECLINE_ANSWERS
    reason: str


@dataclass(frozen=True)
class SuspendInTask:
    type: ClassVar[ActionType] = ActionType.SUSPEND_IN_TASK
    days: int
    # Private to the requester.
    reason: str = ""


@dataclass(frozen=True)
class Ban:
    type: ClassVar[ActionType] = ActionType.BAN
    scope: BanScope
    # None: for good.
    days: int | None
    # Private to the requester.
    reason: str = ""


@dataclass(frozen=True)
class PayBonus:
    """Pay the worker a bonus on the submission the event is about."""

    type: ClassVar[ActionType] = ActionType.PAY_BONUS
    amount: int


@dataclass(frozen=True)
class Approve:
    """Approve the submission just submitted."""

    type: ClassVar[ActionType] = ActionType.APPROVE


@dataclass(frozen=True)
class Reject:
    """Reject the submission just submitted, with `reason` as its feedback."""

    type: ClassVar[ActionType] = ActionType.REJECT
    reason: str


@dataclass(frozen=True)
class TopUp:
    """Move `amount` from the account to the task, as long as all top-ups stay within `cap`.

    Evaluation resolves `amount` to what still fits under the cap.
    """

    type: ClassVar[ActionType] = ActionType.TOP_UP
    amount: int
    cap: int


Action = (
    SetSkillFromAcceptedPercent
    | SetSkillValue
    | AcceptAnswers
    | DeclineAnswers
    | SuspendInTask
    | Ban
    | PayBonus
    | Approve
    | Reject
    | TopUp
)


def action_to_json(action: Action) -> dict[str, Any]:
    """The stored form (Rule.action, RuleFiring.action): {"type": ..., **parameters}."""
    data: dict[str, Any] = {"type": action.type.value, **asdict(action)}
    if isinstance(action, Ban):
        data["scope"] = action.scope.value
        data["permanent"] = action.days is None
    return data
