"""A real browser for the dashboard tests: Debian's Chromium, headless, driven by Playwright.

    from tests.support.browser import browser_fixture, page_fixture  # noqa: F401

    def test_page(page: Page) -> None:
        page.goto(url)

One browser per session; each test gets a fresh context (no storage shared between
tests), so a test signs in on its own. Playwright's bundled browsers are not used:
the fixture launches ``/usr/bin/chromium`` from the Debian package, which ``make test``
installs; under ``CI=true`` a missing browser or package fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .services import require_tool, unavailable

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the fixture: skip locally, fail under CI
    expect = None  # type: ignore[assignment]
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = [
    "browser_fixture",
    "page_fixture",
    "page_problems_fixture",
    "expect",
    "PageProblems",
]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """Headless Chromium for the whole session."""
    chromium = require_tool("chromium")
    if sync_playwright is None:
        unavailable("the Python package playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class PageProblems:
    """What went wrong inside the page: script errors and dialogs (an ``alert`` is an XSS)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture(name="page")
def page_fixture(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (no storage shared between tests), 1440x1000, UTC."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(name="page_problems")
def page_problems_fixture(page: Page) -> PageProblems:
    """Script errors and dialogs of ``page`` from now on."""
    problems = PageProblems()
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    page.on("dialog", problems.on_dialog)
    return problems
