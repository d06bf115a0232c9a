"""Cohort services: create, join, leave, settings, archive, and the access rule that decides who may see a cohort.

The rule, in one place: an instructor sees only the cohorts they own, an admin sees every cohort, and anyone
else - or an id that does not exist - gets the same "not found", so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from web.extensions import db
from web.models import Attempt, Cohort, CohortMembership, LessonProgress, User, new_join_code, utcnow
from web.services.analytics import REPEAT_FAIL_STREAK, AttemptRow, LearnerRow, ReadRow
from web.services.outcomes import effective_passed, effective_score

MAX_NAME_LENGTH = 200
# An announcement is a short note ("Session 3 moved to Thursday"), not a lesson: long enough for a paragraph or two.
MAX_ANNOUNCEMENT_LENGTH = 2000
ARCHIVED_MESSAGE = "This cohort is archived, so it cannot be changed. Reopen it first."
# A new code colliding with an existing one is astronomically rare; retrying a few times covers it.
JOIN_CODE_TRIES = 5


class CohortError(ValueError):
    """A cohort request cannot be carried out; the message says why, for the user."""


class NotFound(LookupError):
    """The cohort (or learner in it) does not exist or is not this viewer's to see."""


def normalise_code(code: str) -> str:
    """Return a join code as stored: upper case, no spaces, dash in the middle of an 8-character code."""
    code = "".join((code or "").split()).upper()
    if len(code) == 8 and "-" not in code:
        code = f"{code[:4]}-{code[4:]}"
    return code


def validate_name(name: str) -> str:
    """Return a trimmed cohort name or raise CohortError."""
    name = " ".join((name or "").split())
    if not name:
        raise CohortError("Give the cohort a name, for example “Careers Seminar, Spring”.")
    if len(name) > MAX_NAME_LENGTH:
        raise CohortError(f"The cohort name must be at most {MAX_NAME_LENGTH} characters long.")
    return name


def create_cohort(owner: User, name: str) -> Cohort:
    """Create and commit a cohort owned by `owner`, with a fresh unique join code."""
    if not owner.is_instructor:
        raise CohortError("Only instructors and admins can create cohorts.")
    name = validate_name(name)
    for _ in range(JOIN_CODE_TRIES):
        db.begin_write()
        cohort = Cohort(name=name, owner_id=owner.id, join_code=new_join_code())
        db.session.add(cohort)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return cohort
    raise CohortError("Could not pick a unique join code; please try again.")


def visible_cohorts(viewer: User, include_archived: bool = False) -> list[Cohort]:
    """Return the cohorts this viewer manages (all of them for an admin), newest first."""
    query = select(Cohort).order_by(Cohort.created_at.desc(), Cohort.id.desc())
    if not viewer.is_admin:
        query = query.where(Cohort.owner_id == viewer.id)
    if not include_archived:
        query = query.where(Cohort.archived.is_(False))
    return list(db.session.scalars(query))


def owned_count(user: User) -> int:
    """Return how many cohorts (archived ones too) this user owns."""
    return db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.owner_id == user.id))


def member_counts(cohort_ids: list[int]) -> dict[int, int]:
    """Return {cohort id: number of members} in one query."""
    if not cohort_ids:
        return {}
    rows = db.session.execute(
        select(CohortMembership.cohort_id, func.count())
        .where(CohortMembership.cohort_id.in_(cohort_ids))
        .group_by(CohortMembership.cohort_id)
    )
    return {cid: n for cid, n in rows}


def get_managed(viewer: User, cohort_id: int) -> Cohort:
    """Return a cohort the viewer may manage, else raise NotFound (never a different answer for 'not yours')."""
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None or not viewer.is_instructor or (not viewer.is_admin and cohort.owner_id != viewer.id):
        raise NotFound(cohort_id)
    return cohort


def find_by_code(code: str) -> Cohort | None:
    """Return the cohort with this join code, or None."""
    code = normalise_code(code)
    if not code:
        return None
    return db.session.scalar(select(Cohort).where(Cohort.join_code == code))


def join(user: User, code: str) -> tuple[Cohort, bool]:
    """Add a learner to the cohort with this code; return (cohort, newly_joined). Raise CohortError if refused."""
    # A whole seminar room joins at once: take the write lock before reading (SQLite), see db.begin_write().
    db.begin_write()
    cohort = find_by_code(code)
    # An archived cohort, a closed code and a wrong code answer alike, so codes of closed cohorts cannot be probed.
    if cohort is None or cohort.archived or not cohort.join_open:
        raise CohortError("No open cohort has that join code. Check the code with your instructor.")
    if db.session.get(CohortMembership, (cohort.id, user.id)) is not None:
        return cohort, False
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=user.id))
    try:
        db.session.commit()
    except IntegrityError:
        # A double-submitted form: the other request already added the membership.
        db.session.rollback()
        return cohort, False
    return cohort, True


def my_cohorts(user: User) -> list[Cohort]:
    """Return the cohorts a learner belongs to, by join date."""
    return list(db.session.scalars(
        select(Cohort).join(CohortMembership).where(CohortMembership.user_id == user.id)
        .order_by(CohortMembership.joined_at, Cohort.id)
    ))


def set_archived(cohort: Cohort, archived: bool) -> None:
    """Archive (no new joins, hidden from default lists) or unarchive a cohort."""
    db.begin_write()
    cohort.archived = archived
    db.session.commit()


def _writable(cohort: Cohort) -> None:
    """Refuse to change an archived cohort (it is read-only until reopened)."""
    if cohort.archived:
        db.session.rollback()
        raise CohortError(ARCHIVED_MESSAGE)


def update_settings(cohort: Cohort, name: str, due_on: date | None, announcement: str) -> None:
    """Rename a cohort and set its due date and announcement (empty text removes the announcement)."""
    name = validate_name(name)
    announcement = (announcement or "").strip()
    if len(announcement) > MAX_ANNOUNCEMENT_LENGTH:
        raise CohortError(f"The announcement must be at most {MAX_ANNOUNCEMENT_LENGTH:,} characters long "
                          f"(it has {len(announcement):,}).")
    db.begin_write()
    _writable(cohort)
    cohort.name = name
    cohort.due_on = due_on
    if announcement != cohort.announcement:
        cohort.announcement = announcement
        cohort.announced_at = utcnow() if announcement else None
    db.session.commit()


def set_join_open(cohort: Cohort, join_open: bool) -> None:
    """Let the join code admit learners again, or stop it doing so (the code itself is kept)."""
    db.begin_write()
    _writable(cohort)
    cohort.join_open = join_open
    db.session.commit()


def regenerate_code(cohort: Cohort) -> str:
    """Give a cohort a fresh join code (the old code and link stop working at once); return the new code."""
    for _ in range(JOIN_CODE_TRIES):
        db.begin_write()
        _writable(cohort)
        cohort.join_code = new_join_code()
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return cohort.join_code
    raise CohortError("Could not pick a unique join code; please try again.")


def _end_membership(cohort_id: int, user_id: int, missing: int, *, archived_ok: bool) -> tuple[Cohort, User]:
    """Delete one membership in a write transaction; return its cohort and user, NotFound(missing) if there is none.

    An archived cohort is read-only, so its members cannot be removed, unless `archived_ok` (a learner may always
    leave: it is their data the instructor would otherwise keep seeing).
    """
    db.begin_write()
    membership = db.session.get(CohortMembership, (cohort_id, user_id))
    if membership is None:
        db.session.rollback()
        raise NotFound(missing)
    cohort, user = membership.cohort, membership.user
    if not archived_ok:
        _writable(cohort)
    db.session.delete(membership)
    db.session.commit()
    return cohort, user


def remove_member(cohort: Cohort, user_id: int) -> User:
    """Take a learner out of a cohort (their own progress stays theirs); return them. NotFound if not a member."""
    return _end_membership(cohort.id, user_id, user_id, archived_ok=False)[1]


def joined_cohort(user: User, cohort_id: int) -> Cohort:
    """Return a cohort the user belongs to, else raise NotFound (another cohort's id answers the same)."""
    membership = db.session.get(CohortMembership, (cohort_id, user.id))
    if membership is None:
        raise NotFound(cohort_id)
    return membership.cohort


def leave(user: User, cohort_id: int) -> Cohort:
    """Take the user out of one of their cohorts (archived ones too); return it. NotFound if not a member."""
    return _end_membership(cohort_id, user.id, cohort_id, archived_ok=True)[0]


def site_today(now: datetime | None = None) -> date:
    """Today's date where the site is (SITE_TIMEZONE, checked at start-up), for due dates."""
    return (now or utcnow()).astimezone(ZoneInfo(current_app.config["SITE_TIMEZONE"])).date()


def is_overdue(cohort: Cohort, today: date) -> bool:
    """A cohort's due date has passed (the due day itself still counts as on time)."""
    return cohort.due_on is not None and today > cohort.due_on


@dataclass(frozen=True)
class Notice:
    """What one of a learner's open cohorts tells them: its due date and announcement."""

    cohort: Cohort
    overdue: bool


def notices(user: User) -> list[Notice]:
    """Return the learner's open (not archived) cohorts that have a due date or an announcement."""
    today = site_today()
    return [Notice(c, is_overdue(c, today)) for c in my_cohorts(user)
            if not c.archived and (c.due_on is not None or c.announcement)]


def possible_owners() -> list[User]:
    """Return the accounts that may own a cohort (instructors and admins), by name."""
    return list(db.session.scalars(
        select(User).where(User.role.in_(("instructor", "admin"))).order_by(func.lower(User.email))
    ))


def set_owner(cohort: Cohort, owner_id: int | None) -> User:
    """Give a cohort to an instructor or admin (an admin's fix for a cohort whose owner left); return the owner."""
    db.begin_write()
    owner = db.session.get(User, owner_id) if owner_id else None
    if owner is None or not owner.is_instructor:
        raise CohortError("Choose an instructor or admin to own the cohort.")
    cohort.owner_id = owner.id
    db.session.commit()
    return owner


def get_member(cohort: Cohort, user_id: int) -> User:
    """Return a member of the cohort, else raise NotFound."""
    if db.session.get(CohortMembership, (cohort.id, user_id)) is None:
        raise NotFound(user_id)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(user_id)
    return user


# ------------------------------------------------------------------------------- rows for the analytics


def learner_rows(cohort: Cohort) -> list[LearnerRow]:
    """Return the cohort's members as plain rows."""
    rows = db.session.execute(
        select(User.id, User.display_name, User.email, CohortMembership.joined_at)
        .join(CohortMembership, CohortMembership.user_id == User.id)
        .where(CohortMembership.cohort_id == cohort.id)
        .order_by(User.id)
    )
    return [LearnerRow(uid, name or email, email, joined) for uid, name, email, joined in rows]


def _members(cohort: Cohort):
    """Return a subquery of the cohort's member ids."""
    return select(CohortMembership.user_id).where(CohortMembership.cohort_id == cohort.id)


def attempt_rows(cohort: Cohort, exercise_id: str | None = None, with_answers: bool = False,
                 describe: Callable[[Any], str] | None = None) -> Iterator[AttemptRow]:
    """Yield the members' attempts as plain rows, oldest first, streamed in batches; `describe` words answers."""
    # Scores and verdicts as they count: a reviewer's override where there is one (web.services.outcomes).
    cols = [Attempt.id, Attempt.user_id, Attempt.exercise_id, effective_score().label("score"),
            effective_passed().label("passed"), Attempt.status, Attempt.checks, Attempt.created_at,
            Attempt.attempt_number]
    if with_answers:
        cols.append(Attempt.answer)
    query = select(*cols).where(Attempt.user_id.in_(_members(cohort))).order_by(Attempt.created_at, Attempt.id)
    if exercise_id is not None:
        query = query.where(Attempt.exercise_id == exercise_id)
    for r in db.session.execute(query.execution_options(yield_per=1000)):
        yield AttemptRow(id=r.id, user_id=r.user_id, exercise_id=r.exercise_id, score=float(r.score),
                         passed=bool(r.passed), status=r.status, checks=r.checks or [], created_at=r.created_at,
                         attempt_number=r.attempt_number,
                         answer=(describe or answer_text)(r.answer) if with_answers else "")


def roster_attempt_rows(cohort: Cohort, streak: int = REPEAT_FAIL_STREAK) -> list[AttemptRow]:
    """Return just the attempt rows analytics.roster() needs, without reading every attempt's checks.

    Per (learner, exercise) one aggregate row (passed at all, latest time) stands for the attempts, except
    where the exercise is unpassed after `streak` or more attempts: there the latest `streak` attempts come
    with their checks, because only those can show the same check failing again and again.
    """
    counted = (Attempt.user_id.in_(_members(cohort)), Attempt.status != "invalid")
    agg = (
        select(Attempt.user_id, Attempt.exercise_id,
               func.max(case((effective_passed().is_(True), 1), else_=0)).label("passed"),
               func.max(Attempt.created_at).label("last"), func.count().label("n"),
               func.max(Attempt.attempt_number).label("max_n"))
        .where(*counted).group_by(Attempt.user_id, Attempt.exercise_id)
    )
    rows: list[AttemptRow] = []
    stuck_candidates = False
    for r in db.session.execute(agg):
        if not r.passed and r.n >= streak:
            stuck_candidates = True
            continue  # represented by its latest attempts below
        rows.append(AttemptRow(user_id=r.user_id, exercise_id=r.exercise_id, score=0.0, passed=bool(r.passed),
                               status="correct" if r.passed else "incorrect", checks=(), created_at=r.last))
    if stuck_candidates:
        sub = agg.subquery()
        tail = (
            select(Attempt.id, Attempt.user_id, Attempt.exercise_id, effective_score().label("score"),
                   effective_passed().label("passed"), Attempt.status, Attempt.checks, Attempt.created_at,
                   Attempt.attempt_number)
            .join(sub, (sub.c.user_id == Attempt.user_id) & (sub.c.exercise_id == Attempt.exercise_id))
            .where(*counted, sub.c.passed == 0, sub.c.n >= streak, Attempt.attempt_number > sub.c.max_n - streak)
        )
        rows += [AttemptRow(id=r.id, user_id=r.user_id, exercise_id=r.exercise_id, score=float(r.score),
                            passed=bool(r.passed), status=r.status, checks=r.checks or [], created_at=r.created_at,
                            attempt_number=r.attempt_number) for r in db.session.execute(tail)]
    return rows


def read_rows(cohort: Cohort) -> list[ReadRow]:
    """Return the members' lesson reads as plain rows."""
    rows = db.session.execute(
        select(LessonProgress.user_id, LessonProgress.lesson_id, LessonProgress.last_read_at)
        .where(LessonProgress.user_id.in_(_members(cohort)))
    )
    return [ReadRow(uid, lid, at) for uid, lid, at in rows]


def answer_text(answer: object) -> str:
    """Render a stored answer (text, list or mapping) as one line of plain text for display."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list):
        return ", ".join(str(a) for a in answer)
    if isinstance(answer, dict):
        return "; ".join(f"{k} \u2192 {v}" for k, v in answer.items())
    return "" if answer is None else str(answer)


def learner_attempts(user: User) -> list[Attempt]:
    """Return every attempt of one learner, newest first, for the instructor drill-down."""
    return list(db.session.scalars(
        select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.created_at.desc(), Attempt.id.desc())
    ))
