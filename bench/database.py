"""A fresh database for one benchmark run: a new PostgreSQL database when DATABASE_URL
names a server (dropped after), else a new SQLite file; migrated, and opened in-process
for the scenarios' own set-up."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gql_server import db
from gql_server.settings import Settings, load_settings


def _asyncpg(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[Settings]:
    configured = os.environ.get("DATABASE_URL", "")
    extra = {"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
    # The scenarios measure requests; no sweep or callback delivery runs beside them.
    extra["GQL_BACKGROUND_IN_PROCESS"] = "false"
    if configured.startswith(("postgres://", "postgresql://")):
        name = f"gqs_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(_asyncpg(configured))
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        parts = urlsplit(configured)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
        try:
            yield await _opened(load_settings({"DATABASE_URL": url, **extra}))
        finally:
            await db.close_database()
            admin = await asyncpg.connect(_asyncpg(configured))
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
        try:
            yield await _opened(load_settings({"DATABASE_URL": url, **extra}))
        finally:
            await db.close_database()


async def _opened(settings: Settings) -> Settings:
    await db.apply_migrations(settings)
    await db.open_database(settings)
    return settings


def server_env(settings: Settings) -> dict[str, str]:
    """What a product server process needs to serve this database."""
    env = {"DATABASE_URL": settings.database_url}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return env
