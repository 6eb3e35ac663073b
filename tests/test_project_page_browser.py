"""The printable project page in a real browser (Debian's Chromium, Playwright for Python), on
SQLite and on PostgreSQL: an investor sends an enquiry from it and an editor then sees it.

The page is served under the service's own Content-Security-Policy (the test checks it names no
inline code and no outside source), so an inline script or style would show as a console error,
and so would a policy that blocks the page's own files; any request
leaving 127.0.0.1 fails the test. The server runs two workers, which migrate the new database
together at start-up.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .pipeline_app import pipeline_data_dir, project_body, with_grid
from .server import running_server
from .staff import bearer, staff_token
from .test_map_browser import ARTIFACTS

sync_api = pytest.importorskip("playwright.sync_api")


def call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request) as response:
        return response.status, json.load(response)


def test_an_investor_asks_from_the_project_page(tmp_path: Path, records_url: str, browser):
    data_dir = pipeline_data_dir(tmp_path / "data")
    with_grid(data_dir, records_url)
    editor = bearer(staff_token(data_dir, "editor", url=records_url))
    env = {"GEO_SERVICE_DATABASE_URL": records_url}
    with running_server(data_dir, workers=2, env=env) as base:
        status, _ = call(f"{base}/projects", "POST", project_body(), editor)
        assert status == 201
        call(f"{base}/projects/SL-DA-0001/events", "POST", {"kind": "listed"}, editor)
        context = browser.new_context(viewport={"width": 900, "height": 1200})
        page = context.new_page()
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def route(request_route) -> None:
            request = request_route.request
            if urllib.parse.urlsplit(request.url).hostname != "127.0.0.1":
                outside.append(request.url)
                request_route.abort("internetdisconnected")
            else:
                request_route.continue_()

        page.route("**/*", route)
        policy = page.goto(f"{base}/projects/SL-DA-0001?lang=en").headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy, policy
        assert page.locator("h1").inner_text() == "Mai Son mango processing plant"
        assert page.locator(".stage").first.inner_text() == "Calling for investment"
        page.fill("input[name=name]", "Jane Investor")
        page.fill("input[name=organisation]", "Example Holdings")
        page.fill("input[name=phone]", "call me")
        page.fill("textarea[name=message]", "What is the land lease price?")
        page.click("#enquiry-form button[type=submit]")  # refused: said by the field's label
        page.wait_for_selector("#enquiry-status.error")
        assert page.locator("#enquiry-status").inner_text() == (
            "Phone: must be a phone number, such as +84 212 3456 789"
        )
        phone = page.locator("input[name=phone]")
        assert phone.get_attribute("aria-invalid") == "true"
        assert phone.evaluate("field => field === document.activeElement")
        refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        assert errors == [refused], errors  # the browser's own note of the refusal, and no other
        errors.clear()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "project-page-refused.png"))
        page.fill("input[name=phone]", "")
        assert phone.get_attribute("aria-invalid") is None  # typed in again: no longer marked
        page.fill("input[name=email]", "jane@example.com")
        page.click("#enquiry-form button[type=submit]")
        page.wait_for_selector("#enquiry-status.ok")
        shown = page.locator("#enquiry-status").inner_text()
        page.screenshot(path=str(ARTIFACTS / "project-page.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.locator("#enquiry-form").is_visible()
        assert not page.locator("nav").is_visible()
        assert page.locator(".timeline").is_visible()
        context.close()
        assert errors == [], errors
        assert outside == [], outside
        _, listed = call(f"{base}/enquiries", headers=editor)
        (enquiry,) = listed["enquiries"]
        assert enquiry["id"] in shown
        assert (enquiry["project"], enquiry["language"]) == ("SL-DA-0001", "en")
        assert (enquiry["name"], enquiry["email"]) == ("Jane Investor", "jane@example.com")
        assert enquiry["message"] == "What is the land lease price?"
