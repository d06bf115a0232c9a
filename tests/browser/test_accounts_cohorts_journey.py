"""On a 390 px phone: forgot password to logging in again, certificate to its verification page, and a trainer
running a cohort (settings, due date, announcement, new code, remove, leave, archive). Each page of these features
is checked with axe and for sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from course.model import Course
from tests.browser.helpers import PASSWORD, LiveServer, emailed_link, finish_course, login, shoot, unique_email
from tests.browser.test_accessibility import check_page
from web.services import accounts, cohorts

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
NEW_PASSWORD = "a new browser passphrase"


def fits_phone(page: Page, name: str, selector: str | None = None) -> None:
    """The page (or, on a page another feature lays out, just `selector`) is no wider than the phone; axe is clean."""
    page.wait_for_load_state()
    if selector is None:
        width = page.evaluate("document.documentElement.scrollWidth")
    else:
        width = page.locator(selector).first.evaluate("e => Math.ceil(e.getBoundingClientRect().right)")
    assert width <= PHONE["width"], f"{name} is {width}px wide on a {PHONE['width']}px phone"
    shoot(page, f"phone-{name}")
    check_page(page, name)


def confirm_on_own_page(page: Page, link: str, name: str, button: str, done: str) -> None:
    """Follow `link` to its confirmation page, check that page on the phone, confirm with `button`, see `done`."""
    page.get_by_role("link", name=link).click()
    fits_phone(page, name)
    page.get_by_role("button", name=button).click()
    expect(page.locator("main")).to_contain_text(done)


def test_forgot_password_reset_and_log_in(new_context, live_server: LiveServer) -> None:
    """Forgot password, read the emailed link from the outbox, choose a new password, log in with it."""
    email = unique_email("forgetful")
    with live_server.app.app_context():
        accounts.create_user(email, PASSWORD, display_name="Fay Forgetful")
    page = new_context(viewport=PHONE).new_page()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    fits_phone(page, "forgot-password")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(email)
    fits_phone(page, "forgot-password-sent")

    page.goto(emailed_link(email, "/password/reset/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    fits_phone(page, "reset-password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    page.wait_for_load_state()
    assert page.url.endswith("/login"), page.url
    expect(page.locator("main")).to_contain_text("Your password has been changed")

    login(page, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("My progress")
    # The old password is gone, and the link is spent.
    other = new_context(viewport=PHONE).new_page()
    other.goto("/login")
    other.get_by_label("Email address").fill(email)
    other.get_by_label("Password", exact=True).fill(PASSWORD)
    other.locator("main form").get_by_role("button", name="Log in").click()
    expect(other.locator("main")).to_contain_text("The email address or password is not correct.")
    assert other.goto(emailed_link(email, "/password/reset/")).status == 400


def test_certificate_asks_for_a_name_then_a_stranger_verifies_it(new_context, live_server: LiveServer,
                                                                 course: Course) -> None:
    """A learner who finished without a name is asked for one; the certificate links to a public page showing the
    name, course and date; withdrawing it makes the link show nothing."""
    email = unique_email("finisher")
    with live_server.app.app_context():
        learner = accounts.create_user(email, PASSWORD)
        finish_course(learner, course)
    page = new_context(viewport=PHONE).new_page()
    login(page, email)
    page.goto("/progress/certificate")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your name for the certificate")
    expect(page.locator("main")).not_to_contain_text(email)
    fits_phone(page, "certificate-name")
    page.get_by_label("Your name").fill("Nadia Named")
    page.get_by_role("button", name="Save my name and show the certificate").click()
    expect(page.locator(".certificate")).to_contain_text("Nadia Named")
    expect(page.locator(".certificate")).not_to_contain_text(email)
    fits_phone(page, "certificate-with-code")

    link = page.locator("main .panel a[href*=\"/certificates/\"]").get_attribute("href")
    stranger = new_context(viewport=PHONE).new_page()
    stranger.goto(link)
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Certificate verified")
    main = stranger.locator("main")
    expect(main).to_contain_text("Nadia Named")
    expect(main).to_contain_text(course.title)
    expect(main).to_contain_text(re.compile(r"on \d{2} \w+ \d{4}"))
    expect(main).not_to_contain_text(email)
    fits_phone(stranger, "certificate-verify")

    page.get_by_role("button", name="Withdraw the public page").click()
    expect(page.locator("main")).to_contain_text("withdrawn")
    assert stranger.goto(link).status == 404


def test_a_trainer_runs_a_cohort_from_a_phone(new_context, live_server: LiveServer) -> None:
    """Rename, due date and announcement; the learner sees them; a new code; remove, leave and archive, each asked
    first on a page of its own."""
    trainer_email, lina_email, omar_email = (unique_email(p) for p in ("trainer", "lina", "omar"))
    with live_server.app.app_context():
        trainer = accounts.create_user(trainer_email, PASSWORD, role="instructor", display_name="Tom Trainer")
        lina = accounts.create_user(lina_email, PASSWORD, display_name="Lina Learner")
        omar = accounts.create_user(omar_email, PASSWORD, display_name="Omar Other")
        cohort = cohorts.create_cohort(trainer, "Agency intake")
        cohorts.join(lina, cohort.join_code)
        cohorts.join(omar, cohort.join_code)
        cohort_id, old_code = cohort.id, cohort.join_code

    tp = new_context(viewport=PHONE).new_page()
    login(tp, trainer_email)
    tp.goto(f"/instructor/cohorts/{cohort_id}")
    tp.get_by_role("link", name=re.compile("Rename, set a due date")).click()
    fits_phone(tp, "instructor-settings")
    tp.get_by_label("Cohort name", exact=True).fill("Agency intake, March")
    tp.get_by_label("Due date", exact=True).fill("2020-01-31")
    tp.get_by_label("Announcement", exact=True).fill("**Bring your CV** to session 3.")
    tp.get_by_role("button", name="Save settings").click()
    expect(tp.locator("main")).to_contain_text("Settings of “Agency intake, March” saved")
    tp.goto(f"/instructor/cohorts/{cohort_id}")
    expect(tp.get_by_role("row").filter(has=tp.get_by_role("link", name="Lina Learner"))).to_contain_text("Overdue")

    lp = new_context(viewport=PHONE).new_page()
    login(lp, lina_email)
    lp.goto("/progress")
    notice = lp.locator(".cohort-notice")
    expect(notice).to_contain_text("From your cohort “Agency intake, March”")
    expect(notice).to_contain_text("Overdue")
    expect(notice.locator("strong", has_text="Bring your CV")).to_be_visible()
    fits_phone(lp, "progress-cohort-notice", selector=".cohort-notice")

    tp.goto(f"/instructor/cohorts/{cohort_id}/settings")
    confirm_on_own_page(tp, "Make a new join code…", "confirm-new-code", "Make a new join code", "The new join code is")
    expect(tp.locator("main")).not_to_contain_text(f"Join code: {old_code}")
    tp.get_by_role("button", name="Turn the join code off").click()
    expect(tp.locator("main")).to_contain_text("is turned off")

    tp.goto(f"/instructor/cohorts/{cohort_id}/learners/{lina.id}")
    confirm_on_own_page(tp, "Remove Lina Learner from this cohort…", "confirm-remove-learner", "Remove from cohort",
                        "Lina Learner is no longer in “Agency intake, March”")

    op = new_context(viewport=PHONE).new_page()
    login(op, omar_email)
    op.goto("/join")
    confirm_on_own_page(op, "Leave Agency intake, March", "confirm-leave-cohort", "Leave this cohort",
                        "You have left “Agency intake, March”")

    tp.goto(f"/instructor/cohorts/{cohort_id}/settings")
    confirm_on_own_page(tp, "Archive this cohort…", "confirm-archive", "Archive this cohort",
                        "archived: no one new can join")
    tp.goto(f"/instructor/cohorts/{cohort_id}/settings")
    expect(tp.get_by_role("button", name="Reopen this cohort")).to_be_visible()
    expect(tp.get_by_label("Cohort name")).to_have_count(0)
