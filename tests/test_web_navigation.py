"""Moving through the course on the site: Next after feedback and lessons, the outline, where login lands, what
feedback holds back until the solution may be shown, and instructions that match the page in front of the learner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course.loader import load_course
from tests.conftest import TEST_PASSWORD, csrf_token_from, login_as

pytestmark = pytest.mark.db
REPO = Path(__file__).resolve().parents[1]
ACTIONS = re.compile(r'<div class="actions next-step">(.*?)</div>', re.S)


def passing(exercise):
    """The first passing sample in the shape a form posts."""
    return next(s for s in exercise.samples.passing if not (isinstance(s, str) and s.startswith(('"', "{", "["))))


def failing(exercise):
    """The first failing sample in the shape a form posts."""
    return next(s for s in exercise.samples.failing if not (isinstance(s, str) and s.startswith(('"', "{", "["))))


def feedback_html(client, response) -> str:
    """Follow a submission's redirect to its feedback page and return the page."""
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def buttons(html: str) -> list[tuple[str, str, str]]:
    """Return (class, href, text) of the links in the feedback page's next-step actions, in order."""
    (actions,) = ACTIONS.findall(html)
    return [(cls, href, re.sub(r"\s+", " ", text).strip()) for cls, href, text in
            re.findall(r'<a (?:class="([^"]*)" )?href="([^"]+)"[^>]*>(.*?)</a>', actions, re.S)]


def test_after_a_pass_next_is_the_main_button(app, learner, submit, client):
    """A passed exercise's feedback leads on to the next exercise of the lesson as its main button."""
    exercise = app.extensions["course"].exercises["next-steps-questions"]
    html = feedback_html(client, submit(exercise.id, passing(exercise)))
    first, second, *_ = buttons(html)
    assert first == ("button", "/exercises/why-close-quiz", "Next: Why the last minutes count")
    assert second[0] == "button secondary" and second[2] == "Try again"


def test_before_a_pass_try_again_is_the_main_button_with_next_beside_it(app, learner, submit, client):
    """A failed attempt offers Try again first, and a next step too: after a lesson's last exercise, the next lesson."""
    exercise = app.extensions["course"].exercises["why-close-quiz"]
    html = feedback_html(client, submit(exercise.id, failing(exercise)))
    first, second, *_ = buttons(html)
    assert first[0] == "button" and first[2] == "Try again" and "retry=" in first[1]
    assert second == ("button secondary", "/lessons/l-two", "Next: Second lesson")


def test_the_last_activity_leads_to_the_certificate(app, learner, submit, client):
    """The course's last exercise's Next goes to the certificate."""
    exercise = app.extensions["course"].exercises["thank-you-email"]
    html = feedback_html(client, submit(exercise.id, passing(exercise)))
    assert buttons(html)[0] == ("button", "/progress/certificate", "Next: Your certificate")


def test_a_lessons_next_goes_to_its_first_exercise(client):
    """The lesson pager's Next is the lesson's own first exercise, not the next lesson."""
    html = client.get("/lessons/l-one").get_data(as_text=True)
    assert re.search(r'<a class="button" href="/exercises/next-steps-questions" rel="next">'
                     r"Next: Good next-steps questions →</a>", html)
    html = client.get("/lessons/l-two").get_data(as_text=True)
    assert 'href="/exercises/why-close-quiz" rel="prev">← Previous: Why the last minutes count' in html


def test_outline_beside_a_lesson_ticks_done_items_and_marks_the_current_one(app, learner, submit, client):
    """Both outlines (phone and wide) are <details>; a passed exercise is ticked; the page shown has aria-current."""
    exercise = app.extensions["course"].exercises["why-close-quiz"]
    submit(exercise.id, passing(exercise))
    client.get("/lessons/l-one")
    html = client.get("/exercises/match-question-to-purpose").get_data(as_text=True)
    assert html.count('<details class="course-outline') == 2
    assert re.search(r'<details class="course-outline outline-phone">', html)  # collapsed on a phone
    assert re.search(r'<details class="course-outline outline-wide" open>', html)
    current = re.findall(r'<a href="([^"]+)" aria-current="page"', html)
    assert current == ["/exercises/match-question-to-purpose"] * 2
    done = re.findall(r'<a href="([^"]+)" class="outline-link is-done', html)
    assert sorted(set(done)) == ["/exercises/why-close-quiz", "/lessons/l-one"]
    assert "2 of 10 lessons read and exercises passed" in html and "· 20% done" in html


def test_the_outlines_addresses_follow_the_path_the_site_is_mounted_under(client):
    """The outline's (cached) step addresses carry each request's script root: one mount does not leak into another."""
    def outline_links(**environ) -> set[str]:
        """Return the outline's lesson addresses on one lesson page."""
        html = client.get("/lessons/l-two", environ_overrides=environ).get_data(as_text=True)
        return set(re.findall(r'<a href="([^"]*/lessons/l-one)"[^>]*class="outline-link', html))

    assert outline_links() == {"/lessons/l-one"}
    assert outline_links(SCRIPT_NAME="/careers") == {"/careers/lessons/l-one"}
    assert outline_links() == {"/lessons/l-one"}


def test_the_kept_outline_follows_each_learners_own_progress(app, make_user, submit, client):
    """The rendered outline is shared by learners at the same point only: a pass changes one learner's ticks at once,
    and another learner, or a visitor, never sees them."""
    def ticked() -> list[str]:
        """Return the addresses the outline ticks on one lesson page."""
        html = client.get("/lessons/l-two").get_data(as_text=True)
        return sorted(set(re.findall(r'<a href="([^"]+)"[^>]*class="outline-link is-done', html)))

    first, second = make_user(), make_user()
    login_as(client, first)
    assert ticked() == ["/lessons/l-two"]
    exercise = app.extensions["course"].exercises["why-close-quiz"]
    submit(exercise.id, passing(exercise))
    assert ticked() == ["/exercises/why-close-quiz", "/lessons/l-two"]
    login_as(client, second)
    assert ticked() == ["/lessons/l-two"]
    with client.session_transaction() as sess:
        sess.clear()
    assert ticked() == []


def test_anonymous_readers_get_the_outline_without_a_share(client):
    """Someone reading without an account sees the outline, with nothing ticked and no share of the course done."""
    html = client.get("/lessons/l-two").get_data(as_text=True)
    assert 'aria-current="page"' in html and "is-done" not in html and "% done" not in html


@pytest.mark.parametrize(("role", "landing"), [("learner", "/progress"), ("instructor", "/instructor/"),
                                               ("admin", "/admin/")])
def test_login_lands_where_each_roles_work_is(client, make_user, role, landing):
    """A learner lands on their progress, an instructor on their cohorts, an admin on the admin page."""
    user = make_user(role=role)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == landing


def test_an_explicit_safe_next_still_wins_over_the_roles_landing(client, make_user):
    """An instructor sent to log in from a lesson goes back to it; an off-site next is ignored."""
    user = make_user(role="instructor")
    for target, expected in (("/lessons/l-two", "/lessons/l-two"), ("//evil.example/", "/instructor/")):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", query_string={"next": target},
                               data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == expected
        client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})


def test_feedback_holds_the_solution_back_until_a_pass_or_three_attempts(app, learner, submit, client):
    """Matching: before the solution only the wrong questions, no pair feedback, no explanation; after 3 tries, all."""
    exercise = app.extensions["course"].exercises["match-question-to-purpose"]
    answer = dict(passing(exercise), **{"q-next": "keep-moving", "q-needed": "timeline"})
    explanation = "Knowing what each question is for helps you choose"
    for attempt in (1, 2):
        html = feedback_html(client, submit(exercise.id, answer))
        assert "What to change" in html and "3 of 5 matches are right." in html
        assert "not the right match yet" in html and "This question tells you the timeline" not in html
        assert explanation not in html and f"after 3 attempts (you have made {attempt})" in html
    html = feedback_html(client, submit(exercise.id, answer))
    assert "What we checked" in html and explanation in html
    assert "This question tells you the timeline" in html


def test_a_pass_shows_the_solution_at_once(app, learner, submit, client):
    """A learner who passes sees the explanation on their first attempt."""
    exercise = app.extensions["course"].exercises["contact-details-cloze"]
    html = feedback_html(client, submit(exercise.id, passing(exercise)))
    assert "What we checked" in html and "The final moves of a close are simple" in html


def test_the_text_box_states_its_character_limit_without_javascript(learner, client):
    """The 5,000-character limit is written beside the box, and the script's counter has a polite live region."""
    html = client.get("/exercises/thank-you-email").get_data(as_text=True)
    assert "An answer can be up to 5,000 characters." in html
    assert 'data-max-chars="5000"' in html and '<p class="hint char-count" id="char-count" aria-live="polite">' in html
    assert re.search(r'aria-describedby="answer-hint word-count char-count"', html)


def test_the_no_javascript_ordering_page_does_not_talk_about_dragging(learner, client):
    """Without the script nothing can be dragged, so the page's own instructions name only the buttons."""
    html = client.get("/exercises/order-close-steps").get_data(as_text=True)
    help_text = re.search(r'<p class="hint" id="ordering-help">(.*?)</p>', html, re.S).group(1)
    assert "Move up" in help_text and not re.search(r"drag|drop|Space", help_text, re.I)


def test_matching_prompts_do_not_speak_of_left_and_right():
    """Matching is a list of menus on the page, so no shipped or test prompt points left or right."""
    for root in (REPO, REPO / "tests" / "web_course"):
        for exercise in load_course(root, extra_dirs=()).exercises.values():
            if exercise.type == "matching":
                assert not re.search(r"\b(left|right)\b", exercise.prompt, re.I), exercise.id


def test_a_lessons_practise_links_are_named_by_the_exercises_titles():
    """Every 'Practise' list link to an exercise reads as that exercise's own title, so the names match."""
    course = load_course(REPO, extra_dirs=())
    checked = 0
    for lesson in course.lessons.values():
        practise = lesson.body.partition("## Practise")[2]
        for text, kind, ident in re.findall(r"\[([^\]]+)\]\((exercise|lesson):([^)\s]+)\)", practise):
            if kind == "exercise":
                assert text == course.exercises[ident].title, f"{lesson.id}: [{text}] links to {ident}"
                checked += 1
    assert checked == len(course.exercises)
