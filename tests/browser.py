"""Helpers shared by the browser tests: log in, run axe-core, take screenshots.

axe-core (``axe-playwright-python``, in the test extra) is required: without it the browser
tests fail instead of silently checking nothing.
"""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.base import AXE_SCRIPT
from django.test import Client
from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def log_in(page: Page, live_server, user) -> None:
    """Reuse a Django session instead of typing credentials (test_browser's login test does)."""
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


# every frame of the page loaded (a cross-origin frame counts as loaded), and htmx neither
# waiting for an answer nor swapping one in
_SETTLED = """() => [window, ...Array.from(window.frames)].every(w => {
  try { return w.document.readyState === 'complete'; } catch (e) { return true; }
}) && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"""


def settle(page: Page, timeout: float = 30_000) -> None:
    """Wait until the page has done its loading: every frame loaded, no htmx request open
    (``hx-trigger="load"`` ones start before the page's load event), seen twice 150 ms apart.

    Not Playwright's networkidle: it waits half a second after the last request on every
    page, and it can lose the idle for good when a frame reloads after the page had gone idle
    (the survey builder's preview does, after each change): microsoft/playwright#42598,
    closed unfixed since networkidle is discouraged.
    """
    page.wait_for_function(_SETTLED, timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_function(_SETTLED, timeout=timeout)


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on the page, WCAG 2.1 AA and best practice, one line per rule:
    ``rule id: help (n×) first offending element``."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}×) {v['nodes'][0]['html'][:200]}"
        for v in result["violations"]
    ]


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the whole page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)"
    )


def shot(page: Page, request, name: str) -> Path:
    """A full-page screenshot under test-artifacts/ (to look at, not to assert on)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{request.node.name}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
