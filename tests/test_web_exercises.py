"""Exercises through the site without JavaScript: every type, invalid answers, double submits, feedback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

import graders
from tests.conftest import KEY_INPUT, attempts_of, csrf_token_from, form_fields, form_tokens, hidden_value
from web import types
from web.answers import OptionTokens
from web.extensions import db
from web.models import Attempt, ExerciseState

pytestmark = pytest.mark.db

EXERCISE_OF_TYPE = {
    "single_choice": "why-close-quiz",
    "multiple_choice": "next-steps-questions",
    "matching": "match-question-to-purpose",
    "categorize": "when-to-close-scenarios",
    "cloze": "contact-details-cloze",
    "ordering": "order-close-steps",
    "text": "thank-you-email",
}


def structured(samples, exercise_type):
    """Return the samples in the shape a browser posts (authors also write JSON strings for the CLI)."""
    return [s for s in samples if types.get(exercise_type).expresses(s)]


def test_every_exercise_type_of_the_test_course_is_covered(web_course):
    """The test course has one exercise of each registered grader type."""
    assert {e.type for e in web_course.exercises.values()} == set(graders.REGISTRY.names()) == set(EXERCISE_OF_TYPE)


@pytest.mark.parametrize("exercise_type", sorted(EXERCISE_OF_TYPE))
def test_each_type_grades_passing_and_failing_answers_posted_as_forms(exercise_type, app, learner, submit, client):
    """A sample pass and a sample fail, posted as plain form fields, are graded and stored as declared."""
    exercise = app.extensions["course"].exercises[EXERCISE_OF_TYPE[exercise_type]]
    passing = structured(exercise.samples.passing, exercise_type)[0]
    failing = structured(exercise.samples.failing, exercise_type)[0]
    for answer, expected in ((passing, True), (failing, False)):
        response = submit(exercise.id, answer)
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        attempt = attempts_of(learner)[-1]
        assert response.headers["Location"] == f"/attempts/{attempt.id}"
        assert attempt.passed is expected and attempt.status != "invalid"
        assert attempt.grader_version == graders.version(exercise_type) or attempt.grader_version
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert ("Passed" if expected else "Not passed yet") in html
        assert "Explanation" in html and "Try again" in html
    assert [a.attempt_number for a in attempts_of(learner)] == [1, 2]


def test_exercise_page_never_carries_the_answer_key(app, learner, client):
    """Before submission the page holds no verdicts, feedback, explanation or accepted answers."""
    course = app.extensions["course"]
    for exercise in course.exercises.values():
        html = client.get(f"/exercises/{exercise.id}").get_data(as_text=True)
        key = graders.answer_key(exercise.type, exercise.spec)
        assert exercise.explanation.strip().splitlines()[0][:40] not in html
        assert "data-correct" not in html and "answer_key" not in html
        for entry in key.get("options", []) + key.get("items", []) + key.get("left", []) + key.get("blanks", []):
            feedback = (entry.get("feedback") or "").strip()
            if feedback:
                assert feedback[:30] not in html, (exercise.id, feedback)
        for blank in key.get("blanks", []):
            assert f'value="{blank["accept"][0]}"' not in html


def test_shuffle_comes_from_the_server_side_seed(app, learner, client):
    """The order of options follows the learner's stored seed; the seed itself is not in the page."""
    html = client.get("/exercises/why-close-quiz").get_data(as_text=True)
    state = db.session.get(ExerciseState, (learner.id, "why-close-quiz"))
    exercise = app.extensions["course"].exercises["why-close-quiz"]
    tokens = form_tokens(app, client, exercise).to_token
    expected = [tokens[o["id"]] for o in graders.present(exercise.type, exercise.spec, state.shuffle_seed)["options"]]
    assert re.findall(r'id="opt-([^"]+)"', html) == expected
    assert str(state.shuffle_seed) not in html


@pytest.mark.parametrize(("exercise_id", "fields", "message"), [
    ("why-close-quiz", {}, "Choose one of the options"),
    # A value that is none of the options is ignored (the form never sends one), so nothing was chosen.
    ("why-close-quiz", {"answer": "no-such-option"}, "Choose one of the options"),
    ("next-steps-questions", {}, "Tick at least one option"),
    ("contact-details-cloze", {"blank-thank": "  "}, "Fill in at least one blank"),
    ("thank-you-email", {"answer": "   "}, "Write your answer"),
    ("match-question-to-purpose", {}, "Choose a match"),
    ("when-to-close-scenarios", {"cat-overran": "not-a-group"}, "Choose a group for at least one item"),
])
def test_invalid_answers_are_reshown_and_not_stored(exercise_id, fields, message, learner, submit):
    """An empty or malformed answer re-shows the form with a message and costs no attempt."""
    response = submit(exercise_id, fields=fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert attempts_of(learner) == []


def test_invalid_answer_keeps_what_was_typed(app, learner, submit, client):
    """The re-shown form keeps the learner's other choices."""
    exercise = app.extensions["course"].exercises["when-to-close-scenarios"]
    t = form_tokens(app, client, exercise).to_token
    response = submit(exercise.id, fields={f"cat-{t['overran']}": "not-a-group",
                                           f"cat-{t['mid-competency']}": t["wait"]})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="cat-{t["mid-competency"]}-{t["wait"]}" value="{t["wait"]}" checked', html)


def test_double_submit_stores_one_attempt(app, learner, client):
    """Posting the same form twice (same idempotency key) stores one attempt and shows the same feedback."""
    page = client.get("/exercises/why-close-quiz").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(page), "idempotency_key": hidden_value(KEY_INPUT, page),
            **form_fields(app, client, "why-close-quiz", "freshest-memory")}
    first = client.post("/exercises/why-close-quiz", data=data)
    second = client.post("/exercises/why-close-quiz", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(attempts_of(learner)) == 1


def test_ordering_buttons_work_without_javascript(learner, client, app):
    """Move up / Move down / Leave out / Put back re-show the form with the new order; nothing is stored."""
    page = client.get("/exercises/order-close-steps").get_data(as_text=True)
    order = re.findall(r'name="order" value="([^"]+)"', page)
    assert len(order) == 10
    base = {"csrf_token": csrf_token_from(page), "idempotency_key": hidden_value(KEY_INPUT, page), "order": order}

    def press(move, state):
        """Press one move button with the given hidden state; return the new (order, left out)."""
        response = client.post("/exercises/order-close-steps", data={**base, **state, "move": move})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert hidden_value(KEY_INPUT, html) == base["idempotency_key"]
        return (re.findall(r'name="order" value="([^"]+)"', html), re.findall(r'name="left_out" value="([^"]+)"', html))

    new_order, left = press(f"up:{order[1]}", {})
    assert new_order == [order[1], order[0], *order[2:]] and left == []
    new_order, left = press(f"down:{order[0]}", {})
    assert new_order == [order[1], order[0], *order[2:]]
    new_order, left = press(f"out:{order[3]}", {})
    assert order[3] not in new_order and left == [order[3]]
    new_order, left = press(f"in:{order[3]}", {"order": new_order, "left_out": left})
    assert new_order[-1] == order[3] and left == []
    assert attempts_of(learner) == []


def test_ordering_answer_leaves_out_distractors(learner, submit, app):
    """A correct order with the distractors left out passes."""
    exercise = app.extensions["course"].exercises["order-close-steps"]
    response = submit("order-close-steps", structured(exercise.samples.passing, "ordering")[0])
    assert response.status_code == 303
    assert attempts_of(learner)[0].passed


def test_unchanged_ordering_earns_nothing(learner, client):
    """Sending the shuffled order as shown is graded against the order the learner was shown."""
    page = client.get("/exercises/order-close-steps").get_data(as_text=True)
    order = re.findall(r'name="order" value="([^"]+)"', page)
    client.post("/exercises/order-close-steps", data={"csrf_token": csrf_token_from(page), "order": order,
                                                      "idempotency_key": hidden_value(KEY_INPUT, page)})
    [attempt] = attempts_of(learner)
    assert not attempt.passed


def feedback_html(submit, client, exercise_id: str, answer: Any) -> str:
    """Submit an answer through the exercise's form and return the feedback page it is sent on to."""
    response = submit(exercise_id, answer)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_feedback_highlights_words_and_escapes_the_answer(learner, submit, client):
    """The text answer is shown escaped, with triggering words in <mark>; no raw HTML from the learner."""
    answer = ("Dear Tom,\n\nThank you for your time <script>alert(1)</script> yesterday. I especially enjoyed "
              "hearing about the scheduling system. My experience running a rota fits. I am still very keen "
              "on the role and the team.\n\nBest regards,\nSam Lee")
    html = feedback_html(submit, client, "thank-you-email", answer)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark class="hl-won">' in html
    assert 'id="answer"' not in html  # feedback, not the form


def test_feedback_marks_words_that_cost_points_apart_from_words_that_earned_them(learner, submit, client):
    """Presumptuous words are highlighted as lost, the interest words as won, each labelled for screen readers."""
    answer = ("Dear Tom,\n\nThank you for your time yesterday. I especially enjoyed hearing about the "
              "scheduling system. My experience running a rota fits. I am still very keen on the role, "
              "so when do I start?\n\nBest regards,\nSam Lee")
    html = feedback_html(submit, client, "thank-you-email", answer)
    lost = re.findall(r'<mark class="hl-lost"><span class="visually-hidden">\[cost a point: </span>([^<]*)', html)
    won = re.findall(r'<mark class="hl-won"><span class="visually-hidden">\[earned a point: </span>([^<]*)', html)
    assert any("when do I start" in w for w in lost), lost
    assert any("keen" in w for w in won), won


def test_failed_check_links_back_to_its_lesson(learner, submit, client):
    """A failed check whose rule names a lesson offers a link back to it."""
    html = feedback_html(submit, client, "thank-you-email", "Hello. " * 60)
    assert "Revisit" in html and "/lessons/l-" in html


def test_retry_starts_from_the_previous_answer(app, learner, submit, client):
    """'Try again' pre-fills the form with the learner's last answer (stored with ids, shown as the form's token)."""
    response = submit("why-close-quiz", "decided-early")
    attempt_id = response.headers["Location"].rsplit("/", 1)[1]
    assert db.session.get(Attempt, int(attempt_id)).answer == "decided-early"
    html = client.get(f"/exercises/why-close-quiz?retry={attempt_id}").get_data(as_text=True)
    token = form_fields(app, client, "why-close-quiz", "decided-early")["answer"]
    assert re.findall(r'value="([^"]+)" checked', html) == [token]


def test_grader_crash_shows_a_friendly_page_and_keeps_the_text(learner, submit, monkeypatch):
    """A grader bug gives a 500 page that still holds the learner's text, and stores nothing."""

    def crash(*args, **kwargs):
        """Stand in for a broken grader."""
        raise graders.GraderCrash("text grader failed: boom")

    monkeypatch.setattr("web.services.attempts.graders.grade", crash)
    response = submit("thank-you-email", "My carefully written note that must not be lost.")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "My carefully written note that must not be lost." in html
    assert "Traceback" not in html
    assert attempts_of(learner) == []


def test_exercises_need_a_login(client):
    """Anonymous visitors are sent to log in, and come back to the exercise afterwards."""
    response = client.get("/exercises/why-close-quiz")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/exercises/why-close-quiz")


def test_unknown_exercise_is_404(learner, client):
    """An unknown exercise id is a 404 page."""
    assert client.get("/exercises/no-such-thing").status_code == 404


def test_attempt_count_in_database_matches(learner, submit):
    """Three submissions with fresh keys store three attempts numbered 1..3."""
    for _ in range(3):
        submit("why-close-quiz", "decided-early")
    count = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.user_id == learner.id))
    assert count == 3
    assert [a.attempt_number for a in attempts_of(learner)] == [1, 2, 3]


def test_option_tokens_stay_unique_even_if_their_short_form_clashes(monkeypatch):
    """Should two ids of an exercise share a short token, that form uses whole digests: every token stays unique."""
    monkeypatch.setattr("web.answers.TOKEN_DIGITS", 1)  # 16 short tokens for 20 ids: a clash is certain
    view = {"options": [{"id": f"option-{n}", "text": str(n)} for n in range(20)]}
    tokens = OptionTokens.for_view("secret", 7, "quiz", view)
    assert len(set(tokens.to_token.values())) == 20
    assert tokens.to_ids("multiple_choice", tokens.to_tokens("multiple_choice", ["option-3", "option-9"])) == [
        "option-3", "option-9"]
