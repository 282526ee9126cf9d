"""Variants compared with their significance, local-time buckets and distributions in a
zone with summer time, and the budget plan, through GraphQL on a frozen clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from gql_server.clock import FrozenClock
from gql_server.services import review, submissions
from gql_server.services.global_ids import global_id
from tests.factories import answer, new_requester, new_task, new_worker
from tests.graphql_client import Api

COMPARE = """
query ($g: String!, $period: AnalyticsPeriodInput!) {
  variantComparison(variantGroup: $g, period: $period) {
    variants { taskId task { title } starts submitted decided accepted completionRate approvalRate }
    againstControl { taskId
      completionRate { difference pValue interval { low high } }
      approvalRate { difference pValue interval { low high } } }
  }
}
"""


async def test_two_variants_side_by_side_with_a_p_value_and_an_interval(
    api: Api, frozen: FrozenClock
) -> None:
    """Control: 8 starts, 2 sent; variant: 8 starts, 6 sent. By hand: pooled share 8/16,
    standard error sqrt(0.25 * (1/8 + 1/8)) = 0.25, z = 0.5 / 0.25 = 2, p = erfc(2 / sqrt 2)
    = 0.0455; the interval 50 +- 1.96 * sqrt(0.25 * 0.75 / 8 * 2) * 100 points."""
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    frozen.set(start)
    requester = await new_requester()
    control = await new_task(requester, variant_group="ab", budget="20.00")
    variant = await new_task(requester, variant_group="ab", budget="20.00", title="Shorter")
    await new_task(requester, variant_group="other")
    for task, sent in ((control, 2), (variant, 6)):
        for n in range(8):
            worker = await new_worker()
            started = await submissions.start_submission(worker.principal, task.id)
            if n < sent:
                await submissions.submit_submission(worker.principal, started.id, answer())
                # Every sent one approved but the control's second: approval 1/2 and 6/6.
                if task is variant or n == 0:
                    await review.approve_submission(requester.principal, started.id)
                else:
                    await review.reject_submission(requester.principal, started.id, "No.")
    period = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    data = await api.data(COMPARE, {"g": "ab", "period": period}, key=requester.key)
    comparison = data["variantComparison"]
    assert [v["taskId"] for v in comparison["variants"]] == [
        global_id("Task", control.id),
        global_id("Task", variant.id),
    ]
    first, second = comparison["variants"]
    assert (first["task"]["title"], second["task"]["title"]) == ("Label the picture", "Shorter")
    assert (first["starts"], first["submitted"], first["completionRate"]) == (8, 2, 25.0)
    assert (second["starts"], second["submitted"], second["completionRate"]) == (8, 6, 75.0)
    assert (first["decided"], first["accepted"], first["approvalRate"]) == (2, 1, 50.0)
    [against] = comparison["againstControl"]
    assert against["taskId"] == global_id("Task", variant.id)
    completion = against["completionRate"]
    assert completion["difference"] == pytest.approx(50.0)
    assert completion["pValue"] == pytest.approx(math.erfc(2 / math.sqrt(2)))
    assert completion["pValue"] == pytest.approx(0.0455, abs=1e-4)
    half_width = 1.959963984540054 * math.sqrt(2 * 0.25 * 0.75 / 8) * 100
    assert completion["interval"]["low"] == pytest.approx(50.0 - half_width)
    assert completion["interval"]["high"] == pytest.approx(50.0 + half_width)
    # Approval 1/2 against 6/6: pooled 7/8, se = sqrt(7/8 * 1/8 * (1/2 + 1/6)).
    approval = against["approvalRate"]
    z = 0.5 / math.sqrt(7 / 8 * 1 / 8 * (1 / 2 + 1 / 6))
    assert approval["pValue"] == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert approval["difference"] == pytest.approx(50.0)


async def test_a_group_without_work_compares_nothing_as_null(api: Api, frozen: FrozenClock) -> None:
    frozen.set(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    requester = await new_requester()
    await new_task(requester, variant_group="idle")
    await new_task(requester, variant_group="idle")
    period = {"from": "2026-05-04T00:00:00+00:00", "to": "2026-05-05T00:00:00+00:00"}
    data = await api.data(COMPARE, {"g": "idle", "period": period}, key=requester.key)
    [against] = data["variantComparison"]["againstControl"]
    assert against["completionRate"] == {"difference": None, "pValue": None, "interval": None}
    unknown = await api.data(COMPARE, {"g": "none", "period": period}, key=requester.key)
    assert unknown["variantComparison"] == {"variants": [], "againstControl": []}


LOCAL = """
query ($period: AnalyticsPeriodInput!) {
  analytics(period: $period) {
    byHourOfDay { key count } byDayOfWeek { key count } buckets { start end starts }
  }
}
"""


async def test_buckets_and_hours_follow_the_accounts_zone_across_summer_time(
    api: Api, frozen: FrozenClock
) -> None:
    """Berlin moves from UTC+1 to UTC+2 on 29 March 2026 at 01:00 UTC. A start at 08:30 UTC
    on the 28th is 09:30 local; one at 08:30 UTC on the 30th is 10:30 local."""
    frozen.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    requester = await new_requester(timezone="Europe/Berlin")
    task = await new_task(requester, budget="50.00")
    for moment in (
        datetime(2026, 3, 28, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 22, 30, tzinfo=UTC),  # 00:30 on Tuesday the 31st, local
    ):
        frozen.set(moment)
        await submissions.start_submission((await new_worker()).principal, task.id)
    period = {
        "from": "2026-03-28T00:00:00+01:00",
        "to": "2026-04-01T00:00:00+02:00",
        "bucket": "DAY",
    }
    figures = (await api.data(LOCAL, {"period": period}, key=requester.key))["analytics"]
    hours = {h["key"]: h["count"] for h in figures["byHourOfDay"] if h["count"]}
    assert hours == {"9": 1, "10": 1, "0": 1}
    days = {d["key"]: d["count"] for d in figures["byDayOfWeek"] if d["count"]}
    # Saturday the 28th, Monday the 30th, Tuesday the 31st.
    assert days == {"6": 1, "1": 1, "2": 1}
    buckets = figures["buckets"]
    assert [b["start"] for b in buckets] == [
        "2026-03-27T23:00:00+00:00",
        "2026-03-28T23:00:00+00:00",
        # The 29th is 23 hours long: from here midnight is 22:00 UTC.
        "2026-03-29T22:00:00+00:00",
        "2026-03-30T22:00:00+00:00",
    ]
    assert [b["starts"] for b in buckets] == [1, 0, 1, 1]
    weeks = {**period, "bucket": "WEEK"}
    by_week = (await api.data(LOCAL, {"period": weeks}, key=requester.key))["analytics"]
    # Saturday the 28th is in the week of Monday the 23rd; the 30th starts the next.
    assert [b["starts"] for b in by_week["buckets"]] == [1, 2]
    assert by_week["buckets"][1]["start"] == "2026-03-29T22:00:00+00:00"


PLAN = """
{ budgetPlan { taskId budget { amount } committed { amount } spent { amount }
  remaining { amount } recentDailySpend { amount } daysToExhaustion } }
"""


async def test_the_budget_plan_projects_exhaustion_at_the_recent_rate(
    api: Api, frozen: FrozenClock
) -> None:
    frozen.set(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    requester = await new_requester()
    busy = await new_task(requester, budget="10.00", reward="1.00")
    idle = await new_task(requester, budget="5.00", title="Idle")
    for _ in range(7):
        worker = await new_worker()
        started = await submissions.start_submission(worker.principal, busy.id)
        await submissions.submit_submission(worker.principal, started.id, answer())
        await review.approve_submission(requester.principal, started.id)
    plan = {p["taskId"]: p for p in (await api.data(PLAN, key=requester.key))["budgetPlan"]}
    assert plan[global_id("Task", busy.id)] == {
        "taskId": global_id("Task", busy.id),
        "budget": {"amount": "10.00"},
        "committed": {"amount": "0.00"},
        "spent": {"amount": "7.00"},
        "remaining": {"amount": "3.00"},
        # 7.00 over the last 7 days: 1.00 a day, 3 days left.
        "recentDailySpend": {"amount": "1.00"},
        "daysToExhaustion": pytest.approx(3.0),
    }
    assert plan[global_id("Task", idle.id)]["daysToExhaustion"] is None
    # Eight days on, the spend is no longer recent: nothing runs out.
    frozen.advance(timedelta(days=8))
    later = {p["taskId"]: p for p in (await api.data(PLAN, key=requester.key))["budgetPlan"]}
    assert later[global_id("Task", busy.id)]["daysToExhaustion"] is None
