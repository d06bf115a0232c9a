"""The shipped course through the site: every lesson and exercise renders, and each exercise's sample answers,
posted as a browser would, grade as the author declared."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import KEY_INPUT, TEST_PASSWORD, answer_fields, csrf_token_from, form_tokens, hidden_value
from web import create_app, types

pytestmark = pytest.mark.db


@pytest.fixture
def shipped_app(app_config, connection):
    """Return the site serving the shipped course (COURSE_DIR unset), in the test's transaction."""
    config = {k: v for k, v in app_config.items() if k != "COURSE_DIR"}
    application: Flask = create_app(config)
    application.extensions["db_bind"] = connection
    with application.app_context():
        yield application


def form_samples(exercise, samples):
    """Return the samples written in the shape a form posts (skipping CLI-style JSON strings)."""
    return [s for s in samples if types.get(exercise.type).expresses(s)]


def test_every_page_of_the_shipped_course_renders_and_samples_grade_as_declared(shipped_app, make_user):
    """Visitor pages, then a learner's exercise pages and one pass and one fail sample of each exercise."""
    client = shipped_app.test_client()
    course = shipped_app.extensions["course"]
    assert client.get("/").status_code == 200
    for lesson_id in course.lesson_order():
        response = client.get(f"/lessons/{lesson_id}")
        assert response.status_code == 200, lesson_id
        assert "exercise:" not in response.get_data(as_text=True), lesson_id
    user = make_user()
    login_page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                "csrf_token": csrf_token_from(login_page)})
    for exercise_id in course.exercise_order():
        exercise = course.exercises[exercise_id]
        for samples, expected in ((exercise.samples.passing, True), (exercise.samples.failing, False)):
            usable = form_samples(exercise, samples)
            assert usable, f"{exercise_id}: no sample in the shape a form posts"
            page = client.get(f"/exercises/{exercise_id}")
            assert page.status_code == 200, exercise_id
            html = page.get_data(as_text=True)
            data = {"csrf_token": csrf_token_from(html), "idempotency_key": hidden_value(KEY_INPUT, html),
                    **answer_fields(exercise, usable[0], form_tokens(shipped_app, client, exercise))}
            response = client.post(f"/exercises/{exercise_id}", data=data)
            assert response.status_code == 303, (exercise_id, response.get_data(as_text=True)[:500])
            feedback = client.get(response.headers["Location"]).get_data(as_text=True)
            assert ("Passed" if expected else "Not passed yet") in feedback, (exercise_id, expected)
