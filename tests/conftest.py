"""Test fixtures: a fresh database per run, the app in-process, the factories of
tests/factories.py as fixtures, and one real server per test module that asks for one.

The run uses the embedded default (a new SQLite file) unless DATABASE_URL names a
PostgreSQL server, in which case a uniquely named database is created on it and dropped
after. REDIS_URL, when set, makes the broadcast use Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio

from gql_server import db
from gql_server.app import create_app
from gql_server.clock import FrozenClock
from gql_server.models import Task
from gql_server.settings import Settings, load_settings
from tests.factories import Requester, Worker, frozen_clock, new_requester, new_task, new_worker
from tests.graphql_client import Api
from tests.server import SUITE_RATE_LIMITS, Http, running_server


def _with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest_asyncio.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        yield f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    name = f"gqs_test_{uuid.uuid4().hex[:12]}"
    await _admin(configured, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database_name(configured, name)
    finally:
        await _admin(configured, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Tests drive background sweeps themselves, with a controllable clock.
    environ = {
        "DATABASE_URL": database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_RATE_LIMITS": SUITE_RATE_LIMITS,
    }
    if os.environ.get("REDIS_URL"):
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
    return load_settings(environ)


@pytest_asyncio.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Settings]:
    await db.apply_migrations(settings)
    await db.open_database(settings)
    try:
        yield settings
    finally:
        await db.close_database()


@pytest_asyncio.fixture(scope="session")
async def app(database: Settings) -> AsyncIterator[Any]:
    application = create_app(database, manage_database=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def api(app: Any) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield Api(client)


@pytest_asyncio.fixture
async def requester(database: Settings) -> Requester:
    """A new account funded with 1000.00 and with one project, for tests of the services."""
    return await new_requester()


@pytest_asyncio.fixture
async def task(requester: Requester) -> Task:
    """A published task of `requester`: reward 1.00, budget 10.00, one text proof "answer"."""
    return await new_task(requester)


@pytest_asyncio.fixture
async def worker(database: Settings) -> Worker:
    """A new worker, in Germany."""
    return await new_worker()


@pytest_asyncio.fixture
async def account(database: Settings) -> Requester:
    """A new account with no funds and no project, for tests that set it up through the API."""
    return await new_requester(fund_minor=0, project=False)


@pytest_asyncio.fixture
async def other_account(database: Settings) -> Requester:
    """A second empty account, whose objects `account` must never see."""
    return await new_requester(fund_minor=0, project=False)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    """A FrozenClock at the real now, installed for the test (tests advance it themselves)."""
    with frozen_clock() as clock:
        yield clock


@pytest.fixture(scope="module")
def server(database: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real `gql-server serve` for the whole test module, on the run's database and
    broadcast, without background sweeps (tests drive those). Tests share it safely
    because each owns its accounts; a test that needs its own process starts one."""
    env = {
        "DATABASE_URL": database.database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_RATE_LIMITS": SUITE_RATE_LIMITS,
    }
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    with running_server(env, cwd=tmp_path_factory.mktemp("server")) as base:
        yield base


@pytest_asyncio.fixture
async def http(server: str) -> AsyncIterator[Http]:
    """A GraphQL client over HTTP to the module's `server`."""
    client = Http(server)
    try:
        yield client
    finally:
        await client.client.aclose()
