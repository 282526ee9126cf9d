"""The live review dashboard at `/dashboard`: static files of this package, served as they
are (no build step), with a strict Content-Security-Policy.

The page (static/) is plain HTML, CSS and JavaScript modules that use the public API only:
GraphQL over HTTP and graphql-transport-ws on `/graphql`, with the API key the user pastes.
The server adds nothing for it but these routes. `Settings.dashboard` (GQL_DASHBOARD) says
whether they exist: on in dev mode and on the embedded default, off otherwise; off, every
path under /dashboard is a plain 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).parent / "static"
PATH = "/dashboard"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    # Module scripts must come with a JavaScript MIME type, or the browser refuses them.
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# Nothing inline, nothing from elsewhere: scripts, styles and images from this origin, and
# connections to this origin (GraphQL over HTTP and its websocket; CSP Level 3 'self'
# covers ws: and wss: of the same host).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # A new version of a file is seen at the next load (no build step stamps the names).
    "Cache-Control": "no-cache",
}


def _files() -> dict[str, Path]:
    """The files served, by name: listed once, so no request names a path of its own (their
    bytes are read as they are asked for, so an edited file is seen at the next load)."""
    return {
        path.name: path
        for path in sorted(STATIC.iterdir())
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def routes() -> list[BaseRoute]:
    files = _files()

    def answer(name: str) -> Response:
        path = files.get(name)
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(
            path.read_bytes(), media_type=MEDIA_TYPES[path.suffix], headers=dict(HEADERS)
        )

    async def page(request: Request) -> Response:
        return answer("index.html")

    async def asset(request: Request) -> Response:
        return answer(request.path_params["name"])

    return [
        Route(PATH, page, methods=["GET", "HEAD"]),
        Route(f"{PATH}/", page, methods=["GET", "HEAD"]),
        Route(PATH + "/{name:str}", asset, methods=["GET", "HEAD"]),
    ]
