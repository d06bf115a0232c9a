"""Page helpers for the browser journeys: accounts, screenshots, and filling every exercise type's form."""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from werkzeug.serving import BaseWSGIServer, make_server

import graders
from course.model import Exercise
from web import create_app, types
from web.manage import upgrade

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
# Every live server writes its email here, through the same outbox backend `./scripts/run` uses.
OUTBOX = REPO / "test-artifacts" / "outbox"
PASSWORD = "browser-test-password"


@dataclass
class LiveServer:
    """A running site: its base URL, database URL, course directory and the app object."""

    url: str
    database_url: str
    course_dir: Path
    app: Any
    server: BaseWSGIServer

    def env(self) -> dict[str, str]:
        """Return the environment a `course` CLI command needs to act on this server's data."""
        return dict(os.environ, DATABASE_URL=self.database_url, COURSE_DIR=str(self.course_dir),
                    SECRET_KEY="browser-tests", APP_ENV="production")


def start_live_server(workdir: Path, course_dir: Path | None = None) -> LiveServer:
    """Migrate a fresh SQLite database in workdir and serve the site on a free loopback port."""
    database_url = f"sqlite:///{workdir / 'site.sqlite3'}"
    upgrade(database_url, "head")
    course_dir = course_dir or REPO
    app = create_app({
        "SECRET_KEY": uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "COURSE_DIR": str(course_dir),
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "MAIL_BACKEND": "web.mail",
        "MAIL_OUTBOX_DIR": str(OUTBOX),
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # Emailed links are built on SITE_URL, as in production; the port is known only now.
    app.config["SITE_URL"] = url
    threading.Thread(target=server.serve_forever, name="live-server", daemon=True).start()
    return LiveServer(url, database_url, course_dir, app, server)


def unique_email(prefix: str = "learner") -> str:
    """Return an email nobody has registered yet."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def register(page: Page, email: str | None = None, name: str = "Browser Learner",
             password: str = PASSWORD) -> str:
    """Create a learner account through the register form; return its email."""
    email = email or unique_email()
    page.goto("/register")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    assert page.url.endswith("/register/sent"), f"registration failed: {page.locator('main').inner_text()}"
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    # Open the link from the email, as the learner would, and press its button.
    page.goto(emailed_link(email))
    page.get_by_role("button", name="Confirm my email").click()
    page.wait_for_load_state()
    assert "/register" not in page.url, f"confirmation failed: {page.locator('main').inner_text()}"
    return email


def emailed_link(email: str, route: str = "/register/confirm/") -> str:
    """The path of the link under `route` (registration, or /password/reset/) in the newest email to an address,
    read from the outbox folder."""
    for path in sorted(OUTBOX.glob("*.eml"), reverse=True):
        message = BytesParser(policy=policy.default).parse(path.open("rb"))
        if message["To"] == email:
            match = re.search(rf"https?://[^/\s]+({re.escape(route)}\S+)", message.get_content())
            assert match, f"no {route} link in {path.name}"
            return match.group(1)
    raise AssertionError(f"no email to {email} in {OUTBOX}")


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form."""
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main form").get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login failed: {page.locator('main').inner_text()}"


def logout(page: Page) -> None:
    """Log out with the site's own log-out button."""
    page.get_by_role("button", name=re.compile(r"log ?out", re.I)).first.click()


def finish_course(user: Any, course: Any) -> dict[str, int]:
    """Read every lesson and pass every exercise for a stored user, through the services (inside an app context);
    return one attempt id per exercise type."""
    from web.services import attempts  # noqa: PLC0415 - the services need the app the caller has pushed
    from web.services.progress import record_lesson_read  # noqa: PLC0415

    for lesson_id in course.lesson_order():
        record_lesson_read(user, lesson_id)
    by_type: dict[str, int] = {}
    for exercise_id in course.exercise_order():
        exercise = course.exercises[exercise_id]
        outcome = attempts.submit(user, exercise, sample_answer(exercise), attempts.new_idempotency_key())
        assert outcome.attempt is not None and outcome.result.passed, exercise_id
        by_type.setdefault(exercise.type, outcome.attempt.id)
    return by_type


def sample_answer(exercise: Exercise) -> Any:
    """Return the first passing sample written in the structured shape a form can express."""
    kind = types.get(exercise.type)
    for sample in exercise.samples.passing:
        if kind.expresses(sample):
            return sample
    raise AssertionError(f"{exercise.id}: no passing sample in {kind.answer_shape.__name__} form to fill the form with")


def order_by_buttons(page: Page, target: list[str]) -> None:
    """Arrange an ordering exercise with its Move up / Leave out buttons (mouse clicks)."""
    for ident in list(current_order(page)):
        if ident not in target:
            before = current_order(page)
            page.locator(f'button[name=move][value="out:{ident}"]').click()
            expect_order_changed(page, before)
    for position, ident in enumerate(target):
        while (order := current_order(page)).index(ident) > position:
            page.locator(f'button[name=move][value="up:{ident}"]').click()
            expect_order_changed(page, order)
    assert current_order(page) == target


def form_values(page: Page, exercise: Exercise, ids: list[str]) -> list[str]:
    """Return the values the page uses for ordering cards given by id: the form names each card by a token of its
    own, so cards are matched by the text the learner reads."""
    texts = {i["id"]: i["text"] for i in graders.present("ordering", exercise.spec, 0)["items"]}
    return card_values(page, [texts[i] for i in ids])


def card_values(page: Page, texts: list[str]) -> list[str]:
    """Return the values the page uses for the ordering cards that read `texts`."""
    cards = page.locator(".order-item").evaluate_all(
        "els => els.map(e => [e.querySelector('.item-text').textContent, e.dataset.id])")
    by_text = {" ".join(card_text.split()): value for card_text, value in cards}
    return [by_text[" ".join(text.split())] for text in texts]


def current_order(page: Page) -> list[str]:
    """Return the card values of the 'Your order' list as the form would send them."""
    return page.locator('[data-list="order"] input[name=order]').evaluate_all("els => els.map(e => e.value)")


def expect_order_changed(page: Page, before: list[str]) -> None:
    """Wait until the order differs from `before` (a JS move is instant, a no-JS move reloads the page)."""
    page.wait_for_function(
        "before => JSON.stringify([...document.querySelectorAll('[data-list=\"order\"] input[name=order]')]"
        ".map(e => e.value)) !== before",
        arg=json.dumps(before, separators=(",", ":")),
    )
    page.wait_for_load_state()


def fill_exercise(page: Page, exercise: Exercise, answer: Any) -> None:
    """Fill an exercise form with a structured answer (written with ids) the way a learner would: by the texts.

    The exercise type says what to do (`form_steps`); this only knows how to check, select, fill and place.
    """
    steps = types.get(exercise.type).form_steps(graders.present(exercise.type, exercise.spec, 0), answer)
    for step in steps:
        scope = page.get_by_role("group", name=step.group, exact=True) if step.group else page
        if step.action == "check":
            scope.get_by_label(step.label, exact=True).check()
        elif step.action == "select":
            scope.get_by_label(step.label, exact=True).select_option(label=step.value)
        elif step.action == "fill":
            scope.get_by_label(step.label, exact=True).fill(step.value)
        elif step.action != "place":
            raise AssertionError(f"no way to {step.action!r} in a form (exercise type {exercise.type!r})")
    if placed := [step.label for step in steps if step.action == "place"]:
        order_by_buttons(page, card_values(page, placed))


def submit_exercise(page: Page) -> None:
    """Press 'Check my answer' and wait for the feedback page."""
    page.get_by_role("button", name="Check my answer").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))


def do_exercise(page: Page, exercise: Exercise, answer: Any | None = None) -> None:
    """Open an exercise, fill it with `answer` (default: a passing sample), submit, land on feedback."""
    page.goto(f"/exercises/{exercise.id}")
    fill_exercise(page, exercise, sample_answer(exercise) if answer is None else answer)
    submit_exercise(page)
