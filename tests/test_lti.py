"""LTI 1.3: registration and keys, the login and launch checks, people and cohorts, framing and cookies, and the
score outbox, against the fixture LMS in tests/lti_platform.py (real HTTP on loopback, no internet)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from tests.conftest import KEY_INPUT, csrf_token_from, form_fields, hidden_value, login_as
from tests.lti_platform import INSTRUCTOR_ROLE, LEARNER_ROLE, LMS_ADMIN_ROLE, FixturePlatform
from web.extensions import db
from web.models import Cohort, CohortMembership, LtiContext, LtiResourceLink, LtiScore, LtiState, LtiUser, User
from web.services import lti as svc

pytestmark = pytest.mark.db


@pytest.fixture(scope="session")
def lms_server() -> Any:
    """Start the fixture LMS once for the session."""
    server = FixturePlatform()
    yield server
    server.close()


@pytest.fixture
def lms(app, lms_server) -> FixturePlatform:
    """Return the fixture LMS, fresh, registered with the site (two deployments)."""
    lms_server.reset()
    svc.add_platform(issuer=lms_server.issuer, client_id=lms_server.client_id, name="Fixture LMS",
                     auth_login_url=f"{lms_server.base}/auth", auth_token_url=f"{lms_server.base}/token",
                     jwks_url=f"{lms_server.base}/jwks", deployment_ids=list(lms_server.deployments))
    return lms_server


def start_login(client, lms: FixturePlatform, **params: str) -> dict[str, str]:
    """Run the OIDC login initiation as the LMS would; return the auth request's query (state, nonce, ...)."""
    query = {"iss": lms.issuer, "login_hint": "hint-1", "target_link_uri": "http://localhost/",
             "client_id": lms.client_id, "lti_deployment_id": "deploy-1", **params}
    response = client.post("/lti/login", data=query)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{lms.base}/auth"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def launch(client, lms: FixturePlatform, *, kid: str | None = None, state: str | None = None,
           blocked: bool = False, **claims: Any) -> Any:
    """Log in through the LMS and post the signed launch; return the site's answer to the launch.

    `blocked` drops the state cookie before the launch, as a frame that refuses third-party cookies does.
    """
    auth = start_login(client, lms)
    if blocked:
        client.delete_cookie("lti_state", path="/lti/launch")
    token = lms.sign(lms.claims(auth["nonce"], **claims), kid=kid)
    return client.post("/lti/launch", data={"id_token": token, "state": state or auth["state"]})


def refused(response: Any, words: str) -> None:
    """Assert the launch was refused with a page naming what was wrong, and nobody is logged in."""
    body = response.get_data(as_text=True)
    assert response.status_code == 400, body
    assert "The LMS launch was refused" in body and words in body, body
    assert "_user_id" not in response.headers.get("Set-Cookie", "")


def user_for(lms: FixturePlatform, sub: str) -> User:
    """Return the site user mapped to a fixture LMS user."""
    link = db.session.scalar(select(LtiUser).where(LtiUser.sub == sub))
    assert link is not None, f"no site user for {sub}"
    return db.session.get(User, link.user_id)


# --------------------------------------------------------------------------------------- registration, keys


def test_add_platform_cli_registers_and_updates(app, runner) -> None:
    """`course lti add-platform` stores the platform; run again it adds deployments instead of a second platform."""
    args = ["lti", "add-platform", "--issuer", "https://canvas.instructure.com", "--client-id", "10000000000001",
            "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "--token-url", "https://sso.canvaslms.com/login/oauth2/token",
            "--jwks-url", "https://sso.canvaslms.com/api/lti/security/jwks", "--deployment-id", "1:abc",
            "--frame-origin", "https://school.instructure.com", "--name", "School Canvas"]

    def run(argv: list[str]) -> Any:
        """Run one command in this test's app (so it sees the rolled-back transaction)."""
        return runner.invoke(args=argv, app=app)

    result = run(args)
    assert result.exit_code == 0
    out = result.stdout
    assert "deployments 1:abc" in out and "tool login URL: http://localhost/lti/login" in out
    assert run([*args[:-4], "--deployment-id", "2:def"]).exit_code == 0
    platforms = svc.platforms()
    assert len(platforms) == 1
    assert [d.deployment_id for d in platforms[0].deployments] == ["1:abc", "2:def"]
    assert platforms[0].frame_origins == ["https://school.instructure.com"]
    result = run(["lti", "registration-url"])
    assert result.exit_code == 0
    url = result.stdout.split()[-1]
    assert url.startswith("http://localhost/lti/register?key=")
    result = run(["lti", "list"])
    assert result.exit_code == 0
    assert "https://canvas.instructure.com\t10000000000001\t1:abc,2:def" in result.stdout


def test_add_platform_names_a_bad_value(app) -> None:
    """A URL that is not http(s) or a missing deployment id is refused with the option named."""
    good = {"issuer": "https://lms.example.edu", "client_id": "c", "auth_login_url": "https://lms.example.edu/a",
            "auth_token_url": "https://lms.example.edu/t", "jwks_url": "https://lms.example.edu/k",
            "deployment_ids": ["d"]}
    with pytest.raises(svc.LtiError, match="--jwks-url"):
        svc.add_platform(**{**good, "jwks_url": "file:///etc/passwd"})
    with pytest.raises(svc.LtiError, match="--deployment-id"):
        svc.add_platform(**{**good, "deployment_ids": [" "]})
    with pytest.raises(svc.LtiError, match="--frame-origin"):
        svc.add_platform(**good, frame_origins=["https://x.example/path"])


def test_jwks_serves_the_tool_key_and_keeps_a_rotated_one_until_it_expires(app, client) -> None:
    """The key set has the signing key; after rotation both, and the old one goes once expired."""
    first = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and first[0]["alg"] == "RS256" and "d" not in first[0]
    old_kid = first[0]["kid"]
    new = svc.rotate_key(keep_days=30)
    kids = [k["kid"] for k in client.get("/lti/jwks.json").get_json()["keys"]]
    assert kids == [new.kid, old_kid]
    # What the tool signs now verifies with the new public key from the key set.
    token = svc.sign({"hello": "world"})
    assert jwt.get_unverified_header(token)["kid"] == new.kid
    public = jwt.PyJWKSet.from_dict(client.get("/lti/jwks.json").get_json())[new.kid].key
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"hello": "world"}
    svc.rotate_key(keep_days=0)  # every older key expires at once
    kids = [k["kid"] for k in client.get("/lti/jwks.json").get_json()["keys"]]
    assert len(kids) == 1 and old_kid not in kids and new.kid not in kids


# ------------------------------------------------------------------------------------------ good launches


def test_learner_launch_creates_the_user_and_cohort_and_opens_the_exercise(app, client, lms) -> None:
    """A learner's first launch makes one account (name, email), joins the course's cohort and opens the link."""
    response = launch(client, lms, sub="stu-1", custom={"exercise": "why-close-quiz"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/exercises/why-close-quiz")
    user = user_for(lms, "stu-1")
    assert (user.role, user.display_name, user.email) == ("learner", "Ada Lovelace", "stu-1@uni.example.edu")
    context = db.session.scalar(select(LtiContext))
    cohort = db.session.get(Cohort, context.cohort_id)
    assert cohort.name == "Careers 101 (Fixture LMS)" and cohort.owner_id is None
    assert db.session.get(CohortMembership, (cohort.id, user.id)) is not None
    # Logged in: the exercise page opens; the session cookie is the LTI one.
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    assert client.get("/exercises/why-close-quiz").status_code == 200
    # A second launch maps to the same account.
    assert launch(client, lms, sub="stu-1").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(LtiUser)) == 1


def test_instructor_launch_owns_the_cohort_and_an_lms_admin_is_not_a_site_admin(app, client, lms) -> None:
    """The first instructor owns the course's cohort; an LMS administrator is a learner here, never an admin."""
    assert launch(client, lms, sub="stu-1").status_code == 303  # a learner arrives first
    other = app.test_client()
    response = launch(other, lms, sub="prof-1", roles=(INSTRUCTOR_ROLE,), name="Grace Hopper")
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    prof = user_for(lms, "prof-1")
    assert prof.role == "instructor"
    cohort = db.session.scalar(select(Cohort))
    assert cohort.owner_id == prof.id
    assert db.session.get(CohortMembership, (cohort.id, prof.id)) is None  # instructors own, learners join
    assert other.get(f"/instructor/cohorts/{cohort.id}").status_code == 200
    admin_client = app.test_client()
    assert launch(admin_client, lms, sub="root-1", roles=(LMS_ADMIN_ROLE,)).status_code == 303
    assert user_for(lms, "root-1").role == "learner"
    assert admin_client.get("/admin/").status_code == 403


def test_platform_email_of_an_existing_account_is_not_taken_over(app, client, lms, make_user) -> None:
    """A platform claiming a site user's email gets a separate account: a launch never logs in as someone else."""
    existing = make_user(email="stu-9@uni.example.edu")
    assert launch(client, lms, sub="stu-9").status_code == 303
    user = user_for(lms, "stu-9")
    assert user.id != existing.id and user.email.endswith("@lti.invalid")


def test_two_deployments_of_one_platform_both_launch(app, client, lms) -> None:
    """Each registered deployment id launches; one the platform never registered does not."""
    assert launch(client, lms, sub="a", deployment="deploy-1").status_code == 303
    assert launch(app.test_client(), lms, sub="b", deployment="deploy-2").status_code == 303
    refused(launch(app.test_client(), lms, sub="c", deployment="deploy-3"), "unknown deployment_id")


def test_target_link_uri_and_lesson_custom_parameter_open_the_right_page(app, client, lms) -> None:
    """A target link to a lesson opens it; a target elsewhere or to nothing known opens the course home."""
    to_lesson = launch(client, lms, **{svc.CLAIM + "target_link_uri": "http://localhost/lessons/l-two"})
    assert to_lesson.headers["Location"].endswith("/lessons/l-two")
    custom = launch(client, lms, custom={"lesson": "l-three"})
    assert custom.headers["Location"].endswith("/lessons/l-three")
    unknown = launch(client, lms, **{svc.CLAIM + "target_link_uri": "https://evil.example/exercises/x"})
    assert urlsplit(unknown.headers["Location"]).path == "/"


# ----------------------------------------------------------------------------------------- refused launches


def test_wrong_issuer_is_refused(app, client, lms) -> None:
    """A token whose iss is not the platform that started the login is refused."""
    refused(launch(client, lms, iss="https://other-lms.example"), "issuer (iss)")


def test_wrong_audience_is_refused(app, client, lms) -> None:
    """A token for another tool (aud), or with a foreign azp among several audiences, is refused."""
    refused(launch(client, lms, aud="another-tool"), "meant for another tool")
    refused(launch(client, lms, aud=[lms.client_id, "another-tool"], azp="another-tool"), "authorised party")


def test_expired_token_is_refused(app, client, lms) -> None:
    """A token past its exp (beyond the clock leeway) is refused."""
    now = int(time.time())
    refused(launch(client, lms, iat=now - 900, exp=now - 600), "expired")


def test_replayed_launch_is_refused(app, client, lms) -> None:
    """The same id_token and state posted twice log in once; a token from an older login is refused anywhere."""
    auth = start_login(client, lms)
    token = lms.sign(lms.claims(auth["nonce"]))
    assert client.post("/lti/launch", data={"id_token": token, "state": auth["state"]}).status_code == 303
    refused(client.post("/lti/launch", data={"id_token": token, "state": auth["state"]}), "already used")
    # With a fresh login's state, the old token's nonce is not that login's.
    fresh = start_login(client, lms)
    refused(client.post("/lti/launch", data={"id_token": token, "state": fresh["state"]}), "nonce")


def test_state_mismatch_is_refused(app, client, lms) -> None:
    """A made-up state, or a state from another browser's login, is refused."""
    refused(launch(client, lms, state="made-up-state"), "state mismatch")
    # This browser started a login (its cookie), but the POST carries someone else's login state.
    other = start_login(app.test_client(), lms)
    mine = start_login(client, lms)
    token = lms.sign(lms.claims(other["nonce"]))
    assert mine["state"] != other["state"]
    refused(client.post("/lti/launch", data={"id_token": token, "state": other["state"]}), "state mismatch")


def test_bad_signature_message_type_and_version_are_refused(app, client, lms) -> None:
    """A token signed with a key the platform does not publish, a message type or version not ours: refused."""
    kid = lms.keys[-1][0]
    auth = start_login(client, lms)
    # Signed by a key that is not the platform's, under the kid the platform publishes.
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(lms.claims(auth["nonce"]), other_key, algorithm="RS256", headers={"kid": kid})
    refused(client.post("/lti/launch", data={"id_token": forged, "state": auth["state"]}), "signature")
    refused(launch(client, lms, **{svc.CLAIM + "message_type": "LtiSubmissionReviewRequest"}), "launches only")
    refused(launch(client, lms, **{svc.CLAIM + "version": "1.1"}), "Only LTI 1.3.0")


def test_login_for_an_unregistered_platform_is_refused(app, client, lms) -> None:
    """Login initiation from an unknown issuer, or for an unknown deployment, stores nothing and says why."""
    response = client.post("/lti/login", data={"iss": "https://unknown.example", "login_hint": "x",
                                               "target_link_uri": "http://localhost/"})
    assert response.status_code == 400 and "not registered" in response.get_data(as_text=True)
    response = client.get("/lti/login", query_string={"iss": lms.issuer, "login_hint": "x", "client_id": lms.client_id,
                                                      "target_link_uri": "http://localhost/",
                                                      "lti_deployment_id": "nope"})
    assert response.status_code == 400 and "lti_deployment_id" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LtiState)) == 0


def test_unknown_kid_refetches_the_platform_key_set_after_rotation(app, client, lms) -> None:
    """The platform rotates its key: the next launch names a new kid, the site fetches the key set again."""
    app.config["LTI_JWKS_REFETCH_SECONDS"] = 0
    assert launch(client, lms, sub="stu-1").status_code == 303
    assert lms.jwks_hits == 1
    assert launch(client, lms, sub="stu-1").status_code == 303
    assert lms.jwks_hits == 1  # cached while the kid is known
    lms.rotate()
    assert launch(client, lms, sub="stu-1").status_code == 303
    assert lms.jwks_hits == 2


def test_made_up_kids_do_not_hammer_the_platform(app, client, lms) -> None:
    """Within the refetch interval an unknown kid is refused without another key-set fetch."""
    app.config["LTI_JWKS_REFETCH_SECONDS"] = 3600
    assert launch(client, lms).status_code == 303
    refused(launch(client, lms, kid="made-up-1"), "unknown kid")
    refused(launch(client, lms, kid="made-up-2"), "unknown kid")
    assert lms.jwks_hits == 1


# ------------------------------------------------------------------------------------- framing and cookies


def test_launched_pages_may_be_framed_by_the_lms_only(app, client, lms) -> None:
    """After a launch, pages list the LMS's origin in frame-ancestors; the stand-alone site keeps 'none'."""
    standalone = app.test_client().get("/")
    assert "frame-ancestors 'none'" in standalone.headers["Content-Security-Policy"]
    assert standalone.headers["X-Frame-Options"] == "DENY"
    assert launch(client, lms).status_code == 303
    page = client.get("/")
    assert f"frame-ancestors 'self' {lms.base}" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers


def test_login_sets_a_partitioned_state_cookie(app, client, lms) -> None:
    """The state cookie is SameSite=None; Secure; Partitioned, scoped to the launch path."""
    response = client.post("/lti/login", data={"iss": lms.issuer, "login_hint": "x", "client_id": lms.client_id,
                                               "target_link_uri": "http://localhost/"})
    cookie = response.headers["Set-Cookie"]
    for part in ("lti_state=", "Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/launch"):
        assert part in cookie, cookie


def test_blocked_cookies_get_a_new_window_that_logs_in_once(app, lms) -> None:
    """Without the state cookie (blocked in the frame) the launch offers a one-time link for a new window."""
    blocked = app.test_client()
    auth = start_login(blocked, lms)
    blocked.delete_cookie("lti_state", path="/lti/launch")
    token = lms.sign(lms.claims(auth["nonce"], sub="stu-2", custom={"exercise": "why-close-quiz"}))
    page = blocked.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Open the course in a new window" in html and 'target="_blank"' in html
    assert "_user_id" not in page.headers.get("Set-Cookie", "")
    path = html.split('href="/lti/continue/')[1].split('"')[0]
    window = app.test_client()
    opened = window.get(f"/lti/continue/{path}")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/exercises/why-close-quiz")
    # Top level: the ordinary strict cookie, not the framed one.
    assert "SameSite=Lax" in opened.headers["Set-Cookie"]
    assert window.get("/exercises/why-close-quiz").status_code == 200
    again = app.test_client().get(f"/lti/continue/{path}")
    assert again.status_code == 400


def test_lti_endpoints_are_the_only_ones_exempt_from_csrf(app) -> None:
    """Flask-WTF's exemptions are the two endpoints the platform posts, nothing else."""
    exempt = app.extensions["csrf"]._exempt_views
    assert exempt == {"web.core.healthz", "web.lti.login", "web.lti.launch"}  # healthz takes no POST


# ------------------------------------------------------------------------------------------- AGS outbox


def lms_learner_with_link(app, lms, sub: str = "stu-1") -> Any:
    """Launch a learner from a graded link on why-close-quiz; return their client."""
    client = app.test_client()
    response = launch(client, lms, sub=sub, custom={"exercise": "why-close-quiz"}, lineitem=lms.lineitem(1))
    assert response.status_code == 303
    lms.tool_jwks = svc.public_jwks()
    return client


def post_answer(app, client, option: str) -> Any:
    """Submit the quiz through its form."""
    page = client.get("/exercises/why-close-quiz").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(page), "idempotency_key": hidden_value(KEY_INPUT, page),
            **form_fields(app, client, "why-close-quiz", option)}
    return client.post("/exercises/why-close-quiz", data=data)


def test_graded_attempt_sends_the_best_score_to_the_line_item(app, lms) -> None:
    """A graded attempt posts an AGS score with a signed client assertion; a worse one later keeps the best."""
    client = lms_learner_with_link(app, lms)
    assert post_answer(app, client, "freshest-memory").status_code == 303
    assert len(lms.scores) == 1
    score = lms.scores[0]
    assert score["path"] == "/lineitems/1/scores" and score["query"] == {"type_id": ["7"]}
    assert score["content_type"] == "application/vnd.ims.lis.v1.score+json"
    body = score["body"]
    assert body["userId"] == "stu-1" and body["scoreGiven"] == 100 and body["scoreMaximum"] == 100
    assert body["activityProgress"] == "Completed" and body["gradingProgress"] == "FullyGraded"
    assert body["timestamp"].endswith("+00:00")
    assert lms.token_requests[0]["scope"] == svc.SCORE_SCOPE
    row = db.session.scalar(select(LtiScore))
    assert (row.status, row.sent_score) == ("sent", 1.0)
    # A wrong answer later: the best score still counts, so nothing new goes out.
    assert post_answer(app, client, "decided-early").status_code == 303
    assert len(lms.scores) == 1
    db.session.refresh(row)
    assert (row.status, row.score) == ("sent", 1.0)


def test_outbox_retries_after_a_503_with_backoff(app, lms) -> None:
    """The LMS answers 503: the score waits with a back-off, then `sync` sends it once it is due."""
    client = lms_learner_with_link(app, lms)
    lms.score_answers = [503]
    assert post_answer(app, client, "freshest-memory").status_code == 303  # the learner is not held up
    row = db.session.scalar(select(LtiScore))
    assert (row.status, row.tries) == ("pending", 1) and "503" in row.last_error
    assert row.next_try_at > svc.utcnow()
    assert svc.push_due().sent == 0  # not due yet: nothing is posted
    assert len(lms.scores) == 1
    row.next_try_at = svc.utcnow()
    db.session.commit()
    report = svc.push_due()
    assert (report.sent, report.waiting) == (1, 0)
    assert [s["status"] for s in lms.scores] == [503, 200]
    db.session.refresh(row)
    assert (row.status, row.tries, row.last_error) == ("sent", 0, "")


def test_backoff_grows_and_is_capped() -> None:
    """Waits double from one minute and stop at six hours."""
    assert [svc.backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert svc.backoff(40).total_seconds() == 6 * 3600


def test_instructor_sees_the_sync_state_per_learner(app, lms) -> None:
    """The cohort's LMS page lists each learner's score and whether the LMS has it."""
    client = lms_learner_with_link(app, lms)
    lms.score_answers = [503]
    post_answer(app, client, "freshest-memory")
    prof = app.test_client()
    assert launch(prof, lms, sub="prof-1", roles=(INSTRUCTOR_ROLE,), custom={"exercise": "why-close-quiz"},
                  lineitem=lms.lineitem(1)).status_code == 303
    cohort = db.session.scalar(select(Cohort))
    html = prof.get(f"/lti/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Ada Lovelace" in html and "Waiting to send" in html and "HTTP 503" in html and "100.0%" in html
    link = db.session.scalar(select(LtiResourceLink))
    assert link.exercise_id == "why-close-quiz" and link.lineitem_url == lms.lineitem(1)


def test_sync_page_of_a_cohort_without_lms_says_so(app, client, make_user) -> None:
    """A stand-alone cohort's sync page explains that it is not linked."""
    owner = make_user("instructor")
    cohort = Cohort(name="Plain", owner_id=owner.id)
    db.session.add(cohort)
    db.session.commit()
    login_as(client, owner)
    assert "not linked to an LMS course" in client.get(f"/lti/cohorts/{cohort.id}").get_data(as_text=True)


def test_regrade_queues_changed_best_scores(app, lms, web_course) -> None:
    """A regrade that changes a learner's best score puts the new score in the outbox."""
    from web.services.regrade import regrade_exercise

    client = lms_learner_with_link(app, lms)
    post_answer(app, client, "freshest-memory")
    row = db.session.scalar(select(LtiScore))
    assert row.status == "sent"
    attempt = user_for(lms, "stu-1").attempts[0]
    attempt.score, attempt.passed, attempt.status = 0.0, False, "incorrect"  # as if graded by older rules
    db.session.commit()
    report = regrade_exercise(app.extensions["course"], "why-close-quiz")
    assert report.changed == 1
    row = db.session.scalar(select(LtiScore))
    assert (row.score, row.status) == (1.0, "sent")  # back to the score the LMS already has: nothing to send
    row.sent_score, row.score = 0.5, 0.5  # the LMS holds an older score
    db.session.get(type(attempt), attempt.id).score = 0.5
    db.session.commit()
    assert regrade_exercise(app.extensions["course"], "why-close-quiz").changed == 1
    row = db.session.scalar(select(LtiScore))
    assert (row.score, row.status) == (1.0, "pending")


def test_a_refused_launch_can_be_read_inside_the_lms_frame(app, client, lms) -> None:
    """The error page of a refused launch may be framed by registered platforms (else the LMS shows a blank)."""
    response = launch(client, lms, aud="another-tool")
    assert f"frame-ancestors 'self' {lms.base}" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    # Other pages of a session that never launched stay unframeable.
    assert "frame-ancestors 'none'" in client.get("/").headers["Content-Security-Policy"]


def test_login_without_site_url_in_production_says_what_to_set(app, client, lms) -> None:
    """Without SITE_URL the launch address cannot be built: the login names the setting."""
    app.testing = False
    app.config["APP_ENV"] = "production"
    try:
        response = client.post("/lti/login", data={"iss": lms.issuer, "login_hint": "x", "client_id": lms.client_id,
                                                   "target_link_uri": "http://localhost/"})
    finally:
        app.testing = True
        app.config["APP_ENV"] = "testing"
    assert response.status_code == 400 and "SITE_URL" in response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------- deep linking


def deep_link_launch(client, lms: FixturePlatform, *, roles=(INSTRUCTOR_ROLE,), multiple: bool = True,
                     blocked: bool = False) -> Any:
    """Launch a deep-linking request from the LMS; return the site's answer."""
    settings = {"deep_link_return_url": f"{lms.base}/deep-link-return?course=101", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": multiple,
                "data": "opaque-platform-data"}
    return launch(client, lms, sub="prof-1", roles=roles, blocked=blocked,
                  **{svc.CLAIM + "message_type": "LtiDeepLinkingRequest", svc.CLAIM + "resource_link": None,
                     svc.DL_CLAIM + "deep_linking_settings": settings})


def test_deep_linking_response_is_a_jwt_the_platform_can_verify(app, client, lms) -> None:
    """An instructor picks an exercise and a lesson; the signed response verifies with the tool's published key."""
    response = deep_link_launch(client, lms)
    assert response.status_code == 303 and response.headers["Location"].endswith("/lti/deep-link")
    picker = client.get("/lti/deep-link")
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200 and 'value="exercise:why-close-quiz"' in html and 'value="lesson:l-one"' in html
    sent = client.post("/lti/deep-link", data={"csrf_token": csrf_token_from(html),
                                              "item": ["exercise:why-close-quiz", "lesson:l-one"]})
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200, body
    assert f'action="{lms.base}/deep-link-return?course=101"' in body
    assert f"form-action 'self' {lms.base}" in sent.headers["Content-Security-Policy"]
    token = body.split('name="JWT" value="')[1].split('"')[0]
    # The platform's side: fetch the tool's key set, check signature, audience (itself) and issuer (the client id).
    keys = jwt.PyJWKSet.from_dict(client.get("/lti/jwks.json").get_json())
    claims = jwt.decode(token, keys[jwt.get_unverified_header(token)["kid"]].key, algorithms=["RS256"],
                        audience=lms.issuer, issuer=lms.client_id, options={"require": ["exp", "iat", "nonce"]})
    assert claims[svc.CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[svc.CLAIM + "version"] == "1.3.0" and claims[svc.CLAIM + "deployment_id"] == "deploy-1"
    assert claims[svc.DL_CLAIM + "data"] == "opaque-platform-data"
    exercise, lesson = claims[svc.DL_CLAIM + "content_items"]
    assert exercise["type"] == "ltiResourceLink" and exercise["url"] == "http://localhost/exercises/why-close-quiz"
    assert exercise["custom"] == {"exercise": "why-close-quiz"}
    assert exercise["lineItem"] == {"scoreMaximum": 100, "label": exercise["title"], "resourceId": "why-close-quiz"}
    assert lesson["custom"] == {"lesson": "l-one"} and "lineItem" not in lesson
    # The request is answered once.
    assert client.get("/lti/deep-link").status_code == 400


def test_deep_linking_with_blocked_cookies_finishes_in_a_new_window(app, lms) -> None:
    """A frame that refuses cookies gets the new-window pass; the window opens the picker and posts to the LMS."""
    frame = app.test_client()
    page = deep_link_launch(frame, lms, blocked=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Open the course in a new window" in html and "Pick the lessons" in html
    assert "_user_id" not in page.headers.get("Set-Cookie", "")
    window = app.test_client()
    opened = window.get("/lti/continue/" + html.split('href="/lti/continue/')[1].split('"')[0])
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/lti/deep-link")
    picker = window.get("/lti/deep-link").get_data(as_text=True)
    sent = window.post("/lti/deep-link", data={"csrf_token": csrf_token_from(picker), "item": ["lesson:l-one"]})
    body = sent.get_data(as_text=True)
    assert sent.status_code == 200 and f'action="{lms.base}/deep-link-return?course=101"' in body
    assert "close this window" in body
    token = body.split('name="JWT" value="')[1].split('"')[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert [item["custom"] for item in claims[svc.DL_CLAIM + "content_items"]] == [{"lesson": "l-one"}]
    assert claims[svc.DL_CLAIM + "data"] == "opaque-platform-data"
    # The framed path (cookie kept) never shows the new-window hint.
    framed = app.test_client()
    deep_link_launch(framed, lms)
    framed_picker = framed.get("/lti/deep-link").get_data(as_text=True)
    framed_sent = framed.post("/lti/deep-link", data={"csrf_token": csrf_token_from(framed_picker),
                                                      "item": ["lesson:l-one"]})
    assert framed_sent.status_code == 200 and "close this window" not in framed_sent.get_data(as_text=True)


def test_deep_linking_refuses_learners_and_bad_picks(app, client, lms) -> None:
    """A learner cannot add links; an empty pick, a made-up item or two for a one-item LMS are named errors."""
    refused(deep_link_launch(app.test_client(), lms, roles=(LEARNER_ROLE,)), "instructors can add")
    assert deep_link_launch(client, lms, multiple=False).status_code == 303
    html = client.get("/lti/deep-link").get_data(as_text=True)
    assert 'type="radio"' in html
    token = csrf_token_from(html)
    for items, words in (([], "Pick at least one"), (["exercise:nope"], "is not a lesson or exercise"),
                         (["lesson:l-one", "lesson:l-two"], "one item at a time")):
        answer = client.post("/lti/deep-link", data={"csrf_token": token, "item": items})
        assert answer.status_code == 422 and words in answer.get_data(as_text=True)
    assert client.post("/lti/deep-link", data={"item": ["lesson:l-one"]}).status_code == 400  # no CSRF token


# ---------------------------------------------------------------------------------------------- roster (NRPS)


def member(sub: str, role: str = LEARNER_ROLE, status: str = "Active") -> dict[str, Any]:
    """Return one NRPS roster member."""
    return {"user_id": sub, "status": status, "roles": [role], "name": f"Person {sub}",
            "email": f"{sub}@uni.example.edu"}


def test_roster_sync_follows_link_pagination(app, lms) -> None:
    """The cohort page's button reads every roster page (Link rel=next) and adds the learners who never launched."""
    prof = app.test_client()
    assert launch(prof, lms, sub="prof-1", roles=(INSTRUCTOR_ROLE,)).status_code == 303
    assert launch(app.test_client(), lms, sub="stu-1").status_code == 303  # already in the cohort
    lms.tool_jwks = svc.public_jwks()
    lms.members = [member("prof-1", INSTRUCTOR_ROLE), member("stu-1"), member("stu-2"), member("stu-3"),
                   member("gone-1", status="Inactive")]
    cohort = db.session.scalar(select(Cohort))
    page = prof.get(f"/lti/cohorts/{cohort.id}").get_data(as_text=True)
    synced = prof.post(f"/lti/cohorts/{cohort.id}/roster", data={"csrf_token": csrf_token_from(page)},
                       follow_redirects=True)
    html = synced.get_data(as_text=True)
    assert "2 learners added, 1 already in the cohort, 2 staff or inactive skipped" in html
    assert [r["page"] for r in lms.roster_requests] == [None, "2", "3"]
    assert lms.roster_requests[0]["accept"] == svc.NRPS_MEDIA_TYPE
    assert lms.token_requests[-1]["scope"] == svc.NRPS_SCOPE
    members = {db.session.get(User, m.user_id).display_name for m in
               db.session.scalars(select(CohortMembership).where(CohortMembership.cohort_id == cohort.id))}
    assert members == {"Person stu-1", "Person stu-2", "Person stu-3"}  # names as the LMS has them now
    # stu-2's later first launch finds the account the roster made.
    assert launch(app.test_client(), lms, sub="stu-2").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(LtiUser).where(LtiUser.sub == "stu-2")) == 1


def test_next_link_parsing_and_a_foreign_next_page_is_not_followed() -> None:
    """rel=next is found among other links; the bearer token never goes to another host (checked in sync_roster)."""
    header = '<https://lms.example/m?p=1>; rel="differences", <https://lms.example/m?p=2>; rel="next"'
    assert svc.next_link(header) == "https://lms.example/m?p=2"
    assert svc.next_link('<https://lms.example/m?p=1>; rel="prev"') is None
    assert svc.next_link(None) is None


def test_roster_sync_without_nrps_says_how_to_turn_it_on(app, lms) -> None:
    """A course whose LMS offered no roster service gets a message naming what to turn on."""
    prof = app.test_client()
    assert launch(prof, lms, sub="prof-1", roles=(INSTRUCTOR_ROLE,),
                  **{svc.NRPS_CLAIM: None}).status_code == 303
    cohort = db.session.scalar(select(Cohort))
    page = prof.get(f"/lti/cohorts/{cohort.id}").get_data(as_text=True)
    assert "Sync the roster" not in page
    answer = prof.post(f"/lti/cohorts/{cohort.id}/roster", data={"csrf_token": csrf_token_from(page)},
                       follow_redirects=True)
    assert "Names and Role Provisioning Services" in answer.get_data(as_text=True)


# --------------------------------------------------------------------------- registration from the LMS side


def test_dynamic_registration_registers_the_platform(app, client, lms_server) -> None:
    """The LMS opens the registration URL with its configuration: the tool registers itself and stores the LMS."""
    lms_server.reset()
    response = client.get("/lti/register", query_string={
        "key": svc.registration_key(), "registration_token": "reg-token-1",
        "openid_configuration": f"{lms_server.base}/.well-known/openid-configuration"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "The tool is registered" in html, html
    assert f"frame-ancestors 'self' {lms_server.base}" in response.headers["Content-Security-Policy"]
    (sent,) = lms_server.registrations
    assert sent["auth"] == "Bearer reg-token-1"
    body = sent["body"]
    assert body["initiate_login_uri"] == "http://localhost/lti/login"
    assert body["redirect_uris"] == ["http://localhost/lti/launch"]
    assert body["jwks_uri"] == "http://localhost/lti/jwks.json"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert svc.SCORE_SCOPE in body["scope"].split() and svc.NRPS_SCOPE in body["scope"].split()
    (platform,) = svc.platforms()
    assert (platform.issuer, platform.client_id) == (lms_server.issuer, "dyn-client-1")
    assert [d.deployment_id for d in platform.deployments] == ["dyn-deploy-1"]
    assert platform.jwks_url == f"{lms_server.base}/jwks"


def test_dynamic_registration_needs_a_valid_key_and_a_configuration_under_its_issuer(app, client, lms_server) -> None:
    """Without the site's key, or with a configuration claiming another issuer, nothing is registered."""
    lms_server.reset()
    config = f"{lms_server.base}/.well-known/openid-configuration"
    bad_key = client.get("/lti/register", query_string={"key": "forged", "openid_configuration": config})
    assert bad_key.status_code == 400 and "registration link is not valid" in bad_key.get_data(as_text=True)
    lms_server.openid_issuer = "https://canvas.instructure.com"
    foreign = client.get("/lti/register", query_string={"key": svc.registration_key(), "openid_configuration": config})
    assert foreign.status_code == 400 and "not served under its issuer" in foreign.get_data(as_text=True)
    assert svc.platforms() == [] and lms_server.registrations == []


def test_canvas_json_configuration(app, client) -> None:
    """The Canvas configuration names the tool's login, launch and key-set URLs and its deep-linking placements."""
    config = client.get("/lti/canvas.json").get_json()
    assert config["oidc_initiation_url"] == "http://localhost/lti/login"
    assert config["public_jwk_url"] == "http://localhost/lti/jwks.json"
    assert set(config["scopes"]) == {svc.SCORE_SCOPE, svc.NRPS_SCOPE}
    placements = config["extensions"][0]["settings"]["placements"]
    assert {p["placement"] for p in placements} == {"link_selection", "assignment_selection"}
    assert all(p["message_type"] == "LtiDeepLinkingRequest" and p["target_link_uri"].endswith("/lti/launch")
               for p in placements)


# ------------------------------------------------------------------------------------------- admin page


def test_admin_registers_a_platform_on_the_admin_page(app, client, make_user) -> None:
    """An admin adds a platform through the form; a bad URL is named and the typed values stay."""
    login_as(client, make_user("admin"))
    page = client.get("/lti/admin").get_data(as_text=True)
    assert "No LMS is registered yet" in page and "http://localhost/lti/jwks.json" in page
    fields = {"csrf_token": csrf_token_from(page), "name": "Uni Moodle", "issuer": "https://moodle.uni.example",
              "client_id": "AbC123", "auth_login_url": "https://moodle.uni.example/mod/lti/auth.php",
              "token_url": "https://moodle.uni.example/mod/lti/token.php", "jwks_url": "ftp://moodle.uni.example/k",
              "deployment_ids": "3\n4\n", "frame_origins": ""}
    bad = client.post("/lti/admin", data=fields)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "the jwks-url must be an https address" in html and "AbC123" in html
    assert svc.platforms() == []
    fields["jwks_url"] = "https://moodle.uni.example/mod/lti/certs.php"
    good = client.post("/lti/admin", data=fields, follow_redirects=True)
    assert "“Uni Moodle” is registered with 2 deployment id(s)." in good.get_data(as_text=True)
    (platform,) = svc.platforms()
    assert [d.deployment_id for d in platform.deployments] == ["3", "4"]
    assert platform.frame_origins == ["https://moodle.uni.example"]


def test_admin_switches_a_platform_off_and_on_again(app, lms, make_user) -> None:
    """Off: its logins and launches are refused with a reason and its scores wait untried; on: they go out."""
    learner = lms_learner_with_link(app, lms)
    (platform,) = svc.platforms()
    admin = app.test_client()
    login_as(admin, make_user("admin"))
    page = admin.get("/lti/admin").get_data(as_text=True)
    assert f"Switch “{platform.name}” off" in page
    begun = start_login(app.test_client(), lms)  # a login under way when the platform is switched off
    off = admin.post("/lti/admin/switch", data={"csrf_token": csrf_token_from(page), "platform_id": platform.id,
                                                "enabled": "0"}, follow_redirects=True)
    html = off.get_data(as_text=True)
    assert "is off: its launches are refused" in html and f"Switch “{platform.name}” on" in html
    refused(app.test_client().post("/lti/login", data={"iss": lms.issuer, "login_hint": "x", "client_id":
                                                       lms.client_id, "target_link_uri": "http://localhost/"}),
            "has switched")
    refused(app.test_client().post("/lti/launch", data={"id_token": lms.sign(lms.claims(begun["nonce"],
                                                                                         sub="stu-9")),
                                                         "state": begun["state"]}), "has switched")
    lms.score_answers = []
    assert post_answer(app, learner, "freshest-memory").status_code == 303  # the site itself keeps working
    assert lms.scores == [] and svc.push_due().sent == 0
    row = db.session.scalar(select(LtiScore))
    assert (row.status, row.tries) == ("pending", 0)
    on = admin.post("/lti/admin/switch", data={"csrf_token": csrf_token_from(html), "platform_id": platform.id,
                                               "enabled": "1"}, follow_redirects=True)
    assert "is on: it can launch the course again" in on.get_data(as_text=True)
    assert svc.push_due().sent == 1 and [s["body"]["scoreGiven"] for s in lms.scores] == [100]
    assert launch(app.test_client(), lms, sub="stu-9").status_code == 303
    # An unknown id, or no choice at all, is named, and changes nothing.
    token = csrf_token_from(on.get_data(as_text=True))
    missing = admin.post("/lti/admin/switch", data={"csrf_token": token, "platform_id": 999999, "enabled": "0"})
    assert missing.status_code == 404 and "no LMS platform with id 999999" in missing.get_data(as_text=True)
    assert admin.post("/lti/admin/switch", data={"csrf_token": token}).status_code == 400
    db.session.refresh(platform)
    assert platform.enabled


def test_an_override_sends_the_new_best_score_to_the_lms(app, lms, make_user) -> None:
    """A reviewer's override of the learner's only attempt changes their best score, so the LMS gets it too."""
    from web.services import reviews

    client = lms_learner_with_link(app, lms)
    assert post_answer(app, client, "freshest-memory").status_code == 303
    assert [s["body"]["scoreGiven"] for s in lms.scores] == [100]
    attempt = user_for(lms, "stu-1").attempts[0]
    reviews.decide(make_user("admin"), attempt, reviews.Decision("override", False, 0.4, "Half right, really."))
    assert [s["body"]["scoreGiven"] for s in lms.scores] == [100, 40]
    row = db.session.scalar(select(LtiScore))
    assert (row.status, row.sent_score) == ("sent", 0.4)
