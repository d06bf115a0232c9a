"""A learner's progress: lessons read, exercise results, statuses, completion and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from course import navigation
from course.model import Course
from web.extensions import db
from web.models import Attempt, ExerciseSummary, LessonProgress, User, utcnow

DONE, IN_PROGRESS, NOT_STARTED = "done", "in-progress", "not-started"
STATUS_LABELS = {DONE: "Done", IN_PROGRESS: "In progress", NOT_STARTED: "Not started"}
# Rewriting last_read_at on every page view put a write (and SQLite's single write lock) on every lesson view.
LAST_READ_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class AttemptRef:
    """A learner's latest attempt at an exercise: enough to date activity; its checks are read only on demand."""

    id: int
    created_at: datetime

    def checks(self) -> list[dict]:
        """Read this attempt's per-check results (one small query, only for the recommendation)."""
        return db.session.scalar(select(Attempt.checks).where(Attempt.id == self.id)) or []


@dataclass
class ExerciseRecord:
    """A learner's results on one exercise."""

    attempts: int = 0
    best_score: float | None = None
    passed: bool = False
    last_attempt: AttemptRef | None = None

    @property
    def status(self) -> str:
        """Done once passed, in progress after any attempt, else not started."""
        if self.passed:
            return DONE
        return IN_PROGRESS if self.attempts else NOT_STARTED


@dataclass(frozen=True)
class Step:
    """Something the learner can do next: read a lesson or do an exercise."""

    kind: str  # "lesson" or "exercise"
    id: str
    title: str
    reason: str


@dataclass
class Progress:
    """Everything the course, lesson and progress pages show about one learner."""

    course: Course
    read: dict[str, Any] = field(default_factory=dict)  # lesson id -> its read times (a row or a LessonProgress)
    exercises: dict[str, ExerciseRecord] = field(default_factory=dict)

    def exercise(self, exercise_id: str) -> ExerciseRecord:
        """Return the record of one exercise (empty if never tried)."""
        return self.exercises.get(exercise_id) or ExerciseRecord()

    def exercise_status(self, exercise_id: str) -> str:
        """Return done / in-progress / not-started for an exercise."""
        return self.exercise(exercise_id).status

    def lesson_status(self, lesson_id: str) -> str:
        """Done when read and every exercise passed; in progress once read or tried; else not started."""
        lesson = self.course.lessons[lesson_id]
        statuses = [self.exercise_status(e) for e in lesson.exercises]
        if lesson_id in self.read and all(s == DONE for s in statuses):
            return DONE
        if lesson_id in self.read or any(s != NOT_STARTED for s in statuses):
            return IN_PROGRESS
        return NOT_STARTED

    def outline(self, kind: str, ident: str) -> navigation.Outline:
        """Return the course outline with this learner's ticks, marking the page being shown (kind, id)."""
        passed = {e for e, record in self.exercises.items() if record.passed}
        return navigation.outline(self.course, self.read.keys(), passed, (kind, ident))

    def module_counts(self, module_id: str) -> tuple[int, int]:
        """Return (items done, items) of a module, counting lessons read and exercises passed."""
        module = next(m for m in self.course.modules if m.id == module_id)
        done = total = 0
        for lesson_id in module.lessons:
            total += 1 + len(self.course.lessons[lesson_id].exercises)
            done += lesson_id in self.read
            done += sum(self.exercise(e).passed for e in self.course.lessons[lesson_id].exercises)
        return done, total

    def module_status(self, module_id: str) -> str:
        """Return done / in-progress / not-started for a module."""
        done, total = self.module_counts(module_id)
        if total and done == total:
            return DONE
        return IN_PROGRESS if done or any(
            self.lesson_status(lid) != NOT_STARTED
            for m in self.course.modules if m.id == module_id for lid in m.lessons
        ) else NOT_STARTED

    def course_counts(self) -> tuple[int, int]:
        """Return (items done, items) for the whole course."""
        pairs = [self.module_counts(m.id) for m in self.course.modules]
        return sum(d for d, _ in pairs), sum(t for _, t in pairs)

    def is_complete(self) -> bool:
        """Apply the course's completion rule (course.yaml `completion`)."""
        rule = self.course.completion or {"lessons": "all", "exercises": "all"}
        lessons = self.course.lesson_order()
        exercises = self.course.exercise_order()
        need_lessons = len(lessons) if rule.get("lessons", "all") == "all" else int(rule["lessons"])
        need_exercises = len(exercises) if rule.get("exercises", "all") == "all" else int(rule["exercises"])
        read = sum(lid in self.read for lid in lessons)
        passed = sum(self.exercise(e).passed for e in exercises)
        return read >= need_lessons and passed >= need_exercises

    def completed_at(self) -> datetime | None:
        """Return when the last needed item was done (for the certificate), if the course is complete."""
        if not self.is_complete():
            return None
        times = [p.first_read_at for p in self.read.values()]
        times += [r.last_attempt.created_at for r in self.exercises.values() if r.passed and r.last_attempt]
        return max(times) if times else None

    def last_activity(self) -> Step | None:
        """Return the lesson or exercise the learner touched last, for "continue where you left off"."""
        best: tuple[datetime, Step] | None = None
        for lesson_id, p in self.read.items():
            lesson = self.course.lessons.get(lesson_id)
            if lesson and (best is None or p.last_read_at > best[0]):
                best = (p.last_read_at, Step("lesson", lesson_id, lesson.title, "You read this last."))
        for exercise_id, r in self.exercises.items():
            exercise = self.course.exercises.get(exercise_id)
            if exercise and r.last_attempt and (best is None or r.last_attempt.created_at > best[0]):
                step = Step("exercise", exercise_id, exercise.title, "You tried this last.")
                best = (r.last_attempt.created_at, step)
        return best[1] if best else None

    def recommended(self) -> Step | None:
        """Return the next thing to do: revisit the lesson behind a failed check, else the first unfinished item."""
        for exercise_id in self.course.exercise_order():
            record = self.exercise(exercise_id)
            if record.passed or record.last_attempt is None:
                continue
            exercise = self.course.exercises[exercise_id]
            for check in record.last_attempt.checks():
                # Text checks name the lesson that teaches them; the structured graders' checks do not, and
                # what they test is taught by the exercise's own lesson.
                lesson_id = check.get("lesson") or exercise.lesson
                if not check.get("passed") and lesson_id in self.course.lessons:
                    lesson = self.course.lessons[lesson_id]
                    return Step("lesson", lesson_id, lesson.title,
                                f"Your last try at “{exercise.title}” missed something this lesson teaches.")
        for lesson_id in self.course.lesson_order():
            lesson = self.course.lessons[lesson_id]
            if lesson_id not in self.read:
                return Step("lesson", lesson_id, lesson.title, "The next lesson you have not read yet.")
            for exercise_id in lesson.exercises:
                if not self.exercise(exercise_id).passed:
                    exercise = self.course.exercises[exercise_id]
                    return Step("exercise", exercise_id, exercise.title, "The next exercise you have not passed yet.")
        return None


# Plain rows with the lesson's read times (what Progress reads of a LessonProgress), built once.
_READ_ROWS = select(LessonProgress.lesson_id, LessonProgress.first_read_at, LessonProgress.last_read_at).where(
    LessonProgress.user_id == bindparam("uid"))
_SUMMARY_ROWS = select(
    ExerciseSummary.exercise_id, ExerciseSummary.attempts, ExerciseSummary.best_score, ExerciseSummary.passed,
    ExerciseSummary.last_attempt_id, ExerciseSummary.last_at,
).where(ExerciseSummary.user_id == bindparam("uid"))


def load_progress(course: Course, user: User | None) -> Progress:
    """Read a learner's lessons and exercise summaries in two queries; anonymous visitors get empty progress."""
    progress = Progress(course=course)
    if user is None or not user.is_authenticated:
        return progress
    # The session's connection runs the prebuilt selects as Core: the ORM's execution layer was a fifth of the
    # page for two reads of plain columns.
    connection = db.session.connection()
    for row in connection.execute(_READ_ROWS, {"uid": user.id}):
        progress.read[row.lesson_id] = row
    # One summary row per exercise tried (web.services.summaries), so the page costs the same after 5 attempts
    # as after 5,000; plain rows, not ORM objects, since every page shows status badges.
    rows = connection.execute(_SUMMARY_ROWS, {"uid": user.id})
    for exercise_id, attempts, best_score, passed, last_id, last_at in rows:
        progress.exercises[exercise_id] = ExerciseRecord(
            attempts=attempts, best_score=best_score, passed=bool(passed), last_attempt=AttemptRef(last_id, last_at))
    return progress


def record_lesson_read(user: User, lesson_id: str, progress: Progress | None = None) -> None:
    """Note that a learner read a lesson (first and latest time); a reload within a minute writes nothing.

    Given the learner's loaded `progress`, it is read instead of the database and kept up to date.
    """
    now = utcnow()
    known = progress.read if progress is not None else None
    row = known.get(lesson_id) if known is not None else db.session.get(LessonProgress, (user.id, lesson_id))
    if row is not None and now - row.last_read_at < LAST_READ_EVERY:
        return
    db.begin_write()
    row = db.session.get(LessonProgress, (user.id, lesson_id))
    if row is not None:
        row.last_read_at = now
        db.session.commit()
    else:
        # The same lesson opened twice at once: the other request recorded it; nothing is lost.
        row = db.add_or_existing(
            LessonProgress(user_id=user.id, lesson_id=lesson_id, first_read_at=now, last_read_at=now),
            (user.id, lesson_id),
        )
    if progress is not None:
        progress.read[lesson_id] = row
