"""Review: the grader's own doubt, learners' appeals, the instructors' queue, overrides and what they change."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import func, select

import graders
from tests.conftest import csrf_token_from, login_as
from web.extensions import db
from web.models import Appeal, Attempt, AttemptOverride, Cohort, CohortMembership, ReviewDecision
from web.services import gradebook, reviews
from web.services.progress import load_progress
from web.services.regrade import regrade_exercise

SPEC = {
    "concepts": {
        "thanks": {"phrases": ["thank you", "thanks"]},
        "interest": {"phrases": ["keen on {the|this} role"]},
        "presumption": {"phrases": ["when do i start"]},
    },
    "checks": [
        {"id": "thanks", "require": "thanks", "pass": "You thank them.", "fail": "Thank them."},
        {"id": "interest", "require": "interest", "pass": "You say you want it.", "fail": "Say you want it."},
        {"id": "no-presumption", "forbid": "presumption", "fail": "Do not presume."},
        {"id": "length", "words": {"min": 5, "max": 400}},
    ],
}
FILLER = ("We talked about the office near the river for a while. The weather in the city was grey but mild that "
          "morning. My train was a little late, so I walked the last part of the way. The building has a lovely "
          "garden at the back of it. I once lived in a flat on the other side of the park. Their coffee machine "
          "makes a very strong cup, I noticed. Traffic on the main road was heavy on the way home again. A colleague "
          "of mine used to work two floors above them. The lift was out of order, so we took the stairs up together. "
          "There is a new bakery opening on the corner next month.")


def grade(text: str) -> graders.Result:
    """Grade a text against SPEC at the usual pass mark."""
    return graders.grade("text", graders.compile_spec("text", SPEC), text, graders.Context(pass_threshold=0.8))


# ------------------------------------------------------------------------------------ the grader's doubt


@pytest.mark.parametrize(("text", "reasons"), [
    ("Thank you for your time today. I am keen on the role and would like to join the team.", ()),
    ("Thank you for your time today. I would like to hear from you about the next steps.", ("near-pass",)),
    ("Thnak you for your time today. I am keen on the role and would like to join the team.", ("loose-match",)),
    ("Thank you, when do I start? I am keen on the role and would like to join the team.",
     ("near-pass", "guard-and-move")),
    ("Thank you for your time today. I am keen on the role. " + FILLER, ("few-matches",)),
])
def test_each_reason_for_a_review(text, reasons):
    """Each reason fires on the answer built for it, and a sure grade suggests nothing."""
    result = grade(text)
    assert result.review_reasons == reasons
    assert result.review == ("suggested" if reasons else "none")


def test_one_weak_tone_marker_alone_passes_but_asks_for_a_look():
    """A laugh alone does not fail the tone (innocent as often as not), but the pass is suggested for review; two
    weak markers fail the tone, and an answer with none is sure."""
    spec = graders.compile_spec("text", {**SPEC, "checks": [*SPEC["checks"], {"id": "tone", "tone": ["sarcasm"]}]})

    def reasons(text: str) -> tuple[bool, tuple[str, ...]]:
        """Whether the text passes, and why it should be reviewed."""
        result = graders.grade("text", spec, text, graders.Context(pass_threshold=0.8))
        return result.passed, result.review_reasons

    assert reasons("Thank you for your time today. I am keen on the role and would like to join the team.") == (
        True, ())
    assert reasons("Thank you for your time today, haha. I am keen on the role and would like to join the team.") == (
        True, ("tone-hint",))
    passed, _ = reasons("Thank you for your time today, haha. I am keen on the role, lol, no wonder.")
    assert not passed


def test_review_is_deterministic_stored_and_versioned():
    """The flag round-trips through the stored shape, comes out the same twice, and the version says it exists."""
    text = "Thnak you for your time today. I am keen on the role and would like to join the team."
    first, second = grade(text), grade(text)
    assert first == second
    assert graders.Result.from_dict(first.to_dict()) == first
    assert first.to_dict()["review_reasons"] == ["loose-match"]
    assert first.grader_version.startswith("4+")


def test_a_keyword_list_suggests_nothing():
    """A guard-zeroed answer is sure: nothing one check could change."""
    result = grade("I am keen on the role. I am keen on the role. I am keen on the role. Thank you. Thank you.")
    assert not result.passed and result.review == "none"


# ------------------------------------------------------------------------------------ the site


@pytest.fixture
def world(app, make_user, make_attempt, web_course):
    """An instructor's cohort with a learner who has one failed text attempt; another learner; a self-paced one."""
    owner = make_user("instructor")
    cohort = Cohort(name="Review cohort", owner_id=owner.id, join_code="RVWC-2345")
    db.session.add(cohort)
    db.session.commit()
    learner = make_user("learner", display_name="Ada Learner")
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=learner.id))
    db.session.commit()
    attempt = make_attempt(learner, "thank-you-email", score=0.5, passed=False, answer="Dear Ms Lee, thanks.",
                           answer_text="Dear Ms Lee, thanks.")
    return {"owner": owner, "cohort": cohort, "learner": learner, "attempt": attempt,
            "other": make_user("learner"), "solo": make_user("learner")}


def post_form(client, page_url: str, url: str, data: dict):
    """POST a form with the CSRF token taken from a page."""
    token = csrf_token_from(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


@pytest.mark.db
def test_a_learner_appeals_their_attempt_once(app, world):
    """The appeal is stored and shown as waiting; a second one is refused and the first one kept."""
    client = app.test_client()
    login_as(client, world["learner"])
    url = f"/attempts/{world['attempt'].id}"
    page = client.get(url).get_data(as_text=True)
    assert "I think this was graded wrong" in page and "Appeals go to your instructor" in page
    response = post_form(client, url, f"{url}/appeal", {"reason": "I did thank them <b>twice</b>."})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Waiting" in page and "I did thank them &lt;b&gt;twice&lt;/b&gt;." in page
    token = csrf_token_from(client.get("/join").get_data(as_text=True))
    again = client.post(f"{url}/appeal", data={"csrf_token": token, "reason": "Again."})
    assert again.status_code == 400 and "appealed already" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


@pytest.mark.db
def test_appeal_reason_is_checked_and_kept_when_refused(app, world):
    """Over 500 characters is refused with the reason named, and the typed text comes back in the form."""
    client = app.test_client()
    login_as(client, world["learner"])
    url = f"/attempts/{world['attempt'].id}"
    long_reason = "word " * 120
    response = post_form(client, url, f"{url}/appeal", {"reason": long_reason})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "At most 500 characters" in body and "word word" in body
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


@pytest.mark.db
def test_a_learner_cannot_appeal_another_learners_attempt(app, world):
    """Someone else's attempt answers 404, like a missing one, and no appeal is stored."""
    client = app.test_client()
    login_as(client, world["other"])
    token = csrf_token_from(client.get("/join").get_data(as_text=True))
    response = client.post(f"/attempts/{world['attempt'].id}/appeal", data={"csrf_token": token, "reason": "Mine"})
    assert response.status_code == 404
    missing = client.post("/attempts/999999/appeal", data={"csrf_token": token, "reason": "Mine"})
    assert missing.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


@pytest.mark.db
def test_appeals_are_rate_limited_per_account(app, world, make_attempt):
    """Past APPEAL_RATE_LIMIT an account's appeals are refused with 429, and nothing more is stored."""
    app.config["APPEAL_RATE_LIMIT"] = "2/hour"
    more = [make_attempt(world["learner"], "thank-you-email", score=0.5, passed=False) for _ in range(2)]
    client = app.test_client()
    login_as(client, world["learner"])
    token = csrf_token_from(client.get("/join").get_data(as_text=True))
    codes = [client.post(f"/attempts/{a.id}/appeal", data={"csrf_token": token, "reason": "Look again."}).status_code
             for a in [world["attempt"], *more]]
    assert codes == [302, 302, 429]
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 2


@pytest.mark.db
def test_self_paced_learners_are_told_appeals_go_to_admins(app, world, make_attempt):
    """A learner in no cohort reads who looks at an appeal."""
    attempt = make_attempt(world["solo"], "thank-you-email", score=0.5, passed=False)
    client = app.test_client()
    login_as(client, world["solo"])
    assert "appeals go to the site's admins" in client.get(f"/attempts/{attempt.id}").get_data(as_text=True)


def appeal(world, reason="Please look again.") -> Appeal:
    """Store an appeal of the world's attempt."""
    return reviews.submit_appeal(world["learner"], world["attempt"].id, reason)


@pytest.mark.db
def test_the_queue_lists_appealed_first_then_suggested(app, world, make_attempt):
    """Appealed attempts first, then the latest suggested ones; filters by exercise, reason and state."""
    suggested = make_attempt(world["learner"], "why-close-quiz", score=0.75, passed=False)
    suggested.review, suggested.review_reasons = "suggested", ["near-pass"]
    older = make_attempt(world["learner"], "next-steps-questions", score=0.7, passed=False)
    older.review, older.review_reasons = "suggested", ["near-pass"]
    db.session.commit()
    make_attempt(world["learner"], "next-steps-questions", score=1.0)  # a newer attempt makes `older` moot
    appeal(world)
    found = reviews.queue(world["cohort"])
    items, total = found.items, found.total
    assert [i.attempt.id for i in items] == [world["attempt"].id, suggested.id] and total == 2
    assert reviews.queue(world["cohort"], reason="appealed").total == 1
    assert [i.attempt.id for i in reviews.queue(world["cohort"], reason="near-pass").items] == [suggested.id]
    assert reviews.queue(world["cohort"], exercise_id="why-close-quiz").total == 1
    assert reviews.queue(world["cohort"], state="done").total == 0
    assert reviews.open_count(world["cohort"]) == 2
    assert reviews.open_count(None) == 0  # the self-paced queue holds nobody of this cohort

    client = app.test_client()
    login_as(client, world["owner"])
    page = client.get(f"/instructor/cohorts/{world['cohort'].id}/review").get_data(as_text=True)
    assert page.index("Please look again.") < page.index("Suggested")
    assert "Review (2 open)" in client.get(f"/instructor/cohorts/{world['cohort'].id}").get_data(as_text=True)


@pytest.mark.db
def test_the_item_shows_answer_checks_and_reason(app, world):
    """The reviewer sees the highlighted answer, every check with its evidence and the learner's reason."""
    attempt = world["attempt"]
    attempt.checks = [{"id": "thanks", "passed": True, "weight": 1.0, "message": "You thank them (found: 'thanks').",
                       "spans": [[15, 21]], "required": True, "earned": 1.0, "lesson": None},
                      {"id": "fit", "passed": False, "weight": 1.0, "message": "Say why you fit.", "spans": [],
                       "required": True, "earned": 0.0, "lesson": None}]
    db.session.commit()
    appeal(world, "I said why I fit.")
    client = app.test_client()
    login_as(client, world["owner"])
    page = client.get(f"/instructor/cohorts/{world['cohort'].id}/review/{attempt.id}").get_data(as_text=True)
    assert '<mark class="hl-won">' in page and "found: &#39;thanks&#39;" in page
    assert "Say why you fit." in page and "I said why I fit." in page and "Ada Learner" in page


@pytest.mark.db
def test_an_override_counts_everywhere_and_the_learner_sees_it(app, world, web_course):
    """Overriding stores the override beside the grade with an audit row; progress, gradebook and the page follow."""
    attempt = world["attempt"]
    appeal(world)
    client = app.test_client()
    login_as(client, world["owner"])
    url = f"/instructor/cohorts/{world['cohort'].id}/review/{attempt.id}"
    bad = post_form(client, url, url, {"action": "override", "passed": "yes", "score": "150"})
    assert bad.status_code == 400 and "from 0 to 100" in bad.get_data(as_text=True)
    response = post_form(client, url, url, {"action": "override", "passed": "yes", "score": "85",
                                            "comment": "You did say why you fit."})
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Attempt, attempt.id)
    assert (stored.score, stored.passed) == (0.5, False)  # the grader's result is untouched
    override = db.session.get(AttemptOverride, attempt.id)
    assert (override.score, override.passed, override.decided_by) == (0.85, True, world["owner"].id)
    (audit,) = db.session.scalars(select(ReviewDecision))
    assert (audit.action, audit.old_passed, audit.old_score, audit.new_passed, audit.new_score) == (
        "override", False, 0.5, True, 0.85)
    assert audit.actor_id == world["owner"].id
    assert db.session.scalar(select(Appeal.state)) == "upheld"

    record = load_progress(web_course, world["learner"]).exercise("thank-you-email")
    assert record.passed and record.best_score == 0.85
    (row,) = gradebook.cohort_rows(world["cohort"].id, web_course.exercise_order(), web_course.lesson_order())
    assert "thank-you-email" in row.passed and row.best["thank-you-email"] == 0.85

    learner = app.test_client()
    login_as(learner, world["learner"])
    page = learner.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "85% · Passed" in page and "Upheld" in page and "You did say why you fit." in page
    assert reviews.open_count(world["cohort"]) == 0


@pytest.mark.db
def test_keeping_the_grade_declines_the_appeal(app, world):
    """Keep: the grade stays, the appeal is declined with the comment, and the audit says so."""
    appeal(world)
    client = app.test_client()
    login_as(client, world["owner"])
    url = f"/instructor/cohorts/{world['cohort'].id}/review/{world['attempt'].id}"
    assert post_form(client, url, url, {"action": "keep", "comment": "The fit is missing."}).status_code == 302
    assert db.session.get(AttemptOverride, world["attempt"].id) is None
    assert db.session.scalar(select(ReviewDecision.action)) == "keep"
    learner = app.test_client()
    login_as(learner, world["learner"])
    page = learner.get(f"/attempts/{world['attempt'].id}").get_data(as_text=True)
    assert "Declined" in page and "The fit is missing." in page


@pytest.mark.db
def test_another_cohorts_instructor_and_learners_cannot_review(app, world, make_user):
    """Another instructor gets 404 for the item; a learner 403; nothing is decided."""
    url = f"/instructor/cohorts/{world['cohort'].id}/review/{world['attempt'].id}"
    for user, expected in ((make_user("instructor"), 404), (world["learner"], 403)):
        client = app.test_client()
        login_as(client, user)
        token = csrf_token_from(client.get("/join").get_data(as_text=True))
        assert client.post(url, data={"csrf_token": token, "action": "override", "passed": "yes",
                                      "score": "100"}).status_code == expected
    assert db.session.scalar(select(func.count()).select_from(ReviewDecision)) == 0


@pytest.mark.db
def test_admins_review_learners_in_no_cohort(app, world, make_user, make_attempt):
    """A self-paced learner's appeal is in the admins' queue, not in any cohort's."""
    attempt = make_attempt(world["solo"], "thank-you-email", score=0.5, passed=False)
    reviews.submit_appeal(world["solo"], attempt.id, "Look please.")
    assert [i.attempt.id for i in reviews.queue(None).items] == [attempt.id]
    assert reviews.queue(world["cohort"]).total == 0
    admin = app.test_client()
    login_as(admin, make_user("admin"))
    assert "Learners in no cohort</a>: 1 open" in admin.get("/admin/review").get_data(as_text=True)
    assert "Look please." in admin.get("/admin/review/self-paced").get_data(as_text=True)
    url = f"/admin/review/self-paced/{attempt.id}"
    assert post_form(admin, url, url, {"action": "override", "passed": "yes", "score": "90"}).status_code == 302
    assert db.session.get(AttemptOverride, attempt.id).score == 0.9


@pytest.mark.db
def test_an_override_survives_a_regrade_and_says_what_the_rules_now_say(app, world, web_course, make_user):
    """A regrade rewrites the grader's result but never the override; the item shows the disagreement."""
    exercise = web_course.exercises["why-close-quiz"]
    result = graders.grade(exercise.type, exercise.spec, "salary-slot",
                           graders.Context(pass_threshold=exercise.pass_threshold))
    attempt = Attempt(user_id=world["learner"].id, exercise_id=exercise.id, answer="salary-slot", score=1.0,
                      passed=True, status="correct", checks=[], grader_version="old", idempotency_key=uuid.uuid4().hex,
                      attempt_number=1)
    db.session.add(attempt)
    db.session.commit()
    reviews.decide(world["owner"], attempt, reviews.read_decision("override", "yes", "100", "Fine by me."))
    report = regrade_exercise(web_course, exercise.id)
    assert report.changed == 1 and not result.passed
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).passed is False
    assert db.session.get(AttemptOverride, attempt.id).passed is True
    assert load_progress(web_course, world["learner"]).exercise(exercise.id).passed
    client = app.test_client()
    login_as(client, world["owner"])
    page = client.get(f"/instructor/cohorts/{world['cohort'].id}/review/{attempt.id}").get_data(as_text=True)
    assert "Rules now say not passed" in page


# ------------------------------------------------------------------------------------ reviewed answers feed the rules


@pytest.mark.db
def test_cases_export_writes_reviewed_answers_without_identities(app, world, tmp_path, runner):
    """Decided attempts come out in the corpus format, labelled by the decision, with no names or ids."""
    appeal(world)
    reviews.decide(world["owner"], world["attempt"], reviews.read_decision("override", "yes", "90", ""))
    out = tmp_path / "reviewed.jsonl"
    result = runner.invoke(args=["cases", "export", "thank-you-email", "--cohort", str(world["cohort"].id),
                                 "--output", str(out)], app=app)
    assert result.exit_code == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row == {"id": f"review-{row['id'].split('-', 1)[1]}", "answer": "Dear Ms Lee, thanks.",
                   "expected_pass": True, "source": "review"}
    text = out.read_text()
    assert world["learner"].email not in text and "Ada" not in text
    assert re.fullmatch(r"review-[0-9a-f]{12}", row["id"])  # a keyed hash, not an attempt or user id
    result = runner.invoke(args=["cases", "check", str(out), "--exercise", "thank-you-email"], app=app)
    assert result.exit_code == 1  # the rules fail this answer
    assert "disagree" in result.stdout


@pytest.mark.db
def test_the_data_export_holds_the_learners_appeals_and_overrides_only(app, world, make_attempt):
    """A learner's download lists their appeal and the reviewer's grade, never another learner's nor the doubts."""
    appeal(world, "Mine to appeal.")
    reviews.decide(world["owner"], world["attempt"], reviews.read_decision("override", "yes", "80", "Fine."))
    theirs = make_attempt(world["other"], "thank-you-email", score=0.5, passed=False)
    reviews.submit_appeal(world["other"], theirs.id, "Theirs to appeal.")
    client = app.test_client()
    login_as(client, world["learner"])
    data = client.get("/account/export").get_json()
    assert [(a["reason"], a["state"], a["comment"]) for a in data["appeals"]] == [
        ("Mine to appeal.", "upheld", "Fine.")]
    assert [(o["attempt"], o["score"], o["passed"]) for o in data["overridden_grades"]] == [
        (world["attempt"].id, 0.8, True)]
    assert "Theirs to appeal." not in json.dumps(data) and "review_reasons" not in json.dumps(data)


@pytest.mark.db
def test_deleting_an_account_takes_its_appeals_and_keeps_the_reviewers_audit(app, world):
    """A learner's deletion removes their appeals and overrides; a reviewer's deletion leaves the audit nameless."""
    appeal(world)
    reviews.decide(world["owner"], world["attempt"], reviews.read_decision("keep", None, None, ""))
    db.session.delete(world["owner"])
    db.session.commit()
    assert db.session.scalar(select(ReviewDecision.actor_id)) is None
    db.session.delete(world["learner"])
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0
    assert db.session.scalar(select(func.count()).select_from(ReviewDecision)) == 0
