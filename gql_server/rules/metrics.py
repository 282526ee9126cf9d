"""What a condition can measure, and how derived measures follow from loaded ones.

The loader only counts and sums in SQL (the same on SQLite and PostgreSQL); shares and the
Wilson bound are derived here, exactly, so that "more than 50%" means the same everywhere
and 1 rejected of 2 is 50%, not 50.000000001%.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from gql_server.rules.statistics import wilson_lower_bound

# What the loader provides: whole numbers, or None when there is nothing to measure (a skill
# the worker does not have).
Loaded = int | None
# What a condition compares: loaded values and exact derived ones.
Measured = int | Fraction | None


class Metric(StrEnum):
    # REVIEW_RESULTS: over the worker's recent reviewed submissions.
    REVIEWED_COUNT = "REVIEWED_COUNT"
    ACCEPTED_COUNT = "ACCEPTED_COUNT"
    REJECTED_COUNT = "REJECTED_COUNT"
    ACCEPTED_PERCENT = "ACCEPTED_PERCENT"
    REJECTED_PERCENT = "REJECTED_PERCENT"
    ACCEPTED_LOWER_BOUND = "ACCEPTED_LOWER_BOUND"
    # EARNINGS
    INCOME_LAST_24_HOURS = "INCOME_LAST_24_HOURS"
    # SUBMITTED_ANSWERS
    SUBMITTED_COUNT = "SUBMITTED_COUNT"
    # FAST_RESPONSES: over the worker's recent submitted submissions.
    RECENT_COUNT = "RECENT_COUNT"
    FAST_COUNT = "FAST_COUNT"
    # AUDIT_RESULTS: over the worker's recent audited submissions.
    AUDITED_COUNT = "AUDITED_COUNT"
    AUDIT_ACCEPTED_COUNT = "AUDIT_ACCEPTED_COUNT"
    AUDIT_FIXED_COUNT = "AUDIT_FIXED_COUNT"
    AUDIT_REJECTED_COUNT = "AUDIT_REJECTED_COUNT"
    AUDIT_ACCEPTED_PERCENT = "AUDIT_ACCEPTED_PERCENT"
    AUDIT_FIXED_PERCENT = "AUDIT_FIXED_PERCENT"
    AUDIT_REJECTED_PERCENT = "AUDIT_REJECTED_PERCENT"
    # AUTOMATION, about the submission just submitted.
    WORKER_SKILL = "WORKER_SKILL"
    RESPONSE_SECONDS = "RESPONSE_SECONDS"
    PROOF_ITEMS_COUNT = "PROOF_ITEMS_COUNT"
    MISSING_PROOF_COUNT = "MISSING_PROOF_COUNT"
    DUPLICATE_PROOF_COUNT = "DUPLICATE_PROOF_COUNT"
    # AUTOMATION, about the task's budget.
    REMAINING_BUDGET = "REMAINING_BUDGET"
    REMAINING_REWARDS = "REMAINING_REWARDS"
    TOPPED_UP_TOTAL = "TOPPED_UP_TOTAL"


@dataclass(frozen=True)
class Scale:
    """The values a metric takes, and so the values a condition may compare it with."""

    description: str
    whole: bool
    high: int | None = None


COUNT = Scale("a whole number, 0 or more", whole=True)
MONEY = Scale("a whole number of minor units (cents), 0 or more", whole=True)
SECONDS = Scale("a whole number of seconds, 0 or more", whole=True)
PERCENT = Scale("a percentage from 0 to 100", whole=False, high=100)
SKILL = Scale("a skill value from 0 to 100", whole=False, high=100)


class Parameter(StrEnum):
    """What a metric needs to know besides the worker; the value is the condition's key."""

    SKILL_ID = "skill_id"
    THRESHOLD_SECONDS = "threshold_seconds"


@dataclass(frozen=True)
class MetricSpec:
    label: str
    scale: Scale
    # Counted over the rule's "recent values to use", so never more than that many.
    windowed: bool = False
    parameter: Parameter | None = None
    # A derived metric: computed from these loaded metrics, never loaded itself.
    inputs: tuple[Metric, ...] = ()
    derive: Callable[..., Fraction | None] | None = None


def _percent(part: int, whole: int) -> Fraction | None:
    return None if whole == 0 else Fraction(100 * part, whole)


def _lower_bound_percent(part: int, whole: int) -> Fraction | None:
    bound = wilson_lower_bound(part, whole)
    if bound is None:
        return None
    # Never above the share itself: floating point leaves 0 of 3 a hair above 0%.
    return min(100 * Fraction(bound), Fraction(100 * part, whole))


def _share(label: str, part: Metric, whole: Metric) -> MetricSpec:
    return MetricSpec(label, PERCENT, inputs=(part, whole), derive=_percent)


def _count(label: str) -> MetricSpec:
    return MetricSpec(label, COUNT, windowed=True)


M = Metric
SPECS: Mapping[Metric, MetricSpec] = {
    M.REVIEWED_COUNT: _count("total reviewed responses"),
    M.ACCEPTED_COUNT: _count("accepted responses"),
    M.REJECTED_COUNT: _count("rejected responses"),
    M.ACCEPTED_PERCENT: _share("accepted responses (%)", M.ACCEPTED_COUNT, M.REVIEWED_COUNT),
    M.REJECTED_PERCENT: _share("rejected responses (%)", M.REJECTED_COUNT, M.REVIEWED_COUNT),
    M.ACCEPTED_LOWER_BOUND: MetricSpec(
        "accepted responses (%), 95% lower bound",
        PERCENT,
        inputs=(M.ACCEPTED_COUNT, M.REVIEWED_COUNT),
        derive=_lower_bound_percent,
    ),
    M.INCOME_LAST_24_HOURS: MetricSpec("latest 24 hours income", MONEY),
    M.SUBMITTED_COUNT: MetricSpec("submitted responses in the task", COUNT),
    M.RECENT_COUNT: _count("recent responses"),
    M.FAST_COUNT: MetricSpec(
        "fast responses among the recent ones",
        COUNT,
        windowed=True,
        parameter=Parameter.THRESHOLD_SECONDS,
    ),
    M.AUDITED_COUNT: _count("audited responses"),
    M.AUDIT_ACCEPTED_COUNT: _count("responses accepted by audit"),
    M.AUDIT_FIXED_COUNT: _count("responses fixed by audit"),
    M.AUDIT_REJECTED_COUNT: _count("responses rejected by audit"),
    M.AUDIT_ACCEPTED_PERCENT: _share(
        "responses accepted by audit (%)", M.AUDIT_ACCEPTED_COUNT, M.AUDITED_COUNT
    ),
    M.AUDIT_FIXED_PERCENT: _share(
        "responses fixed by audit (%)", M.AUDIT_FIXED_COUNT, M.AUDITED_COUNT
    ),
    M.AUDIT_REJECTED_PERCENT: _share(
        "responses rejected by audit (%)", M.AUDIT_REJECTED_COUNT, M.AUDITED_COUNT
    ),
    M.WORKER_SKILL: MetricSpec("the worker's skill", SKILL, parameter=Parameter.SKILL_ID),
    M.RESPONSE_SECONDS: MetricSpec("seconds from start to submission", SECONDS),
    M.PROOF_ITEMS_COUNT: MetricSpec("proof items attached", COUNT),
    M.MISSING_PROOF_COUNT: MetricSpec("proof items of the task left empty", COUNT),
    M.DUPLICATE_PROOF_COUNT: MetricSpec("other submissions with identical proof", COUNT),
    M.REMAINING_BUDGET: MetricSpec("remaining budget", MONEY),
    M.REMAINING_REWARDS: MetricSpec("rewards the remaining budget can fund", COUNT),
    M.TOPPED_UP_TOTAL: MetricSpec("total topped up so far", MONEY),
}


@dataclass(frozen=True)
class MetricRef:
    """A metric with its parameter, if it takes one: what a loader computes one value for."""

    metric: Metric
    parameter: int | None = None

    def __post_init__(self) -> None:
        if (SPECS[self.metric].parameter is None) != (self.parameter is None):
            raise ValueError(f"{self.metric} takes a parameter: {SPECS[self.metric].parameter}")

    @property
    def spec(self) -> MetricSpec:
        return SPECS[self.metric]

    @property
    def key(self) -> str:
        """The name of the value in a firing record, e.g. `WORKER_SKILL:12`."""
        return self.metric.value if self.parameter is None else f"{self.metric}:{self.parameter}"

    def loaded_refs(self) -> tuple[MetricRef, ...]:
        """The metrics a loader must compute for this one: itself, or a derived one's inputs."""
        return tuple(MetricRef(m) for m in self.spec.inputs) or (self,)

    def measure(self, loaded: Mapping[MetricRef, Loaded]) -> Measured:
        spec = self.spec
        if spec.derive is not None:
            inputs = [ref.measure(loaded) for ref in self.loaded_refs()]
            return spec.derive(*inputs)
        if self not in loaded:
            raise ValueError(f"metric {self.key} was not loaded")
        return loaded[self]
