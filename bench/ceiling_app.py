"""The ceiling for a graded submit in bench/load.py: a minimal Flask app doing only a submit's essential work.

Per POST /submit: Flask's signed cookie session, the user looked up by id and session version (the site's
session check against the database), a CSRF token check (Flask-WTF's own function), the project's real
`graders.grade`, then one transaction inserting the attempt and upserting the learner's exercise summary.
No login manager, limiter, security headers, templates or ORM. It runs on the site's database (DATABASE_URL,
migrated by the benchmark), so its rows are the site's rows. Run by bench/load.py as `bench.ceiling_app:app`.
"""

from __future__ import annotations

import os
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask import Flask, abort, redirect, request, session
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import insert, select, text

import graders
from course.loader import load_course
from web.extensions import make_engine
from web.models import Attempt, User, utcnow

REPO = Path(__file__).resolve().parents[1]
EXERCISE = "rewrite-aggressive-close"

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY", "bench-ceiling")
engine = make_engine(os.environ["DATABASE_URL"])
# Writes take SQLite's lock up front, as the site's db.begin_write() does.
write_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
exercise = load_course(REPO).exercises[EXERCISE]
context = graders.Context(pass_threshold=exercise.pass_threshold)
users, attempts = User.__table__, Attempt.__table__
INSERT_ATTEMPT = insert(attempts).returning(attempts.c.id)
# The smallest summary upsert that keeps the learner's standing right: count, best score, passed, latest.
UPSERT_SUMMARY = text(
    "INSERT INTO exercise_summaries (user_id, exercise_id, attempts, best_score, passed, first_score, "
    "last_attempt_id, last_at, last_checks, last_failed) VALUES (:uid, :eid, 1, :score, :passed, :score, :aid, :at, "
    "'[]', '[]') ON CONFLICT (user_id, exercise_id) DO UPDATE SET attempts = exercise_summaries.attempts + 1, "
    "best_score = CASE WHEN excluded.best_score > exercise_summaries.best_score THEN excluded.best_score "
    "ELSE exercise_summaries.best_score END, passed = exercise_summaries.passed OR excluded.passed, "
    "last_attempt_id = excluded.last_attempt_id, last_at = excluded.last_at")


def current_user_id() -> int:
    """Return the session's user id if the id and session version still match a row, else answer 403."""
    uid, version = session.get("uid"), session.get("version")
    if uid is None:
        abort(403)
    with engine.connect() as conn:
        found = conn.execute(select(users.c.id).where(users.c.id == uid, users.c.session_version == version))
        if found.scalar() is None:
            abort(403)
    return uid


@app.get("/healthz")
def healthz() -> str:
    """Answer the readiness probe the benchmark's server start-up waits for."""
    return "ok"


@app.post("/login")
def login():
    """Log in by email and password (set-up only, not measured)."""
    with engine.connect() as conn:
        row = conn.execute(select(users.c.id, users.c.session_version, users.c.password_hash)
                           .where(users.c.email == request.form["email"])).first()
    try:
        PasswordHasher().verify(row.password_hash if row else "", request.form["password"])
    except (VerificationError, ValueError):
        abort(403)
    session["uid"], session["version"] = row.id, row.session_version
    return redirect("/form", code=302)


@app.get("/login")
@app.get("/form")
def form() -> str:
    """Return a form with a CSRF token, as the site's pages carry one."""
    return f'<form method="post"><input name="csrf_token" type="hidden" value="{generate_csrf()}"></form>'


@app.post("/submit")
def submit():
    """Check the session and the CSRF token, grade, store the attempt and the summary in one transaction."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CSRFError:
        abort(400)
    uid = current_user_id()
    answer = request.form.get("answer", "")
    result = graders.grade(exercise.type, exercise.spec, answer, context)
    now = utcnow()
    with write_engine.begin() as conn:
        aid = conn.execute(INSERT_ATTEMPT, {
            "user_id": uid, "exercise_id": EXERCISE, "answer": answer, "score": result.score, "passed": result.passed,
            "status": result.status, "checks": [c.to_dict() for c in result.checks],
            "grader_version": result.grader_version, "message": result.message, "answer_text": result.answer_text,
            "created_at": now, "idempotency_key": request.form["idempotency_key"], "attempt_number": 1,
        }).scalar()
        conn.execute(UPSERT_SUMMARY, {"uid": uid, "eid": EXERCISE, "score": result.score, "passed": result.passed,
                                      "aid": aid, "at": now.replace(tzinfo=None) if engine.dialect.name == "sqlite"
                                      else now})
    return redirect(f"/attempts/{aid}", code=303)
