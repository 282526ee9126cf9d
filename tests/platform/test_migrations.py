"""The committed migrations build exactly the schema the models describe."""

from __future__ import annotations

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from gql_server import db
from gql_server.settings import Settings, load_settings


async def test_models_have_no_changes_missing_from_migrations(tmp_path) -> None:
    config = db.tortoise_config(
        load_settings({"DATABASE_URL": f"sqlite://{tmp_path / 'detect.sqlite3'}"})
    )
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert writers == [], "models changed without a migration: run `make migrations`"


async def test_applying_migrations_twice_is_harmless(database: Settings) -> None:
    await db.apply_migrations(database)
    assert await db.database_is_reachable()
