"""Score lines say the same thing everywhere: weighted tallies, the reason a high score is not a pass, site times."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

import graders
from tests.conftest import cohort_with_members, login_as
from web import create_app
from web.config import ConfigError
from web.extensions import db
from web.models import Cohort, CohortMembership
from web.services import results

MATCHING = {
    "left": [{"id": f"q{i}", "text": f"Question {i}", "match": f"p{i}"} for i in range(5)],
    "right": [*({"id": f"p{i}", "text": f"Purpose {i}"} for i in range(5)),
              {"id": "pressure", "text": "Force a decision", "misconception": "Pushing costs offers."}],
}


def test_a_chosen_misconception_is_named_in_the_result_line():
    """4 of 5 pairs right is 80%, but a misconception fails it: the line says why, not just 'Not passed yet'."""
    spec = graders.compile_spec("matching", MATCHING)
    answer = {"q0": "pressure", **{f"q{i}": f"p{i}" for i in range(1, 5)}}
    result = graders.grade("matching", spec, answer)
    assert round(result.score * 100) == 80 and not result.passed
    assert results.result_line("matching", result) == "80% · Not passed yet: a misconception was chosen"
    right = graders.grade("matching", spec, {f"q{i}": f"p{i}" for i in range(5)})
    assert results.result_line("matching", right) == "100% · Passed"
    plain_miss = graders.grade("matching", spec, {"q0": "p1", "q1": "p0", **{f"q{i}": f"p{i}" for i in range(2, 5)}})
    assert results.result_line("matching", plain_miss) == "60% · Not passed yet"


def test_ordering_and_text_lines_name_their_own_reason(web_course):
    """A placed distractor and a missed required text point are named; a low text score needs no reason."""
    order = web_course.exercises["order-close-steps"]
    steps = ["final-questions", "invite-concerns", "address-concerns", "recap-fit", "express-interest",
             "ask-start-date", "next-steps", "thanks-contact"]
    line = results.result_line("ordering", graders.grade("ordering", order.spec, steps))
    assert line.endswith("Not passed yet: a step that does not belong was placed")
    text = graders.compile_spec("text", {
        "checks": [{"id": "thanks", "require": "t", "weight": 4}, {"id": "length", "words": {"min": 3}}],
        "concepts": {"t": {"phrases": ["thank you"]}}})
    short = graders.grade("text", text, "Thank you for the interview today.")
    missed = graders.grade("text", text, "I enjoyed the interview today, it was great. See you soon.")
    assert results.result_line("text", short) == "100% · Passed"
    assert results.result_line("text", missed) == "33% · Not passed yet"


def test_weighted_tallies_say_weighted_and_agree_with_the_percentage():
    """Unequal weights: 'N of M points met (weighted)' with N/M the percentage; equal weights: a plain count."""
    concepts = {"a": {"phrases": ["thank you"]}, "b": {"phrases": ["next steps"]}}
    weighted = graders.compile_spec("text", {"concepts": concepts, "checks": [
        {"id": "thanks", "require": "a", "weight": 3}, {"id": "next", "require": "b", "weight": 1}]})
    result = graders.grade("text", weighted, "Thank you for your time today. I enjoyed it a lot.")
    assert "4 of 5 points met (weighted)" in result.message and round(result.score * 100) == 80
    assert not result.passed  # `next` is required
    assert results.result_line("text", result) == "80% · Not passed yet: a required point is not met"
    equal = graders.compile_spec("text", {"concepts": concepts, "checks": [
        {"id": "thanks", "require": "a"}, {"id": "next", "require": "b"}]})
    result = graders.grade("text", equal, "Thank you for your time today. I enjoyed it a lot.")
    assert "2 of 3 points met" in result.message and "weighted" not in result.message
    assert round(result.score * 100) == round(2 / 3 * 100)


@pytest.mark.db
def test_feedback_page_shows_the_reason_in_the_result_line(client, make_user, make_attempt):
    """The attempt page's result line carries the misconception, as stored on the attempt."""
    learner = make_user()
    checks = [{"id": "pair:q-concerns", "passed": False, "weight": 1.0, "required": True,
               "message": "Not quite. Pushing costs offers."},
              *({"id": f"pair:{q}", "passed": True, "weight": 1.0, "message": "Right."}
                for q in ("q-next", "q-needed", "q-trend", "q-culture"))]
    attempt = make_attempt(learner, "match-question-to-purpose", score=0.8, passed=False, checks=checks,
                           status="partial", answer={"q-concerns": "pressure"})
    login_as(client, learner)
    html = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "80% · Not passed yet: a misconception was chosen" in html
    # The instructor's drill-down gives the same line for the same attempt.
    instructor = make_user("instructor")
    cohort = cohort_with_members(instructor, learner, name="Lines", join_code="LINE-0001")
    login_as(client, instructor)
    drill = client.get(f"/instructor/cohorts/{cohort.id}/learners/{learner.id}").get_data(as_text=True)
    assert "score 80% · Not passed yet: a misconception was chosen (partial)" in drill


# ---------------------------------------------------------------------------------------- time zone


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "CEST+2", "../../etc/passwd", "Europe/"])
def test_an_unknown_time_zone_stops_start_up_naming_the_setting(app_config, value):
    """SITE_TIMEZONE must be an IANA name: anything else is a one-line start-up error that names it."""
    with pytest.raises(ConfigError, match=r"SITE_TIMEZONE must be a time zone name .* got"):
        create_app({**app_config, "SITE_TIMEZONE": value})


def test_the_cli_reports_a_bad_time_zone_in_one_line(monkeypatch, runner, tmp_path):
    """A site command started with a bad SITE_TIMEZONE prints the error, not a traceback."""
    monkeypatch.setenv("SITE_TIMEZONE", "Nowhere/Special")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'site.sqlite3'}")
    result = runner.invoke(args=["regrade", "why-close-quiz", "--dry-run"])
    assert result.exit_code == 1
    err = result.stderr
    assert "SITE_TIMEZONE" in err and "Nowhere/Special" in err and "Traceback" not in err


def test_time_zone_defaults_to_utc(app_config, monkeypatch):
    """Unset, the site shows UTC."""
    monkeypatch.delenv("SITE_TIMEZONE", raising=False)
    assert create_app(app_config).config["SITE_TIMEZONE"] == "UTC"


@pytest.mark.db
def test_drill_down_and_gradebook_show_times_in_the_site_zone(app, client, make_user, make_attempt):
    """With SITE_TIMEZONE set, the drill-down and the CSV give local times and name the zone."""
    app.config["SITE_TIMEZONE"] = "America/New_York"
    instructor = make_user("instructor")
    learner = make_user(display_name="Noor")
    cohort = Cohort(name="Zones", owner_id=instructor.id, join_code="ZONE-0001")
    db.session.add(cohort)
    db.session.commit()
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=learner.id,
                                    joined_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC)))
    attempt = make_attempt(learner, "why-close-quiz", score=1.0)
    attempt.created_at = datetime(2026, 1, 15, 12, 30, tzinfo=UTC)
    db.session.commit()
    login_as(client, instructor)
    drill = client.get(f"/instructor/cohorts/{cohort.id}/learners/{learner.id}").get_data(as_text=True)
    assert "15 Jan 2026 07:30 America/New_York" in drill  # winter: UTC-5
    text = client.get(f"/instructor/cohorts/{cohort.id}/gradebook.csv").get_data(as_text=True)
    ids, words, noor = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert words[2] == "Joined (America/New_York)" and noor[2] == "2026-07-01 08:00:00"  # summer: UTC-4
    assert noor[ids.index("why-close-quiz")] == "100.0"
