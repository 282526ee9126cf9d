"""Rate limits per API key, spent by cost: refused whole past the budget with the time to
wait, counted together by every process that shares a Redis, readable through
`rateLimit`, and never a reason for the API to fail when the counter store does."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError

from gql_server.clock import FrozenClock
from gql_server.models.enums import MemberRole
from gql_server.services.principals import MemberPrincipal, OperatorPrincipal, WorkerPrincipal
from gql_server.services.rate_limits import STORE_PAUSE_SECONDS, Bucket, RateLimiter, bucket_for
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


# --- through the API --------------------------------------------------------------------------


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
        assert 1 <= extensions["retryAfterSeconds"] <= 60
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
