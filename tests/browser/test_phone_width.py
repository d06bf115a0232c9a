"""Every page type fits a 390 px phone: the page itself never scrolls sideways (wide tables scroll in their own box).

The pages, accounts and data are those of the accessibility test, so a page type added there is checked here too.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.helpers import shoot
from tests.browser.test_accessibility import Seed, _page_params, check_page, page_path
from tests.browser.test_accessibility import contexts as contexts  # noqa: F401, PLC0414 - shared fixtures
from tests.browser.test_accessibility import seed as seed  # noqa: F401, PLC0414

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
# Each element that sticks out of the page, so a failure says what to fix.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .filter(el => !el.closest('.table-wrap, .table-scroll') || el.matches('.table-wrap, .table-scroll'))
  .slice(0, 8)
  .map(el => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`)"""


@pytest.mark.parametrize("row", _page_params())
def test_page_fits_a_390px_phone(row: tuple[str, str, str, int], contexts: dict[str, BrowserContext],  # noqa: F811
                                 seed: Seed) -> None:  # noqa: F811
    """At 390 px the page is no wider than the screen, tables that need more scroll in their own box, and axe agrees."""
    name, role, template, expected = row
    page = contexts[role].new_page()
    try:
        page.set_viewport_size(PHONE)
        response = page.goto(page_path(template, seed))
        assert response is not None and response.status == expected, name
        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        shoot(page, f"phone-{name}")
        assert widths[0] <= widths[1], f"{name}: the page is {widths[0]} px wide at {widths[1]} px: " \
                                       f"{page.evaluate(OVERFLOWING)}"
        # The phone layout (the collapsed outline, stacked tables) must pass axe as the wide one does.
        check_page(page, f"{name} at 390 px")
        # A box that scrolls sideways must be reachable and named for keyboard and screen-reader users.
        for box in page.locator(".table-wrap, .table-scroll").all():
            if box.evaluate("el => el.scrollWidth > el.clientWidth"):
                assert box.get_attribute("tabindex") == "0" and box.get_attribute("role") == "region", name
                assert box.get_attribute("aria-label") or box.get_attribute("aria-labelledby"), name
    finally:
        page.close()
