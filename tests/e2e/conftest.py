"""Real-browser tests: one headless Chromium per test session, a fresh Chinese-locale context per test.

The browser is Debian's Chromium (Playwright's bundled download is not used). CI installs it; a machine
without it fails these tests with a message saying so, rather than skipping them silently.
Set LOOPLINE_E2E_SCREENSHOTS to a folder to keep screenshots of key pages (see the `screenshot` fixture).
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

CHROMIUM = os.environ.get("LOOPLINE_CHROMIUM", "/usr/bin/chromium")
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
# A shop-floor tablet in landscape; office screens are at least this size.
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the e2e tests need it "
            "(apt-get install chromium, or set LOOPLINE_CHROMIUM to the browser's path).",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh browser profile (another device): no cookies, Chinese locale, Shanghai time."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """The test's browser tab, in a fresh profile whose Accept-Language is zh-CN."""
    return new_page()


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """`screenshot("home")` saves the visible 1280x800 page as $LOOPLINE_E2E_SCREENSHOTS/home.png, if set."""
    folder = os.environ.get("LOOPLINE_E2E_SCREENSHOTS")

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)

    return take
