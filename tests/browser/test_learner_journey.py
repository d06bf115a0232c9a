"""A learner from registration to certificate, with JavaScript on and with it off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from course.model import Course
from course.navigation import course_path
from tests.browser.helpers import fill_exercise, register, sample_answer, shoot, submit_exercise

pytestmark = pytest.mark.browser


NEXT = re.compile(r"^Next: ")


def walk_with_next(page: Page, course: Course, shots: str | None = None) -> list[tuple[str, str]]:
    """From the home page to the certificate pressing only "Next" (and answering each exercise); return the steps."""
    page.goto("/")
    page.locator("main").get_by_role("link", name=NEXT).click()
    visited: list[tuple[str, str]] = []
    while "/progress/certificate" not in page.url:
        assert len(visited) <= len(course_path(course)), f"Next went round in circles: {visited}"
        if match := re.search(r"/exercises/([a-z0-9-]+)$", page.url):
            exercise = course.exercises[match.group(1)]
            visited.append(("exercise", exercise.id))
            fill_exercise(page, exercise, sample_answer(exercise))
            submit_exercise(page)
            expect(page.locator(".score")).to_contain_text("Passed")
            if shots:
                shoot(page, f"{shots}-feedback-{exercise.type}")
            # After a pass, Next is the main button of the feedback page.
            page.locator(".next-step a.button:not(.secondary)").filter(has_text=NEXT).click()
        else:
            match = re.search(r"/lessons/([a-z0-9-]+)$", page.url)
            assert match, f"Next led to {page.url}"
            visited.append(("lesson", match.group(1)))
            expect(page.get_by_role("heading", level=1)).to_have_text(course.lessons[match.group(1)].title)
            page.get_by_role("navigation", name="Previous and next").get_by_role("link", name=NEXT).click()
        page.wait_for_load_state()
    return visited


def test_register_to_certificate(page: Page, course: Course) -> None:
    """Register, then from the home page to the certificate using only Next, every step in course order."""
    register(page, name="Ada Lovelace")
    page.goto("/progress/certificate")
    expect(page.locator("main")).not_to_contain_text("Ada Lovelace has completed")

    visited = walk_with_next(page, course, shots="journey")
    assert visited == [(item.kind, item.id) for item in course_path(course)]
    expect(page.locator("main")).to_contain_text("Ada Lovelace")

    page.goto("/progress")
    shoot(page, "journey-progress-complete")
    page.goto("/progress/certificate")
    expect(page.locator("main")).to_contain_text("Ada Lovelace")
    expect(page.locator("main")).to_contain_text(course.title)
    shoot(page, "journey-certificate")
    # The certificate's public page is what an employer opens: the learner's name and the course, nothing more.
    page.locator("#verify-heading ~ p a").first.click()
    assert "/certificates/" in page.url
    expect(page.locator("main")).to_contain_text("Ada Lovelace")
    expect(page.locator("main")).to_contain_text(course.title)
    expect(page.locator("main")).not_to_contain_text("@example")


def test_whole_journey_without_javascript(new_context, course: Course) -> None:
    """Every page, form and Next works with JavaScript disabled: ordering by buttons, text without the counter."""
    page = new_context(java_script_enabled=False).new_page()
    register(page, name="No Script")
    assert walk_with_next(page, course) == [(item.kind, item.id) for item in course_path(course)]
    page.goto("/progress/certificate")
    expect(page.locator("main")).to_contain_text("No Script")


def test_text_box_counts_characters_as_the_answer_nears_the_limit(page: Page, course: Course) -> None:
    """Far from the limit only the words are counted; near it the characters are, and past it the overshoot is said."""
    register(page, name="Long Writer")
    text = next(e for e in course.exercise_order() if course.exercises[e].type == "text")
    page.goto(f"/exercises/{text}")
    counter = page.locator("#char-count")
    expect(counter).to_have_attribute("aria-live", "polite")
    page.locator("textarea[name=answer]").fill("word " * 100)
    expect(page.locator("#word-count")).to_contain_text("100 words")
    expect(counter).to_have_text("")
    # Each line break counts twice, as the browser sends it (CR LF) and the server measures it.
    page.locator("textarea[name=answer]").fill("a" * 4098 + "\n")
    expect(counter).to_have_text("4,100 of 5,000 characters used.")
    page.locator("textarea[name=answer]").fill("é" * 5100)
    expect(counter).to_have_text("5,100 characters: 100 over the limit of 5,000. Shorten your answer before you "
                                 "send it.")


def test_ordering_instructions_mention_dragging_only_with_the_script(page: Page, course: Course) -> None:
    """With JavaScript the cards can be dragged, and only then do the instructions say how."""
    register(page, name="Card Mover")
    ordering = next(e for e in course.exercise_order() if course.exercises[e].type == "ordering")
    page.goto(f"/exercises/{ordering}")
    expect(page.locator("#ordering-help")).to_contain_text("With a mouse you can also drag the cards")
