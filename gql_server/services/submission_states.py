"""A submission's states and the transitions between them (SPEC section 4). Pure.

Every change of state is checked against `TRANSITIONS` before it is tried, and then made
by a conditional update from the state it was checked in; anything else is INVALID_STATE
and changes nothing.
"""

from __future__ import annotations

from gql_server.models.enums import SubmissionState
from gql_server.services.errors import ErrorCode, UseCaseError

S = SubmissionState

TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    S.STARTED: frozenset({S.SUBMITTED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.REVISION_REQUESTED}),
    # A revision not sent back within the time limit is abandoned work: it expires.
    S.REVISION_REQUESTED: frozenset({S.SUBMITTED, S.EXPIRED}),
    S.REJECTED: frozenset({S.DISPUTED}),
    S.DISPUTED: frozenset({S.APPROVED, S.REJECTED, S.PARTIALLY_PAID}),
    S.APPROVED: frozenset(),
    S.EXPIRED: frozenset(),
    S.PARTIALLY_PAID: frozenset(),
}


def can_transition(current: SubmissionState, target: SubmissionState) -> bool:
    return target in TRANSITIONS[current]


def invalid_transition(current: SubmissionState, target: SubmissionState) -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.INVALID_STATE, f"A submission that is {current} cannot become {target}."
    )


def changed_meanwhile() -> UseCaseError:
    """The conditional update found the submission in another state than it was checked in."""
    return UseCaseError.single(
        ErrorCode.INVALID_STATE, "The submission changed meanwhile; read it again."
    )
