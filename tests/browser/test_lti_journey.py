"""LTI 1.3 in a real browser: the fixture LMS (tests/lti_platform.py) launches the live site, a learner's score
reaches the LMS, a browser without the site's cookie gets the new-window path, and an instructor adds links by deep
linking. Every LTI page is checked with axe.

The LMS and the site are both on 127.0.0.1 (other ports), so these launches are top-level, not in a cross-site
iframe: what they prove is the protocol and the pages. The launch inside a cross-site iframe, over HTTPS on two
host names, is tests/browser/test_lti_frame_journey.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import jwt
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from course.model import Course
from tests.browser.helpers import LiveServer, do_exercise, shoot
from tests.browser.test_accessibility import check_page
from tests.lti_platform import CLAIM, INSTRUCTOR_ROLE, FixturePlatform
from web.extensions import db
from web.models import LtiContext
from web.services import lti as svc

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lms(live_server: LiveServer) -> Iterator[FixturePlatform]:
    """The fixture LMS on its own port, registered with the live site."""
    platform = FixturePlatform()
    platform.tool_url = live_server.url
    with live_server.app.app_context():
        svc.add_platform(issuer=platform.issuer, client_id=platform.client_id, name="Browser LMS",
                         auth_login_url=f"{platform.base}/auth", auth_token_url=f"{platform.base}/token",
                         jwks_url=f"{platform.base}/jwks", deployment_ids=list(platform.deployments))
    yield platform
    platform.close()


def first_of_type(course: Course, kind: str) -> str:
    """Return the first exercise id of a type."""
    return next(e for e in course.exercise_order() if course.exercises[e].type == kind)


def open_from_lms(page: Page, lms: FixturePlatform, hint: str, *, before_launch=None) -> None:
    """Press the LMS's button for the tool, then its sign-in page's button (OIDC login and launch)."""
    page.goto(f"{lms.base}/start?hint={hint}")
    page.get_by_role("button", name="Open the tool").click()
    expect(page.get_by_role("button", name="Continue to the tool")).to_be_visible()
    if before_launch:
        before_launch()
    page.get_by_role("button", name="Continue to the tool").click()
    page.wait_for_load_state()


def test_learner_launch_does_an_exercise_and_the_lms_gets_the_score(lms, new_context, course) -> None:
    """From the LMS to the exercise, logged in without an account form, and the score posted to the line item."""
    exercise_id = first_of_type(course, "single_choice")
    lms.launches["stu-b1"] = {"sub": "stu-b1", "context_id": "course-b1", "link_id": "link-b1",
                              "custom": {"exercise": exercise_id}, "lineitem": lms.lineitem(3)}
    page = new_context().new_page()
    open_from_lms(page, lms, "stu-b1")
    expect(page).to_have_url(re.compile(f"/exercises/{exercise_id}$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Log out")  # logged in, no form
    shoot(page, "lti-launched-exercise")
    do_exercise(page, course.exercises[exercise_id])
    score = next(s for s in lms.scores if s["body"]["userId"] == "stu-b1")
    assert score["path"] == "/lineitems/3/scores" and score["body"]["scoreGiven"] == 100
    response = page.goto("/")
    assert f"frame-ancestors 'self' {lms.base}" in response.headers["content-security-policy"]


def test_blocked_cookie_opens_a_new_window_that_is_logged_in(lms, new_context, course) -> None:
    """Without the state cookie the launch offers a new window; that window is logged in at the exercise."""
    exercise_id = first_of_type(course, "single_choice")
    lms.launches["stu-b2"] = {"sub": "stu-b2", "context_id": "course-b1", "custom": {"exercise": exercise_id}}
    ctx: BrowserContext = new_context()
    page = ctx.new_page()
    open_from_lms(page, lms, "stu-b2", before_launch=ctx.clear_cookies)
    expect(page.get_by_role("heading", level=1)).to_have_text("Open the course in a new window")
    shoot(page, "a11y-lti-new-window")
    check_page(page, "lti-new-window")
    with ctx.expect_page() as opened:
        page.get_by_role("link", name="Open the course in a new window").click()
    window = opened.value
    window.wait_for_load_state()
    expect(window).to_have_url(re.compile(f"/exercises/{exercise_id}$"))
    expect(window.get_by_role("button", name=re.compile("Check|Submit", re.I))).to_be_visible()


def test_instructor_adds_links_by_deep_linking_and_sees_the_sync_page(lms, new_context, live_server) -> None:
    """The picker and the send-back page pass axe, the LMS receives a response it can verify, the sync page too."""
    lms.launches["prof-b1"] = {
        "sub": "prof-b1", "roles": (INSTRUCTOR_ROLE,), "context_id": "course-b1", "name": "Grace Hopper",
        CLAIM + "message_type": "LtiDeepLinkingRequest", CLAIM + "resource_link": None,
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
            "deep_link_return_url": f"{lms.base}/deep-link-return", "accept_types": ["ltiResourceLink"],
            "accept_multiple": True},
    }
    page = new_context().new_page()
    open_from_lms(page, lms, "prof-b1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add course items to the LMS")
    shoot(page, "a11y-lti-deep-link")
    check_page(page, "lti-deep-link")
    page.get_by_role("button", name="Add to the LMS course").click()  # nothing picked: a named error
    expect(page.get_by_role("alert")).to_contain_text("Pick at least one")
    check_page(page, "lti-deep-link-error")
    page.locator("input[name=item][value^='exercise:']").first.check()
    page.get_by_role("button", name="Add to the LMS course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send the items to the LMS")
    shoot(page, "a11y-lti-deep-link-return")
    check_page(page, "lti-deep-link-return")
    page.get_by_role("button", name="Send to the LMS").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Links received")
    token = lms.deep_link_answers[-1]
    keys = jwt.PyJWKSet.from_dict(page.request.get(f"{live_server.url}/lti/jwks.json").json())
    claims = jwt.decode(token, keys[jwt.get_unverified_header(token)["kid"]].key, algorithms=["RS256"],
                        audience=lms.issuer, issuer=lms.client_id)
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]["lineItem"]["scoreMaximum"] == 100
    with live_server.app.app_context():
        cohort_id = db.session.scalar(select(LtiContext.cohort_id).where(LtiContext.context_id == "course-b1"))
    page.goto(f"/lti/cohorts/{cohort_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("LMS grade sync")
    shoot(page, "a11y-lti-sync")
    check_page(page, "lti-sync")

