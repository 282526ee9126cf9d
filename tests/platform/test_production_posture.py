"""The production posture, the default when dev mode is off: no GraphiQL, introspection
for members' keys only (or for no one), everyone in dev mode."""

from __future__ import annotations

from typing import Any

from gql_server.settings import Settings, load_settings
from tests.factories import Requester, Worker
from tests.graphql_client import Api, app_with

INTROSPECTION = "{ __schema { queryType { name } } }"


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def test_introspection_follows_dev_mode_unless_set() -> None:
    assert load_settings({}).introspection == "members"
    assert load_settings({"GQL_DEV_MODE": "1"}).introspection == "everyone"
    assert load_settings({"GQL_DEV_MODE": "1", "GQL_INTROSPECTION": "off"}).introspection == ("off")


async def test_only_members_introspect_in_production(
    api: Api, account: Requester, worker: Worker
) -> None:
    anonymous = await api.post(INTROSPECTION)
    assert (anonymous["data"], _code(anonymous)) == (None, "UNAUTHENTICATED")
    by_worker = await api.post(INTROSPECTION, key=worker.key)
    assert (by_worker["data"], _code(by_worker)) == (None, "FORBIDDEN")
    by_member = await api.data(INTROSPECTION, key=account.key)
    assert by_member == {"__schema": {"queryType": {"name": "Query"}}}
    # __typename is no introspection: it is open to everyone.
    assert await api.data("{ __typename }") == {"__typename": "Query"}


async def test_introspection_may_be_off_for_everyone(
    database: Settings, account: Requester
) -> None:
    async with app_with(database, introspection="off") as api:
        refused = await api.post('{ __type(name: "Task") { name } }', key=account.key)
        assert (refused["data"], _code(refused)) == (None, "FORBIDDEN")


async def test_dev_mode_lets_everyone_introspect_and_serves_graphiql(
    database: Settings,
) -> None:
    async with app_with(database, dev_mode=True, introspection="everyone") as api:
        assert await api.data(INTROSPECTION) == {"__schema": {"queryType": {"name": "Query"}}}
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in page.text.lower()


async def test_no_graphiql_in_production(database: Settings) -> None:
    async with app_with(database, dev_mode=False) as api:
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
