"""The dashboard's routes: there when the setting says so (404 otherwise), each file with
its media type, a strict Content-Security-Policy and nosniff, and nothing outside the
package's static files."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from gql_server.app import create_app
from gql_server.dashboard import STATIC
from gql_server.settings import Settings


@pytest_asyncio.fixture
async def client(database: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(dataclasses.replace(database, dashboard=True), manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


async def test_off_every_dashboard_path_is_not_found(database: Settings) -> None:
    app = create_app(dataclasses.replace(database, dashboard=False), manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        for path in ("/dashboard", "/dashboard/", "/dashboard/app.js", "/dashboard/index.html"):
            assert (await client.get(path)).status_code == 404, path


async def test_the_page_is_html_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    # Nothing inline for the policy to refuse: scripts and styles are files of their own.
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert "<style" not in response.text and " style=" not in response.text
    assert (await client.get("/dashboard/")).text == response.text


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("live.js", "text/javascript; charset=utf-8"),
        ("dashboard.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_each_file_has_its_media_type(
    client: httpx.AsyncClient, name: str, media_type: str
) -> None:
    response = await client.get(f"/dashboard/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (STATIC / name).read_bytes()


async def test_every_module_the_page_imports_is_served(client: httpx.AsyncClient) -> None:
    for path in sorted(STATIC.glob("*.js")):
        for imported in re.findall(r'from "\./([\w.]+)"', path.read_text()):
            assert (await client.get(f"/dashboard/{imported}")).status_code == 200, imported


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/nothing.js",
        # A file beside the static ones, named without a path: only the list turns it away.
        "/dashboard/__init__.py",
        "/dashboard/..%2Fapp.py",
        "/dashboard/%2e%2e/__init__.py",
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404
