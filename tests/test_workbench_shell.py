"""The workbench page as reports serves it: an open shell without data, nothing from elsewhere.

The browser test (test_workbench_browser.py) drives the page; these check what it is made of.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.shared.testing import READ_TOKEN, TOKEN_SETTINGS, bearer

STATIC = (
    Path(__file__).resolve().parents[1] / "services/reports/src/majorops/reports/entrypoints/workbench/static"
)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: serving the shell needs neither NATS nor the store.
    settings = ReportsSettings(**TOKEN_SETTINGS, nats_url="nats://127.0.0.1:1", data_dir=tmp_path)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reports") as client:
        yield client


async def test_the_page_and_its_assets_are_served_without_a_token(http: httpx.AsyncClient) -> None:
    page = await http.get("/workbench")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == (STATIC / "index.html").read_text()
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, media_type in [("workbench.js", "text/javascript"), ("workbench.css", "text/css")]:
        asset = await http.get(f"/workbench/static/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(media_type)
        assert asset.content == (STATIC / name).read_bytes()


async def test_nothing_else_is_opened_by_the_workbench(http: httpx.AsyncClient) -> None:
    missing = await http.get("/workbench/static/app.py")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await http.get("/workbench/static/../../v1/reviews")).status_code in (401, 404)
    # The data stays behind the token: the API the page calls answers 401 without one.
    assert (await http.get("/v1/reviews")).status_code == 401
    assert (await http.get("/workbench/static/workbench.js", headers=bearer(READ_TOKEN))).status_code == 200


async def test_the_workbench_is_no_part_of_the_api_description(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/workbench")]


def test_no_asset_is_fetched_from_elsewhere() -> None:
    """Everything the page loads is in the package: the only absolute URL is the SVG namespace."""
    for path in STATIC.iterdir():
        text = path.read_text()
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert "@import" not in text and "cdn" not in text.lower(), path.name


def test_the_script_puts_api_text_in_as_text_never_as_markup() -> None:
    script = (STATIC / "workbench.js").read_text()
    assert not re.search(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", script
    )
