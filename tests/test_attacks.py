"""Attack tests: each one would fail if the hole it names were open.

Most run against the app with the Flask test client on the rolled-back test database (SQLite, and
PostgreSQL when TEST_DATABASE_URL is set). The double-submit race and the cross-worker login limit need real
worker processes, so they start gunicorn with two workers (tests/servers.py).

The role-by-route matrix (which role may use which route, every route covered) is tests/test_access_matrix.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import threading
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from sqlalchemy import func, select

import graders
from course.loader import load_course
from tests.conftest import (
    CSRF_INPUT,
    WEB_COURSE,
    cohort_with_members,
    csrf_token_from,
    form_fields,
    form_tokens,
    login_as,
    register_account,
)
from tests.servers import KEY_INPUT, create_user, database_kinds, gunicorn, scratch_database, site_env
from tests.test_access_matrix import concrete, site_rules
from web import create_app
from web.extensions import db
from web.models import Attempt, Cohort, CohortMembership, User
from web.services import accounts

pytestmark = pytest.mark.db
REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
SCRIPT = '<script>alert("xss-script")</script>'
HANDLER = '"><img src=x onerror=alert("xss-img")>'
SVG = "'><svg onload=alert('xss-svg')>"
JS_LINK = '<a href="javascript:alert(1)">xss-link</a>'
PAYLOADS = (SCRIPT, HANDLER, SVG, JS_LINK)
EVIL_NAME = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
TEXT_EXERCISE = "thank-you-email"
CLOZE_EXERCISE = "contact-details-cloze"
FORMULAS = ("=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")


class MarkupAudit(HTMLParser):
    """Collect every element that could run script: inline scripts, on* handlers, script URLs, frames."""

    DANGEROUS_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet"}
    URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc"}

    def __init__(self) -> None:
        """Start with no findings."""
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a dangerous element or attribute."""
        if tag in self.DANGEROUS_TAGS:
            self.findings.append(f"<{tag}> element")
        if tag == "script" and not (dict(attrs).get("src") or "").startswith("/static/"):
            self.findings.append(f"<script> not from /static/: {attrs}")
        if tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh":
            self.findings.append("<meta http-equiv=refresh>")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}=...> event handler")
            cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(value or "")).lower()
            if name in self.URL_ATTRS and cleaned.startswith(("javascript:", "vbscript:", "data:text")):
                self.findings.append(f"<{tag} {name}={value!r}> script URL")

    handle_startendtag = handle_starttag


def assert_inert(page: str, where: str) -> None:
    """Fail if the HTML holds anything that could run script."""
    audit = MarkupAudit()
    audit.feed(page)
    assert not audit.findings, f"{where}: injected markup is live: {audit.findings}"


def assert_shown_escaped(page: str, payload: str, where: str) -> None:
    """The payload is on the page as text (so the test really looked at it), never verbatim as markup."""
    # Tags are stripped first: feedback highlights may split an answer with <mark> elements.
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert payload in shown, f"{where}: the payload {payload!r} is not shown at all"
    assert payload not in page, f"{where}: the payload {payload!r} is in the HTML unescaped"


def check_pages(client, pages: dict[str, Any]) -> None:
    """GET each page: it must answer 200, hold no live injected markup, and show its payloads as text."""
    for path, payloads in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert_inert(page, path)
        for payload in payloads:
            assert_shown_escaped(page, payload, path)


def form_of(client, path: str) -> tuple[str, str]:
    """GET a page; return (CSRF token, idempotency key or '')."""
    page = client.get(path).get_data(as_text=True)
    key = KEY_INPUT.search(page)
    return csrf_token_from(page), key.group(1) if key else ""


def post_answer(client, exercise_id: str, fields: dict[str, Any]):
    """Post an exercise form with a fresh token and key; return the response."""
    token, key = form_of(client, f"/exercises/{exercise_id}")
    return client.post(f"/exercises/{exercise_id}", data={"csrf_token": token, "idempotency_key": key, **fields})


def attempt_id_from(response) -> int:
    """Return the attempt id a successful submission redirected to."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def client_as(app, user: User):
    """Return a new test client logged in as `user`."""
    client = app.test_client()
    login_as(client, user)
    return client


@pytest.fixture
def victim_world(app, make_user):
    """A learner with a hostile display name and hostile answers, in an instructor's cohort, plus an admin."""
    learner = make_user("learner", display_name=EVIL_NAME)
    instructor = make_user("instructor")
    admin = make_user("admin")
    cohort = cohort_with_members(instructor, learner, name="XSS cohort", join_code="XSSC-2345")
    client = client_as(app, learner)
    text_attempt = attempt_id_from(post_answer(client, TEXT_EXERCISE, {
        "answer": "Dear Tom, thank you for your time. " + " ".join(PAYLOADS) + " Kind regards, Maya"}))
    cloze_attempt = attempt_id_from(post_answer(client, CLOZE_EXERCISE, form_fields(app, client, CLOZE_EXERCISE, {
        "thank": SCRIPT, "card": HANDLER, "hours": SVG, "timeline": JS_LINK})))
    return {"learner": learner, "instructor": instructor, "admin": admin, "cohort": cohort,
            "attempts": (text_attempt, cloze_attempt), "client": client}


# 1. Stored XSS ------------------------------------------------------------------------------------------------


def test_stored_xss_is_inert_for_the_learner(victim_world):
    """The learner's own feedback, retry form, progress and account pages show hostile input as text."""
    client = victim_world["client"]
    text_attempt, cloze_attempt = victim_world["attempts"]
    shown = {
        f"/attempts/{text_attempt}": PAYLOADS,
        f"/attempts/{cloze_attempt}": PAYLOADS,
        f"/exercises/{TEXT_EXERCISE}?retry={text_attempt}": PAYLOADS,
        f"/exercises/{CLOZE_EXERCISE}?retry={cloze_attempt}": (),
        "/progress": (),
        "/account": (),
        "/": (),
    }
    check_pages(client, shown)


def test_stored_xss_is_inert_for_the_instructor_and_admin(app, victim_world):
    """Roster, drill-down, item analysis (with answer samples) and the admin list escape names and answers."""
    cohort_id, learner_id = victim_world["cohort"].id, victim_world["learner"].id
    instructor = client_as(app, victim_world["instructor"])
    pages = {
        f"/instructor/cohorts/{cohort_id}": [EVIL_NAME],
        f"/instructor/cohorts/{cohort_id}/learners/{learner_id}": [EVIL_NAME],
        f"/instructor/cohorts/{cohort_id}/items": [],
        f"/instructor/cohorts/{cohort_id}/items/{TEXT_EXERCISE}": list(PAYLOADS),
        f"/instructor/cohorts/{cohort_id}/items/{CLOZE_EXERCISE}": [],
        "/instructor/": [],
    }
    check_pages(instructor, pages)
    check_pages(client_as(app, victim_world["admin"]), {"/admin/": [EVIL_NAME]})


def test_exports_are_downloads_never_pages(app, victim_world):
    """CSV and JSON exports are attachments with their own type and nosniff, so a browser never renders them."""
    cohort_id = victim_world["cohort"].id
    instructor = client_as(app, victim_world["instructor"])
    for path, mimetype in ((f"/instructor/cohorts/{cohort_id}/gradebook.csv", "text/csv"),
                           (f"/instructor/cohorts/{cohort_id}/gradebook.json", "application/json")):
        response = instructor.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == mimetype, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        body = response.get_data(as_text=True)
        if mimetype == "text/csv":
            values = {cell for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))) for cell in row}
        else:
            values = _strings(json.loads(body))
        assert EVIL_NAME in values, f"{path}: the learner's name is missing from the export"
    own = victim_world["client"].get("/account/export")
    assert own.mimetype == "application/json" and own.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(own.get_data(as_text=True))
    assert any(SCRIPT in value for value in _strings(data)), "the learner's own export lost their answer"


# 2. Markdown XSS through the lesson renderer ---------------------------------------------------------------------

HOSTILE_MARKDOWN = """
[click me](javascript:alert(1)) and [again](JaVaScRiPt:alert(2)) and [spaced]( javascript:alert(3))
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
![data image](data:text/html,<script>alert(4)</script>)
<script>alert(5)</script>
<img src="x" onerror="alert(6)">
<a href="javascript:alert(7)" onclick="alert(8)">raw link</a>
<iframe src="https://evil.example"></iframe>
<div style="background:url(javascript:alert(9))" onmouseover="alert(10)">hover</div>
<svg><script>alert(11)</script></svg>
<form action="javascript:alert(12)"><button formaction="javascript:alert(13)">go</button></form>
<meta http-equiv="refresh" content="0;url=https://evil.example">
[ref link][r]

[r]: javascript:alert(14)
"""


@pytest.fixture
def hostile_course(tmp_path) -> Path:
    """A copy of the site tests' course whose first lesson and an exercise carry hostile Markdown."""
    target = tmp_path / "course"
    target.mkdir()
    (target / "course.yaml").write_text((WEB_COURSE / "course.yaml").read_text())
    for folder in ("lessons", "exercises"):
        (target / folder).mkdir()
        for path in (WEB_COURSE / folder).iterdir():
            (target / folder / path.name).write_text(path.read_text())
    lesson = sorted((target / "lessons").iterdir())[0]
    lesson.write_text(lesson.read_text() + "\n" + HOSTILE_MARKDOWN)
    exercise = target / "exercises" / f"{TEXT_EXERCISE}.yaml"
    data = yaml.safe_load(exercise.read_text())
    data["prompt"] += "\n" + HOSTILE_MARKDOWN
    data["explanation"] += "\n" + HOSTILE_MARKDOWN
    # The explanation must reach the feedback page on the first attempt for its Markdown to be tested there.
    data["show_solution"] = "always"
    exercise.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_markdown_cannot_carry_script(app_config, connection, hostile_course, make_user):
    """javascript: and data: links, raw HTML and handlers in course Markdown never reach the page live."""
    hostile = create_app({**app_config, "COURSE_DIR": str(hostile_course)})
    hostile.extensions["db_bind"] = connection
    course = hostile.extensions["course"]
    learner = make_user()
    client = client_as(hostile, learner)
    lesson_id = sorted(course.lessons.values(), key=lambda lesson: lesson.path.name)[0].id
    pages = [f"/lessons/{lesson_id}", f"/exercises/{TEXT_EXERCISE}"]
    attempt = attempt_id_from(post_answer(client, TEXT_EXERCISE, {"answer": "Dear Tom, thank you. Kind regards, Maya"}))
    pages.append(f"/attempts/{attempt}")
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert_inert(page, path)
        assert "click me" in page, f"{path}: the hostile lesson text is not on the page at all"


# 3. IDOR ----------------------------------------------------------------------------------------------------------


def test_learner_cannot_walk_other_learners_ids(app, make_user):
    """Another learner's attempt is the same 404 as a missing one; progress, retry and export stay one's own."""
    alice, bob = make_user(display_name="Alice"), make_user(display_name="Bob")
    bob_client = client_as(app, bob)
    secret = "Bob's private answer about the depot rota, kind regards"
    bob_attempt = attempt_id_from(post_answer(bob_client, TEXT_EXERCISE, {"answer": "Dear Tom, " + secret}))
    alice_client = client_as(app, alice)
    missing = db.session.scalar(select(func.max(Attempt.id))) + 1000

    theirs = alice_client.get(f"/attempts/{bob_attempt}")
    nobody = alice_client.get(f"/attempts/{missing}")
    assert theirs.status_code == nobody.status_code == 404
    # The header's logout form carries a CSRF token signed with the current second: equal up to that.
    assert CSRF_INPUT.sub("", theirs.get_data(as_text=True)) == CSRF_INPUT.sub("", nobody.get_data(as_text=True)), \
        "a real id must not be told apart from a missing one"

    for path in (f"/exercises/{TEXT_EXERCISE}?retry={bob_attempt}", f"/progress?user_id={bob.id}",
                 f"/account/export?user_id={bob.id}", f"/progress/certificate?user_id={bob.id}"):
        page = alice_client.get(path).get_data(as_text=True)
        assert secret not in page and "Bob" not in page, f"{path} shows Bob's data to Alice"
    export = json.loads(alice_client.get(f"/account/export?user_id={bob.id}").get_data(as_text=True))
    assert bob.email not in json.dumps(export)


# 4. Instructor of another cohort ------------------------------------------------------------------------------


def test_instructor_of_another_cohort_is_denied(app, make_user, make_attempt):
    """Every page and action of a cohort answers an outside instructor exactly like a cohort that does not exist."""
    owner, outsider, learner = make_user("instructor"), make_user("instructor"), make_user(display_name="Member")
    cohort = cohort_with_members(owner, learner, name="Private cohort", join_code="PRIV-2345")
    make_attempt(learner, TEXT_EXERCISE, answer="member's answer")
    client = client_as(app, outsider)
    token = csrf_token_from(client.get("/instructor/").get_data(as_text=True))
    missing = cohort.id + 1000
    for suffix in ("", "/items", f"/items/{TEXT_EXERCISE}", f"/learners/{learner.id}", "/gradebook.csv",
                   "/gradebook.json"):
        real = client.get(f"/instructor/cohorts/{cohort.id}{suffix}")
        fake = client.get(f"/instructor/cohorts/{missing}{suffix}")
        assert real.status_code == fake.status_code == 404, suffix
        assert "Member" not in real.get_data(as_text=True)
    archive = client.post(f"/instructor/cohorts/{cohort.id}/archive", data={"csrf_token": token, "archived": "1"})
    assert archive.status_code == 404
    db.session.refresh(cohort)
    assert cohort.archived is False


# 5. Grade tampering -------------------------------------------------------------------------------------------


def test_server_ignores_score_user_role_and_passed_fields(app, make_user):
    """Extra fields in a submission or a registration change nothing: the server grades and decides."""
    learner, other = make_user(), make_user()
    client = client_as(app, learner)
    response = post_answer(client, "why-close-quiz", {
        **form_fields(app, client, "why-close-quiz", "decided-early"), "score": "1.0", "passed": "true",
        "status": "correct", "user_id": str(other.id), "role": "admin", "attempt_number": "1", "grader_version": "x"})
    attempt = db.session.get(Attempt, attempt_id_from(response))
    assert (attempt.user_id, attempt.score, attempt.passed, attempt.status) == (learner.id, 0.0, False, "incorrect")
    assert db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.user_id == other.id)) == 0
    db.session.refresh(learner)
    assert learner.role == "learner"

    anon = app.test_client()
    token = csrf_token_from(anon.get("/register").get_data(as_text=True))
    anon.post("/register", data={"csrf_token": token, "email": "sneaky@example.org", "password": PASSWORD,
                                 "confirm": PASSWORD, "display_name": "Sneaky", "role": "admin",
                                 "session_version": "0", "id": "1"})
    sneaky = db.session.scalar(select(User).where(User.email == "sneaky@example.org"))
    assert sneaky is not None and sneaky.role == "learner" and sneaky.id != 1


# 6. Answer leakage --------------------------------------------------------------------------------------------


def _strings(value: Any) -> set[str]:
    """Return every string inside a nested spec or view."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def _plain(text: str) -> str:
    """Collapse whitespace and unescape HTML, to compare text wherever it appears."""
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


# Attributes a form carries ids in; an id or a short answer is looked for there, between these separators.
ID_ATTRIBUTES = re.compile(r'\s(?:value|name|id|for|data-id|aria-describedby)="([^"]*)"')


def carried_in_attributes(secret: str, attributes: set[str]) -> bool:
    """Return True when `secret` is a whole part of an attribute value ('match-q-concerns' holds 'q-concerns')."""
    pattern = re.compile(rf"(^|[-:]){re.escape(secret)}($|[-:])")
    return any(pattern.search(value) for value in attributes)


def test_no_exercise_page_leaks_its_answer(app_config, connection, make_user):
    """Before submission no page holds an answer key, option feedback, explanation, or an id of the spec.

    Long spec texts are looked for in the page text. Ids ('tied-to-needs' against 'generic') and short answers (a
    cloze blank accepting 'thank') are ordinary words there, so they are looked for where a form would carry them:
    field names, values, ids and labels' targets. The form uses per-learner tokens instead.
    """
    shipped = create_app({**app_config, "COURSE_DIR": str(REPO)})
    shipped.extensions["db_bind"] = connection
    course = shipped.extensions["course"]
    assert len(course.exercises) == 17
    client = client_as(shipped, make_user())
    ids_checked = 0
    for exercise in course.exercises.values():
        page = client.get(f"/exercises/{exercise.id}").get_data(as_text=True)
        text = _plain(re.sub(r"<[^>]+>", " ", page))
        # What the learner may see: the prompt, hints and the grader's learner view; all else in the spec is key.
        view = graders.present(exercise.type, exercise.spec, 0)
        visible = {_plain(s) for s in _strings(view) | {exercise.prompt, *exercise.hints}}
        secrets = {_plain(s) for s in _strings(exercise.raw_spec) if len(s) >= 20} - visible
        secrets |= {_plain(p) for p in exercise.explanation.split("\n\n") if len(p.strip()) >= 20}
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, f"{exercise.id}: the page shows key material before submission: {leaked[:3]}"
        shown_texts = {_plain(e["text"]) for key in ("options", "left", "right", "items", "groups")
                       for e in view.get(key, [])}
        short = {s.strip() for s in _strings(exercise.raw_spec) if 0 < len(s.strip()) < 20} - shown_texts
        attributes = set(ID_ATTRIBUTES.findall(page))
        carried = sorted(s for s in short if carried_in_attributes(s, attributes))
        assert not carried, f"{exercise.id}: the form carries spec ids or short answers: {carried[:5]}"
        ids_checked += sum(1 for s in short if re.fullmatch(r"[a-z0-9-]+", s))
        assert not re.search(r"\b(correct|is-correct|answer-key|data-answer|data-correct)\s*=", page), exercise.id
        assert "<script>" not in page and 'type="application/json"' not in page, exercise.id
        # Nothing comes pre-filled: no ticked option, chosen match or typed blank.
        assert not re.search(r"<input[^>]*\schecked|<option[^>]*\sselected|name=\"blank-[^\"]+\"[^>]*value=\"[^\"]",
                             page), f"{exercise.id}: the form comes pre-filled"
        key = graders.answer_key(exercise.type, exercise.spec)
        if exercise.type == "ordering":
            to_id = form_tokens(shipped, client, exercise).to_id
            shown = [to_id[t] for t in re.findall(r'name="order" value="([^"]+)"', page)]
            canonical = [i["id"] if isinstance(i, dict) else i for i in key.get("order", key.get("items", []))]
            assert shown and shown[:len(canonical)] != canonical, f"{exercise.id}: shown in the canonical order"
    assert ids_checked >= 100, f"only {ids_checked} ids were looked for: is the spec still read?"


def test_option_tokens_are_per_learner_and_a_posted_id_is_not_an_answer(app, make_user):
    """Two learners see different option values for one exercise; posting the real id of the right option
    (known from the open-source course) is not an answer; the learner's own token is, and is stored as the id."""
    ada, bob = client_as(app, make_user()), client_as(app, make_user())
    values = [set(re.findall(r'name="answer"[^>]*value="([^"]+)"', c.get("/exercises/why-close-quiz").get_data(True)))
              for c in (ada, bob)]
    assert len(values[0]) == len(values[1]) == 4 and not values[0] & values[1]
    refused = post_answer(ada, "why-close-quiz", {"answer": "freshest-memory"})
    assert refused.status_code == 422 and "Choose one of the options" in refused.get_data(as_text=True)
    accepted = post_answer(ada, "why-close-quiz", form_fields(app, ada, "why-close-quiz", "freshest-memory"))
    attempt = db.session.get(Attempt, attempt_id_from(accepted))
    assert (attempt.answer, attempt.passed) == ("freshest-memory", True)


# 7. Double-submit race under gunicorn -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", database_kinds())
def test_concurrent_identical_posts_store_one_attempt(kind, tmp_path):
    """20 identical POSTs at once against 2 gunicorn workers store exactly one attempt."""
    with scratch_database(kind, tmp_path) as url:
        env = site_env(url, LOGIN_RATE_LIMIT="1000/minute")
        with gunicorn(env, tmp_path, workers=2) as server:
            create_user(env, "racer@example.org", PASSWORD)
            first = server.client()
            assert first.login("racer@example.org", PASSWORD) == 302
            form = first.choice_form("/exercises/why-close-quiz")
            clients = []
            for _ in range(20):
                c = server.client()
                c.cookies = dict(first.cookies)
                clients.append(c)
            barrier = threading.Barrier(len(clients))
            results: list[Any] = [None] * len(clients)

            def send(i: int) -> None:
                """Wait for all, then post the same form."""
                barrier.wait(timeout=30)
                try:
                    results[i] = clients[i].request("POST", "/exercises/why-close-quiz", form)
                except Exception as exc:  # noqa: BLE001 - reported below with the others
                    results[i] = exc

            threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            statuses = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
            assert statuses == [303] * len(clients), statuses
            assert len({r[1]["Location"] for r in results}) == 1, "every click must land on the same attempt"
            assert len(server.worker_pids("POST", "/exercises/why-close-quiz")) == 2, \
                "both workers should have taken some of the racing POSTs"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "COURSE_DIR": str(REPO)})
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
            db.engine.dispose()


# 8. CSRF ----------------------------------------------------------------------------------------------------------


def test_every_state_changing_route_needs_a_valid_csrf_token(app, make_user, make_attempt, web_course):
    """Every POST route (found from app.url_map, so new ones are covered) refuses a missing or wrong token."""
    admin, learner = make_user("admin"), make_user()
    cohort = Cohort(name="CSRF cohort", owner_id=admin.id, join_code="CSRF-2345")
    db.session.add(cohort)
    db.session.commit()
    attempt = make_attempt(learner, web_course.exercise_order()[0])
    # A real registration link, so a refused POST proves the CSRF check and not a bad link.
    pending = User(email="pending@example.org", role="learner")
    pending.set_password(PASSWORD)
    db.session.add(pending)
    db.session.commit()
    params = {"cohort_id": cohort.id, "user_id": learner.id, "exercise_id": web_course.exercise_order()[0],
              "lesson_id": web_course.lesson_order()[0], "attempt_id": attempt.id, "code": cohort.join_code,
              "filename": "site.css", "module_id": web_course.modules[0].id,
              "token": accounts.confirmation_token(pending)}
    posts = [rule for method, rule in site_rules(app) if method in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(posts) >= 10, posts
    before = {model: db.session.scalar(select(func.count()).select_from(model))
              for model in (User, Cohort, CohortMembership, Attempt)}
    for as_user in (admin, learner, None):
        for rule in posts:
            path = concrete(rule, params)
            for token in (None, "not-a-token", "IjEyMyI.bad.signature"):
                client = app.test_client()
                if as_user is not None:
                    login_as(client, as_user)
                data = {"email": admin.email, "password": PASSWORD, "name": "New", "code": cohort.join_code,
                        "role": "admin", "answer": "x", "current": PASSWORD, "new": "a-new-password-1",
                        "confirm": "a-new-password-1", "archived": "1"}
                if token is not None:
                    data["csrf_token"] = token
                response = client.post(path, data=data)
                assert response.status_code == 400, f"POST {path} as {as_user and as_user.role} with token " \
                                                     f"{token!r} gave {response.status_code}"
    after = {model: db.session.scalar(select(func.count()).select_from(model))
             for model in (User, Cohort, CohortMembership, Attempt)}
    assert after == before
    db.session.refresh(pending)
    assert pending.email_confirmed_at is None
    db.session.refresh(learner)
    db.session.refresh(cohort)
    assert learner.role == "learner" and cohort.archived is False and learner.check_password(PASSWORD)


# 9. Open redirect -------------------------------------------------------------------------------------------------

EVIL_NEXTS = ("https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)",
              "\\\\evil.example", "/%2F%2Fevil.example", "https:evil.example", " //evil.example", "\t//evil.example")


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_next_never_leaves_the_site(app, make_user, target):
    """After login or registration, a hostile `next` is replaced by a page of the site."""
    user = make_user()
    for via in ("query", "form"):
        client = app.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        data = {"csrf_token": token, "email": user.email, "password": PASSWORD}
        if via == "form":
            data["next"] = target
            response = client.post("/login", data=data)
        else:
            response = client.post("/login", query_string={"next": target}, data=data)
        assert response.status_code == 302, via
        assert_local(response.headers["Location"], target)
    # Registration carries `next` through the emailed link; where the confirmed learner lands is checked too.
    client = app.test_client()
    response = register_account(app, client, f"new{abs(hash(target))}@example.org", PASSWORD, "N", next_path=target)
    assert response.status_code == 302
    assert_local(response.headers["Location"], target)


def assert_local(location: str, target: str) -> None:
    """A redirect target is a path on this site: no scheme, no host, no backslash or whitespace tricks."""
    path = re.sub(r"^https?://localhost(:\d+)?", "", location)
    parts = urlsplit(path)
    assert path.startswith("/") and not path.startswith("//") and "\\" not in path, \
        f"next={target!r} redirected to {location!r}"
    assert not parts.scheme and not parts.netloc and not re.search(r"[\x00-\x20]", path), \
        f"next={target!r} redirected to {location!r}"


# 10. Brute force --------------------------------------------------------------------------------------------------


def test_login_limit_holds_across_workers_with_redis(tmp_path):
    """With Redis as the limiter store, 2 gunicorn workers share one count: the 11th bad password gets 429.

    Exactly ten are checked, however the guesses interleave, because each is counted before its password is
    checked. The counts live under a key prefix of this run's own, removed afterwards: the Redis database may
    be shared (other runs, other people), so nothing else in it is read or deleted.
    """
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    store = redis.Redis.from_url(redis_url)
    try:
        store.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {redis_url} is unreachable ({exc}); start it or set TEST_REDIS_URL", pytrace=False)
    prefix = f"test-{uuid.uuid4().hex}"
    try:
        check_login_limit_across_workers(tmp_path, redis_url, prefix)
    finally:
        counts = list(store.scan_iter(match=f"*{prefix}*"))
        if counts:
            store.delete(*counts)
    assert counts, "no count was stored under the run's key prefix: RATELIMIT_KEY_PREFIX is not applied"


def check_login_limit_across_workers(tmp_path: Path, redis_url: str, prefix: str) -> None:
    """Send 25 wrong passwords in parallel batches to 2 workers sharing Redis; check the limit and who answered."""
    with scratch_database("sqlite", tmp_path) as url:
        env = site_env(url, RATELIMIT_STORAGE_URI=redis_url, LOGIN_RATE_LIMIT="10/minute",
                       RATELIMIT_KEY_PREFIX=prefix)
        with gunicorn(env, tmp_path, workers=2) as server:
            create_user(env, "target@example.org", PASSWORD)
            statuses: list[int] = []
            lock = threading.Lock()

            def guess(n: int) -> None:
                """One wrong password from a fresh connection (so the two workers share the guesses)."""
                client = server.client()
                token, _ = client.form_page("/login")
                status, _, _ = client.request("POST", "/login", {"email": "target@example.org",
                                                                 "password": f"wrong-{n}", "csrf_token": token})
                with lock:
                    statuses.append(status)

            for batch in range(5):
                threads = [threading.Thread(target=guess, args=(batch * 5 + i,)) for i in range(5)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(timeout=60)
            assert sorted(statuses) == [200] * 10 + [429] * 15, statuses
            assert len(server.worker_pids("POST", "/login")) == 2, "both workers must have answered guesses"
            # The right password is refused too while the limit lasts.
            locked_out = server.client()
            assert locked_out.login("target@example.org", PASSWORD) == 429


# 11. Sessions -----------------------------------------------------------------------------------------------------


def _logged_in_cookie(app, user) -> tuple[Any, str]:
    """Log in through the form; return the client and its session cookie value."""
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                       "remember": "y"}).status_code == 302
    return client, client.get_cookie("session").value


def _replay(app, cookies: dict[str, str]) -> int:
    """Send saved cookies from a new client to a login-only page; return the status."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return thief.get("/progress").status_code


def test_cookie_is_useless_after_logout(app, make_user):
    """A session cookie and a remember-me cookie copied before logout, each on its own, log nobody in afterwards."""
    user = make_user()
    client, session_cookie = _logged_in_cookie(app, user)
    remember = client.get_cookie("remember_token")
    assert remember is not None, "logging in with 'Keep me logged in' set no remember-me cookie"
    stolen = {"session": {"session": session_cookie}, "remember-me": {"remember_token": remember.value}}
    for name, cookies in stolen.items():
        assert _replay(app, cookies) == 200, f"the {name} cookie alone should open the account before logout"
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/progress").status_code == 302
    for name, cookies in stolen.items():
        assert _replay(app, cookies) == 302, f"a {name} cookie saved before logout still opens the account"


def test_cookie_is_useless_after_password_change(app, make_user):
    """A cookie from another device stops working when the password changes."""
    user = make_user()
    _, stolen = _logged_in_cookie(app, user)
    owner, _ = _logged_in_cookie(app, user)
    token = csrf_token_from(owner.get("/account").get_data(as_text=True))
    response = owner.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                     "new": "a-brand-new-password", "confirm": "a-brand-new-password"})
    assert response.status_code == 302
    assert owner.get("/progress").status_code == 200, "the device that changed the password stays logged in"
    assert _replay(app, {"session": stolen}) == 302


def test_cookie_flags_in_production(app_config, connection, make_user):
    """Outside development and tests, session and remember cookies are Secure, HttpOnly and SameSite=Lax."""
    config = {k: v for k, v in app_config.items() if k != "TESTING"}
    production = create_app({**config, "APP_ENV": "production"})
    production.extensions["db_bind"] = connection
    user = make_user()
    client = production.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                           "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    names = {c.split("=", 1)[0] for c in cookies}
    assert {"session", "remember_token"} <= names, cookies
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= flags, cookie


# 12. CSV formula injection ----------------------------------------------------------------------------------------


def test_gradebook_csv_neutralises_formulas(app, make_user, make_attempt):
    """No cell of the CSV gradebook starts with a character a spreadsheet would run as a formula."""
    owner = make_user("instructor")
    cohort = Cohort(name="=cmd|' /C calc'!A0", owner_id=owner.id, join_code="FORM-2345")
    db.session.add(cohort)
    db.session.commit()
    for i, formula in enumerate(FORMULAS):
        learner = make_user(display_name=formula, email=f"=x{i}@evil.example")
        db.session.add(CohortMembership(cohort_id=cohort.id, user_id=learner.id))
        make_attempt(learner, TEXT_EXERCISE, answer=formula, score=0.5)
    db.session.commit()
    response = client_as(app, owner).get(f"/instructor/cohorts/{cohort.id}/gradebook.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 + len(FORMULAS)  # two header lines: ids, then the same columns in words
    names = [row[0] for row in rows[2:]]
    assert sorted(n.lstrip("'") for n in names) == sorted(FORMULAS), names
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"formula cell {cell!r} in {row}"


# 13. Denial of service --------------------------------------------------------------------------------------------


def test_oversized_bodies_get_413(app, make_user):
    """A 1 MB form body is refused before any parsing or grading."""
    client = client_as(app, make_user())
    token, key = form_of(client, f"/exercises/{TEXT_EXERCISE}")
    big = "a" * (1024 * 1024 + 1)
    for path in (f"/exercises/{TEXT_EXERCISE}", "/login", "/register", "/join"):
        response = client.post(path, data={"csrf_token": token, "idempotency_key": key, "answer": big})
        assert response.status_code == 413, path
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


ADVERSARIAL = (
    "a" * 5000,
    "not " * 1250,
    "thank you " * 500,
    ("dear " + "very " * 20 + "keen ") * 40,
    "I " + "really " * 830,
    "x" * 4999 + "!",
    ("{" * 10 + "*" * 10 + "|" * 10) * 166,
    "\u0301" * 5000,
    " \n\t" * 1666,
    ("concern " + "gap " * 5 + "next steps? ") * 200,
)


# An adversarial answer may cost this many times an ordinary answer of the same length, graded in the same run
# (measured: at most 2.5 times; a regex or loop gone quadratic on 5,000 characters costs hundreds of times).
ADVERSARIAL_COST_RATIO = 10


def grading_time(spec: Any, answer: str) -> float:
    """Return the fastest of three gradings of `answer`, in seconds (the fastest is the least disturbed)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        graders.grade("text", spec, answer)
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_text_grader_stays_bounded_on_adversarial_input():
    """Every shipped text exercise grades 5,000-character adversarial answers about as fast as ordinary prose.

    The yardstick is the exercise's own passing sample repeated to 5,000 characters, timed in the same run, so the
    bound holds on a slow or busy machine and still catches a blow-up.
    """
    course = load_course(REPO)
    texts = [e for e in course.exercises.values() if e.type == "text"]
    assert len(texts) == 3
    for exercise in texts:
        sample = next(s for s in exercise.samples.passing if isinstance(s, str))
        baseline = grading_time(exercise.spec, ((sample + " ") * (5000 // len(sample) + 1))[:5000])
        for answer in ADVERSARIAL:
            answer = answer[:5000]
            result = graders.grade("text", exercise.spec, answer)
            # A blank answer is refused as empty; anything else is graded, check by check.
            graded = result.status == "invalid" if not answer.strip() else bool(result.checks)
            assert graded, (exercise.id, answer[:30], result.status, result.message)
            cost = grading_time(exercise.spec, answer)
            assert cost <= ADVERSARIAL_COST_RATIO * baseline, \
                f"{exercise.id}: {answer[:30]!r}... took {cost * 1000:.1f} ms, {cost / baseline:.1f} times the baseline"
        assert graders.grade("text", exercise.spec, "a" * 5001).status == "invalid"


# 14. Hostile numbers and text -------------------------------------------------------------------------------------

# Too large for PostgreSQL's 32-bit id columns, for 64 bits, for SQLite; zero; and a number too long to parse.
HUGE_NUMBERS = (str(2**31), str(2**63 - 1), str(2**63), "99999999999999999999999", "0", "9" * 5000)


def test_huge_ids_answer_404_and_huge_query_numbers_are_ignored(app, make_user, make_attempt):
    """Ids in URLs, ?retry=, ?page= and a posted owner id too large for the database never give a 500."""
    learner, owner, admin = make_user(), make_user("instructor"), make_user("admin")
    cohort = Cohort(name="Numbers cohort", owner_id=owner.id, join_code="NUMB-2345")
    db.session.add(cohort)
    db.session.commit()
    clients = {"learner": client_as(app, learner), "owner": client_as(app, owner), "admin": client_as(app, admin)}
    token = csrf_token_from(clients["admin"].get("/admin/").get_data(as_text=True))
    for n in HUGE_NUMBERS:
        for who, path, status in (
            ("learner", f"/attempts/{n}", 404),
            ("owner", f"/instructor/cohorts/{n}", 404),
            ("owner", f"/instructor/cohorts/{n}/items", 404),
            ("owner", f"/instructor/cohorts/{cohort.id}/learners/{n}", 404),
            ("learner", f"/exercises/{TEXT_EXERCISE}?retry={n}", 200),
            ("owner", f"/instructor/cohorts/{cohort.id}?page={n}", 200),
            ("admin", f"/admin/?page={n}", 200),
        ):
            assert clients[who].get(path).status_code == status, (who, path[:80])
        assert clients["admin"].post(f"/admin/users/{n}/role", data={"csrf_token": token, "role": "admin"}
                                     ).status_code == 404, n[:80]
        moved = clients["admin"].post(f"/admin/cohorts/{cohort.id}/owner", data={"csrf_token": token, "owner_id": n},
                                      follow_redirects=True)
        assert moved.status_code == 200 and "Choose an instructor or admin" in moved.get_data(as_text=True), n[:80]
    db.session.refresh(cohort)
    assert cohort.owner_id == owner.id



class FormAudit(HTMLParser):
    """Collect every form of a page: method, action, the fields a browser sends by default, and its first button."""

    def __init__(self) -> None:
        """Start with no forms."""
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record forms and the fields of the current one (a radio or tick box group: its first option, ticked)."""
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"method": a.get("method", "get").lower(), "action": a.get("action", ""),
                               "fields": {}, "button": None})
        elif not self.forms:
            return
        elif tag == "option" and self._select and a.get("value") and self._select not in self.forms[-1]["fields"]:
            self.forms[-1]["fields"][self._select] = a["value"]
        elif not a.get("name"):
            return
        elif tag == "select":
            self._select = a["name"]
        elif tag == "button":
            self.forms[-1]["button"] = self.forms[-1]["button"] or (a["name"], a.get("value", ""))
        elif tag in ("input", "textarea") and a.get("type") not in ("submit", "button"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", "y" if a.get("type") == "checkbox" else ""))

    def handle_endtag(self, tag: str) -> None:
        """Leave a select."""
        if tag == "select":
            self._select = None


def forms_of(page: str) -> list[dict[str, Any]]:
    """Return the forms of a page."""
    audit = FormAudit()
    audit.feed(page)
    return audit.forms


CLEANED_NOTICE = "Invisible control characters (such as NUL bytes) were removed from"
TYPED_ANSWER = "Dear Tom, thank you for your time. Kind regards, Maya"


def with_nul(value: str) -> str:
    """Return the value with a NUL byte after its first character (or a lone NUL for an empty value)."""
    return value[:1] + "\x00" + value[1:]


def typed_value(action: str, name: str, default: str, user: User, code: str) -> str:
    """Return what a learner would type in an empty field (hidden and preset fields keep their value)."""
    if default:
        return default
    by_action = {("/login", "email"): user.email, ("/register", "email"): f"new-{user.id}@example.org",
                 ("/account/password", "confirm"): "a-new-password-1", ("/register", "confirm"): PASSWORD}
    by_name = {"password": PASSWORD, "current": PASSWORD, "new": "a-new-password-1", "display_name": "Nul Tester",
               "code": code, "name": "Evening cohort", "q": "tester", "answer": TYPED_ANSWER}
    return by_action.get((action, name)) or by_name.get(name) or ("thank" if name.startswith("blank-") else "x")


def send_with_nul(client, form: dict[str, Any], name: str, user: User, code: str) -> tuple[Any, dict[str, str]]:
    """Fill a form as a learner would, put a NUL into one field, send it; return the final response and the data."""
    data = {n: typed_value(form["action"], n, v, user, code) for n, v in form["fields"].items()}
    if form["button"]:
        data.setdefault(*form["button"])
    data[name] = with_nul(data.get(name, ""))
    if form["method"] == "post":
        return client.post(form["action"], data=data, follow_redirects=True), data
    return client.get(form["action"], query_string=data, follow_redirects=True), data


def test_nul_bytes_in_any_field_of_any_form_are_removed_with_a_notice(app, make_user, web_course):
    """A NUL in each field of each form (one at a time) never gives a 500; a notice names the field, nothing is lost.

    The forms are read from the pages themselves, each as the role that sees it, so a new form is covered too.
    """
    owner = make_user("instructor")
    cohort = Cohort(name="NUL cohort", owner_id=owner.id, join_code="NULB-2345")
    db.session.add(cohort)
    db.session.commit()
    pages = [("anonymous", "/login"), ("anonymous", "/register"), ("learner", "/account"), ("learner", "/join"),
             *(("learner", f"/exercises/{e}") for e in web_course.exercise_order()), ("instructor", "/instructor/"),
             ("instructor", f"/instructor/cohorts/{cohort.id}"), ("admin", "/admin/"),
             ("admin", f"/instructor/cohorts/{cohort.id}")]
    seen: set[tuple[str, str]] = set()
    tried = 0

    def fresh(role: str, path: str) -> tuple[Any, User, list[dict[str, Any]]]:
        """Return a client of a new user with this role (anonymous: one who can log in), the user and the forms."""
        user = make_user("learner" if role == "anonymous" else role)
        client = app.test_client() if role == "anonymous" else client_as(app, user)
        return client, user, forms_of(client.get(path).get_data(as_text=True))

    for role, path in pages:
        _, _, forms = fresh(role, path)
        for index, form in enumerate(forms):
            action = re.sub(r"/\d+", "/N", form["action"])
            names = list(form["fields"]) + ([form["button"][0]] if form["button"] else [])
            for name in names:
                if (action, name) in seen:
                    continue
                seen.add((action, name))
                client, user, again = fresh(role, path)
                response, data = send_with_nul(client, again[index], name, user, cohort.join_code)
                page = html.unescape(response.get_data(as_text=True))
                where = f"{form['method'].upper()} {action} with a NUL in {name!r} as {role}"
                assert response.status_code < 500, f"{where}: {response.status_code}"
                assert CLEANED_NOTICE in page, f"{where}: no notice"
                if name == "answer" or name.startswith(("blank-", "cat-", "match-")):
                    assert f"{CLEANED_NOTICE} your answer." in page, where
                if name == "email":
                    assert f"{CLEANED_NOTICE} the email address." in page, where
                if name == "answer" and data[name] == with_nul(TYPED_ANSWER):
                    # Feedback highlights words with <mark> and hidden "[earned a point: ...]" labels: read past them.
                    shown = re.sub(r"<[^>]+>", "", re.sub(r'<span class="visually-hidden">[^<]*</span>', "", page))
                    assert TYPED_ANSWER in shown, f"{where}: the answer is not shown back"
                tried += 1
    assert tried >= 40, f"only {tried} fields were tried: are the pages' forms still found?"
    assert {("/login", "email"), ("/register", "display_name"), ("/join", "code"), ("/instructor/cohorts", "name"),
            ("/admin/", "q")} <= seen
    # A path segment is no form field: an exercise id with a NUL is looked up before any query, and is a 404.
    assert client_as(app, owner).get(f"/instructor/cohorts/{cohort.id}/items/a%00b").status_code == 404


def test_nul_byte_in_an_answer_sent_after_the_login_expired_is_kept(client, make_user, login):
    """An anonymous post (login expired) with a NUL keeps the answer as a draft; after logging in it is back."""
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(f"/exercises/{TEXT_EXERCISE}", data={"csrf_token": token, "answer": with_nul(TYPED_ANSWER)},
                           follow_redirects=True)
    assert response.status_code == 200 and f"{CLEANED_NOTICE} your answer." in html.unescape(response.get_data(True))
    login(user)
    page = html.unescape(client.get(f"/exercises/{TEXT_EXERCISE}").get_data(as_text=True))
    assert "Here is the answer you were working on" in page and TYPED_ANSWER in page


DEEP_JSON = "[" * 2400 + "]" * 2400  # under the 5,000-character answer cap; json.loads recurses once per bracket


@pytest.mark.parametrize("exercise_id", ["why-close-quiz", "next-steps-questions", "match-question-to-purpose",
                                         "when-to-close-scenarios", "contact-details-cloze", "order-close-steps",
                                         "thank-you-email"])
def test_deeply_nested_json_in_any_answer_field_is_no_500(app, make_user, exercise_id):
    """A choice (or any answer field) holding thousands of nested brackets is refused or graded, never a crash."""
    client = client_as(app, make_user())
    page = client.get(f"/exercises/{exercise_id}").get_data(as_text=True)
    fields = {name for name in re.findall(r'name="([^"]+)"', page) if name not in ("csrf_token", "idempotency_key")}
    for name in sorted(fields):
        response = post_answer(client, exercise_id, {name: DEEP_JSON})
        assert response.status_code in (200, 303, 422), (name, response.status_code)  # 200: an ordering move
        if name == "answer" and exercise_id != "thank-you-email":
            # A value that is none of the options is ignored, as if nothing had been chosen.
            assert response.status_code == 422, name
