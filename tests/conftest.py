"""Test fixtures: a fresh database per run, the app in-process, and API helpers.

The run uses the embedded default (a new SQLite file) unless DATABASE_URL names a
PostgreSQL server, in which case a uniquely named database is created on it and dropped
after. REDIS_URL, when set, makes the broadcast use Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio

from gql_server import db
from gql_server.app import create_app
from gql_server.models.enums import MemberRole
from gql_server.services import accounts
from gql_server.settings import Settings, load_settings
from tests.graphql_client import Api


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
    environ = {"DATABASE_URL": database_url, "GQL_BACKGROUND_IN_PROCESS": "false"}
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


class AccountFixture:
    def __init__(self, account_id: int, owner_key: str) -> None:
        self.account_id = account_id
        self.owner_key = owner_key

    async def member_key(self, role: MemberRole) -> str:
        credential = await accounts.add_member(
            account_id=self.account_id,
            name=f"{role} person",
            email=f"{uuid.uuid4().hex}@example.test",
            role=role,
        )
        return credential.api_key


@pytest_asyncio.fixture
async def account(database: Settings) -> AccountFixture:
    """A new account for the test; tests never share data, so they need no cleanup."""
    created = await accounts.create_account(
        name=f"Account {uuid.uuid4().hex[:8]}",
        owner_name="Owner",
        owner_email=f"{uuid.uuid4().hex}@example.test",
    )
    return AccountFixture(created.account.id, created.owner_api_key)


@pytest_asyncio.fixture
async def other_account(database: Settings) -> AccountFixture:
    created = await accounts.create_account(
        name=f"Other {uuid.uuid4().hex[:8]}",
        owner_name="Other",
        owner_email=f"{uuid.uuid4().hex}@example.test",
    )
    return AccountFixture(created.account.id, created.owner_api_key)


@pytest_asyncio.fixture
async def worker_key(database: Settings) -> str:
    return (await accounts.register_worker(name="Wendy Worker", country="DE")).api_key
