"""The MIM's workbench: a browser page over reports' own JSON API.

The page is a static shell — one HTML page, one script, one style sheet, all in this package,
nothing fetched from anywhere else — and holds no incident data. Its script reads and changes
reviews through the token-checked ``/v1`` API with the token the user gives it once (pasted into
the page, or as ``#token=…`` in the URL: a fragment never reaches the server or its logs), kept in
the tab's ``sessionStorage``. So the shell is open to anyone who can reach reports
(:data:`majorops.shared.access.OPEN_PATHS` and ``OPEN_PREFIXES``) and the data never is.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

SHELL_PATH = "/workbench"
"""The page itself: the board of incidents, and each incident (``#/incident/<id>``)."""
ASSETS_PATH = "/workbench/static"
"""The script and style sheet the page loads."""

_MEDIA_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "workbench.js": "text/javascript; charset=utf-8",
    "workbench.css": "text/css; charset=utf-8",
}
_ASSETS = ("workbench.js", "workbench.css")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only this origin's script, styles and API: an injected ``<script>`` or a call elsewhere is refused."""

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on each load, so an upgraded reports serves the script that matches its API.
    "Cache-Control": "no-cache",
}


def _packaged(name: str) -> bytes:
    return resources.files(__name__).joinpath("static", name).read_bytes()


def workbench_router() -> APIRouter:
    """``GET /workbench`` (the page) and ``GET /workbench/static/<file>`` (its script and styles),
    read from the package once, when the app is built. Not part of the OpenAPI document: it is a
    page, not API."""
    files = {name: _packaged(name) for name in _MEDIA_TYPES}
    router = APIRouter(include_in_schema=False)

    def served(name: str) -> Response:
        return Response(files[name], media_type=_MEDIA_TYPES[name], headers=_HEADERS)

    @router.get(SHELL_PATH)
    async def get_workbench() -> Response:
        """The workbench page: a shell without data."""
        return served("index.html")

    @router.get(ASSETS_PATH + "/{name}")
    async def get_workbench_asset(name: str) -> Response:
        """The page's script or style sheet; any other name is a 404 (nothing else is served)."""
        if name not in _ASSETS:
            raise HTTPException(404, f"The workbench has no file {name!r}")
        return served(name)

    return router
