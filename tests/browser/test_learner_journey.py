"""A learner from registration to certificate, with JavaScript on and with it off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from course.model import Course
from tests.browser.helpers import do_exercise, register, shoot

pytestmark = pytest.mark.browser


def complete_course(page: Page, course: Course, shots: str | None = None) -> None:
    """Read every lesson and pass every exercise through the site's own pages."""
    for lesson_id in course.lesson_order():
        lesson = course.lessons[lesson_id]
        page.goto(f"/lessons/{lesson_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text(lesson.title)
        for exercise_id in lesson.exercises:
            exercise = course.exercises[exercise_id]
            do_exercise(page, exercise)
            # The feedback page says the answer passed, in words, not only by colour.
            expect(page.locator("main")).to_contain_text(re.compile(r"pass|correct|well done", re.I))
            if shots:
                shoot(page, f"{shots}-feedback-{exercise.type}")


def test_register_to_certificate(page: Page, course: Course) -> None:
    """Register, read every lesson, pass every exercise with its sample answer, then see the certificate."""
    register(page, name="Ada Lovelace")
    page.goto("/progress/certificate")
    expect(page.locator("main")).not_to_contain_text("Ada Lovelace has completed")

    complete_course(page, course, shots="journey")

    page.goto("/progress")
    shoot(page, "journey-progress-complete")
    page.goto("/progress/certificate")
    expect(page.locator("main")).to_contain_text("Ada Lovelace")
    expect(page.locator("main")).to_contain_text(course.title)
    shoot(page, "journey-certificate")


def test_whole_journey_without_javascript(new_context, course: Course) -> None:
    """Every page and form works with JavaScript disabled: ordering by buttons, text without the counter."""
    page = new_context(java_script_enabled=False).new_page()
    register(page, name="No Script")
    complete_course(page, course)
    page.goto("/progress/certificate")
    expect(page.locator("main")).to_contain_text("No Script")
