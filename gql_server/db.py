"""Database wiring: the Tortoise configuration, migrations, and opening/closing connections."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from gql_server.services import handlers
from gql_server.settings import Settings, load_settings

MODELS_MODULE = "gql_server.models"
MIGRATIONS_MODULE = "migrations"


async def _keep_session(connection: object) -> None:
    """What a PostgreSQL connection needs before it goes back to the pool: nothing more
    than asyncpg's own clean-up (listeners cleared, an open transaction rolled back).

    asyncpg's default also sends `RESET ALL; UNLISTEN *; CLOSE ALL;
    SELECT pg_advisory_unlock_all()`, a round trip after every statement Tortoise runs
    outside a transaction. Nothing here leaves session state behind: settings are never
    changed, LISTEN is not used (the broadcast is Redis), no cursor outlives its
    transaction, and advisory locks are transaction-scoped (the stream sequencer's).
    """


def _connection(settings: Settings) -> str | dict[str, Any]:
    if settings.is_sqlite:
        return settings.tortoise_db_url
    config = expand_db_url(settings.tortoise_db_url)
    config["credentials"]["reset"] = _keep_session
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(settings)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_folder(settings: Settings) -> None:
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


async def apply_migrations(settings: Settings) -> None:
    """Apply every pending migration; a no-op when the schema is current."""
    _ensure_sqlite_folder(settings)
    config = tortoise_config(settings)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await migrate(config=config)


async def open_database(settings: Settings, *, global_fallback: bool = True) -> TortoiseContext:
    """Open the connections the app uses.

    Starlette runs requests in other tasks than the lifespan, so the context is also made
    the process-wide fallback. What follows domain events is installed with it, so that no
    entry point can change data without it.
    """
    _ensure_sqlite_folder(settings)
    handlers.install()
    return await Tortoise.init(
        config=tortoise_config(settings), _enable_global_fallback=global_fallback
    )


async def close_database() -> None:
    await Tortoise.close_connections()


async def database_is_reachable() -> bool:
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True


def _config_for_tortoise_cli() -> dict[str, Any]:
    return tortoise_config(load_settings())


# Read by Tortoise's own CLI (`tortoise makemigrations`) through [tool.tortoise] in pyproject.
TORTOISE_ORM = _config_for_tortoise_cli()
