"""Regrade: stored attempts graded again with changed rules, counted, audited, batched, atomic, idempotent."""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import replace

import pytest
import yaml
from sqlalchemy import func, select

import graders
from tests.conftest import course_with_correct_option, login_as
from web import create_app
from web.extensions import db
from web.manage import upgrade
from web.models import Attempt, AttemptGrade, ExerciseSummary, LearnerTotal
from web.services import regrade as regrade_module
from web.services import summaries
from web.services.accounts import create_user
from web.services.attempts import exercise_state, grading_context, learner_view
from web.services.regrade import UnknownExercise, regrade_course, regrade_exercise

pytestmark = pytest.mark.db

EXERCISE = "why-close-quiz"


def store(user, exercise, answer) -> Attempt:
    """Grade an answer with the exercise's rules and store it as the site would."""
    result = graders.grade(exercise.type, exercise.spec, answer,
                           graders.Context(pass_threshold=exercise.pass_threshold))
    attempt = Attempt(user_id=user.id, exercise_id=exercise.id, answer=answer, score=result.score,
                      passed=result.passed, status=result.status, checks=[c.to_dict() for c in result.checks],
                      grader_version=result.grader_version, message=result.message, answer_text=result.answer_text,
                      idempotency_key=uuid.uuid4().hex, attempt_number=1)
    db.session.add(attempt)
    db.session.commit()
    return attempt


def with_correct_option(course, option_id: str):
    """Return a copy of the course where EXERCISE's only correct option is `option_id` (an edited rule)."""
    return course_with_correct_option(course, EXERCISE, option_id)


def audit_rows() -> int:
    """Count AttemptGrade rows."""
    return db.session.scalar(select(func.count()).select_from(AttemptGrade))


@pytest.fixture
def three_attempts(app, make_user, web_course):
    """One right, one wrong that the edit makes right, one wrong either way."""
    ex = web_course.exercises[EXERCISE]
    return [store(make_user(), ex, answer) for answer in ("freshest-memory", "decided-early", "salary-slot")]


def test_unchanged_rules_change_nothing_and_write_no_audit(three_attempts, web_course):
    """Regrading with the same rules touches no attempt."""
    report = regrade_exercise(web_course, EXERCISE)
    assert (report.regraded, report.changed, report.scores_changed) == (3, 0, 0)
    assert audit_rows() == 0


def test_changed_rule_is_applied_counted_and_audited(three_attempts, web_course):
    """Scores move with the new rule; the old result is kept in AttemptGrade for each changed attempt."""
    right, wrong_now_right, wrong = three_attempts
    old_checks = right.checks
    report = regrade_exercise(with_correct_option(web_course, "decided-early"), EXERCISE)
    assert report.regraded == 3
    assert report.scores_changed == 2
    assert (report.passed_to_failed, report.failed_to_passed) == (1, 1)
    assert report.changed >= 2
    db.session.expire_all()
    assert (db.session.get(Attempt, right.id).passed, db.session.get(Attempt, wrong_now_right.id).passed) == (
        False, True)
    assert db.session.get(Attempt, wrong.id).passed is False
    (audit,) = db.session.scalars(select(AttemptGrade).where(AttemptGrade.attempt_id == right.id))
    assert (audit.score, audit.passed, audit.reason) == (1.0, True, "regrade")
    assert audit.checks == old_checks
    assert audit_rows() == report.changed
    assert "1 passed->failed, 1 failed->passed" in report.summary()


def test_the_writing_connections_page_cache_is_put_back_after_a_regrade(three_attempts, web_course, monkeypatch):
    """On SQLite the regrade's writes run with a larger page cache; the pooled connection gets its own size back.

    On PostgreSQL nothing is changed (the hook hands back the no-op).
    """
    sqlite = db.engine.dialect.name == "sqlite"
    seen: list = []
    grow = regrade_module._grow_sqlite_cache

    def watch(session):
        """Record the cache size (SQLite) or the no-op (elsewhere) while the regrade writes."""
        restore = grow(session)
        seen.append(session.connection().exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else restore)
        return restore

    monkeypatch.setattr(regrade_module, "_grow_sqlite_cache", watch)
    before = db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    db.session.rollback()
    assert regrade_exercise(with_correct_option(web_course, "decided-early"), EXERCISE).changed >= 2
    if not sqlite:
        assert seen == [regrade_module._keep_cache]
        return
    assert seen == [-regrade_module.REGRADE_CACHE_KIB] != [before]
    assert db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == before


def test_regrade_is_idempotent(three_attempts, web_course):
    """A second run with the same rules finds nothing to change and writes no more audit rows."""
    edited = with_correct_option(web_course, "decided-early")
    first = regrade_exercise(edited, EXERCISE)
    rows = audit_rows()
    second = regrade_exercise(edited, EXERCISE)
    assert first.changed >= 2 and second.changed == 0 and second.regraded == 3
    assert audit_rows() == rows


def test_dry_run_reports_but_writes_nothing(three_attempts, web_course):
    """--dry-run gives the same counts and leaves every attempt and the audit table untouched."""
    report = regrade_exercise(with_correct_option(web_course, "decided-early"), EXERCISE, dry_run=True)
    assert (report.passed_to_failed, report.failed_to_passed) == (1, 1)
    assert "dry run" in report.summary() and "would regrade 3 attempts" in report.summary()
    assert "regraded" not in report.summary()
    db.session.expire_all()
    assert db.session.get(Attempt, three_attempts[0].id).passed is True
    assert audit_rows() == 0


def test_batches_cover_every_attempt(app, make_user, web_course):
    """With a batch smaller than the attempt count every attempt is still regraded exactly once."""
    ex = web_course.exercises[EXERCISE]
    for _ in range(5):
        store(make_user(), ex, "freshest-memory")
    report = regrade_exercise(with_correct_option(web_course, "salary-slot"), EXERCISE, batch_size=2)
    assert report.regraded == 5 and report.passed_to_failed == 5
    assert audit_rows() == 5


def test_failure_half_way_rolls_everything_back(app, make_user, web_course):
    """A crash on a later batch leaves the earlier batches' attempts as they were: one transaction."""
    ex = web_course.exercises[EXERCISE]
    ids = [store(make_user(), ex, "freshest-memory").id for _ in range(4)]
    seen = []

    def context_for(exercise, attempt):
        """Fail on the fourth attempt, after the first batch of two was flushed."""
        seen.append(attempt.id)
        if len(seen) == 4:
            raise RuntimeError("boom")
        return graders.Context(pass_threshold=exercise.pass_threshold)

    with pytest.raises(RuntimeError):
        regrade_exercise(with_correct_option(web_course, "salary-slot"), EXERCISE, batch_size=2,
                         context_for=context_for)
    db.session.expire_all()
    assert all(db.session.get(Attempt, i).passed for i in ids)
    assert audit_rows() == 0


def test_ordering_context_is_rebuilt_from_the_learners_shuffle(app, make_user, web_course):
    """An ordering answer left as shown earns nothing on submit, and regrading keeps it so (same shown order)."""
    ex = web_course.exercises["order-close-steps"]
    user = make_user()
    view = learner_view(ex, exercise_state(user, ex.id).shuffle_seed)
    steps = [i for i in view["shown_order"] if i in set(graders.answer_key(ex.type, ex.spec)["order"])]
    ctx = grading_context(ex, view)
    result = graders.grade(ex.type, ex.spec, steps, ctx)
    attempt = Attempt(user_id=user.id, exercise_id=ex.id, answer=steps, score=result.score, passed=result.passed,
                      status=result.status, checks=[c.to_dict() for c in result.checks],
                      grader_version=result.grader_version, idempotency_key=uuid.uuid4().hex, attempt_number=1)
    db.session.add(attempt)
    db.session.commit()
    without = graders.grade(ex.type, ex.spec, steps, graders.Context(pass_threshold=ex.pass_threshold))
    assert without.to_dict() != result.to_dict(), "the shown order must matter for this check to mean anything"
    report = regrade_exercise(web_course, ex.id)
    assert (report.regraded, report.changed) == (1, 0)


def test_unknown_exercise_names_the_id(app, web_course):
    """An unknown id raises with the id in the message."""
    with pytest.raises(UnknownExercise, match="no-such-exercise"):
        regrade_exercise(web_course, "no-such-exercise")


def stored_totals_agree() -> dict[int, float]:
    """Return every learner's stored total, checking it against their summaries' best scores (and its negated copy)."""
    db.session.expire_all()
    sums: dict[int, float] = {}
    for s in db.session.scalars(select(ExerciseSummary)):
        sums[s.user_id] = sums.get(s.user_id, 0.0) + s.best_score
    totals = {t.user_id: t.total for t in db.session.scalars(select(LearnerTotal))}
    assert totals == pytest.approx(sums)
    for s in db.session.scalars(select(ExerciseSummary)):
        assert s.minus_total == -totals[s.user_id], (s.user_id, s.exercise_id)
    return totals


def test_a_course_regrade_sums_the_totals_once_after_every_exercise(three_attempts, web_course, monkeypatch):
    """Two changed exercises: summaries and results per exercise, the learners' totals summed once, and right."""
    right, wrong_now_right = (a.user_id for a in three_attempts[:2])  # the regrade empties the session
    order = web_course.exercises["order-close-steps"]
    store(three_attempts[0].user, order, order.samples.failing[0])
    summaries.refresh_all(db.session)
    db.session.commit()
    before = stored_totals_agree()
    calls: list[set[int]] = []
    real = summaries.refresh_totals
    monkeypatch.setattr(summaries, "refresh_totals", lambda conn, ids=None: (calls.append(set(ids)), real(conn, ids)))
    edited = with_correct_option(web_course, "decided-early")
    reports = regrade_course(edited, [EXERCISE, "order-close-steps", EXERCISE])
    assert [r.exercise_id for r in reports] == [EXERCISE, "order-close-steps"]  # a repeated id runs once
    assert reports[0].changed >= 2
    assert calls == [set().union(*(r.learners for r in reports))]
    after = stored_totals_agree()
    assert after[right] == before[right] - 1.0
    assert after[wrong_now_right] == before[wrong_now_right] + 1.0


def test_a_course_regrade_checks_every_id_before_grading_anything(three_attempts, web_course):
    """An unknown id among several is refused before the known ones are touched."""
    edited = with_correct_option(web_course, "decided-early")
    with pytest.raises(UnknownExercise, match="no-such-exercise"):
        regrade_course(edited, [EXERCISE, "no-such-exercise"])
    assert audit_rows() == 0


def test_a_course_regrade_that_fails_later_still_sums_the_committed_exercises_totals(three_attempts, web_course,
                                                                                     monkeypatch):
    """The first exercise commits; a crash on the next must not leave its learners with stale totals."""
    summaries.refresh_all(db.session)
    db.session.commit()
    real_grade = graders.grade

    def crash_on_ordering(kind, spec, answer, context):
        """Grade as usual, except the ordering exercise, which crashes."""
        if kind == "ordering":
            raise RuntimeError("boom")
        return real_grade(kind, spec, answer, context)

    ex = web_course.exercises["order-close-steps"]
    store(three_attempts[0].user, ex, ex.samples.passing[0])
    monkeypatch.setattr(regrade_module.graders, "grade", crash_on_ordering)
    with pytest.raises(RuntimeError, match="boom"):
        regrade_course(with_correct_option(web_course, "decided-early"), [EXERCISE, "order-close-steps"])
    assert audit_rows() >= 2  # the first exercise's changes committed
    stored_totals_agree()


def stored_results() -> dict[int, tuple]:
    """Every attempt's stored result, by id."""
    return {a.id: (a.score, a.passed, a.status, a.checks, a.grader_version, a.review, a.review_reasons)
            for a in db.session.scalars(select(Attempt))}


def test_grading_in_processes_stores_what_grading_here_stores(app, make_user, web_course):
    """Pages graded in two processes (one page of two attempts each) give the same reports, results, audit rows
    and summaries as pages graded in this process: a text, an ordering and a choice exercise."""
    text, order = web_course.exercises["thank-you-email"], web_course.exercises["order-close-steps"]
    for answer in (*text.samples.passing, *text.samples.failing):
        store(make_user(), text, answer)
    for answer in (*order.samples.passing, *order.samples.failing):
        store(make_user(), order, answer)
    summaries.refresh_all(db.session)
    db.session.commit()
    edited = course_with_correct_option(web_course, EXERCISE, "decided-early")
    ids = [text.id, order.id, EXERCISE]
    # Stale every stored result, so both ways of grading have every attempt to change.
    db.session.execute(Attempt.__table__.update().values(score=-1.0, status="stale", grader_version="old"))
    db.session.commit()
    before = stored_results()
    here = regrade_course(edited, ids, workers=1, batch_size=2)
    graded_here = stored_results()
    db.session.execute(Attempt.__table__.update().values(score=-1.0, status="stale", grader_version="old"))
    db.session.commit()
    parallel = regrade_course(edited, ids, workers=2, batch_size=2)
    assert [r.summary() for r in parallel] == [r.summary() for r in here]
    assert [r.learners for r in parallel] == [r.learners for r in here]
    assert stored_results() == graded_here != before
    assert sum(r.changed for r in here) == len(before)
    stored_totals_agree()


def test_a_crash_in_a_grading_process_leaves_every_attempt_as_it_was(app, make_user, web_course):
    """A grader that fails inside a grading process fails the regrade, and nothing of that exercise is written."""
    text = web_course.exercises["thank-you-email"]
    for answer in text.samples.passing:
        store(make_user(), text, answer)
    before = stored_results()
    # The grader cannot grade with no compiled rules.
    broken = replace(web_course, exercises={**web_course.exercises, text.id: replace(text, spec=None)})
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the grader raises must reach the caller
        regrade_course(broken, [text.id], workers=2)
    db.session.expire_all()
    assert stored_results() == before
    assert audit_rows() == 0


# ----------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def site_env(tmp_path, monkeypatch, web_course):
    """A migrated SQLite file and an editable copy of the test course, wired up through the environment."""
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(web_course.root / "course.yaml", content / "course.yaml")
    shutil.copytree(web_course.root / "lessons", content / "lessons")
    shutil.copytree(web_course.root / "exercises", content / "exercises")
    url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("COURSE_DIR", str(content))
    monkeypatch.delenv("COURSE_EXTRA_DIRS", raising=False)
    return content


def _seed_cli_attempts() -> None:
    """Store one right and one wrong attempt through an app built from the environment."""
    app = create_app()
    with app.app_context():
        ex = app.extensions["course"].exercises[EXERCISE]
        for i, answer in enumerate(("freshest-memory", "decided-early")):
            store(create_user(f"cli{i}@example.org", "long enough password"), ex, answer)


def test_cli_regrade_reads_the_edited_rules_from_disk(site_env, runner):
    """`course regrade ID` loads the course fresh, regrades, reports counts; --dry-run first writes nothing."""
    _seed_cli_attempts()
    path = site_env / "exercises" / f"{EXERCISE}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for option in doc["spec"]["options"]:
        option["correct"] = option["id"] == "decided-early"
    # The samples must follow the rule, or the loader rightly refuses the course.
    doc["samples"] = {"pass": ["decided-early"], "fail": ["freshest-memory"]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    result = runner.invoke(args=["regrade", EXERCISE, "--dry-run"])
    assert result.exit_code == 0
    out = result.stdout
    assert "would regrade 2 attempts" in out and "1 passed->failed, 1 failed->passed" in out and "dry run" in out
    assert "regraded" not in out  # a dry run regrades nothing and must not say it did
    result = runner.invoke(args=["regrade", EXERCISE])
    assert result.exit_code == 0
    out = result.stdout
    assert "would" not in out and "regraded 2 attempts" in out
    result = runner.invoke(args=["regrade", EXERCISE])
    assert result.exit_code == 0
    assert "changed 0 results" in result.stdout


def test_cli_unknown_exercise_exits_2(site_env, runner):
    """An unknown id is an operator error: exit 2 with the id named, no traceback."""
    result = runner.invoke(args=["regrade", "no-such-exercise"])
    assert result.exit_code == 2
    err = result.stderr
    assert "no-such-exercise" in err and "Traceback" not in err


def test_cli_regrade_all_reports_each_exercise_and_a_total(site_env, runner):
    """`course regrade --all` regrades every exercise, a line each, then the sum; several ids work the same way."""
    _seed_cli_attempts()
    result = runner.invoke(args=["regrade", "--all"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{EXERCISE}: regraded 2 attempts") for line in lines)
    assert lines[-1] == f"{len(lines) - 1} exercises: changed 0 of 2 results"
    result = runner.invoke(args=["regrade", EXERCISE, "order-close-steps", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 exercises: would change 0 of 2 results"
    result = runner.invoke(args=["regrade", "--all", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == lines
    result = runner.invoke(args=["regrade", EXERCISE, "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.stderr


@pytest.mark.parametrize("args", [[], ["--all", EXERCISE]], ids=["nothing", "both"])
def test_cli_regrade_needs_either_ids_or_all(site_env, runner, args):
    """No exercise named, or ids and --all together: exit 2 with a one-line reason, nothing graded."""
    result = runner.invoke(args=["regrade", *args])
    assert result.exit_code == 2
    assert "--all" in result.stderr and "Traceback" not in result.stderr


def test_regrade_beside_live_writes_on_sqlite(site_env, monkeypatch):
    """Learners write while a regrade runs: not blocked while it grades, queued while it writes, nobody fails."""
    _seed_cli_attempts()
    app = create_app()
    errors: list[BaseException] = []

    def another_worker_submits(email: str) -> threading.Thread:
        """Start storing a new attempt in its own app context, as another gunicorn worker would."""
        def run() -> None:
            """Store the attempt; report any failure to the test thread."""
            try:
                with app.app_context():
                    ex = app.extensions["course"].exercises[EXERCISE]
                    store(create_user(email, "long enough password"), ex, "freshest-memory")
            except BaseException as exc:
                errors.append(exc)
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    during_grading: list[threading.Thread] = []
    during_writing: list[threading.Thread] = []

    def context_for(exercise, attempt):
        """While the regrade grades, another worker's submission commits at once."""
        if not during_grading:
            during_grading.append(another_worker_submits("grading@example.org"))
            during_grading[0].join(timeout=3)
            assert not during_grading[0].is_alive(), "a submission waited for a regrade that was only grading"
        return graders.Context(pass_threshold=exercise.pass_threshold)

    real_apply = regrade_module._apply

    def apply(page, reason):
        """While the regrade writes, another worker's submission waits for it instead of making it fail."""
        if not during_writing:
            during_writing.append(another_worker_submits("writing@example.org"))
            during_writing[0].join(timeout=0.5)
        real_apply(page, reason)

    monkeypatch.setattr(regrade_module, "_apply", apply)
    with app.app_context():
        report = regrade_exercise(with_correct_option(app.extensions["course"], "decided-early"), EXERCISE,
                                  context_for=context_for)
    during_writing[0].join(timeout=10)
    assert not errors
    assert (report.regraded, report.changed) == (2, 2)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 4
        assert audit_rows() == 2


def test_attempt_page_says_when_a_regrade_changed_the_result(client, three_attempts, web_course):
    """The learner whose result a regrade changed sees the old and new scores; one it left alone sees nothing."""
    regrade_exercise(with_correct_option(web_course, "decided-early"), EXERCISE)
    db.session.expire_all()
    was_right, now_right, still_wrong = (db.session.get(Attempt, a.id) for a in three_attempts)
    login_as(client, was_right.user)
    html = client.get(f"/attempts/{was_right.id}").get_data(as_text=True)
    assert "This result was regraded" in html
    assert "first graded <strong>100%, passed</strong>" in html and "now <strong>0%, not passed</strong>" in html
    assert "UTC</time>" in html  # the regrade's time, in the site's zone, named
    login_as(client, now_right.user)
    html = client.get(f"/attempts/{now_right.id}").get_data(as_text=True)
    assert "first graded <strong>0%, not passed</strong>" in html and "now <strong>100%, passed</strong>" in html
    login_as(client, still_wrong.user)
    assert "regraded" not in client.get(f"/attempts/{still_wrong.id}").get_data(as_text=True)
