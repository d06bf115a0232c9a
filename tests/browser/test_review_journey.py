"""The review journey: a learner appeals a grade, the instructor overrides it, the learner and the gradebook see it."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from course.model import Course
from tests.browser.helpers import PASSWORD, LiveServer, do_exercise, login, shoot, unique_email
from web.services import accounts, cohorts

pytestmark = pytest.mark.browser
EXERCISE = "thank-you-email"
DOCS = Path(__file__).resolve().parents[2] / "docs"
# Polite, but no interest in the role and nothing discussed: the rules fail it, a reviewer may not.
ANSWER = ("Dear Ms Lee,\n\nThank you for meeting me on Tuesday. I enjoyed hearing how your team plans the "
          "spring hiring and how new analysts learn from the senior staff. It sounds like a place where I would "
          "grow quickly, and I hope to hear from you soon about the next steps.\n\nKind regards,\nRia Patel")


def fits_phone(page: Page) -> None:
    """At 390 px wide the page scrolls down, never sideways."""
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    widest = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName + '.' + e.className).slice(-3)""")
    assert width <= 390, f"{page.url} is {width}px wide on a 390px phone: {widest}"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_appeal_override_and_what_everyone_sees(live_server: LiveServer, new_context, course: Course) -> None:
    """Appeal, queue, override with a comment; the learner's page and the gradebook change, the phone fits."""
    with live_server.app.app_context():
        teacher = accounts.create_user(unique_email("rv-teacher"), PASSWORD, role="instructor", display_name="Tom")
        pupil = accounts.create_user(unique_email("rv-learner"), PASSWORD, display_name="Ria Patel")
        cohort = cohorts.create_cohort(teacher, "Appeals cohort")
        cohorts.join(pupil, cohort.join_code)
        teacher_email, pupil_email, cohort_id = teacher.email, pupil.email, cohort.id

    learner = new_context().new_page()
    login(learner, pupil_email)
    do_exercise(learner, course.exercises[EXERCISE], ANSWER)
    expect(learner.locator(".score")).to_contain_text("Not passed yet")
    attempt_url = learner.url
    learner.get_by_label("Why do you think this was graded wrong?").fill(
        "I did say I want to join: it is a place where I would grow.")
    learner.get_by_role("button", name="I think this was graded wrong").click()
    expect(learner.locator("main")).to_contain_text("Waiting for your instructor")
    fits_phone(learner)

    instructor = new_context(accept_downloads=True).new_page()
    login(instructor, teacher_email)
    instructor.goto(f"/instructor/cohorts/{cohort_id}")
    instructor.get_by_role("link", name="Review (1 open)").click()
    expect(instructor.locator("main")).to_contain_text("I did say I want to join")
    shoot(instructor, "review-queue")
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
        # docs/review-queue.png is refreshed on request only, so a test run leaves the tracked files alone.
        instructor.set_viewport_size({"width": 1000, "height": 700})
        instructor.screenshot(path=str(DOCS / "review-queue.png"), full_page=True)
    fits_phone(instructor)
    instructor.get_by_role("link", name="Ria Patel").click()
    expect(instructor.locator("main")).to_contain_text("Every check and its evidence")
    fits_phone(instructor)
    instructor.get_by_label("Override the grade").check()
    instructor.get_by_label("Passed", exact=True).check()
    instructor.get_by_label("Score (0 to 100)").fill("90")
    instructor.get_by_label("Comment for the learner").fill("Fair point: wanting to grow there is interest.")
    instructor.get_by_role("button", name="Save the decision").click()
    expect(instructor.locator("main")).to_contain_text("Grade overridden")
    expect(instructor.locator("main")).to_contain_text("0 open items")

    learner.goto(attempt_url)
    expect(learner.locator(".score")).to_contain_text("90% · Passed")
    expect(learner.locator("main")).to_contain_text("Upheld")
    expect(learner.locator("main")).to_contain_text("Fair point: wanting to grow there is interest.")

    instructor.goto(f"/instructor/cohorts/{cohort_id}")
    with instructor.expect_download() as download:
        instructor.get_by_role("link", name="Gradebook (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    (row,) = [r for r in rows if r["name"] == "Ria Patel"]
    assert float(row[EXERCISE]) == 90.0 and row["exercises_passed"] == "1", row  # the CSV gives percentages
