"""Keyboard-only use of the ordering exercise, and the site issue's "done when" journey end to end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from course.model import Course
from tests.browser.helpers import (
    current_order,
    expect_order_changed,
    form_values,
    login,
    logout,
    register,
    sample_answer,
    shoot,
    submit_exercise,
)

pytestmark = pytest.mark.browser
ORDERING = "order-close-steps"
TEXT = "rewrite-aggressive-close"
# More Tab presses than the exercise page has focusable elements, so a missing control fails fast.
MAX_TABS = 200


def is_focused(target: Locator) -> bool:
    """Return True when `target` holds the keyboard focus."""
    return target.evaluate("el => el === document.activeElement")


def tab_to(page: Page, target: Locator) -> None:
    """Move the focus to `target` with the Tab key only, as a keyboard user would."""
    for _ in range(MAX_TABS):
        if is_focused(target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} cannot be reached with the Tab key")


def press_control(page: Page, ident: str, action: str, key: str = "Enter") -> None:
    """Tab to a card's Move up / Move down / Leave out control and press it with Enter (or Space)."""
    before = current_order(page)
    tab_to(page, page.locator(f'button[name=move][value="{action}:{ident}"]'))
    page.keyboard.press(key)
    if action == "out":
        expect(page.locator(f'[data-list="left_out"] [data-id="{ident}"]')).to_have_count(1)
        # Without JavaScript the move reloads the page: read the next order only from the finished document.
        page.wait_for_load_state()
    else:
        expect_order_changed(page, before)


def order_by_keyboard(page: Page, target: list[str]) -> None:
    """Reach the target order with Tab and Enter/Space on the controls alone (no mouse)."""
    for ident in list(current_order(page)):
        if ident not in target:
            press_control(page, ident, "out")
    for position, ident in enumerate(target):
        while current_order(page).index(ident) > position:
            # Alternate the two keys a keyboard user may press on a button.
            press_control(page, ident, "up", "Enter" if position % 2 else " ")
    assert current_order(page) == target


def has_keyboard_drag(page: Page) -> bool:
    """Return True when the ordering script made the cards themselves focusable for drag and drop."""
    return page.locator('[data-list="order"] .order-item[tabindex]').count() > 0


def drag_by_keyboard(page: Page, ident: str, steps_up: int) -> None:
    """Pick a card up with Space, move it with the arrow keys, drop it with Space."""
    before = current_order(page)
    card = page.locator(f'[data-list="order"] .order-item[data-id="{ident}"]')
    tab_to(page, card)
    page.keyboard.press(" ")
    for _ in range(steps_up):
        page.keyboard.press("ArrowUp")
    page.keyboard.press(" ")
    expected = list(before)
    i = expected.index(ident)
    expected.insert(i - steps_up, expected.pop(i))
    assert current_order(page) == expected
    # The screen-reader announcement says where the card went.
    expect(page.locator("[data-announcer]")).not_to_be_empty()


def complete_ordering_by_keyboard(page: Page, course: Course) -> None:
    """Open order-close-steps, arrange it with the keyboard alone, and send it with Enter."""
    exercise = course.exercises[ORDERING]
    page.goto(f"/exercises/{ORDERING}")
    target = form_values(page, exercise, list(sample_answer(exercise)))
    if has_keyboard_drag(page):
        # Use the drag-and-drop keys once for a card that is not already first.
        order = current_order(page)
        movable = next(i for i in order[1:] if i in target)
        drag_by_keyboard(page, movable, 1)
    # Move down works from the keyboard too.
    first = current_order(page)[0]
    press_control(page, first, "down", " ")
    assert current_order(page)[1] == first
    order_by_keyboard(page, target)
    shoot(page, "ordering-by-keyboard")
    tab_to(page, page.get_by_role("button", name="Check my answer"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_ordering_by_keyboard_only(new_context, course: Course, javascript: bool) -> None:
    """order-close-steps can be solved with Tab, Enter and Space only, with or without JavaScript."""
    page = new_context(java_script_enabled=javascript).new_page()
    register(page)
    complete_ordering_by_keyboard(page, course)
    expect(page.locator("main")).to_contain_text("100%")


def test_keyboard_drag_and_drop_is_offered(page: Page) -> None:
    """With JavaScript on, the cards themselves take the keyboard drag-and-drop the help text promises."""
    register(page)
    page.goto(f"/exercises/{ORDERING}")
    expect(page.locator("#ordering-help")).to_contain_text("press Space to pick it up")
    assert has_keyboard_drag(page), "the help text promises keyboard drag and drop, but no card is focusable"
    order = current_order(page)
    drag_by_keyboard(page, order[-1], 2)


def progress_row(page: Page, title: str) -> Locator:
    """Return the progress table row of an exercise or lesson by its title."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True))


def test_done_when_journey(page: Page, course: Course) -> None:
    """Register, read, order by keyboard, rewrite the close, read feedback, see progress, log out and back in."""
    email = register(page, name="Done When")
    lesson = course.lessons["putting-it-together"]
    page.goto(f"/lessons/{lesson.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(lesson.title)

    complete_ordering_by_keyboard(page, course)
    expect(page.locator("main")).to_contain_text("100%")

    text = course.exercises[TEXT]
    page.goto(f"/exercises/{TEXT}")
    page.locator("textarea[name=answer]").fill(sample_answer(text))
    submit_exercise(page)
    feedback_url = page.url
    main = page.locator("main")
    expect(main).to_contain_text("Passed")
    expect(main.get_by_role("heading", name="What we checked")).to_be_visible()
    feedback_text = main.inner_text()

    page.goto("/progress")
    for title in (course.exercises[ORDERING].title, text.title):
        expect(progress_row(page, title)).to_contain_text("Done")
        expect(progress_row(page, title)).to_contain_text("100%")
    expect(progress_row(page, lesson.title)).to_contain_text("Read")
    progress_text = page.locator("main").inner_text()

    logout(page)
    page.goto("/progress")
    assert "/login" in page.url, "the progress page must need a login once logged out"
    login(page, email)
    page.goto("/progress")
    assert page.locator("main").inner_text() == progress_text
    page.goto(feedback_url)
    assert page.locator("main").inner_text() == feedback_text
