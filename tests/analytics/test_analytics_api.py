"""Analytics through GraphQL, against figures worked out by hand from a seeded account:
four workers on one task on a frozen clock (one approved at once, one rejected who
disputes, one approved after a revision, one who never sends), a second task, ratings,
a bonus; and an empty period, where every ratio is null."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from gql_server.models import Rule, RuleFiring, Task
from gql_server.rules.vocabulary import RuleType
from gql_server.services.global_ids import global_id
from tests.analytics.conftest import T0, Seeded
from tests.analytics.conftest import period as _period
from tests.factories import new_requester
from tests.graphql_client import Api

FIGURES = """
query ($period: AnalyticsPeriodInput!, $scope: AnalyticsScopeInput) {
  analytics(period: $period, scope: $scope) {
    timezone bucket
    engagement { views uniqueViewers starts submitted abandoned viewRate completionRate
      abandonmentRate timeToComplete { count mean median p90 } }
    quality { decided accepted rejected approvalRate rejectionRate firstAttemptApprovalRate
      revisionRate disputeCount disputeRate disputes { status count } ratingCount
      meanClarity meanFairness workers repeatWorkers repeatWorkerShare }
    spending { spend { amount } bonuses { amount } approved
      costPerApprovedSubmission { amount } }
    byCountry { key count share }
    byHourOfDay { key count }
    byDayOfWeek { key count }
    buckets { start end views starts submitted accepted rejected completionRate
      approvalRate spend { amount } }
    workers { workerId worker { country } starts submitted accepted rejected approvalRate
      meanSecondsToComplete earnings { amount } ruleFirings }
  }
}
"""


def _scope(task: Task) -> dict[str, str]:
    return {"taskId": global_id("Task", task.id)}


async def _figures(api: Api, seeded: Seeded, period: dict[str, str], scope: Any) -> Any:
    data = await api.data(FIGURES, {"period": period, "scope": scope}, key=seeded.requester.key)
    return data["analytics"]


async def test_every_figure_of_a_task_equals_the_hand_computed_value(
    api: Api, seeded: Seeded
) -> None:
    day = _period(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    figures = await _figures(api, seeded, day, _scope(seeded.task))
    assert (figures["timezone"], figures["bucket"]) == ("UTC", "DAY")
    engagement = figures["engagement"]
    assert engagement == {
        "views": 5,
        "uniqueViewers": 4,
        "starts": 4,
        "submitted": 3,
        "abandoned": 1,
        "viewRate": pytest.approx(80.0),
        "completionRate": pytest.approx(75.0),
        "abandonmentRate": pytest.approx(25.0),
        # 60, 120, 180 s: the 90th percentile interpolated as percentile_cont does,
        # 120 + 0.8 * (180 - 120).
        "timeToComplete": {
            "count": 3,
            "mean": pytest.approx(120.0),
            "median": pytest.approx(120.0),
            "p90": pytest.approx(168.0),
        },
    }
    quality = figures["quality"]
    disputes = {d["status"]: d["count"] for d in quality.pop("disputes")}
    assert disputes == {"OPEN": 1, "UPHELD": 0, "OVERTURNED": 0, "PARTIALLY_PAID": 0}
    assert quality == {
        # Approved: w1 and w3; rejected (now disputed): w2.
        "decided": 3,
        "accepted": 2,
        "rejected": 1,
        "approvalRate": pytest.approx(200 / 3),
        "rejectionRate": pytest.approx(100 / 3),
        # w3 was approved after a revision.
        "firstAttemptApprovalRate": pytest.approx(100 / 3),
        "revisionRate": pytest.approx(100 / 3),
        "disputeCount": 1,
        "disputeRate": pytest.approx(100.0),
        "ratingCount": 2,
        "meanClarity": pytest.approx(3.0),
        "meanFairness": pytest.approx(4.0),
        # w1 also started the account's other task.
        "workers": 4,
        "repeatWorkers": 1,
        "repeatWorkerShare": pytest.approx(25.0),
    }
    # Paid: 1.00 to w1, 0.50 bonus to w1, 1.00 to w3; two approved.
    assert figures["spending"] == {
        "spend": {"amount": "2.50"},
        "bonuses": {"amount": "0.50"},
        "approved": 2,
        "costPerApprovedSubmission": {"amount": "1.25"},
    }
    assert figures["byCountry"] == [
        {"key": "DE", "count": 2, "share": pytest.approx(50.0)},
        {"key": "FR", "count": 1, "share": pytest.approx(25.0)},
        {"key": "US", "count": 1, "share": pytest.approx(25.0)},
    ]
    hours = {h["key"]: h["count"] for h in figures["byHourOfDay"]}
    assert len(hours) == 24 and hours["10"] == 4 and sum(hours.values()) == 4
    weekdays = {d["key"]: d["count"] for d in figures["byDayOfWeek"]}
    assert weekdays == {"1": 4, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0}
    [bucket] = figures["buckets"]
    assert bucket == {
        "start": "2026-03-02T00:00:00+00:00",
        "end": "2026-03-03T00:00:00+00:00",
        "views": 5,
        "starts": 4,
        "submitted": 3,
        "accepted": 2,
        "rejected": 1,
        "completionRate": pytest.approx(75.0),
        "approvalRate": pytest.approx(200 / 3),
        "spend": {"amount": "2.50"},
    }
    w1, w2, w3, w4 = (global_id("Worker", w.id) for w in seeded.workers)
    by_worker = {w["workerId"]: w for w in figures["workers"]}
    assert by_worker[w1] == {
        "workerId": w1,
        "worker": {"country": "DE"},
        "starts": 1,
        "submitted": 1,
        "accepted": 1,
        "rejected": 0,
        "approvalRate": pytest.approx(100.0),
        "meanSecondsToComplete": pytest.approx(60.0),
        "earnings": {"amount": "1.50"},
        "ruleFirings": 0,
    }
    assert by_worker[w2]["rejected"] == 1 and by_worker[w2]["earnings"] == {"amount": "0.00"}
    assert by_worker[w3]["meanSecondsToComplete"] == pytest.approx(120.0)
    assert by_worker[w4]["submitted"] == 0 and by_worker[w4]["approvalRate"] is None
    assert by_worker[w4]["meanSecondsToComplete"] is None


async def test_the_account_scope_counts_every_task(api: Api, seeded: Seeded) -> None:
    day = _period(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    figures = await _figures(api, seeded, day, None)
    assert figures["engagement"]["starts"] == 5
    assert figures["engagement"]["submitted"] == 3
    assert figures["quality"]["workers"] == 4
    other = await _figures(api, seeded, day, _scope(seeded.other_task))
    assert other["engagement"]["starts"] == 1
    assert other["engagement"]["views"] == 0
    # No views: the view rate is null, not 0 and not an error.
    assert other["engagement"]["viewRate"] is None


async def test_an_empty_period_has_zero_counts_and_null_ratios(api: Api, seeded: Seeded) -> None:
    later = _period(T0 + timedelta(days=30), T0 + timedelta(days=32))
    figures = await _figures(api, seeded, later, _scope(seeded.task))
    engagement = figures["engagement"]
    assert (engagement["views"], engagement["starts"], engagement["submitted"]) == (0, 0, 0)
    for ratio in ("viewRate", "completionRate", "abandonmentRate"):
        assert engagement[ratio] is None
    assert engagement["timeToComplete"] == {"count": 0, "mean": None, "median": None, "p90": None}
    quality = figures["quality"]
    for ratio in (
        "approvalRate",
        "rejectionRate",
        "firstAttemptApprovalRate",
        "revisionRate",
        "disputeRate",
        "meanClarity",
        "meanFairness",
        "repeatWorkerShare",
    ):
        assert quality[ratio] is None, ratio
    assert figures["spending"]["costPerApprovedSubmission"] is None
    assert figures["byCountry"] == []
    # Two days from 10:00: three buckets, the first and the last cut at the period's ends.
    assert [b["starts"] for b in figures["buckets"]] == [0, 0, 0]
    assert figures["buckets"][0]["start"] == "2026-04-01T10:00:00+00:00"
    assert figures["buckets"][1]["start"] == "2026-04-02T00:00:00+00:00"
    assert figures["buckets"][-1]["end"] == "2026-04-03T10:00:00+00:00"
    assert all(b["completionRate"] is None for b in figures["buckets"])
    assert figures["workers"] == []


async def test_another_accounts_scope_sees_nothing(api: Api, seeded: Seeded) -> None:
    stranger = await new_requester(fund_minor=0, project=False)
    day = _period(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    data = await api.data(FIGURES, {"period": day, "scope": _scope(seeded.task)}, key=stranger.key)
    figures = data["analytics"]
    assert figures["engagement"]["starts"] == 0
    assert figures["engagement"]["views"] == 0
    assert figures["workers"] == []
    assert figures["byCountry"] == []


async def test_bad_periods_are_refused_with_their_field(api: Api, seeded: Seeded) -> None:
    key = seeded.requester.key
    cases = [
        (_period(T0, T0 - timedelta(days=1)), ["period", "to"]),
        (_period(T0, T0 + timedelta(days=500)), ["period"]),
    ]
    for period, field in cases:
        body = await api.post(FIGURES, {"period": period}, key=key)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["extensions"]["userErrors"][0]["field"] == field
    body = await api.post(
        FIGURES,
        {"period": _period(T0, T0 + timedelta(days=1)), "scope": {"taskId": "nope"}},
        key=key,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nested_workers_and_tasks_cost_no_query_each(api: Api, seeded: Seeded) -> None:
    """The workers of a task with four and of a task with one: the same statements."""
    document = """query ($period: AnalyticsPeriodInput!, $scope: AnalyticsScopeInput) {
      analytics(period: $period, scope: $scope) { workers { worker { name country } } } }"""
    day = _period(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    log = logging.getLogger("tortoise.db_client")
    counts = []
    for task, workers in ((seeded.task, 4), (seeded.other_task, 1)):
        await api.data(document, {"period": day, "scope": _scope(task)}, key=seeded.requester.key)
        statements: list[logging.LogRecord] = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = statements.append  # type: ignore[method-assign]
        log.setLevel(logging.DEBUG)
        log.addHandler(handler)
        try:
            data = await api.data(
                document, {"period": day, "scope": _scope(task)}, key=seeded.requester.key
            )
        finally:
            log.removeHandler(handler)
            log.setLevel(logging.NOTSET)
        assert len(data["analytics"]["workers"]) == workers
        counts.append(len(statements))
    assert counts[0] == counts[1]


async def test_rule_firings_count_per_worker_by_the_scope(api: Api, seeded: Seeded) -> None:
    """A project-wide rule's firing names no task: it counts for the account, not for a
    task; a firing on the task counts for both."""
    w1 = seeded.workers[0]
    account_id = seeded.requester.principal.account_id
    rule = await Rule.create(
        account_id=account_id,
        project_id=seeded.requester.project_id,
        type=RuleType.REVIEW_RESULTS,
        conditions=[],
        action={},
    )
    for task_id in (None, seeded.task.id):
        await RuleFiring.create(
            rule=rule,
            account_id=account_id,
            worker_id=w1.id,
            task_id=task_id,
            metrics=[],
            action={},
            created_at=T0 + timedelta(minutes=30),
        )
    day = _period(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    w1_id = global_id("Worker", w1.id)
    for scope, expected in ((None, 2), (_scope(seeded.task), 1)):
        figures = await _figures(api, seeded, day, scope)
        [mine] = [w for w in figures["workers"] if w["workerId"] == w1_id]
        assert mine["ruleFirings"] == expected, scope
