"""Browser fixtures: the real site on a loopback port, Debian's Chromium driven by Playwright, form helpers.

The server is the production app (create_app) on a temporary SQLite database built with the real Alembic
migrations, served by werkzeug in a thread. Only two settings differ from production, both because the
tests talk plain http from one address: cookies are not marked Secure, and rate limits are off (they have
their own tests in tests/test_attacks.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from course.loader import load_course
from course.model import Course
from tests.browser.helpers import REPO, LiveServer, start_live_server

CHROMIUM = "/usr/bin/chromium"
# The flags Debian's Chromium needs in a root, offline, GPU-less sandbox (see docs/architecture.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve the shipped course for the whole session (each test uses its own accounts)."""
    server = start_live_server(tmp_path_factory.mktemp("live"))
    yield server
    server.server.shutdown()


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped course (manifest, lessons, exercises) for a test to change."""
    target = tmp_path / "course"
    target.mkdir()
    shutil.copy(REPO / "course.yaml", target / "course.yaml")
    shutil.copytree(REPO / "lessons", target / "lessons")
    shutil.copytree(REPO / "exercises", target / "exercises")
    return target


@pytest.fixture(scope="session")
def course() -> Course:
    """The shipped course, loaded once."""
    return load_course(REPO)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    """Start Playwright's driver once."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Launch Debian's headless Chromium; never Playwright's own download, which cannot work here."""
    if not Path(CHROMIUM).exists():
        # Fail, never skip: a missing browser must not turn the browser tests green.
        pytest.fail(f"{CHROMIUM} is missing; ./scripts/test installs it (apt-get install chromium)", pytrace=False)
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., BrowserContext]]:
    """Return a factory of fresh browser contexts (own cookies) on the live server; all closed afterwards."""
    contexts: list[BrowserContext] = []

    def make(base_url: str | None = None, **kwargs: Any) -> BrowserContext:
        """Open a context; pass java_script_enabled=False for the no-JavaScript journey."""
        ctx = browser.new_context(base_url=base_url or live_server.url, **kwargs)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """Return a page in a fresh context with JavaScript on."""
    return new_context().new_page()
