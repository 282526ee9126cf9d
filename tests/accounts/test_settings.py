from pathlib import Path

import pytest

from gql_server.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({})
    assert settings.is_sqlite
    assert settings.sqlite_path == (Path("var") / "gql_server.sqlite3").resolve()
    assert settings.redis_url is None
    assert (settings.host, settings.port, settings.log_level, settings.dev_mode) == (
        "127.0.0.1",
        8000,
        "info",
        False,
    )
    # Callbacks reach only public addresses unless an operator says otherwise.
    assert settings.allow_private_callbacks is False
    assert settings.callback_timeout_seconds == 10


def test_postgres_spellings_are_normalised() -> None:
    for url in ("postgres://u@h:5432/db", "postgresql://u@h:5432/db", "asyncpg://u@h:5432/db"):
        assert load_settings({"DATABASE_URL": url}).database_url == "postgres://u@h:5432/db"


def test_pool_size_reaches_the_database_url() -> None:
    settings = load_settings({"DATABASE_URL": "postgres://u@h/db", "GQL_DB_POOL_SIZE": "7"})
    assert settings.tortoise_db_url.endswith("minsize=1&maxsize=7")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "sqlite://:memory:"),
        ("DATABASE_URL", "postgres://u@h"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "redis://"),
        ("GQL_PORT", "eighty"),
        ("GQL_PORT", "70000"),
        ("GQL_LOG_LEVEL", "loud"),
        ("GQL_DEV_MODE", "maybe"),
        ("GQL_HOST", "  "),
        ("GQL_DB_POOL_SIZE", "0"),
        ("GQL_ALLOW_PRIVATE_CALLBACKS", "sometimes"),
        ("GQL_CALLBACK_TIMEOUT_SECONDS", "0"),
        ("GQL_CALLBACK_TIMEOUT_SECONDS", "600"),
    ],
)
def test_a_wrong_value_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    assert str(raised.value).startswith(f"{variable}:")


def test_booleans_accept_the_usual_spellings() -> None:
    assert load_settings({"GQL_DEV_MODE": "yes"}).dev_mode
    assert not load_settings({"GQL_DEV_MODE": "0"}).dev_mode


def test_the_dashboard_is_on_in_dev_mode_and_the_embedded_default_only() -> None:
    postgres = {"DATABASE_URL": "postgres://u@h/db"}
    assert load_settings({}).dashboard
    assert load_settings({**postgres, "GQL_DEV_MODE": "1"}).dashboard
    assert not load_settings(postgres).dashboard
    assert load_settings({**postgres, "GQL_DASHBOARD": "on"}).dashboard
    assert not load_settings({"GQL_DASHBOARD": "off"}).dashboard
    with pytest.raises(SettingsError, match=r"^GQL_DASHBOARD:"):
        load_settings({"GQL_DASHBOARD": "sometimes"})


def test_the_demo_acts_by_itself_in_dev_mode_on_the_embedded_default_only() -> None:
    assert load_settings({"GQL_DEV_MODE": "1"}).demo_activity
    assert not load_settings({"GQL_DEV_MODE": "1", "GQL_DEMO_ACTIVITY": "0"}).demo_activity
    assert not load_settings({}).demo_activity
    # Never on PostgreSQL (production), whatever the variables say.
    postgres = {"DATABASE_URL": "postgres://u@h/db", "GQL_DEV_MODE": "1"}
    assert not load_settings({**postgres, "GQL_DEMO_ACTIVITY": "1"}).demo_activity
