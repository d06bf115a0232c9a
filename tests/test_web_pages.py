"""Every page renders; health check; branding; error pages; nothing typed is lost on an expired form or login."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.exc import OperationalError

from course.loader import load_course
from tests.conftest import KEY_INPUT, TEST_PASSWORD, csrf_token_from, form_fields, hidden_value
from web import create_app
from web.config import ConfigError
from web.extensions import db

pytestmark = pytest.mark.db


def test_public_pages_render_for_visitors(client, web_course):
    """The course page and every lesson render for a visitor, each with exactly one h1."""
    urls = ["/", "/login", "/register"] + [f"/lessons/{lid}" for lid in web_course.lesson_order()]
    for url in urls:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert html.count("<h1") == 1, url
        assert 'href="#main"' in html and '<main id="main"' in html


def test_learner_pages_render(client, make_user, make_attempt, login, web_course):
    """Progress, account and every exercise render for a logged-in learner, each with one h1."""
    user = make_user()
    attempt = make_attempt(user, "why-close-quiz", answer="freshest-memory")
    login(user)
    urls = ["/progress", "/account", "/progress/certificate", f"/attempts/{attempt.id}"]
    urls += [f"/exercises/{eid}" for eid in web_course.exercise_order()]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 403), url
        assert response.get_data(as_text=True).count("<h1") == 1, url


def test_course_page_shows_statuses(client, make_user, make_attempt, login):
    """Done, in progress and not started appear on the course page once the learner has some progress."""
    user = make_user()
    make_attempt(user, "why-close-quiz", score=1.0)
    make_attempt(user, "next-steps-questions", score=0.2)
    login(user)
    html = client.get("/").get_data(as_text=True)
    assert "status-done" in html and "status-in-progress" in html and "status-not-started" in html


def test_lesson_page_renders_sanitised_markdown_with_site_links(client):
    """Author links to exercises and lessons become site URLs; an author <script> is stripped."""
    html = client.get("/lessons/l-one").get_data(as_text=True)
    assert 'href="/exercises/why-close-quiz"' in html and 'href="/lessons/l-two"' in html
    assert "author script is stripped" not in html and "<script>alert" not in html
    assert "How to Professionally Close an Interview" in html  # source credited
    assert 'rel="next"' in html and "Know why the close matters" in html  # next link and objectives


def test_lesson_lists_each_exercise_once(client):
    """An exercise the lesson body links is not listed again; the ones it does not link get a panel."""
    html = client.get("/lessons/l-one").get_data(as_text=True)
    # Within the lesson itself: the outline beside it and the Next link name exercises too.
    html = html[html.index("<article"):html.index("</article>")]
    assert html.count('href="/exercises/why-close-quiz"') == 1
    assert "More practice" in html
    assert 'href="/exercises/next-steps-questions"' in html


def test_reading_a_lesson_records_progress(client, make_user, login):
    """A logged-in learner's lesson view is recorded; the lesson then counts as read."""
    login(make_user())
    client.get("/lessons/l-two")
    html = client.get("/progress").get_data(as_text=True)
    assert re.search(r'Second lesson</a></th>\s*<td data-label="Status">Read</td>', html)


def test_healthz_ok(client):
    """The health check answers 200 with status ok when the database answers."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_healthz_503_when_database_is_down(app, client, monkeypatch):
    """The health check answers 503 when SELECT 1 fails."""

    def fail(*args, **kwargs):
        """Behave like an unreachable database."""
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", fail)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] != "ok"


def test_brand_css_and_site_title_come_from_config(app_config):
    """SITE_TITLE shows in pages; SITE_ACCENT is served as a CSS custom property from /brand.css."""
    app = create_app({**app_config, "SITE_TITLE": "Northgate Careers", "SITE_ACCENT": "#0b5394"})
    with app.app_context():
        client = app.test_client()
        assert "Northgate Careers" in client.get("/login").get_data(as_text=True)
        css = client.get("/brand.css")
        assert css.mimetype == "text/css" and "--accent: #0b5394" in css.get_data(as_text=True)


def test_bad_accent_is_refused_at_start_up(app_config):
    """A SITE_ACCENT that is not a hex colour stops start-up with a clear message."""
    with pytest.raises(ConfigError, match="SITE_ACCENT"):
        create_app({**app_config, "SITE_ACCENT": "red; } body { display: none"})


@pytest.mark.parametrize(("method", "url", "code", "text"), [
    ("get", "/no-such-page", 404, "Page not found"),
    ("get", "/lessons/no-such-lesson", 404, "Page not found"),
    ("delete", "/login", 405, "not allowed"),
])
def test_error_pages(client, method, url, code, text):
    """Errors get the site's own page with its message."""
    response = getattr(client, method)(url)
    assert response.status_code == code
    html = response.get_data(as_text=True)
    assert text in html and "<h1" in html


def test_content_errors_stop_start_up(app_config, tmp_path):
    """A broken course fails start-up with every content error listed, never a half-working site."""
    (tmp_path / "course.yaml").write_text("title: [unclosed\n")
    with pytest.raises(Exception) as info:
        create_app({**app_config, "COURSE_DIR": str(tmp_path)})
    assert "course.yaml" in str(info.value)
    with pytest.raises(type(info.value)):
        load_course(tmp_path)


def test_expired_csrf_token_reshows_the_exercise_with_the_text_kept(client, make_user, login):
    """A stale CSRF token re-shows the form with everything typed and a message; nothing is stored."""
    login(make_user())
    page = client.get("/exercises/thank-you-email").get_data(as_text=True)
    text = "Dear Tom, <b>thank you</b> for your time & the tour."
    response = client.post("/exercises/thank-you-email", data={
        "csrf_token": "stale-token", "idempotency_key": hidden_value(KEY_INPUT, page), "answer": text})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Dear Tom, &lt;b&gt;thank you&lt;/b&gt; for your time &amp; the tour." in html
    assert "Your form had expired" in html
    # The re-shown form carries a fresh token, so sending it again works.
    again = client.post("/exercises/thank-you-email", data={
        "csrf_token": csrf_token_from(html), "idempotency_key": hidden_value(KEY_INPUT, html), "answer": text})
    assert again.status_code == 303


def test_expired_csrf_token_keeps_structured_answers(app, client, make_user, login):
    """The same holds for choices: the ticked boxes come back ticked."""
    login(make_user())
    fields = form_fields(app, client, "next-steps-questions", ["next-stages", "need-anything"])
    response = client.post("/exercises/next-steps-questions", data={"csrf_token": "stale", **fields})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert sorted(re.findall(r'value="([^"]+)" checked', html)) == sorted(fields["answer"])


def test_expired_login_keeps_the_draft_until_after_login(app, make_user):
    """Posting an answer after the login ended stores it on the server and restores it after logging in."""
    user = make_user()
    browser = app.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    page = browser.get("/exercises/thank-you-email").get_data(as_text=True)
    # The login ends (for example: logged out in another tab) while the learner is still writing.
    browser.post("/logout", data={"csrf_token": csrf_token_from(page)})
    text = "My long answer that took twenty minutes to write."
    response = browser.post("/exercises/thank-you-email", data={
        "csrf_token": csrf_token_from(page), "idempotency_key": hidden_value(KEY_INPUT, page), "answer": text})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/exercises/thank-you-email")
    login_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    back = browser.post(response.headers["Location"], data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_token_from(login_page)})
    assert back.headers["Location"] == "/exercises/thank-you-email"
    restored = browser.get("/exercises/thank-you-email").get_data(as_text=True)
    assert text in restored and "Here is the answer you were working on" in restored
    # Restored once: a later visit starts clean.
    assert text not in browser.get("/exercises/thank-you-email").get_data(as_text=True)


def test_expired_session_cookie_keeps_the_draft(app, make_user):
    """With no session at all (cookie gone, so the CSRF token fails too) the draft is still kept."""
    user = make_user()
    browser = app.test_client()
    response = browser.post("/exercises/thank-you-email", data={"csrf_token": "from-a-dead-session",
                                                                "answer": "Kept across a lost session."})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    browser.post(response.headers["Location"], data={"email": user.email, "password": TEST_PASSWORD,
                                                     "csrf_token": csrf_token_from(login_page)})
    assert "Kept across a lost session." in browser.get("/exercises/thank-you-email").get_data(as_text=True)
