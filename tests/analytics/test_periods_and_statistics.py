"""The pure parts of the analytics: periods cut in a zone, the offset spans SQLite shifts
by, the two-proportion test and the percentiles of a histogram, without a database."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest

from gql_server.rules.statistics import percentile, two_proportion_test
from gql_server.services.analytics import (
    MAX_BUCKETS,
    BucketSize,
    offset_spans,
    period_of,
)
from gql_server.services.errors import UseCaseError


def test_weeks_start_on_monday_in_the_zone_and_the_ends_are_cut() -> None:
    start = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
    period = period_of(start, start + timedelta(days=14), BucketSize.WEEK, "America/New_York")
    assert period.buckets[0].start == start
    # The next Monday, midnight in New York (UTC-5 until 8 March, then UTC-4).
    assert period.buckets[1].start == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert period.buckets[-1].end == start + timedelta(days=14)
    assert all(a.end == b.start for a, b in itertools.pairwise(period.buckets))


def test_a_period_must_be_ordered_aware_and_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(UseCaseError):
        period_of(start, start, BucketSize.DAY, "UTC")
    with pytest.raises(UseCaseError):
        period_of(start.replace(tzinfo=None), start + timedelta(days=1), BucketSize.DAY, "UTC")
    with pytest.raises(UseCaseError, match=str(MAX_BUCKETS)):
        period_of(start, start + timedelta(days=MAX_BUCKETS + 1), BucketSize.DAY, "UTC")
    assert len(period_of(start, start + timedelta(days=700), BucketSize.WEEK, "UTC").buckets) > 99


def test_offset_spans_change_where_summer_time_does() -> None:
    period = period_of(
        datetime(2026, 3, 28, tzinfo=UTC),
        datetime(2026, 4, 2, tzinfo=UTC),
        BucketSize.DAY,
        "Europe/Berlin",
    )
    assert offset_spans(period) == [
        (datetime(2026, 3, 28, tzinfo=UTC), 3600),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 7200),
    ]


def test_the_two_proportion_test_matches_a_hand_worked_example() -> None:
    # 40 of 100 against 55 of 100: pooled 0.475, se 0.070622, z 2.1240, p 0.03367.
    result = two_proportion_test(40, 100, 55, 100)
    assert result.difference == pytest.approx(15.0)
    se = math.sqrt(0.475 * 0.525 * (2 / 100))
    assert result.p_value == pytest.approx(math.erfc(0.15 / se / math.sqrt(2)))
    assert result.p_value == pytest.approx(0.03367, abs=1e-5)
    assert result.interval is not None
    half = 1.959963984540054 * math.sqrt(0.4 * 0.6 / 100 + 0.55 * 0.45 / 100) * 100
    assert (result.interval.low, result.interval.high) == (
        pytest.approx(15.0 - half),
        pytest.approx(15.0 + half),
    )


def test_no_sample_or_no_variance_gives_nothing_to_report() -> None:
    assert two_proportion_test(0, 0, 3, 10).p_value is None
    assert two_proportion_test(0, 0, 3, 10).difference is None
    same = two_proportion_test(10, 10, 5, 5)
    assert (same.difference, same.p_value, same.interval) == (0.0, None, None)


def test_a_percentile_of_a_histogram_interpolates_as_percentile_cont() -> None:
    # 10, 20, 20, 30, 70: the median is the third value; the 90th percentile lies 0.6 of
    # the way from the fourth (30) to the fifth (70).
    histogram = [(70.0, 1), (20.0, 2), (10.0, 1), (30.0, 1), (50.0, 0)]
    assert percentile(histogram, 0.5) == 20
    assert percentile(histogram, 0.9) == pytest.approx(30 + 0.6 * 40)
    assert percentile(histogram, 0.0) == 10
    assert percentile(histogram, 1.0) == 70
    assert percentile([(5.0, 3)], 0.9) == 5
    assert percentile([], 0.5) is None
    assert percentile([(5.0, 0)], 0.5) is None
