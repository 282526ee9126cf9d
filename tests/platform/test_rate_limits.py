"""Rate limits per API key, spent by cost: refused whole past the budget with the time to
wait, counted together by every process that shares a Redis, readable through
`rateLimit`, and never a reason for the API to fail when the counter store does."""

from __future__ import annotations

import logging
import random
import types
from datetime import timedelta
from pathlib import Path

import httpx
import limits.aio.storage.memory
import limits.aio.strategies
import pytest
from gql.transport.exceptions import TransportQueryError

from gql_server.clock import FrozenClock
from gql_server.models.enums import MemberRole
from gql_server.services import rate_limits
from gql_server.services.principals import MemberPrincipal, OperatorPrincipal, WorkerPrincipal
from gql_server.services.rate_limits import (
    STORE_PAUSE_SECONDS,
    Bucket,
    RateLimiter,
    bucket_for,
    seconds_until_allowed,
)
from gql_server.settings import DEFAULT_RATE_LIMITS, Settings, SettingsError, load_settings
from tests.factories import Requester, new_requester
from tests.graphql_client import app_with
from tests.platform.test_query_cost import cost as cost_of
from tests.server import LiveClient, redis_server, running_server
from tests.streams.documents import QUEUE

# Costs 1 (the connection) + 9 (its nodes): ten points a request.
TEN_POINTS = "{ tasks(first: 9) { edges { node { id } } } }"


def _member(role: MemberRole, key_id: int = 7, prefix: str = "cwk_aaaaaaaa") -> MemberPrincipal:
    return MemberPrincipal(
        member_id=1, account_id=1, role=role, api_key_id=key_id, key_prefix=prefix
    )


# --- whose bucket, how big --------------------------------------------------------------------


def test_a_key_spends_its_roles_budget_unless_the_settings_give_it_its_own() -> None:
    budgets = {**DEFAULT_RATE_LIMITS, "viewer": 300}
    assert bucket_for(_member(MemberRole.VIEWER), budgets, {}, "10.0.0.1") == Bucket("key:7", 300)
    assert bucket_for(_member(MemberRole.VIEWER), budgets, {"cwk_aaaaaaaa": 9000}, None) == Bucket(
        "key:7", 9000
    )
    assert (
        bucket_for(_member(MemberRole.OWNER), budgets, {}, None).points_per_minute
        == (DEFAULT_RATE_LIMITS["owner"])
    )
    worker = WorkerPrincipal(worker_id=3, api_key_id=8)
    assert bucket_for(worker, budgets, {}, None) == Bucket("key:8", budgets["worker"])
    operator = OperatorPrincipal(operator_key_id=2)
    assert bucket_for(operator, budgets, {}, None) == Bucket("operator:2", budgets["operator"])
    # No key: the caller's address, with the anonymous budget.
    assert bucket_for(None, budgets, {}, "10.0.0.1") == Bucket(
        "address:10.0.0.1", budgets["anonymous"]
    )


def test_the_budgets_are_settings_by_role_and_by_key() -> None:
    settings = load_settings({"GQL_RATE_LIMITS": "viewer=500, cwk_abcdefgh=70000"})
    assert settings.rate_limits["viewer"] == 500
    assert settings.rate_limits["owner"] == DEFAULT_RATE_LIMITS["owner"]
    assert settings.key_rate_limits == {"cwk_abcdefgh": 70000}
    for bad in ("viewer=0", "viewer=lots", "janitor=5", "cwk_short=5", "viewer"):
        with pytest.raises(SettingsError, match="GQL_RATE_LIMITS"):
            load_settings({"GQL_RATE_LIMITS": bad})


async def test_a_counter_store_that_is_down_lets_requests_through(
    frozen: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: every call fails at once.
    limiter = RateLimiter("redis://127.0.0.1:1/0", namespace="down")
    caplog.set_level(logging.WARNING, "gql_server.services.rate_limits")
    assert await limiter.spend(Bucket("key:1", 10), 1_000) is None
    assert len(caplog.records) == 1
    # Left alone for a while: let through unasked, and not logged again.
    assert await limiter.spend(Bucket("key:1", 10), 1_000) is None
    status = await limiter.status(Bucket("key:1", 10))
    assert status.remaining == status.limit == 10
    assert len(caplog.records) == 1
    frozen.advance(timedelta(seconds=STORE_PAUSE_SECONDS + 1))
    assert await limiter.spend(Bucket("key:1", 10), 1_000) is None
    assert len(caplog.records) == 2


# --- when points come back -----------------------------------------------------------------


def test_the_wait_is_until_the_weighted_count_leaves_room_for_the_cost() -> None:
    # Nothing in the previous window, 60 of 60 points spent, 53 s of the window left: one
    # point fits once the window ends and the 60 begin to weigh less; 30 points once they
    # weigh 30 (29 s later).
    assert seconds_until_allowed(0, 53, 60, 60, 60, 1) == 53
    assert seconds_until_allowed(0, 53, 60, 60, 60, 30) == 53 + 29
    # 60 from the previous window weighing 50 (50 s left), 10 now: 20 points fit once the
    # 60 weigh 30, in 19 s.
    assert seconds_until_allowed(60, 50, 10, 60, 60, 20) == pytest.approx(19)
    # Room already: 60 weighing 30, nothing now, 10 points.
    assert seconds_until_allowed(60, 30, 0, 60, 60, 10) == 0
    # More than the whole budget fits never.
    assert seconds_until_allowed(0, 0, 0, 60, 60, 61) is None


@pytest.fixture
def counter_time(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time of `limits`' in-process counters (they read `time.time`), moved by hand."""
    now = [1_800_000_007.0]
    shim = types.SimpleNamespace(time=lambda: now[0])
    for module in (limits.aio.storage.memory, limits.aio.strategies, rate_limits):
        monkeypatch.setattr(module, "time", shim)
    return now


async def test_a_refused_request_fits_at_the_second_it_is_told_and_not_before(
    counter_time: list[float],
) -> None:
    """Histories of random spending: whatever the counter holds, a client that waits the
    `retry_after_seconds` it was given is let through, and one second less is not enough."""
    chooser = random.Random(14)
    for case in range(200):
        limiter = RateLimiter(None, namespace=f"refill-{case}")
        budget = chooser.choice([10, 60, 1_000])
        bucket = Bucket("key:1", budget)
        start = counter_time[0]
        for moment in sorted(start + chooser.uniform(0, 90) for _ in range(chooser.randint(1, 6))):
            counter_time[0] = moment
            await limiter.spend(bucket, chooser.randint(1, budget))
        cost = chooser.randint(1, budget)
        refused = await limiter.spend(bucket, cost)
        asked_at = counter_time[0]
        if refused is None:
            continue
        assert refused.retry_after_seconds is not None and refused.retry_after_seconds >= 1
        counter_time[0] = asked_at + refused.retry_after_seconds - 1
        assert await limiter.spend(bucket, cost) is not None, case
        counter_time[0] = asked_at + refused.retry_after_seconds
        assert await limiter.spend(bucket, cost) is None, case
        counter_time[0] += 300


async def test_points_come_back_as_the_spent_minute_ages(counter_time: list[float]) -> None:
    limiter = RateLimiter(None, namespace="ageing")
    bucket = Bucket("key:1", 60)
    assert await limiter.spend(bucket, 60) is None
    status = await limiter.status(bucket)
    # 7 s into its window: nothing comes back before it ends, 53 s on.
    assert status.remaining == 0
    assert status.reset_at.timestamp() == pytest.approx(counter_time[0] + 53)
    counter_time[0] += 53 + 30
    assert (await limiter.status(bucket)).remaining == 30
    counter_time[0] += 30
    assert (await limiter.status(bucket)).remaining == 60


# --- through the API --------------------------------------------------------------------------


async def test_a_request_over_the_whole_budget_is_refused_for_good_not_told_to_wait(
    database: Settings, account: Requester
) -> None:
    limits_ = {**DEFAULT_RATE_LIMITS, "owner": 5}
    async with app_with(database, rate_limits=limits_) as api:
        refused = await api.post(TEN_POINTS, key=account.key)
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
        assert (error["extensions"]["cost"], error["extensions"]["maximumCost"]) == (10, 5)
        assert "retryAfterSeconds" not in error["extensions"]
        assert "errors" not in await api.post("{ __typename }", key=account.key)


async def test_a_key_past_its_budget_is_refused_with_the_time_to_wait(
    database: Settings, account: Requester
) -> None:
    limits = {**DEFAULT_RATE_LIMITS, "owner": 50}
    async with app_with(database, rate_limits=limits) as api:
        answers = [await api.post(TEN_POINTS, key=account.key) for _ in range(5)]
        assert all("errors" not in answer for answer in answers)
        refused = await api.post(TEN_POINTS, key=account.key)
        assert refused["data"] is None
        [error] = refused["errors"]
        extensions = error["extensions"]
        assert extensions["code"] == "RATE_LIMITED"
        # The points spent this minute weigh into the next one too (a sliding window).
        assert 1 <= extensions["retryAfterSeconds"] <= 120
        assert (extensions["limit"], extensions["cost"]) == (50, 10)
        assert "retry in" in error["message"]
        # Another key of the account has a budget of its own.
        other = await new_requester(fund_minor=0, project=False)
        assert "errors" not in await api.post(TEN_POINTS, key=other.key)


async def test_a_refusal_is_429_with_retry_after_for_graphql_response_json_clients(
    database: Settings, account: Requester
) -> None:
    limits = {**DEFAULT_RATE_LIMITS, "owner": 10}
    async with app_with(database, rate_limits=limits) as api:
        headers = {"Authorization": f"Bearer {account.key}"}
        await api.post(TEN_POINTS, key=account.key)
        modern = await api.client.post(
            "/graphql",
            json={"query": TEN_POINTS},
            headers={**headers, "Accept": "application/graphql-response+json"},
        )
        assert modern.status_code == 429
        wait = modern.json()["errors"][0]["extensions"]["retryAfterSeconds"]
        assert modern.headers["Retry-After"] == str(wait)
        # Older clients keep 200, and are told the wait too.
        legacy = await api.client.post("/graphql", json={"query": TEN_POINTS}, headers=headers)
        assert legacy.status_code == 200
        assert int(legacy.headers["Retry-After"]) >= 1


async def test_rate_limit_reads_what_is_left(database: Settings, account: Requester) -> None:
    limits = {**DEFAULT_RATE_LIMITS, "owner": 100}
    async with app_with(database, rate_limits=limits) as api:
        await api.post(TEN_POINTS, key=account.key)
        read = await api.data("{ rateLimit { limit remaining cost resetAt } }", key=account.key)
        # 10 points, then 1 for this read.
        assert read["rateLimit"]["limit"] == 100
        assert read["rateLimit"]["remaining"] == 89
        assert read["rateLimit"]["cost"] == 1


async def test_a_refused_request_spends_nothing(database: Settings, account: Requester) -> None:
    limits = {**DEFAULT_RATE_LIMITS, "owner": 15}
    async with app_with(database, rate_limits=limits) as api:
        assert "errors" not in await api.post(TEN_POINTS, key=account.key)
        for _ in range(3):
            refused = await api.post(TEN_POINTS, key=account.key)
            assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # The 5 points left are still there for smaller requests.
        for _ in range(4):
            assert "errors" not in await api.post("{ account { name } }", key=account.key)


async def test_callers_without_a_key_are_counted_by_address(database: Settings) -> None:
    limits = {**DEFAULT_RATE_LIMITS, "anonymous": 3}
    async with app_with(database, rate_limits=limits) as api:
        codes = []
        for _ in range(4):
            answer = await api.post("{ __typename }")
            codes.append((answer.get("errors") or [{}])[0].get("extensions", {}).get("code"))
        assert codes == [None, None, None, "RATE_LIMITED"]


def test_two_server_processes_count_one_budget_together(
    database: Settings, account: Requester, tmp_path: Path
) -> None:
    with redis_server(tmp_path) as redis:
        env = {
            "DATABASE_URL": database.database_url,
            "REDIS_URL": redis.url,
            "GQL_BACKGROUND_IN_PROCESS": "false",
            "GQL_RATE_LIMITS": "owner=100",
        }
        with (
            running_server(env, cwd=tmp_path) as first,
            running_server(env, cwd=tmp_path) as second,
        ):
            headers = {"Authorization": f"Bearer {account.key}"}
            allowed = 0
            for turn in range(20):
                base = (first, second)[turn % 2]
                body = httpx.post(
                    f"{base}/graphql", json={"query": TEN_POINTS}, headers=headers, timeout=10
                ).json()
                if "errors" not in body:
                    allowed += 1
                else:
                    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            # 100 points of 10: ten requests in all, not ten on each process.
            assert allowed == 10


async def test_subscriptions_spend_their_cost_when_they_start(
    database: Settings, account: Requester, tmp_path: Path
) -> None:
    """Each operation over a websocket counts as a request over HTTP does: the third
    dashboard subscription of a key with points for two is refused RATE_LIMITED."""
    points = cost_of(QUEUE)
    env = {
        "DATABASE_URL": database.database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_RATE_LIMITS": f"owner={2 * points}",
    }
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    with running_server(env, cwd=tmp_path) as base:
        async with LiveClient(base, account.key) as live:
            first, second = live.subscribe(QUEUE), live.subscribe(QUEUE)
            assert (await first.next())["reviewQueue"]["snapshot"] is True
            assert (await second.next())["reviewQueue"]["snapshot"] is True
            with pytest.raises(TransportQueryError) as refused:
                await live.subscribe(QUEUE).next()
            assert refused.value.errors is not None
            assert refused.value.errors[0]["extensions"]["code"] == "RATE_LIMITED"
