"""The instructor journey: cohort, learner joins, roster, item analysis, gradebook export, CLI regrade."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from course.model import Course
from tests.browser.helpers import (
    PASSWORD,
    LiveServer,
    do_exercise,
    login,
    register,
    shoot,
    start_live_server,
    unique_email,
)
from web.services import accounts

pytestmark = pytest.mark.browser
QUIZ = "why-close-quiz"
COURSE_CLI = Path(sys.executable).parent / "course"


@pytest.fixture
def copied_site(course_copy: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """Serve a writable copy of the course, so the test can change a rule and regrade."""
    server = start_live_server(tmp_path, course_dir=course_copy)
    yield server
    server.server.shutdown()


def flip_correct_option(exercise_file: Path, new_correct: str) -> None:
    """Rewrite a single-choice exercise so `new_correct` is the only correct option (samples swapped to match)."""
    data = yaml.safe_load(exercise_file.read_text())
    old_correct = next(o["id"] for o in data["spec"]["options"] if o["correct"])
    for option in data["spec"]["options"]:
        option["correct"] = option["id"] == new_correct
    data["samples"] = {"pass": [new_correct], "fail": [old_correct]}
    exercise_file.write_text(yaml.safe_dump(data, sort_keys=False))


def roster_row(page: Page, name: str):
    """Return the roster row of a learner by display name."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name))


def test_instructor_journey(copied_site: LiveServer, new_context, course: Course) -> None:
    """Create a cohort, a learner joins and works, the instructor follows, exports, changes a rule and regrades."""
    with copied_site.app.app_context():
        teacher = accounts.create_user(unique_email("teacher"), PASSWORD, role="instructor", display_name="Tess")
        teacher_email = teacher.email

    instructor = new_context(base_url=copied_site.url, accept_downloads=True).new_page()
    login(instructor, teacher_email)
    instructor.goto("/instructor/")
    instructor.get_by_label("Cohort name").fill("Careers Seminar, Spring")
    instructor.get_by_role("button", name="Create cohort").click()
    instructor.goto("/instructor/")
    row = instructor.get_by_role("row").filter(has=instructor.get_by_role("link", name="Careers Seminar, Spring"))
    code = row.locator("code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code), code
    row.get_by_role("link").click()
    roster_url = instructor.url
    expect(instructor.locator("main")).to_contain_text("0 learners")

    learner = new_context(base_url=copied_site.url).new_page()
    register(learner, name="Lena Learner")
    learner.goto("/join")
    learner.get_by_label("Join code").fill(code.lower())  # codes are typed by hand: case must not matter
    learner.get_by_role("button", name="Join").click()
    expect(learner.locator("main")).to_contain_text("Careers Seminar, Spring")
    do_exercise(learner, course.exercises[QUIZ])
    expect(learner.locator("main")).to_contain_text("100%")

    instructor.goto(roster_url)
    expect(roster_row(instructor, "Lena Learner")).to_contain_text("1 / 17")
    shoot(instructor, "instructor-roster")
    instructor.get_by_role("link", name="Item analysis").click()
    quiz_row = instructor.get_by_role("row").filter(has=instructor.get_by_role("link",
                                                                               name=course.exercises[QUIZ].title))
    expect(quiz_row).to_contain_text("100%")
    quiz_row.get_by_role("link").click()
    expect(instructor.locator("main")).to_contain_text(course.exercises[QUIZ].title)
    shoot(instructor, "instructor-item")

    instructor.goto(roster_url)
    with instructor.expect_download() as download:
        instructor.get_by_role("link", name="Gradebook (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert any("Lena Learner" in " ".join(r.values()) for r in rows), rows
    with instructor.expect_download() as download:
        instructor.get_by_role("link", name="Gradebook (JSON)").click()
    assert "Lena Learner" in json.dumps(json.loads(Path(download.value.path()).read_text(encoding="utf-8")))

    # The author decides another option is the right one; the CLI regrades the stored attempt.
    flip_correct_option(copied_site.course_dir / "exercises" / f"{QUIZ}.yaml", "decided-early")
    result = subprocess.run([str(COURSE_CLI), "regrade", QUIZ], env=copied_site.env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "regraded 1 attempts" in result.stdout and "1 passed->failed" in result.stdout, result.stdout

    instructor.goto(roster_url)
    expect(roster_row(instructor, "Lena Learner")).to_contain_text("0 / 17")
    instructor.get_by_role("link", name="Item analysis").click()
    expect(instructor.get_by_role("row").filter(
        has=instructor.get_by_role("link", name=course.exercises[QUIZ].title))).to_contain_text("0%")
    learner.goto("/progress")
    expect(learner.get_by_role("row").filter(has=learner.get_by_role("link", name=course.exercises[QUIZ].title,
                                                                      exact=True))).to_contain_text("0%")
