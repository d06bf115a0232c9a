"""Progress page, recommendations, completion rule and the certificate."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from web.extensions import db
from web.services.progress import DONE, IN_PROGRESS, NOT_STARTED, load_progress

pytestmark = pytest.mark.db


def finish_course(client, make_attempt, user, course, skip_exercise=None, skip_lesson=None):
    """Read every lesson and pass every exercise, except the ones named."""
    for lesson_id in course.lesson_order():
        if lesson_id != skip_lesson:
            client.get(f"/lessons/{lesson_id}")
    for exercise_id in course.exercise_order():
        if exercise_id != skip_exercise:
            make_attempt(user, exercise_id, score=1.0)


@pytest.fixture
def learner(make_user, login):
    """Return a logged-in learner."""
    user = make_user(display_name="Grace Hopper")
    login(user)
    return user


def test_statuses_follow_attempts_and_reading(app, learner, make_attempt, client):
    """Exercise: passed is done, tried is in progress. Lesson: done once read and its exercises passed."""
    course = app.extensions["course"]
    make_attempt(learner, "why-close-quiz", score=0.3)
    progress = load_progress(course, learner)
    assert progress.exercise_status("why-close-quiz") == IN_PROGRESS
    assert progress.exercise_status("next-steps-questions") == NOT_STARTED
    assert progress.lesson_status("l-one") == IN_PROGRESS
    client.get("/lessons/l-one")
    make_attempt(learner, "why-close-quiz", score=1.0)
    make_attempt(learner, "next-steps-questions", score=1.0)
    progress = load_progress(course, learner)
    assert progress.exercise("why-close-quiz").best_score == 1.0
    assert progress.exercise("why-close-quiz").attempts == 2
    assert progress.lesson_status("l-one") == DONE
    assert progress.module_status("intro") == IN_PROGRESS
    assert progress.module_counts("intro") == (3, 6)  # l-one read + 2 passed, of 2 lessons and 4 exercises


def test_lesson_page_reads_the_learners_lessons_once(app, learner, client, connection):
    """The rows behind the status badges also tell whether the visit needs recording: one read, not two."""
    client.get("/lessons/l-one")
    # Tests share one session across requests; a real request starts with an empty one.
    db.session.expunge_all()
    statements = []

    def record(_conn, _cursor, statement, *_rest):
        """Keep every statement the page sends."""
        statements.append(" ".join(statement.split()))

    event.listen(connection, "before_cursor_execute", record)
    try:
        html = client.get("/lessons/l-one").get_data(as_text=True)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert "Log out" in html, "the learner is logged in"
    lesson_reads = [s for s in statements if s.startswith("SELECT") and "FROM lesson_progress" in s]
    assert len(lesson_reads) == 1, statements
    assert not any(s.startswith(("INSERT", "UPDATE")) for s in statements), "a reload within a minute writes"


def test_progress_page_shows_bars_scores_and_attempts(learner, make_attempt, client):
    """Each module has a labelled <progress>; each exercise shows best score and attempt count."""
    make_attempt(learner, "why-close-quiz", score=0.5)
    make_attempt(learner, "why-close-quiz", score=0.75)
    html = client.get("/progress").get_data(as_text=True)
    for module in ("intro", "practice"):
        assert f'<label for="progress-{module}">' in html and f'<progress id="progress-{module}"' in html
    # Each cell is labelled, so the row still reads on a phone where the table becomes cards.
    assert re.search(r'Why the last minutes count</a></th>\s*<td data-label="Status">.*?</td>\s*'
                     r'<td data-label="Best score">75%</td>\s*<td data-label="Attempts">2</td>', html, re.S)


def test_recommendation_sends_a_failed_check_back_to_its_lesson(app, learner, make_attempt, client):
    """After a failed check that names a lesson, the recommended next step is that lesson."""
    make_attempt(learner, "thank-you-email", score=0.4, checks=[
        {"id": "fit-reminder", "passed": False, "weight": 2, "message": "Tie your experience in.", "spans": [],
         "required": False, "earned": None, "lesson": "l-two"}])
    html = client.get("/progress").get_data(as_text=True)
    assert re.search(r'Recommended next: <a href="/lessons/l-two">Second lesson</a>', html)


def test_recommendation_after_a_failed_structured_check_is_the_exercises_lesson(app, learner, make_attempt,
                                                                              client):
    """Structured graders' checks name no lesson: a failed one sends the learner back to the exercise's lesson."""
    client.get("/lessons/l-one")
    make_attempt(learner, "when-to-close-scenarios", score=0.4, checks=[
        {"id": "item:standing-up", "passed": False, "weight": 1, "message": "Not Wait.", "spans": [],
         "required": False, "earned": 0.0, "lesson": None}])
    html = client.get("/progress").get_data(as_text=True)
    assert re.search(r'Recommended next: <a href="/lessons/l-two">Second lesson</a>', html)
    assert "missed something this lesson teaches" in html


def test_recommendation_without_failures_is_the_first_unfinished_item(learner, client):
    """A new learner is pointed at the first lesson."""
    html = client.get("/progress").get_data(as_text=True)
    assert 'Recommended next: <a href="/lessons/l-one">' in html


def test_continue_where_you_left_off(learner, make_attempt, client):
    """The last thing touched is offered to continue with."""
    client.get("/lessons/l-one")
    make_attempt(learner, "match-question-to-purpose", score=0.2)
    html = client.get("/progress").get_data(as_text=True)
    assert 'Continue where you left off: <a href="/exercises/match-question-to-purpose">' in html


def test_certificate_needs_every_lesson_and_exercise(app, learner, make_attempt, client):
    """Until the completion rule is met the certificate is refused with what is left; then it prints."""
    course = app.extensions["course"]
    finish_course(client, make_attempt, learner, course, skip_exercise="thank-you-email")
    response = client.get("/progress/certificate")
    assert response.status_code == 403 and "not available yet" in response.get_data(as_text=True)
    make_attempt(learner, "thank-you-email", score=0.5)  # tried but failed: still not complete
    assert client.get("/progress/certificate").status_code == 403
    make_attempt(learner, "thank-you-email", score=1.0)
    response = client.get("/progress/certificate")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Certificate of completion" in html and "Grace Hopper" in html and course.title in html
    assert 'media="print"' in html
    assert "You have completed the course" in client.get("/progress").get_data(as_text=True)


def test_unread_lesson_blocks_completion(app, learner, make_attempt, client):
    """Passing every exercise is not enough: every lesson must be read too."""
    course = app.extensions["course"]
    finish_course(client, make_attempt, learner, course, skip_lesson="l-three")
    assert not load_progress(course, learner).is_complete()
    client.get("/lessons/l-three")
    assert load_progress(course, learner).is_complete()


def test_progress_needs_login(client):
    """The progress page and certificate are for logged-in learners."""
    for url in ("/progress", "/progress/certificate"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
