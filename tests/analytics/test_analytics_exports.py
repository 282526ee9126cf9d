"""The analytics as CSV and JSON Lines: the same figures GraphQL answers, for the same
scope and period, through the export routes and links."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from gql_server.services.global_ids import global_id
from tests.analytics.conftest import T0, Seeded, period
from tests.graphql_client import Api

BUCKETS = """query ($period: AnalyticsPeriodInput!, $scope: AnalyticsScopeInput) {
  analytics(period: $period, scope: $scope) {
    buckets { start end views starts submitted accepted rejected completionRate
      approvalRate spend { amount } }
    workers { workerId starts submitted accepted rejected earnings { amount } } } }"""


def _params(seeded: Seeded) -> dict[str, str]:
    return {
        "periodFrom": (T0 - timedelta(hours=10)).isoformat(),
        "periodTo": (T0 + timedelta(days=1, hours=14)).isoformat(),
        "taskId": global_id("Task", seeded.task.id),
    }


async def _get(api: Api, seeded: Seeded, path: str, params: dict[str, str]) -> Any:
    return await api.client.get(
        path, params=params, headers={"Authorization": f"Bearer {seeded.requester.key}"}
    )


async def test_the_buckets_csv_has_the_figures_graphql_answers(api: Api, seeded: Seeded) -> None:
    params = _params(seeded)
    answer = await api.data(
        BUCKETS,
        {
            "period": period(T0 - timedelta(hours=10), T0 + timedelta(days=1, hours=14)),
            "scope": {"taskId": params["taskId"]},
        },
        key=seeded.requester.key,
    )
    response = await _get(api, seeded, "/export/analytics-buckets.csv", params)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = answer["analytics"]["buckets"]
    assert len(rows) == len(expected) == 2
    for row, bucket in zip(rows, expected, strict=True):
        assert row["start"] == bucket["start"] and row["end"] == bucket["end"]
        for name in ("views", "starts", "submitted", "accepted", "rejected"):
            assert int(row[name]) == bucket[name], name
        assert row["spend"] == bucket["spend"]["amount"]
        for name, key in (("completion_rate", "completionRate"), ("approval_rate", "approvalRate")):
            if bucket[key] is None:
                assert row[name] == ""
            else:
                assert float(row[name]) == round(bucket[key], 6)


async def test_the_workers_jsonl_has_each_workers_figures(api: Api, seeded: Seeded) -> None:
    response = await _get(api, seeded, "/export/analytics-workers.jsonl", _params(seeded))
    assert response.status_code == 200, response.text
    rows = [json.loads(line) for line in response.text.splitlines()]
    by_worker = {row["worker_id"]: row for row in rows}
    w1 = seeded.workers[0]
    first = by_worker[global_id("Worker", w1.id)]
    assert first["worker_name"] and first["country"] == "DE"
    assert (first["starts"], first["accepted"], first["earnings"]) == (1, 1, "1.50")
    assert first["mean_seconds_to_complete"] == 60.0


async def test_distributions_and_the_budget_plan_export(api: Api, seeded: Seeded) -> None:
    response = await _get(api, seeded, "/export/analytics-distributions.csv", _params(seeded))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    countries = {r["key"]: int(r["starts"]) for r in rows if r["by"] == "country"}
    assert countries == {"DE": 2, "FR": 1, "US": 1}
    assert len([r for r in rows if r["by"] == "hour_of_day"]) == 24
    plan = await _get(api, seeded, "/export/budget-plan.csv", {})
    assert plan.status_code == 200
    tasks = {r["task_id"] for r in csv.DictReader(io.StringIO(plan.text))}
    assert global_id("Task", seeded.task.id) in tasks


async def test_a_period_is_required_and_said_so(api: Api, seeded: Seeded) -> None:
    response = await _get(api, seeded, "/export/analytics-buckets.csv", {})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION"
    assert sorted(d["parameter"] for d in error["details"]) == ["periodFrom", "periodTo"]


async def test_a_link_downloads_the_analytics_without_a_key(api: Api, seeded: Seeded) -> None:
    created = await api.data(
        """mutation ($p: AnalyticsPeriodInput!, $s: AnalyticsScopeInput) {
          createExportLink(input: {kind: ANALYTICS_WORKERS, format: JSONL, period: $p,
            scope: $s}) { path userErrors { code field } } }""",
        {
            "p": period(T0 - timedelta(hours=10), T0 + timedelta(days=1, hours=14)),
            "s": {"taskId": global_id("Task", seeded.task.id)},
        },
        key=seeded.requester.key,
    )
    link = created["createExportLink"]
    assert link["userErrors"] == []
    downloaded = await api.client.get(link["path"])
    assert downloaded.status_code == 200
    assert len(downloaded.text.splitlines()) == 4


async def test_a_period_beyond_what_the_databases_hold_is_refused(api: Api, seeded: Seeded) -> None:
    params = {
        "periodFrom": "9999-12-25T00:00:00+00:00",
        "periodTo": "9999-12-31T00:00:00+00:00",
        "bucket": "WEEK",
    }
    response = await _get(api, seeded, "/export/analytics-buckets.csv", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION"
    assert {d["parameter"] for d in error["details"]} == {"periodFrom", "periodTo"}
