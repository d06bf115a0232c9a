"""Exercise summaries agree with a recomputation from every attempt, after random submits, regrades and overrides."""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import select, update

from tests.conftest import course_with_correct_option
from web.extensions import db
from web.manage import downgrade, upgrade
from web.models import (
    Attempt,
    AttemptOverride,
    Cohort,
    CohortMembership,
    ExerciseSummary,
    LearnerTotal,
    LessonProgress,
    User,
    utcnow,
)
from web.services import analytics, cohort_stats, reviews, summaries
from web.services import cohorts as svc
from web.services.attempts import new_idempotency_key, submit
from web.services.progress import load_progress
from web.services.regrade import regrade_exercise

pytestmark = pytest.mark.db

CHOICE = "why-close-quiz"


def oldest_first(a: Attempt) -> tuple:
    """The order summaries read attempts in."""
    return (a.created_at, a.attempt_number, a.id)


def expected_summaries() -> dict[tuple[int, str], dict]:
    """Recompute every summary in plain Python from every stored attempt (the reference), overrides counted."""
    by_pair: dict[tuple[int, str], list[Attempt]] = {}
    overrides = {o.attempt_id: o for o in db.session.scalars(select(AttemptOverride))}
    for a in db.session.scalars(select(Attempt)):
        if a.status != "invalid":
            o = overrides.get(a.id)
            if o is not None:  # as it counts; the stored attempt itself keeps the grader's result
                db.session.expunge(a)
                a.score, a.passed = o.score, o.passed
            by_pair.setdefault((a.user_id, a.exercise_id), []).append(a)
    out = {}
    for (uid, eid), rows in by_pair.items():
        rows.sort(key=oldest_first)
        last = rows[-1]
        stuck = analytics.repeated_failures([
            analytics.AttemptRow(user_id=uid, exercise_id=eid, score=a.score, passed=a.passed, status=a.status,
                                 checks=a.checks, created_at=a.created_at, attempt_number=a.attempt_number, id=a.id)
            for a in rows]).get(eid)
        out[(uid, eid)] = {
            "attempts": len(rows), "best_score": max(a.score for a in rows), "passed": any(a.passed for a in rows),
            "first_score": rows[0].score, "last_attempt_id": last.id, "last_at": last.created_at,
            "last_checks": sorted({str(c["id"]) for c in last.checks}),
            "last_failed": sorted({str(c["id"]) for c in last.checks if not c["passed"]}),
            "stuck": sorted(stuck) if stuck else None,
        }
    return out


def stored_summaries() -> dict[tuple[int, str], dict]:
    """Read every stored summary, check-id lists decoded."""
    db.session.expire_all()
    out = {}
    for s in db.session.scalars(select(ExerciseSummary)):
        out[(s.user_id, s.exercise_id)] = {
            "attempts": s.attempts, "best_score": s.best_score, "passed": s.passed, "first_score": s.first_score,
            "last_attempt_id": s.last_attempt_id, "last_at": s.last_at, "last_checks": json.loads(s.last_checks),
            "last_failed": json.loads(s.last_failed), "stuck": json.loads(s.stuck) if s.stuck else None,
        }
    return out


def expected_totals(expected: dict[tuple[int, str], dict]) -> dict[int, float]:
    """Each learner's total course score from the reference summaries: the sum of their best scores."""
    out: dict[int, float] = {}
    for (uid, _eid), v in expected.items():
        out[uid] = out.get(uid, 0.0) + v["best_score"]
    return out


def stored_totals() -> dict[int, float]:
    """Read every stored learner total, checking that each of the learner's summaries carries it negated."""
    db.session.expire_all()
    totals = {t.user_id: t.total for t in db.session.scalars(select(LearnerTotal))}
    for s in db.session.scalars(select(ExerciseSummary)):
        assert s.minus_total == -totals[s.user_id], (s.user_id, s.exercise_id)
    return totals


def item_reference(outline, cohort) -> dict[str, tuple]:
    """Item statistics from every attempt: analytics.item_analysis, with discrimination ties broken by learner id."""
    rows = list(svc.attempt_rows(cohort))
    totals = analytics.total_scores(rows)
    out = {}
    for stat in analytics.item_analysis(outline, rows):
        firsts: dict[int, float] = {}
        latest: dict[int, analytics.AttemptRow] = {}
        for a in sorted((r for r in rows if r.exercise_id == stat.exercise_id and r.counts),
                        key=lambda r: (r.created_at, r.attempt_number, r.id)):
            firsts.setdefault(a.user_id, a.score)
            latest[a.user_id] = a
        pairs = [(firsts[uid], totals.get(uid, 0.0)) for uid in sorted(firsts)]
        failed: dict[str, int] = {}
        for a in latest.values():
            for c in a.checks:
                if not c.get("passed"):
                    failed[str(c["id"])] = failed.get(str(c["id"]), 0) + 1
        top = min(failed.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
        out[stat.exercise_id] = (stat.attempts, stat.learners, stat.passed_learners, stat.mean_first_score,
                                 analytics.discrimination_index(pairs), top)
    return out


def item_from_summaries(outline, cohort) -> dict[str, tuple]:
    """The same figures as the item analysis page computes them from the summaries."""
    out = {}
    for stat in cohort_stats.item_analysis(cohort, outline):
        top = (stat.failed_checks[0].id, stat.failed_checks[0].failed) if stat.failed_checks else None
        out[stat.exercise_id] = (stat.attempts, stat.learners, stat.passed_learners, stat.mean_first_score,
                                 stat.discrimination, top)
    return out


def approx_equal(a: tuple, b: tuple) -> bool:
    """Compare two item tuples, floats within rounding."""
    return all(x == pytest.approx(y) if isinstance(x, float) or isinstance(y, float) else x == y
               for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_match_a_recomputation_after_random_submits_and_regrades(app, make_user, seed):
    """Random graded submissions and regrades, in any order: every summary equals one computed from the attempts."""
    rng = random.Random(seed)
    course = app.extensions["course"]
    owner = make_user("instructor")
    owner_id = owner.id
    cohort = Cohort(name="Summaries", owner_id=owner.id, join_code=f"SUMM-{seed:04d}")
    db.session.add(cohort)
    db.session.commit()
    cohort_id = cohort.id
    # Ids, not objects: a regrade empties the session between its pages.
    learners = [make_user().id for _ in range(5)]
    for uid in learners:
        db.session.add(CohortMembership(cohort_id=cohort_id, user_id=uid))
        db.session.add(LessonProgress(user_id=uid, lesson_id=rng.choice(course.lesson_order())))
    db.session.commit()
    exercises = list(course.exercises.values())
    options = [o["id"] for o in course.exercises[CHOICE].raw_spec["options"]]
    regraded = overridden = 0
    for step in range(60):
        if step % 10 == 9:
            # A reviewer overrides one stored attempt, either way, with any score.
            stored = db.session.scalars(select(Attempt).order_by(Attempt.id)).all()
            if stored:
                chosen = rng.choice(stored)
                reviews.decide(db.session.get(User, owner_id), chosen, reviews.Decision(
                    "override", rng.random() < 0.5, round(rng.random(), 2), "Reviewed."))
                overridden += 1
            continue
        if step % 15 == 14:
            edited = course_with_correct_option(course, CHOICE, rng.choice(options))
            regraded += regrade_exercise(edited, CHOICE).changed
            continue
        user, exercise = db.session.get(User, rng.choice(learners)), rng.choice(exercises)
        answer = rng.choice(list(exercise.samples.passing) + list(exercise.samples.failing))
        key = new_idempotency_key()
        submit(user, exercise, answer, key)
        if rng.random() < 0.1:
            submit(user, exercise, answer, key)  # a double click: one attempt, nothing counted twice
    regraded += regrade_exercise(course, CHOICE).changed  # and back to the shipped rule
    expected = expected_summaries()
    assert expected and regraded and overridden, "the random run must store, regrade and override attempts"
    assert stored_summaries() == expected
    assert stored_totals() == pytest.approx(expected_totals(expected))

    cohort = db.session.get(Cohort, cohort_id)
    outline = analytics.outline_of(course)
    now = utcnow()
    lean = analytics.roster_from_counts(outline, svc.learner_rows(cohort), cohort_stats.roster_counts(cohort, outline),
                                        now)
    full = analytics.roster(outline, svc.learner_rows(cohort), svc.attempt_rows(cohort), svc.read_rows(cohort), now)
    assert lean == full
    reference, fast = item_reference(outline, cohort), item_from_summaries(outline, cohort)
    assert reference.keys() == fast.keys()
    for eid in reference:
        assert approx_equal(fast[eid], reference[eid]), eid
    for learner in learners:
        progress = load_progress(course, db.session.get(User, learner))
        record = {eid: (r.attempts, r.passed, r.best_score) for eid, r in progress.exercises.items()}
        assert record == {eid: (v["attempts"], v["passed"], v["best_score"])
                          for (uid, eid), v in expected.items() if uid == learner}


@pytest.mark.parametrize("seed", [4, 5])
def test_long_runs_on_one_exercise_fold_into_the_summary_exactly(app, make_user, seed):
    """Many submissions to the same exercises, overrides between them: each one folded in equals a recomputation.

    A submission folds its attempt into the stored summary (summaries.record_attempt) instead of reading the pair's
    history; long runs of fails (the "stuck" flag) and overrides of earlier attempts are where that could drift.
    """
    rng = random.Random(seed)
    course = app.extensions["course"]
    owner_id = make_user("instructor").id
    learners = [make_user().id for _ in range(2)]
    exercises = [course.exercises[CHOICE], course.exercises["thank-you-email"]]
    ever_stuck = False
    for step in range(40):
        if step % 9 == 8:
            chosen = rng.choice(db.session.scalars(select(Attempt).order_by(Attempt.id)).all())
            reviews.decide(db.session.get(User, owner_id), chosen, reviews.Decision(
                "override", rng.random() < 0.3, round(rng.random(), 2), "Reviewed."))
            continue
        user, exercise = db.session.get(User, rng.choice(learners)), rng.choice(exercises)
        # Mostly failing answers: runs of fails are what sets and clears "stuck".
        pool = exercise.samples.failing if rng.random() < 0.8 else exercise.samples.passing
        submit(user, exercise, rng.choice(list(pool)), new_idempotency_key())
        expected = expected_summaries()
        assert stored_summaries() == expected, step
        assert stored_totals() == pytest.approx(expected_totals(expected)), step
        ever_stuck = ever_stuck or any(v["stuck"] for v in expected.values())
    assert ever_stuck, "the run must get some learner stuck"
    assert max(v["attempts"] for v in expected.values()) >= 8


def test_a_submission_older_than_the_latest_attempt_is_summed_from_the_attempts(app, make_user):
    """An attempt stamped before the stored latest one (a clock step back) cannot be folded in; it is recomputed."""
    course = app.extensions["course"]
    user = make_user()
    exercise = course.exercises[CHOICE]
    submit(user, exercise, exercise.samples.failing[0], new_idempotency_key())
    # Move the stored attempt into the future, so the next submission is older than the summary's latest.
    db.session.execute(update(Attempt).where(Attempt.user_id == user.id).values(
        created_at=utcnow().replace(year=utcnow().year + 1)))
    summaries.refresh(db.session, CHOICE, [user.id])
    db.session.commit()
    submit(user, exercise, exercise.samples.passing[0], new_idempotency_key())
    expected = expected_summaries()
    assert stored_summaries() == expected
    (summary,) = expected.values()
    assert summary["attempts"] == 2 and summary["passed"]


def test_stuck_learner_is_flagged_and_unstuck_by_a_pass(app, make_user, make_attempt):
    """Three fails of one check in a row mark it stuck; a pass clears it; an invalid result leaves the count."""
    fail = [{"id": "ask", "passed": False, "message": "Ask."}, {"id": "thank", "passed": True, "message": ""}]
    user = make_user()
    attempts = [make_attempt(user, CHOICE, score=0.0, checks=fail) for _ in range(3)]
    (summary,) = stored_summaries().values()
    assert summary["stuck"] == ["ask"] and summary["attempts"] == 3 and summary["last_failed"] == ["ask"]
    db.session.execute(update(Attempt).where(Attempt.id == attempts[0].id).values(status="invalid"))
    summaries.refresh(db.session, CHOICE, [user.id])
    (summary,) = stored_summaries().values()
    assert summary["attempts"] == 2 and summary["stuck"] is None
    make_attempt(user, CHOICE, score=1.0)
    (summary,) = stored_summaries().values()
    assert summary["passed"] and summary["stuck"] is None and summary["best_score"] == 1.0
    assert stored_totals() == {user.id: 1.0}
    db.session.execute(update(Attempt).where(Attempt.user_id == user.id).values(status="invalid"))
    summaries.refresh(db.session, CHOICE, [user.id])
    assert stored_summaries() == {} and stored_totals() == {}


def test_migration_fills_summaries_for_existing_attempts(app, connection, db_url, make_user, make_attempt):
    """Attempts stored before revision 0007 get their summaries when it runs, the same as submissions make."""
    users = [make_user() for _ in range(3)]
    for i, user in enumerate(users):
        for n in range(i + 1):
            make_attempt(user, CHOICE, score=n / 3, checks=[{"id": "c", "passed": n % 2 == 0, "message": ""}])
    made, totals = stored_summaries(), stored_totals()
    assert len(made) == 3 and len(totals) == 3
    downgrade(db_url, "0002", connection=connection)
    upgrade(db_url, "head", connection=connection)
    assert stored_summaries() == made == expected_summaries()
    assert stored_totals() == totals == pytest.approx(expected_totals(made))


def test_migration_0009_fills_learner_totals_from_the_summaries(app, connection, db_url, make_user, make_attempt):
    """Summaries stored before revision 0009 get their learners' totals (and negated copies) when it runs."""
    users = [make_user() for _ in range(3)]
    for i, user in enumerate(users):
        for eid in ("why-close-quiz", "when-to-close-scenarios")[:i + 1]:
            make_attempt(user, eid, score=(i + 1) / 4)
    totals = stored_totals()
    assert totals == pytest.approx({users[0].id: 0.25, users[1].id: 1.0, users[2].id: 1.5})
    downgrade(db_url, "0008", connection=connection)
    upgrade(db_url, "head", connection=connection)
    assert stored_totals() == totals
