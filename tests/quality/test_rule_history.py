"""Which part of a worker's history a rule counts: recent values, project scope, ban restarts."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gql_server.rules.actions import Approve, SuspendInTask, TopUp
from gql_server.rules.config import Condition, RuleConfig
from gql_server.rules.history import (
    BanPeriod,
    HistoryScope,
    HistoryWindow,
    history_restart,
    history_window,
)
from gql_server.rules.metrics import Metric, MetricRef
from gql_server.rules.vocabulary import Operator, RuleType

PROPERTIES = settings(database=None, derandomize=os.environ.get("CI") == "true")

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
T = RuleType


def config(rule_type: RuleType, recent_values: int | None = None) -> RuleConfig:
    # The window depends on the type and recent values only; any condition will do.
    condition = Condition(MetricRef(Metric.REVIEWED_COUNT), Operator.GTE, 0)
    return RuleConfig(rule_type, recent_values, (condition,), SuspendInTask(1))


@pytest.mark.parametrize("rule_type", [T.REVIEW_RESULTS, T.AUDIT_RESULTS])
def test_results_without_recent_values_are_all_of_the_task(rule_type: RuleType) -> None:
    window = history_window(config(rule_type), now=NOW, restarted_at=None)
    assert window == HistoryWindow(HistoryScope.TASK, None, None)


@pytest.mark.parametrize("rule_type", [T.REVIEW_RESULTS, T.AUDIT_RESULTS])
def test_results_with_recent_values_are_the_last_n_of_the_project(rule_type: RuleType) -> None:
    window = history_window(config(rule_type, 10), now=NOW, restarted_at=None)
    assert window == HistoryWindow(HistoryScope.PROJECT, 10, None)


def test_fast_responses_are_the_last_n_of_the_task() -> None:
    window = history_window(config(T.FAST_RESPONSES, 10), now=NOW, restarted_at=None)
    assert window == HistoryWindow(HistoryScope.TASK, 10, None)


def test_submitted_answers_are_all_of_the_task_since_the_restart() -> None:
    restart = NOW - 3 * DAY
    window = history_window(config(T.SUBMITTED_ANSWERS), now=NOW, restarted_at=restart)
    assert window == HistoryWindow(HistoryScope.TASK, None, restart)


def test_earnings_are_the_last_24_hours() -> None:
    window = history_window(config(T.EARNINGS), now=NOW, restarted_at=None)
    assert window == HistoryWindow(HistoryScope.TASK, None, NOW - timedelta(hours=24))


@pytest.mark.parametrize(
    ("restart", "since"),
    [
        (NOW - 2 * DAY, NOW - DAY),
        (NOW - timedelta(hours=3), NOW - timedelta(hours=3)),
    ],
)
def test_earnings_since_a_restart_within_the_day(restart: datetime, since: datetime) -> None:
    window = history_window(config(T.EARNINGS), now=NOW, restarted_at=restart)
    assert window is not None and window.since == since


def test_a_restart_narrows_every_history() -> None:
    restart = NOW - DAY
    for rule_type in (T.REVIEW_RESULTS, T.FAST_RESPONSES, T.AUDIT_RESULTS):
        window = history_window(config(rule_type, 5), now=NOW, restarted_at=restart)
        assert window is not None and window.since == restart and window.limit == 5


def test_automation_looks_at_no_history() -> None:
    condition = Condition(MetricRef(Metric.REMAINING_REWARDS), Operator.EQ, 0)
    for action in (Approve(), TopUp(100, 1_000)):
        rule = RuleConfig(T.AUTOMATION, None, (condition,), action)
        assert history_window(rule, now=NOW, restarted_at=NOW - DAY) is None


def test_no_ban_no_restart() -> None:
    assert history_restart([], NOW) is None


def test_a_ban_that_ran_out_restarts_the_history_at_its_end() -> None:
    ended = NOW - 2 * DAY
    assert history_restart([BanPeriod(ends_at=ended)], NOW) == ended


def test_a_ban_still_in_force_restarts_nothing_yet() -> None:
    assert history_restart([BanPeriod(ends_at=NOW + DAY)], NOW) is None
    assert history_restart([BanPeriod(ends_at=None)], NOW) is None


def test_a_ban_lifted_by_hand_restarts_the_history_when_lifted() -> None:
    lifted = NOW - DAY
    assert history_restart([BanPeriod(ends_at=NOW + 5 * DAY, lifted_at=lifted)], NOW) == lifted
    assert history_restart([BanPeriod(ends_at=None, lifted_at=lifted)], NOW) == lifted


def test_the_latest_ended_ban_counts() -> None:
    bans = [
        BanPeriod(ends_at=NOW - 10 * DAY),
        BanPeriod(ends_at=NOW - 2 * DAY),
        BanPeriod(ends_at=NOW + 3 * DAY),
        BanPeriod(ends_at=None),
    ]
    assert history_restart(bans, NOW) == NOW - 2 * DAY


def test_a_ban_ending_right_now_has_ended() -> None:
    assert history_restart([BanPeriod(ends_at=NOW)], NOW) == NOW


MOMENTS = st.none() | st.integers(-1_000, 1_000).map(lambda h: NOW + timedelta(hours=h))


@PROPERTIES
@given(st.lists(st.builds(BanPeriod, ends_at=MOMENTS, lifted_at=MOMENTS), max_size=6))
def test_a_restart_is_the_end_of_an_ended_ban_and_never_in_the_future(
    bans: list[BanPeriod],
) -> None:
    restart = history_restart(bans, NOW)
    ended = [ban.end for ban in bans if ban.end is not None and ban.end <= NOW]
    if restart is None:
        assert not ended
    else:
        assert restart <= NOW and restart in ended and all(end <= restart for end in ended)
