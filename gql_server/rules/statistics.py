"""Interval estimates for shares (accepted, defective), pure and exact enough for decisions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95%.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(
    successes: int, n: int, *, population: int | None = None, z: float = Z_95
) -> Interval | None:
    """The Wilson score interval of `successes / n`; None when there is no sample.

    With `population` (the size of what the sample was drawn from, without replacement)
    the finite population correction shrinks the interval: a sample of everything is exact.
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    if population is not None:
        if population < n:
            raise ValueError(f"population {population} is smaller than the sample {n}")
        if population == n:
            return Interval(p, p)
        # The variance of a share drawn without replacement is smaller by (N - n) / (N - 1);
        # an equivalent larger sample gives the same Wilson interval.
        n_eff = n * (population - 1) / (population - n)
    else:
        n_eff = float(n)
    z2 = z * z
    denominator = 1 + z2 / n_eff
    centre = (p + z2 / (2 * n_eff)) / denominator
    half = z * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff * n_eff)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; rounding must not say otherwise.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def wilson_lower_bound(successes: int, n: int, z: float = Z_95) -> float | None:
    """The lower end of the Wilson interval: 2 of 2 scores far below 200 of 200."""
    interval = wilson_interval(successes, n, z=z)
    return None if interval is None else interval.low


@dataclass(frozen=True)
class Comparison:
    """Two shares compared: `b - a` in percentage points, the two-sided p-value of the
    two-proportion z-test (pooled), and the 95% Wald interval of the difference. None
    where a sample is empty, or the test has no variance (both shares 0% or 100%)."""

    difference: float | None
    p_value: float | None
    interval: Interval | None


def two_proportion_test(
    successes_a: int, n_a: int, successes_b: int, n_b: int, z: float = Z_95
) -> Comparison:
    if n_a <= 0 or n_b <= 0:
        return Comparison(None, None, None)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    difference = p_b - p_a
    pooled = (successes_a + successes_b) / (n_a + n_b)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = math.erfc(abs(difference) / pooled_se / math.sqrt(2)) if pooled_se > 0 else None
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    interval = (
        Interval(100 * (difference - z * se), 100 * (difference + z * se)) if se > 0 else None
    )
    return Comparison(100 * difference, p_value, interval)


def percentile(histogram: Sequence[tuple[float, int]], fraction: float) -> float | None:
    """The `fraction` percentile of the values counted in `histogram` ((value, how many),
    in any order), interpolated between the two values around its position as
    PostgreSQL's percentile_cont is; None when nothing is counted."""
    counted = sorted((value, count) for value, count in histogram if count > 0)
    total = sum(count for _, count in counted)
    if total == 0:
        return None
    position = fraction * (total - 1)
    below = math.floor(position)

    def at(rank: int) -> float:
        seen = 0
        for value, count in counted:
            seen += count
            if rank < seen:
                return value
        return counted[-1][0]

    low = at(below)
    weight = position - below
    return low if weight == 0 else low + (at(below + 1) - low) * weight
