"""Settings read from environment variables, validated once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

DEFAULT_SQLITE_PATH = Path("var") / "gql_server.sqlite3"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# Points per minute of each kind of caller (see services/rate_limits.py); GQL_RATE_LIMITS
# overrides any of them, and gives single keys (by their prefix) budgets of their own.
DEFAULT_RATE_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "owner": 20_000,
        "manager": 20_000,
        "auditor": 20_000,
        "viewer": 10_000,
        "worker": 5_000,
        "operator": 20_000,
        "anonymous": 1_000,
    }
)
# The largest cost of one request (schema/cost.py) unless GQL_MAX_QUERY_COST sets another.
DEFAULT_MAX_QUERY_COST = 5000
KEY_PREFIXES = ("cwk_", "cwo_")
# A key's prefix as listings show it (`apiKeys { prefix }`).
KEY_PREFIX_LENGTH = 12
MAX_RATE_LIMIT = 100_000_000
# Who may introspect the schema: everyone, members' keys only, or no one.
INTROSPECTION_CHOICES = ("everyone", "members", "off")


class SettingsError(ValueError):
    """A setting has a value the server cannot start with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    host: str
    port: int
    log_level: str
    dev_mode: bool
    db_pool_size: int
    run_background_in_process: bool
    # Callbacks to loopback and private addresses (a receiver on this machine, in tests).
    allow_private_callbacks: bool = False
    callback_timeout_seconds: float = 10.0
    # The largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = 1_000_000
    # The largest cost of one request (schema/cost.py).
    max_query_cost: int = DEFAULT_MAX_QUERY_COST
    # Points per minute by kind of caller, and by key prefix for single keys.
    rate_limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    key_rate_limits: Mapping[str, int] = field(default_factory=dict)
    # Who may introspect: "everyone" in dev mode, members' keys only otherwise.
    introspection: str = "members"
    # The live review dashboard at /dashboard (gql_server/dashboard): on in dev mode and on
    # the embedded default, off otherwise unless GQL_DASHBOARD turns it on.
    dashboard: bool = False
    # The demo's simulated work (services/demo_activity.py): dev mode on the embedded
    # default only, never in production.
    demo_activity: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(self.database_url.removeprefix("sqlite://").split("?", 1)[0])

    @property
    def tortoise_db_url(self) -> str:
        """The URL in the form Tortoise expects, with pool and lock settings applied."""
        if self.is_sqlite:
            # A busy timeout keeps a second process (the worker) from failing on a held lock.
            return f"{self.database_url.split('?', 1)[0]}?busy_timeout=5000"
        separator = "&" if "?" in self.database_url else "?"
        return f"{self.database_url}{separator}minsize=1&maxsize={self.db_pool_size}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    dev_mode = _bool(env, "GQL_DEV_MODE", False)
    roles, keys = _rate_limits(env.get("GQL_RATE_LIMITS"))
    database_url = _database_url(env.get("DATABASE_URL"))
    embedded = database_url.startswith("sqlite://")
    return Settings(
        database_url=database_url,
        redis_url=_redis_url(env.get("REDIS_URL")),
        host=_non_empty(env, "GQL_HOST", "127.0.0.1"),
        port=_int_in_range(env, "GQL_PORT", 8000, 1, 65535),
        log_level=_choice(env, "GQL_LOG_LEVEL", "info", LOG_LEVELS),
        dev_mode=dev_mode,
        db_pool_size=_int_in_range(env, "GQL_DB_POOL_SIZE", 10, 1, 500),
        run_background_in_process=_bool(env, "GQL_BACKGROUND_IN_PROCESS", True),
        allow_private_callbacks=_bool(env, "GQL_ALLOW_PRIVATE_CALLBACKS", False),
        callback_timeout_seconds=_int_in_range(env, "GQL_CALLBACK_TIMEOUT_SECONDS", 10, 1, 60),
        max_body_bytes=_int_in_range(env, "GQL_MAX_BODY_BYTES", 1_000_000, 1_000, 100_000_000),
        max_query_cost=_int_in_range(env, "GQL_MAX_QUERY_COST", DEFAULT_MAX_QUERY_COST, 10, 10**9),
        rate_limits={**DEFAULT_RATE_LIMITS, **roles},
        key_rate_limits=keys,
        introspection=_choice(
            env, "GQL_INTROSPECTION", "everyone" if dev_mode else "members", INTROSPECTION_CHOICES
        ),
        dashboard=_bool(env, "GQL_DASHBOARD", dev_mode or embedded),
        demo_activity=_bool(env, "GQL_DEMO_ACTIVITY", True) and dev_mode and embedded,
    )


def _database_url(value: str | None) -> str:
    if value is None or value.strip() == "":
        return f"sqlite://{DEFAULT_SQLITE_PATH.resolve()}"
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme == "sqlite":
        path = value.removeprefix("sqlite://").split("?", 1)[0]
        if not path:
            raise SettingsError(
                "DATABASE_URL: a sqlite URL needs a file path, e.g. sqlite://var/db.sqlite3"
            )
        if path == ":memory:":
            raise SettingsError(
                "DATABASE_URL: an in-memory SQLite database is not shared between "
                "connections; use a file path"
            )
        return f"sqlite://{Path(path).resolve()}"
    if parts.scheme in {"postgres", "postgresql", "asyncpg"}:
        if not parts.hostname or not parts.path.strip("/"):
            raise SettingsError(
                "DATABASE_URL: a PostgreSQL URL needs a host and a database name, "
                "e.g. postgres://user@127.0.0.1:5432/crowdwork"
            )
        # Tortoise names the asyncpg engine "postgres"; accept the usual spellings.
        return "postgres" + value[len(parts.scheme) :]
    raise SettingsError(
        f"DATABASE_URL: unsupported scheme {parts.scheme!r}; use sqlite://PATH or "
        "postgres://USER@HOST:PORT/DB"
    )


def _redis_url(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(
            f"REDIS_URL: unsupported scheme {parts.scheme!r}; use redis://HOST:PORT/DB, "
            "rediss://... or unix://PATH (or leave it unset for the in-process broadcast)"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise SettingsError("REDIS_URL: a host is required, e.g. redis://127.0.0.1:6379/0")
    return value


def _rate_limits(value: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """`viewer=5000,cwk_ab12cd34=50000`: budgets by kind of caller and by key prefix."""
    roles: dict[str, int] = {}
    keys: dict[str, int] = {}
    for entry in (value or "").split(","):
        if not entry.strip():
            continue
        name, _, points = entry.partition("=")
        name = name.strip()
        hint = (
            f"GQL_RATE_LIMITS: expected NAME=POINTS entries separated by commas, NAME one of "
            f"{', '.join(DEFAULT_RATE_LIMITS)} or a key's prefix (its first "
            f"{KEY_PREFIX_LENGTH} characters), POINTS from 1 to {MAX_RATE_LIMIT}; "
            f"got {entry.strip()!r}"
        )
        if not points.strip().isdigit() or not 1 <= int(points) <= MAX_RATE_LIMIT:
            raise SettingsError(hint)
        if name in DEFAULT_RATE_LIMITS:
            roles[name] = int(points)
        elif name.startswith(KEY_PREFIXES) and len(name) == KEY_PREFIX_LENGTH:
            keys[name] = int(points)
        else:
            raise SettingsError(hint)
    return roles, keys


def _non_empty(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    if value is None:
        return default
    if value.strip() == "":
        raise SettingsError(f"{name}: must not be empty")
    return value.strip()


def _int_in_range(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(
            f"{name}: expected a whole number from {low} to {high}, got {raw!r}"
        ) from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: expected a whole number from {low} to {high}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}: expected true or false (1/0, yes/no), got {raw!r}")
