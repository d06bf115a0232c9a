"""axe-core (WCAG 2.1 A and AA rules) on every page type, logged out and as learner, instructor and admin.

Each page is also saved as a screenshot in test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from course.model import Course
from tests.browser.helpers import PASSWORD, LiveServer, finish_course, login, sample_answer, shoot, unique_email
from web.extensions import db
from web.models import AttemptGrade, User, utcnow
from web.services import accounts, attempts, certificates, cohorts, lti, reviews

pytestmark = pytest.mark.browser
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = Axe()
EXERCISE_TYPES = ("single_choice", "multiple_choice", "matching", "categorize", "cloze", "text", "ordering")


@dataclass
class Seed:
    """Accounts and ids the pages below are built from."""

    learner: str
    newcomer: str
    instructor: str
    admin: str
    learner_id: int
    cohort_id: int
    attempts: dict[str, int]  # exercise type -> one attempt id of the learner
    confirm_token: str  # a registration link still waiting to be used
    reset_token: str  # a password-reset link of the learner's
    certificate_code: str  # the learner's certificate's public page


def first_of_type(course: Course, kind: str) -> str:
    """Return the first exercise id of a type, in course order."""
    return next(e for e in course.exercise_order() if course.exercises[e].type == kind)


@pytest.fixture(scope="module")
def seed(live_server: LiveServer, course: Course) -> Seed:
    """Store a learner who finished the course, a newcomer, an instructor with a cohort, and an admin."""
    with live_server.app.app_context():
        learner = accounts.create_user(unique_email("axe-learner"), PASSWORD, display_name="Grace Hopper")
        newcomer = accounts.create_user(unique_email("axe-new"), PASSWORD, display_name="New Comer")
        instructor = accounts.create_user(unique_email("axe-teacher"), PASSWORD, role="instructor",
                                          display_name="Ida Instructor")
        admin = accounts.create_user(unique_email("axe-admin"), PASSWORD, role="admin", display_name="Ada Admin")
        pending = User(email=unique_email("axe-pending"), role="learner")
        pending.set_password(PASSWORD)
        db.session.add(pending)
        db.session.commit()
        confirm_token = accounts.confirmation_token(pending)
        by_type = finish_course(learner, course)
        cohort = cohorts.create_cohort(instructor, "Accessibility cohort")
        cohorts.join(learner, cohort.join_code)
        cohorts.join(newcomer, cohort.join_code)
        # A wrong matching answer, so the item page names failed pairs (long texts, shortened) beside a sample.
        matching = course.exercises[first_of_type(course, "matching")]
        right = sample_answer(matching)
        swapped = dict(zip(right, [*list(right.values())[1:], next(iter(right.values()))], strict=True))
        attempts.submit(newcomer, matching, swapped, attempts.new_idempotency_key())
        # A regrade that changed the learner's single-choice result, so the attempt page carries the notice.
        db.session.add(AttemptGrade(attempt_id=by_type["single_choice"], score=0.0, passed=False,
                                    status="incorrect", checks=[], grader_version="single_choice/0"))
        db.session.commit()
        # The learners' progress pages show the cohort's due date and announcement (Markdown).
        cohorts.update_settings(cohort, cohort.name, cohorts.site_today(),
                                "**Session 3** moves to Thursday. Read [the first lesson](lesson:"
                                f"{course.lesson_order()[0]}) before then.")
        certificate = certificates.ensure(learner, utcnow())
        # An appealed text attempt, so the queue and its item have something to show.
        # Its reason holds a 240-letter word, so the phone-width test sees learner text that cannot break at a space.
        reviews.submit_appeal(learner, by_type["text"], "I think my email did say why I fit: " + "really" * 40)
        # Two LMSs on the admin's platform list, one switched off, so both row states and their buttons are checked.
        for name in ("Axe Canvas", "Axe Moodle (retired)"):
            host = f"https://{name.split()[1].lower()}.axe.example"
            platform = lti.add_platform(issuer=host, client_id="axe", name=name, auth_login_url=f"{host}/auth",
                                        auth_token_url=f"{host}/token", jwks_url=f"{host}/jwks", deployment_ids=["1"])
        lti.switch_platform(platform.id, False)
        return Seed(learner.email, newcomer.email, instructor.email, admin.email, learner.id, cohort.id, by_type,
                    confirm_token, accounts.reset_token(learner), certificate.code)


@pytest.fixture(scope="module")
def contexts(browser: Browser, live_server: LiveServer, seed: Seed) -> Iterator[dict[str, BrowserContext]]:
    """One logged-in browser context per role, plus an anonymous one, shared by this module's pages."""
    made: dict[str, BrowserContext] = {}
    for role, email in (("anonymous", None), ("learner", seed.learner), ("newcomer", seed.newcomer),
                        ("instructor", seed.instructor), ("admin", seed.admin)):
        ctx = browser.new_context(base_url=live_server.url)
        ctx.set_default_timeout(15_000)
        if email:
            login(ctx.new_page(), email)
        made[role] = ctx
    yield made
    for ctx in made.values():
        ctx.close()


def pages(course: Course) -> list[tuple[str, str, str, int]]:
    """Return (name, role, path template, expected status) for every page type checked."""
    lesson = course.lesson_order()[0]
    rows = [
        ("course-anonymous", "anonymous", "/", 200),
        ("lesson-anonymous", "anonymous", f"/lessons/{lesson}", 200),
        ("login", "anonymous", "/login", 200),
        ("register", "anonymous", "/register", 200),
        ("register-confirm", "anonymous", "/register/confirm/{token}", 200),
        ("register-confirm-broken", "anonymous", "/register/confirm/not-a-real-link", 400),
        ("not-found-anonymous", "anonymous", "/no-such-page", 404),
        ("course-learner", "learner", "/", 200),
        ("lesson-learner", "learner", f"/lessons/{lesson}", 200),
        ("progress", "learner", "/progress", 200),
        ("certificate", "learner", "/progress/certificate", 200),
        ("certificate-not-yet", "newcomer", "/progress/certificate", 403),
        ("progress-newcomer", "newcomer", "/progress", 200),
        ("account", "learner", "/account", 200),
        ("join-cohort", "newcomer", "/join", 200),
        ("not-found-learner", "learner", "/lessons/no-such-lesson", 404),
        ("forbidden-learner", "learner", "/instructor/", 403),
        ("instructor-cohorts", "instructor", "/instructor/", 200),
        ("instructor-roster", "instructor", "/instructor/cohorts/{cohort}", 200),
        ("instructor-items", "instructor", "/instructor/cohorts/{cohort}/items", 200),
        ("instructor-item", "instructor", f"/instructor/cohorts/{{cohort}}/items/{first_of_type(course, 'text')}", 200),
        ("instructor-item-matching", "instructor",
         f"/instructor/cohorts/{{cohort}}/items/{first_of_type(course, 'matching')}", 200),
        ("instructor-learner", "instructor", "/instructor/cohorts/{cohort}/learners/{learner}", 200),
        ("feedback-regraded", "learner", "/attempts/{attempt_single_choice}", 200),
        ("admin-users", "admin", "/admin/", 200),
        # cohorts an agency trainer can run, accounts and the certificate
        ("instructor-settings", "instructor", "/instructor/cohorts/{cohort}/settings", 200),
        ("instructor-new-code", "instructor", "/instructor/cohorts/{cohort}/new-code", 200),
        ("instructor-archive-confirm", "instructor", "/instructor/cohorts/{cohort}/archive", 200),
        ("instructor-remove-learner", "instructor", "/instructor/cohorts/{cohort}/learners/{learner}/remove", 200),
        ("leave-cohort", "newcomer", "/cohorts/{cohort}/leave", 200),
        ("forgot-password", "anonymous", "/password/forgot", 200),
        ("reset-password", "anonymous", "/password/reset/{reset}", 200),
        ("reset-password-broken", "anonymous", "/password/reset/not-a-real-link", 400),
        ("certificate-verify", "anonymous", "/certificates/{certificate}", 200),
        ("certificate-verify-unknown", "anonymous", "/certificates/no-such-code", 404),
        ("review-queue", "instructor", "/instructor/cohorts/{cohort}/review", 200),
        ("review-item", "instructor", "/instructor/cohorts/{cohort}/review/{attempt_text}", 200),
        ("review-admin", "admin", "/admin/review", 200),
        ("review-self-paced", "admin", "/admin/review/self-paced", 200),
        # LTI pages reached only through a launch (picker, new window, sync with scores) are in test_lti_journey.py.
        ("lti-refused", "anonymous", "/lti/login", 400),
        ("lti-sync-unlinked", "instructor", "/lti/cohorts/{cohort}", 200),
        ("lti-platforms", "admin", "/lti/admin", 200),
    ]
    for kind in EXERCISE_TYPES:
        rows.append((f"exercise-{kind}", "newcomer", f"/exercises/{first_of_type(course, kind)}", 200))
        rows.append((f"feedback-{kind}", "learner", f"/attempts/{{attempt_{kind}}}", 200))
    return rows


def format_violations(violations: list[dict]) -> str:
    """Render axe violations readably: rule, impact, help and URL, then each failing node."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']}\n  {v['helpUrl']}")
        for node in v["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def check_page(page: Page, name: str) -> None:
    """Run axe with the WCAG 2.1 AA tags on the loaded page and fail with a readable list of violations."""
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    assert not violations, f"{name}: {len(violations)} accessibility violation(s):\n{format_violations(violations)}"


def _page_params() -> list:
    """Build the parametrisation from the shipped course (ids readable in the test report)."""
    from course.loader import load_course  # noqa: PLC0415 - evaluated once at collection

    return [pytest.param(row, id=row[0]) for row in pages(load_course())]


def page_path(template: str, seed: Seed) -> str:
    """Fill a page type's URL template with the seeded ids (this file's test and the phone-width test share it)."""
    values = {"cohort": seed.cohort_id, "learner": seed.learner_id, "token": seed.confirm_token,
              "reset": seed.reset_token, "certificate": seed.certificate_code}
    values.update({f"attempt_{kind}": attempt_id for kind, attempt_id in seed.attempts.items()})
    return template.format(**values)


@pytest.mark.parametrize("row", _page_params())
def test_page_has_no_wcag_violations(row: tuple[str, str, str, int], contexts: dict[str, BrowserContext],
                                     seed: Seed) -> None:
    """The page answers with its expected status and axe finds no WCAG 2.1 A/AA violation on it."""
    name, role, template, expected = row
    path = page_path(template, seed)
    page = contexts[role].new_page()
    try:
        response = page.goto(path)
        assert response is not None and response.status == expected, f"{name}: GET {path} gave {response.status}"
        assert "/login" not in page.url or role == "anonymous", f"{name}: {role} was sent to log in"
        # Pages must declare their language and carry a title (also axe rules; asserted for clearer failures).
        assert re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", page.locator("html").get_attribute("lang") or "")
        assert page.title().strip()
        shoot(page, f"a11y-{name}")
        check_page(page, name)
    finally:
        page.close()


def test_check_your_email_page_has_no_wcag_violations(new_context) -> None:
    """The page shown after registering (it needs a registration first) passes axe too."""
    page = new_context().new_page()
    page.goto("/register")
    page.get_by_label("Email address").fill(unique_email("axe-sent"))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert page.url.endswith("/register/sent")
    shoot(page, "a11y-register-sent")
    check_page(page, "register-sent")


def test_shortened_labels_show_in_full_on_keyboard_focus_and_hover(contexts: dict[str, BrowserContext],
                                                                   seed: Seed) -> None:
    """A shortened option text on the drill-down shows all of it when tabbed to or hovered, without JavaScript."""
    page = contexts["instructor"].new_page()
    try:
        page.goto(f"/instructor/cohorts/{seed.cohort_id}/learners/{seed.learner_id}")
        clip = page.locator(".clip").first
        full, short = clip.locator(".clip-full"), clip.locator(".clip-short")
        assert short.is_visible() and full.bounding_box()["width"] <= 1
        clip.focus()
        assert not short.is_visible() and full.bounding_box()["width"] > 50
        page.mouse.move(0, 0)
        page.locator("h1").click()  # blur
        assert short.is_visible()
        clip.hover()
        assert not short.is_visible() and full.bounding_box()["width"] > 50
    finally:
        page.close()
