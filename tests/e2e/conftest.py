"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright cannot download its own browser here, so the tests drive /usr/bin/chromium
(`make browser` installs it). Every page fails its test if it fetched anything from another
origin or logged a JavaScript error: a clinic's pages must work offline and leak nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    ViewportSize,
    sync_playwright,
)
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API keeps an asyncio loop running in the main thread for as long as the
# session-scoped browser lives, and Django refuses ORM calls from a thread with a running
# loop. The tests call the ORM synchronously and never from a coroutine, so it is safe; it is
# set at import because the browser outlives the browser tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
WIDE: ViewportSize = {"width": 1440, "height": 900}


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """pytest-django's live server, with static files left to WhiteNoise as in production.

    Its own static handler serves only what the finders see, not the hashed names that the
    manifest storage writes into pages, so every stylesheet would be a 404.
    """
    server = LiveServer("localhost", start=False)
    # Typed as a handler class, but any callable that wraps the application will do.
    server.thread.static_handler = lambda app: app  # type: ignore[assignment]
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests need Chromium at {CHROMIUM}: run `make browser`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots for people to look at; ignored by git."""
    path = REPO_ROOT / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport=WIDE)
    page = context.new_page()
    origin = urlsplit(live_server.url).netloc
    foreign: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != origin:
            foreign.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        # A failed load is reported with its address by the response handler.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            errors.append(f"{response.status} {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not foreign, f"pages fetched from other origins: {foreign}"
    assert not errors, f"the browser reported errors: {errors}"
