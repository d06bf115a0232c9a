"""Gradebook export: formula-injection safety, CSV/JSON encoding, and streaming from the database."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from sqlalchemy import event, insert, select

from tests.conftest import login_as
from web.extensions import db
from web.models import Attempt, Cohort, CohortMembership, User, utcnow
from web.services import cohorts as cohorts_svc
from web.services import gradebook as gb
from web.services.analytics import CompletionRule

EXERCISES = ["e1", "e2"]


def row(uid, name, email="x@example.org", best=None, passed=(), lessons_read=0):
    """Build a GradebookRow."""
    return gb.GradebookRow(uid, name, email, datetime(2026, 1, 2, tzinfo=UTC), best or {}, frozenset(passed),
                           lessons_read)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_trigger_is_neutralised(prefix):
    """A text cell starting with = + - @ tab or CR gets a leading single quote (OWASP)."""
    assert gb.neutralise(prefix + "HYPERLINK(1)") == "'" + prefix + "HYPERLINK(1)"


@pytest.mark.parametrize("value", ["Ana", "a=b", "", " =1", 0.5, -1, None])
def test_harmless_cells_are_left_alone(value):
    """Ordinary text, a trigger that is not first, and numbers (even negative) pass through."""
    assert gb.neutralise(value) == value


def test_csv_neutralises_learner_supplied_cells_end_to_end():
    """A learner named '=cmd|...' cannot make the instructor's spreadsheet run a formula."""
    rows = [row(1, "=cmd|' /C calc'!A0", "@evil@example.org", {"e1": 1.0}, {"e1"}, lessons_read=1)]
    out = "".join(gb.csv_stream(rows, EXERCISES, lessons_total=2))
    assert out.startswith("\ufeff")  # UTF-8 byte-order mark for Excel
    parsed = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))
    assert parsed[0] == ["name", "email", "joined_at", "completion_percent", "exercises_passed", "complete",
                         "e1", "e2"]
    assert parsed[1][:3] == ["Name", "Email", "Joined (UTC)"]
    assert parsed[2][0] == "'=cmd|' /C calc'!A0"
    assert parsed[2][1] == "'@evil@example.org"
    assert parsed[2][2:] == ["2026-01-02 00:00:00", "50.0", "1", "no", "100.0", ""]  # a date-time to spreadsheets


def test_csv_names_exercises_under_their_ids_gives_percentages_and_times_in_the_site_zone():
    """Line 1 keeps the ids, line 2 gives titles and the time zone; scores are percentages; times are local."""
    rows = [row(1, "Ana", best={"e1": 0.8571, "e2": 0.0})]
    titles = {"e1": "Why close the interview?", "e2": "=Formula title"}
    out = "".join(gb.csv_stream(rows, EXERCISES, lessons_total=2, titles=titles, zone="Asia/Kolkata"))
    ids, words, ana = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))
    assert ids[-2:] == ["e1", "e2"]
    assert words == ["Name", "Email", "Joined (Asia/Kolkata)", "Completion (%)", "Exercises passed", "Complete",
                     "Why close the interview? (best score, %)", "'=Formula title (best score, %)"]
    assert ana[2] == "2026-01-02 05:30:00"  # midnight UTC is 05:30 in India
    assert ana[-2:] == ["85.7", "0.0"]


def test_csv_stream_is_a_generator_yielding_one_line_per_learner():
    """The encoder is lazy: it pulls learners one at a time."""
    pulled = []

    def source():
        """Record each learner as the encoder asks for it."""
        for i in range(3):
            pulled.append(i)
            yield row(i, f"L{i}")

    stream = gb.csv_stream(source(), EXERCISES, 0)
    assert next(stream).startswith("\ufeffname,")
    assert next(stream).startswith("Name,")  # the header line in words
    assert pulled == []
    next(stream)
    assert pulled == [0]


def test_complete_follows_the_course_rule():
    """`complete` uses the course's completion rule when given, else needs everything."""
    r = row(1, "Ana", best={"e1": 1.0}, passed={"e1"}, lessons_read=1)
    assert gb.as_record(r, EXERCISES, 2)["complete"] is False
    assert gb.as_record(r, EXERCISES, 2, CompletionRule(lessons=1, exercises=1))["complete"] is True


def test_json_stream_is_one_valid_document():
    """The chunks join into one JSON document with meta, exercise ids and one record per learner."""
    rows = [row(1, "Ana", best={"e1": 0.5}), row(2, 'Bo "B"', best={"e1": 1.0, "e2": 1.0}, passed={"e1", "e2"},
                                                   lessons_read=2)]
    doc = json.loads("".join(gb.json_stream(rows, EXERCISES, 2, {"cohort": "Spring"})))
    assert doc["cohort"] == "Spring" and doc["exercises"] == EXERCISES
    assert [r["name"] for r in doc["learners"]] == ["Ana", 'Bo "B"']
    assert doc["learners"][0]["best_scores"] == {"e1": 0.5, "e2": None}
    assert doc["learners"][1]["complete"] is True and doc["learners"][1]["completion_percent"] == 100.0
    empty = json.loads("".join(gb.json_stream([], EXERCISES, 2, {})))
    assert empty == {"exercises": EXERCISES, "learners": []}


# ---------------------------------------------------------------------------------- from the database

N_LEARNERS = 2000


@pytest.fixture
def big_cohort(app, make_user, connection):
    """A cohort of 2,000 learners, each with a best score on the first exercise and every other one passing two."""
    owner = make_user("instructor")
    cohort = Cohort(name="=Big intake", owner_id=owner.id, join_code="BIGG-2000")
    db.session.add(cohort)
    db.session.commit()
    now = utcnow()
    users = [{"email": f"learner{i:05d}@example.org", "display_name": f"Learner {i:05d}", "password_hash": "x",
              "role": "learner", "session_version": 1, "created_at": now} for i in range(N_LEARNERS)]
    db.session.execute(insert(User), users)
    ids = list(db.session.scalars(select(User.id).where(User.email.like("learner%@example.org")).order_by(User.id)))
    db.session.execute(insert(CohortMembership), [{"cohort_id": cohort.id, "user_id": uid, "joined_at": now}
                                                  for uid in ids])
    course = app.extensions["course"]
    first, second = course.exercise_order()[:2]
    attempts = []
    for n, uid in enumerate(ids):
        for k, score in enumerate((0.25, 0.75)):
            attempts.append({"user_id": uid, "exercise_id": first, "answer": "a", "score": score, "passed": False,
                             "status": "partial", "checks": [], "grader_version": "t/1", "message": "",
                             "answer_text": "", "created_at": now, "idempotency_key": f"{uid}-{k}",
                             "attempt_number": k + 1})
        if n % 2 == 0:
            attempts.append({"user_id": uid, "exercise_id": second, "answer": "b", "score": 1.0, "passed": True,
                             "status": "correct", "checks": [], "grader_version": "t/1", "message": "",
                             "answer_text": "", "created_at": now, "idempotency_key": f"{uid}-x",
                             "attempt_number": 1})
    db.session.execute(insert(Attempt), attempts)
    db.session.commit()
    return cohort, owner, first, second


@pytest.mark.db
def test_csv_export_streams_2000_learners_in_batches(app, client, big_cohort, connection):
    """The CSV response is a lazy generator, fetched a page of learners at a time, and every row is right."""
    cohort, owner, first, second = big_cohort
    login_as(client, owner)
    statements = []

    def record(_conn, _cursor, statement, *_args):
        """Count every SQL statement sent while the export runs."""
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    response = client.get(f"/instructor/cohorts/{cohort.id}/gradebook.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert ".csv" in response.headers["Content-Disposition"]

    def pages_fetched():
        """Count the keyset-paged member queries run so far."""
        return sum(1 for s in statements if "cohort_memberships" in s and "LIMIT" in s.upper())

    chunks = iter(response.response)
    first_line = next(chunks)
    # Lazy: the header went out before a single page of learners was read.
    assert first_line.startswith("\ufeffname,".encode()) and pages_fetched() == 0
    text = first_line + b"".join(chunks)
    event.remove(connection, "before_cursor_execute", record)
    # One query per page of 500 learners plus the empty page that ends the loop: batches, not one big read.
    assert pages_fetched() == -(-N_LEARNERS // gb.BATCH_SIZE) + 1
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert len(rows) == N_LEARNERS + 2
    head, words = rows[0], rows[1]
    course = client.application.extensions["course"]
    assert words[head.index(first)] == f"{course.exercises[first].title} (best score, %)"
    assert rows[2][0] == "Learner 00000" and rows[-1][0] == f"Learner {N_LEARNERS - 1:05d}"
    assert rows[2][head.index(first)] == "75.0" and rows[2][head.index(second)] == "100.0"
    assert rows[3][head.index(second)] == ""


@pytest.mark.db
def test_json_export_matches(app, client, big_cohort):
    """The JSON export is streamed too and parses into one record per learner."""
    cohort, owner, first, _second = big_cohort
    login_as(client, owner)
    response = client.get(f"/instructor/cohorts/{cohort.id}/gradebook.json")
    assert response.is_streamed and response.mimetype == "application/json"
    doc = json.loads(response.get_data(as_text=True))
    assert doc["cohort"] == "=Big intake"
    assert len(doc["learners"]) == N_LEARNERS
    assert doc["learners"][0]["best_scores"][first] == 0.75


@pytest.mark.parametrize(("name", "ascii_part"), [
    ("Careers Seminar, Spring 🌱 ربيع", "gradebook-careers-seminar-spring-"),
    ("Café Lyon", "gradebook-cafe-lyon-"),
    ("就职研讨会", "gradebook-"),
    ("Семинар по карьере", "gradebook-"),
    ("Ελληνικά 2026", "gradebook-2026-"),
])
def test_gradebook_downloads_work_for_cohort_names_in_any_script(client, make_user, name, ascii_part):
    """The header is Latin-1 (servers refuse anything else): an ASCII filename, and the real one in filename*."""
    owner = make_user("instructor")
    cohort = cohorts_svc.create_cohort(owner, name)
    login_as(client, owner)
    for fmt in ("csv", "json"):
        response = client.get(f"/instructor/cohorts/{cohort.id}/gradebook.{fmt}")
        assert response.status_code == 200 and response.get_data()
        header = response.headers["Content-Disposition"]
        header.encode("latin-1")  # what gunicorn checks before sending
        plain = re.search(r'filename="([^"]+)"', header).group(1)
        assert plain.startswith(ascii_part) and plain.endswith(f".{fmt}") and plain.isascii()
        full = unquote(re.search(r"filename\*=UTF-8''(\S+)", header).group(1))
        words = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
        assert full.startswith(f"gradebook-{words}-") and full.endswith(f".{fmt}")
