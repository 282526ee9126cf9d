"""Taking a key away, tried from outside with two real server processes on one database:
after `removeMember` on one process, the removed member's key fails on its next request
on the other, and its open subscription there is closed; the same for `revokeApiKey`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from gql_server.models.enums import MemberRole
from gql_server.schema.relay import to_global_id
from gql_server.settings import Settings
from tests.factories import Requester
from tests.server import Http, LiveClient, running_server
from tests.streams.documents import BUDGET

ADD = """
mutation { addMember(input: {name: "Ana", email: "ana@team.example", role: AUDITOR}) {
  member { id } apiKey } }
"""
REMOVE = "mutation ($id: ID!) { removeMember(input: {memberId: $id}) { userErrors { code } } }"
CREATE_KEY = 'mutation { createApiKey(input: {name: "wall screen"}) { key { id } secret } }'
REVOKE = "mutation ($id: ID!) { revokeApiKey(input: {keyId: $id}) { userErrors { code } } }"
ME = "{ me { ... on Member { role } } }"
CHANGE = """
mutation ($id: ID!) { changeMemberRole(input: {memberId: $id, role: VIEWER}) {
  userErrors { code } } }
"""


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture
def second_server(database: Settings, tmp_path: Path) -> Any:
    env = {"DATABASE_URL": database.database_url, "GQL_BACKGROUND_IN_PROCESS": "false"}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    with running_server(env, cwd=tmp_path) as base:
        yield base


async def _ends(stream: Any) -> Exception:
    """The error that ended a subscription (waits at most the live client's timeout)."""
    try:
        while True:
            await stream.next()
    except TimeoutError:
        pytest.fail("the subscription was not closed")
    except Exception as error:
        return error


async def test_a_removed_members_key_fails_and_its_subscription_ends_on_another_process(
    server: str, second_server: str, account: Requester
) -> None:
    first, second = Http(server), Http(second_server)
    try:
        added = (await first.data(ADD, key=account.key))["addMember"]
        key = added["apiKey"]
        async with LiveClient(second_server, key) as live:
            budget = live.subscribe(BUDGET)
            assert (await budget.next())["budget"]["snapshot"] is True
            assert (await second.data(ME, key=key))["me"]["role"] == "AUDITOR"

            removed = await first.data(REMOVE, {"id": added["member"]["id"]}, key=account.key)
            assert removed["removeMember"]["userErrors"] == []
            assert _codes(await second.post(ME, key=key)) == ["UNAUTHENTICATED"]
            await _ends(budget)
        # And it cannot come back.
        with pytest.raises(Exception):  # noqa: B017 - the client's refusal type varies
            async with LiveClient(second_server, key) as again:
                await again.subscribe(BUDGET).next()
    finally:
        await first.client.aclose()
        await second.client.aclose()


async def test_a_revoked_keys_subscription_ends_and_the_members_other_keys_go_on(
    server: str, second_server: str, account: Requester
) -> None:
    first = Http(server)
    try:
        made = (await first.data(CREATE_KEY, key=account.key))["createApiKey"]
        async with (
            LiveClient(second_server, made["secret"]) as revoked_screen,
            LiveClient(second_server, account.key) as owner_screen,
        ):
            gone = revoked_screen.subscribe(BUDGET)
            kept = owner_screen.subscribe(BUDGET)
            await gone.next()
            await kept.next()
            revoked = await first.data(REVOKE, {"id": made["key"]["id"]}, key=account.key)
            assert revoked["revokeApiKey"]["userErrors"] == []
            await _ends(gone)
            # The owner's own key is untouched: its dashboard still gets what changes.
            await first.data(
                'mutation { fundAccount(input: {amount: "1.00"}) { userErrors { code } } }',
                key=account.key,
            )
            assert (await kept.next())["budget"]["snapshot"] is False
    finally:
        await first.client.aclose()


async def test_an_operation_on_an_open_websocket_reads_its_caller_again(
    server: str, account: Requester
) -> None:
    demoted = await account.member(MemberRole.OWNER)
    first = Http(server)
    try:
        async with LiveClient(server, demoted.key) as live:
            me = await live.session.execute(GraphQLRequest(ME))
            assert me["me"]["role"] == "OWNER"
            changed = await first.data(
                CHANGE, {"id": to_global_id("Member", demoted.principal.member_id)}, key=account.key
            )
            assert changed["changeMemberRole"]["userErrors"] == []
            # The socket was opened as an owner; what it sends now is a viewer's.
            with pytest.raises(TransportQueryError) as refused:
                await live.session.execute(GraphQLRequest(ADD))
            assert refused.value.errors is not None
            assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
            assert (await live.session.execute(GraphQLRequest(ME)))["me"]["role"] == "VIEWER"
    finally:
        await first.client.aclose()
