"""Every route of the site, requested as every role, against ONE table of expected answers.

The test walks app.url_map: a rule missing from ACCESS fails the suite, so a new route is denied until someone
decides, here, who may use it. Ids in the URLs are real rows made by the fixture: the owner's cohort, a
learner who is a member of it, one of that learner's attempts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import CSRF_INPUT, csrf_token_from, login_as
from web.extensions import db
from web.models import Cohort, CohortMembership

pytestmark = pytest.mark.db

ROLES = ("anonymous", "learner", "other_instructor", "owner", "admin")
LOGIN = "login"  # a 302 to the login page
OK, REDIRECT, BAD, FORBIDDEN, NOT_FOUND = 200, 302, 400, 403, 404

# (method, rule): expected answer for (anonymous, learner, instructor of another cohort, owning instructor, admin).
# POSTs carry a valid CSRF token and an empty form, so what is tested is who gets in, not what the form does.
ACCESS: dict[tuple[str, str], tuple[Any, Any, Any, Any, Any]] = {
    # ---- cohorts: learners join
    ("GET", "/join"): (LOGIN, OK, OK, OK, OK),
    ("POST", "/join"): (LOGIN, BAD, BAD, BAD, BAD),
    ("GET", "/join/<code>"): (LOGIN, OK, OK, OK, OK),
    # leaving: only the learner is a member; everyone else's "not in it" is the same 404 as a missing cohort
    ("GET", "/cohorts/<id:cohort_id>/leave"): (LOGIN, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("POST", "/cohorts/<id:cohort_id>/leave"): (LOGIN, REDIRECT, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    # ---- instructor pages: learners are refused, other instructors see 404 for the cohort, owner and admin get in
    ("GET", "/instructor/"): (LOGIN, FORBIDDEN, OK, OK, OK),
    ("POST", "/instructor/cohorts"): (LOGIN, FORBIDDEN, BAD, BAD, BAD),
    ("GET", "/instructor/cohorts/<id:cohort_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("POST", "/instructor/cohorts/<id:cohort_id>/archive"): (LOGIN, FORBIDDEN, NOT_FOUND, REDIRECT, REDIRECT),
    ("GET", "/instructor/cohorts/<id:cohort_id>/archive"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),  # asks first
    ("GET", "/instructor/cohorts/<id:cohort_id>/settings"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("POST", "/instructor/cohorts/<id:cohort_id>/settings"): (LOGIN, FORBIDDEN, NOT_FOUND, BAD, BAD),  # no name
    ("POST", "/instructor/cohorts/<id:cohort_id>/joining"): (LOGIN, FORBIDDEN, NOT_FOUND, REDIRECT, REDIRECT),
    ("GET", "/instructor/cohorts/<id:cohort_id>/new-code"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("POST", "/instructor/cohorts/<id:cohort_id>/new-code"): (LOGIN, FORBIDDEN, NOT_FOUND, REDIRECT, REDIRECT),
    ("GET", "/instructor/cohorts/<id:cohort_id>/learners/<id:user_id>/remove"): (LOGIN, FORBIDDEN, NOT_FOUND, OK,
                                                                                 OK),
    ("POST", "/instructor/cohorts/<id:cohort_id>/learners/<id:user_id>/remove"): (LOGIN, FORBIDDEN, NOT_FOUND,
                                                                                  REDIRECT, REDIRECT),
    ("GET", "/instructor/cohorts/<id:cohort_id>/items"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("GET", "/instructor/cohorts/<id:cohort_id>/items/<exercise_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("GET", "/instructor/cohorts/<id:cohort_id>/learners/<id:user_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("GET", "/instructor/cohorts/<id:cohort_id>/gradebook.csv"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("GET", "/instructor/cohorts/<id:cohort_id>/gradebook.json"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    # ---- review: a cohort's queue is its instructor's; the queue of learners in no cohort is the admins'
    ("GET", "/instructor/cohorts/<id:cohort_id>/review"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("GET", "/instructor/cohorts/<id:cohort_id>/review/<id:attempt_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("POST", "/instructor/cohorts/<id:cohort_id>/review/<id:attempt_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, BAD, BAD),
    ("GET", "/admin/review"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ("GET", "/admin/review/self-paced"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    # The fixture's learner is in a cohort, so their attempt is not in the self-paced queue.
    ("GET", "/admin/review/self-paced/<id:attempt_id>"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND),
    ("POST", "/admin/review/self-paced/<id:attempt_id>"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND),
    # ---- admin
    ("GET", "/admin/"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/admin/users/<id:user_id>/role"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, REDIRECT),
    ("POST", "/admin/cohorts/<id:cohort_id>/owner"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, REDIRECT),
    # ---- the learner site (the learner here owns the attempt; nobody else may open it)
    ("GET", "/"): (OK, OK, OK, OK, OK),
    ("GET", "/lessons/<lesson_id>"): (OK, OK, OK, OK, OK),
    ("GET", "/exercises/<exercise_id>"): (LOGIN, OK, OK, OK, OK),
    ("POST", "/exercises/<exercise_id>"): (LOGIN, 422, 422, 422, 422),  # empty answer: refused, costs no attempt
    ("GET", "/attempts/<id:attempt_id>"): (LOGIN, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    # Only the attempt's owner may appeal it (an empty reason is refused, 400); anyone else's is a 404.
    ("POST", "/attempts/<id:attempt_id>/appeal"): (LOGIN, BAD, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("GET", "/progress"): (LOGIN, OK, OK, OK, OK),
    ("GET", "/progress/certificate"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),  # nobody has finished
    ("POST", "/progress/certificate/link"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("GET", "/certificates/<code>"): (NOT_FOUND,) * 5,  # public, but the fixture's code is no certificate's
    # ---- accounts
    ("GET", "/login"): (OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("POST", "/login"): (OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("GET", "/register"): (OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("POST", "/register"): (OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("GET", "/register/sent"): (REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),  # nothing registered here
    ("GET", "/register/confirm/<token>"): (BAD, BAD, BAD, BAD, BAD),  # the fixture's token is made up
    ("POST", "/register/confirm/<token>"): (BAD, BAD, BAD, BAD, BAD),
    ("POST", "/logout"): (REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ("GET", "/account"): (LOGIN, OK, OK, OK, OK),
    ("GET", "/account/export"): (LOGIN, OK, OK, OK, OK),
    ("POST", "/account/password"): (LOGIN, BAD, BAD, BAD, BAD),  # no current password given
    ("POST", "/account/name"): (LOGIN, BAD, BAD, BAD, BAD),  # no name given
    ("GET", "/password/forgot"): (OK, OK, OK, OK, OK),
    ("POST", "/password/forgot"): (BAD, BAD, BAD, BAD, BAD),  # no email given
    ("GET", "/password/reset/<token>"): (BAD, BAD, BAD, BAD, BAD),  # the fixture's token is made up
    ("POST", "/password/reset/<token>"): (BAD, BAD, BAD, BAD, BAD),
    ("POST", "/account/delete"): (LOGIN, BAD, BAD, BAD, BAD),  # no password given: nothing deleted
    ("POST", "/account/logout-everywhere"): (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),  # done, then back to log in
    # ---- LTI 1.3: the platform's endpoints answer everyone (the signed token decides); an empty request is refused
    ("GET", "/lti/jwks.json"): (OK, OK, OK, OK, OK),
    ("GET", "/lti/login"): (BAD, BAD, BAD, BAD, BAD),
    ("POST", "/lti/login"): (BAD, BAD, BAD, BAD, BAD),
    ("POST", "/lti/launch"): (BAD, BAD, BAD, BAD, BAD),
    ("GET", "/lti/continue/<token>"): (BAD, BAD, BAD, BAD, BAD),  # the fixture's pass is made up
    ("GET", "/lti/cohorts/<id:cohort_id>"): (LOGIN, FORBIDDEN, NOT_FOUND, OK, OK),
    ("POST", "/lti/cohorts/<id:cohort_id>/roster"): (LOGIN, FORBIDDEN, NOT_FOUND, 303, 303),  # not linked: a notice
    ("GET", "/lti/canvas.json"): (OK, OK, OK, OK, OK),
    ("GET", "/lti/admin"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/lti/admin"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, 422),  # empty form: fields named
    ("POST", "/lti/admin/switch"): (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD),  # no platform named
    ("GET", "/lti/register"): (BAD, BAD, BAD, BAD, BAD),  # no registration key
    ("GET", "/lti/deep-link"): (LOGIN, BAD, BAD, BAD, BAD),  # no deep-linking request open in these sessions
    ("POST", "/lti/deep-link"): (LOGIN, BAD, BAD, BAD, BAD),
    # ---- site-wide
    ("GET", "/static/<path:filename>"): (OK, OK, OK, OK, OK),
    ("GET", "/healthz"): (OK, OK, OK, OK, OK),
    ("GET", "/brand.css"): (OK, OK, OK, OK, OK),
}


# POSTs that change the world the other routes are tested in (see test_every_route_answers_as_the_table_says).
LAST = {("POST", "/instructor/cohorts/<id:cohort_id>/learners/<id:user_id>/remove"),
        ("POST", "/instructor/cohorts/<id:cohort_id>/archive"), ("POST", "/cohorts/<id:cohort_id>/leave")}


@pytest.fixture
def world(make_user, make_attempt, web_course):
    """Users for every role, the owner's cohort with the learner in it, and ids to put in URLs."""
    users = {
        "learner": make_user("learner", display_name="Lee Learner"),
        "other_instructor": make_user("instructor"),
        "owner": make_user("instructor"),
        "admin": make_user("admin"),
    }
    cohort = Cohort(name="Matrix cohort", owner_id=users["owner"].id, join_code="MTRX-2345")
    other = Cohort(name="Other cohort", owner_id=users["other_instructor"].id, join_code="THER-2345")
    db.session.add_all([cohort, other])
    db.session.commit()
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=users["learner"].id))
    db.session.commit()
    exercise_id = web_course.exercise_order()[0]
    attempt = make_attempt(users["learner"], exercise_id, score=1.0)
    lesson_id = web_course.lesson_order()[0]
    params = {
        "cohort_id": cohort.id,
        "user_id": users["learner"].id,
        "exercise_id": exercise_id,
        "lesson_id": lesson_id,
        "attempt_id": attempt.id,
        "code": cohort.join_code,
        "filename": "site.css",
        "module_id": web_course.modules[0].id,
        "token": "made-up.token",
    }
    return users, params


def concrete(rule: str, params: dict[str, Any]) -> str:
    """Fill a rule's <converter:name> parts with the fixture's real ids."""

    def fill(match: re.Match[str]) -> str:
        """Replace one placeholder, failing loudly for a parameter the fixture does not know."""
        name = match.group(1).split(":")[-1]
        assert name in params, f"test_access_matrix: add a real value for URL parameter <{name}> to the fixture"
        return str(params[name])

    return re.sub(r"<([^>]+)>", fill, rule)


def client_for(app, user):
    """Return a client logged in as `user` (or anonymous), with its CSRF token."""
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    page = client.get("/join" if user is not None else "/login")
    return client, csrf_token_from(page.get_data(as_text=True))


def site_rules(app) -> list[tuple[str, str]]:
    """Return every (method, rule) the site answers, HEAD and OPTIONS aside."""
    return sorted({(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}})


def test_every_route_is_in_the_table(app):
    """A route nobody has classified is a route nobody has secured."""
    missing = [f"{m} {r}" for m, r in site_rules(app) if (m, r) not in ACCESS]
    assert not missing, "add these routes to ACCESS in tests/test_access_matrix.py: " + ", ".join(missing)
    stale = [f"{m} {r}" for m, r in ACCESS if (m, r) not in set(site_rules(app))]
    assert not stale, "ACCESS lists routes the site no longer has: " + ", ".join(stale)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_as_the_table_says(app, world, role):
    """Request each route as this role and compare with the table."""
    users, params = world
    wrong = []
    # Requests that take the learner out of the cohort or close it run last, so that routes needing the learner in
    # an open cohort (the review queue, say) still find them there, whatever their names sort to.
    for method, rule in sorted(site_rules(app), key=lambda mr: (mr in LAST, mr)):
        expected = ACCESS.get((method, rule), (None,) * len(ROLES))[ROLES.index(role)]
        if expected is None:
            continue  # reported by test_every_route_is_in_the_table
        # A fresh client per request: a POST to log out or delete must not change the next request's role.
        client, token = client_for(app, users.get(role))
        url = concrete(rule, params)
        response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        response.get_data()  # finish streamed responses (gradebook) so their request context closes in order
        got: Any = response.status_code
        if got == 302 and "/login" in response.headers.get("Location", ""):
            got = LOGIN
        if got != expected:
            wrong.append(f"{method} {url} as {role}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_unknown_and_other_owner_cohorts_answer_the_same_404(app, world):
    """An instructor cannot tell a cohort that exists but is not theirs from one that does not exist."""
    users, params = world
    client, _ = client_for(app, users["other_instructor"])
    for suffix in ("", "/items", "/gradebook.csv", f"/learners/{params['user_id']}"):
        theirs = client.get(f"/instructor/cohorts/{params['cohort_id']}{suffix}")
        missing = client.get(f"/instructor/cohorts/987654{suffix}")
        assert theirs.status_code == missing.status_code == 404
        # The header's logout form carries a CSRF token signed with the current second: equal up to that.
        assert CSRF_INPUT.sub("", theirs.get_data(as_text=True)) == CSRF_INPUT.sub("", missing.get_data(as_text=True))
