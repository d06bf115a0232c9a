"""LTI 1.3 inside a cross-site iframe, as Canvas and Moodle show a tool: the fake LMS's course page on https://lms.test
frames the live site on https://tool.test (both mapped to 127.0.0.1 by Chromium's --host-resolver-rules, served with
a certificate made here), a learner launches and does an exercise in the frame, and the LMS receives the score.

Run twice. With third-party cookies blocked (Chromium's default in 156, pinned by a flag) the launch still logs in
inside the frame, because the site's launch cookies are Partitioned: Chromium keeps those even then. With the site's
cookies refused inside the LMS altogether (Safari's way; here a per-site cookie block under lms.test, which also
refuses partitioned cookies), the frame offers "Open the course in a new window", and that window is logged in; an
instructor adding content (deep linking) from such a frame picks the items in that window and sends them to the LMS.

Only the browser sees the two host names: the site and the LMS talk to each other (key sets, tokens, scores) on
their plain loopback ports, since Python's resolver does not know lms.test or tool.test.
"""

from __future__ import annotations

import datetime
import json
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import BrowserContext, Frame, Page, Playwright, expect
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from course.model import Course
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.helpers import LiveServer, fill_exercise, sample_answer, shoot, start_live_server, submit_exercise
from tests.lti_platform import FixturePlatform
from web.services import lti as svc

pytestmark = pytest.mark.browser

LMS_HOST = "lms.test"
TOOL_HOST = "tool.test"
# The name of the LMS page's iframe, as Canvas names its own ("tool_content").
FRAME_NAME = "tool_content"


def self_signed_context(workdir: Path) -> ssl.SSLContext:
    """Make a certificate for both host names, valid for a day, and return a server TLS context holding it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LTI frame journey")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(LMS_HOST), x509.DNSName(TOOL_HOST)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = workdir / "cert.pem", workdir / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def serve_tls(app: Any, context: ssl.SSLContext) -> Any:
    """Serve a WSGI app over HTTPS on a free loopback port, in a thread; return the server."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    threading.Thread(target=server.serve_forever, name="tls-server", daemon=True).start()
    return server


class FramedSetup:
    """The tool and the fake LMS as the browser sees them (https host names) and as they reach each other."""

    def __init__(self, workdir: Path) -> None:
        """Start a live site of its own (its SITE_URL is the https name) and an LMS whose course page frames it."""
        context = self_signed_context(workdir)
        # Its own site: the session's live server stays on plain http for the other journeys.
        self.site: LiveServer = start_live_server(workdir)
        self.tool_tls = serve_tls(self.site.app, context)
        self.tool = f"https://{TOOL_HOST}:{self.tool_tls.server_port}"
        # Launch and emailed links are built on SITE_URL; the site is now served as production is, over https.
        self.site.app.config.update(SITE_URL=self.tool, SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
        self.lms = FixturePlatform()
        self.lms.tool_url = self.tool
        self.lms.tool_backchannel = self.site.url
        self.lms_tls = serve_tls(self._lms_front, context)
        self.lms_front = f"https://{LMS_HOST}:{self.lms_tls.server_port}"
        with self.site.app.app_context():
            # As Canvas: the issuer is not where the LMS shows its pages, so the framing origin is named.
            svc.add_platform(issuer=self.lms.issuer, client_id=self.lms.client_id, name="Framing LMS",
                             auth_login_url=f"{self.lms_front}/auth", auth_token_url=f"{self.lms.base}/token",
                             jwks_url=f"{self.lms.base}/jwks", deployment_ids=list(self.lms.deployments),
                             frame_origins=[self.lms_front])

    def _lms_front(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The LMS's pages on its https name: a course page framing the tool; the rest is the fixture LMS's."""
        request = Request(environ)
        if request.path == "/course":
            hint = request.args["hint"]
            page = ('<!doctype html><html lang="en"><head><title>LMS course</title></head><body><main>'
                    '<h1>Careers 101</h1>'
                    f'<iframe name="{FRAME_NAME}" title="Course tool" src="/start?hint={hint}" width="1000" '
                    'height="700" allow="clipboard-write"></iframe></main></body></html>')
            return Response(page, content_type="text/html")(environ, start_response)
        # /start (the tool's button), /auth (the OIDC answer) run in the frame, on this host.
        return self.lms._wsgi(environ, start_response)

    def close(self) -> None:
        """Stop every server."""
        for server in (self.lms_tls, self.tool_tls, self.site.server):
            server.shutdown()
        self.lms.close()


@pytest.fixture(scope="module")
def framed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FramedSetup]:
    """The site on https://tool.test and the LMS on https://lms.test, for this module."""
    setup = FramedSetup(tmp_path_factory.mktemp("framed"))
    yield setup
    setup.close()


@pytest.fixture
def framing_browser(request: pytest.FixtureRequest, playwright_instance: Playwright,
                    tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium, mapping both names to loopback, blocking third-party ("refused": all) cookies."""
    if not Path(CHROMIUM).exists():
        # Fail, never skip: a missing browser must not turn the browser tests green.
        pytest.fail(f"{CHROMIUM} is missing; ./scripts/test installs it (apt-get install chromium)", pytrace=False)
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    prefs: dict[str, Any] = {}
    if request.param == "refused":
        # No Chromium flag refuses partitioned cookies; a site exception does ("tool.test under lms.test: block"),
        # and it leaves tool.test's own window alone, as Safari does.
        prefs = {"profile": {"content_settings": {"exceptions": {"cookies": {
            f"[*.]{TOOL_HOST},[*.]{LMS_HOST}": {"setting": 2}}}}}}
    (profile / "Default" / "Preferences").write_text(json.dumps(prefs))
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LMS_HOST} 127.0.0.1, MAP {TOOL_HOST} 127.0.0.1",
            # Pins third-party cookies blocked, whatever Chromium's default becomes.
            "--test-third-party-cookie-phaseout"]
    # A persistent profile, because the cookie exception is a profile preference.
    context = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=args, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


def launch_in_frame(context: BrowserContext, framed: FramedSetup, hint: str) -> Frame:
    """Open the LMS course page and press the tool's buttons inside its iframe; return that frame."""
    page = context.new_page()
    page.goto(f"{framed.lms_front}/course?hint={hint}")
    frame = page.frame(name=FRAME_NAME)
    assert frame is not None
    frame.get_by_role("button", name="Open the tool").click()
    frame.get_by_role("button", name="Continue to the tool").click()
    frame.wait_for_url(re.compile(f"^{re.escape(framed.tool)}/"))
    frame.wait_for_load_state()
    return frame


def do_the_exercise(where: Frame | Page, course: Course, exercise_id: str) -> None:
    """Answer the exercise on the page or frame showing it and wait for its feedback."""
    exercise = course.exercises[exercise_id]
    fill_exercise(where, exercise, sample_answer(exercise))
    submit_exercise(where)


def tool_cookies(context: BrowserContext) -> list[dict[str, Any]]:
    """Return the browser's cookies for the tool's host."""
    return [c for c in context.cookies() if c["domain"] == TOOL_HOST]


@pytest.mark.parametrize("framing_browser", ["partitioned", "refused"], indirect=True)
def test_framed_launch_on_another_host_reaches_the_exercise_and_the_lms_gets_the_score(
        framing_browser: BrowserContext, framed: FramedSetup, course: Course, request: pytest.FixtureRequest) -> None:
    """Launched in the LMS's iframe, a learner does an exercise (there, or in the new window) and the LMS gets it."""
    refused = request.node.callspec.params["framing_browser"] == "refused"
    exercise_id = next(e for e in course.exercise_order() if course.exercises[e].type == "single_choice")
    hint = "stu-frame-refused" if refused else "stu-frame"
    line = 12 if refused else 11
    # A course of its own per run: the site sends a learner's score to every link of the exercise in the course.
    framed.lms.launches[hint] = {"sub": hint, "context_id": f"course-{hint}", "link_id": f"link-{hint}",
                                 "custom": {"exercise": exercise_id}, "lineitem": framed.lms.lineitem(line)}
    frame = launch_in_frame(framing_browser, framed, hint)
    where: Frame | Page = frame
    if refused:
        expect(frame.get_by_role("heading", level=1)).to_have_text("Open the course in a new window")
        shoot(frame.page, "lti-frame-new-window")
        # The refusal is real: the browser kept no cookie of the site under the LMS.
        assert not [c for c in tool_cookies(framing_browser) if c.get("partitionKey")]
        with framing_browser.expect_page() as opened:
            frame.get_by_role("link", name="Open the course in a new window").click()
        where = opened.value
        where.wait_for_url(re.compile(f"^{re.escape(framed.tool)}/exercises/{exercise_id}$"))
        expect(where.get_by_role("navigation", name="Main")).to_contain_text("Log out")  # the hand-off logged in
    else:
        expect(frame.get_by_role("navigation", name="Main")).to_contain_text("Log out")  # logged in, no form
        assert re.fullmatch(f"{re.escape(framed.tool)}/exercises/{exercise_id}", frame.url)
        shoot(frame.page, "lti-frame-launched")
        # The session lives in a cookie partitioned under the LMS's site: what keeps it in the frame.
        session = [c for c in tool_cookies(framing_browser) if c["name"] == "session"]
        assert session and session[0]["partitionKey"] == f"https://{LMS_HOST}"
        assert session[0]["secure"] and session[0]["sameSite"] == "None"
    do_the_exercise(where, course, exercise_id)
    expect(where.get_by_role("navigation", name="Main")).to_contain_text("Log out")
    score = next(s for s in framed.lms.scores if s["body"]["userId"] == hint)
    assert score["path"] == f"/lineitems/{line}/scores" and score["body"]["scoreGiven"] == 100


@pytest.mark.parametrize("framing_browser", ["refused"], indirect=True)
def test_deep_linking_in_a_frame_that_refuses_cookies_finishes_in_a_new_window(
        framing_browser: BrowserContext, framed: FramedSetup) -> None:
    """An instructor adding content from a cookie-refusing LMS frame picks in the new window and the LMS gets it."""
    hint = "prof-frame-refused"
    framed.lms.launches[hint] = {
        "sub": hint, "roles": ("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",),
        "context_id": "course-frame-dl", "name": "Grace Hopper",
        svc.CLAIM + "message_type": "LtiDeepLinkingRequest", svc.CLAIM + "resource_link": None,
        svc.DL_CLAIM + "deep_linking_settings": {
            "deep_link_return_url": f"{framed.lms_front}/deep-link-return", "accept_types": ["ltiResourceLink"],
            "accept_multiple": True, "data": "frame-dl"}}
    frame = launch_in_frame(framing_browser, framed, hint)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Open the course in a new window")
    expect(frame.get_by_text("Pick the lessons and exercises in the new window")).to_be_visible()
    with framing_browser.expect_page() as opened:
        frame.get_by_role("link", name="Open the course in a new window").click()
    window = opened.value
    window.wait_for_url(re.compile(f"^{re.escape(framed.tool)}/lti/deep-link$"))
    expect(window.get_by_role("heading", level=1)).to_have_text("Add course items to the LMS")
    window.locator("input[name=item][value^='lesson:']").first.check()
    window.get_by_role("button", name="Add to the LMS course").click()
    expect(window.get_by_role("heading", level=1)).to_have_text("Send the items to the LMS")
    expect(window.get_by_text("close this window")).to_be_visible()
    expect(window.get_by_text("This item will be added to your LMS course")).to_be_visible()
    shoot(window, "lti-frame-deep-link-window")
    answers = len(framed.lms.deep_link_answers)
    window.get_by_role("button", name="Send to the LMS").click()
    expect(window.get_by_role("heading", level=1)).to_have_text("Links received")
    assert len(framed.lms.deep_link_answers) == answers + 1
    claims = jwt.decode(framed.lms.deep_link_answers[-1], options={"verify_signature": False})
    assert claims[svc.DL_CLAIM + "data"] == "frame-dl"
    assert [list(item["custom"]) for item in claims[svc.DL_CLAIM + "content_items"]] == [["lesson"]]
