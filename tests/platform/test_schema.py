"""The committed schema.graphql is the schema the code builds."""

from __future__ import annotations

from gql_server.schema.build import schema
from tests import REPO_ROOT


def test_schema_graphql_matches_the_code() -> None:
    committed = (REPO_ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", "schema.graphql is stale: run `make schema`"


def test_only_the_transport_ws_protocol_is_offered() -> None:
    from gql_server.app import create_app
    from gql_server.settings import load_settings

    app = create_app(load_settings({}))
    graphql = next(route for route in app.routes if getattr(route, "path", None) == "/graphql").app
    assert tuple(graphql.protocols) == ("graphql-transport-ws",)
