"""Review: learners' appeals, the instructors' queue of grades to look at, and their decisions (keep or override).

An override is stored beside the grader's result (attempt_overrides), never over it, with an audit row
(review_decisions: who, when, the effective grade before and after). A regrade rewrites only the grader's result,
so an override survives it; where the two then disagree the item says what the rules now say.

Scopes: a cohort's queue holds its members' attempts; the self-paced queue (admins only) holds the attempts of
learners in no cohort. Both go through `scope_attempt`, so an attempt outside the scope is the same NotFound as
a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import String, and_, cast, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from web.extensions import Page, db
from web.models import Appeal, Attempt, AttemptOverride, Cohort, CohortMembership, ReviewDecision, User, utcnow
from web.services import lti, summaries
from web.services.attempts import own_attempt
from web.services.outcomes import effective_result

MAX_REASON_CHARS = 500
MAX_COMMENT_CHARS = 1000
QUEUE_PAGE_SIZE = 50
APPEALED = "appealed"  # the queue's reason filter for appealed attempts, beside the grader's own reasons
STATES = ("open", "done", "all")


class ReviewError(ValueError):
    """An appeal or a decision cannot be made; the message says why, for the person who asked."""


class NotFound(LookupError):
    """The attempt does not exist, or is not the asker's to appeal or review."""


# ------------------------------------------------------------------------------------------ learners appeal


def appeal_of(attempt: Attempt) -> Appeal | None:
    """Return the appeal made on an attempt, if any."""
    return db.session.scalar(select(Appeal).where(Appeal.attempt_id == attempt.id))


def in_no_cohort(user: User) -> bool:
    """True for a self-paced learner (in no cohort): their appeals go to the site's admins."""
    return db.session.scalar(select(func.count()).where(CohortMembership.user_id == user.id)) == 0


def submit_appeal(user: User, attempt_id: int, reason: str) -> Appeal:
    """Appeal one of the learner's own attempts; raise NotFound for anyone else's, ReviewError for a bad request."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ReviewError("Say in a sentence or two why you think this was graded wrong.")
    if len(reason) > MAX_REASON_CHARS:
        raise ReviewError(f"The reason must be at most {MAX_REASON_CHARS} characters long (it has {len(reason)}).")
    already = ReviewError("This attempt has been appealed already; one appeal per attempt.")
    db.begin_write()
    attempt = own_attempt(user, attempt_id)
    if attempt is None:
        db.session.rollback()
        raise NotFound(attempt_id)
    if appeal_of(attempt) is not None:
        db.session.rollback()
        raise already
    appeal = Appeal(attempt_id=attempt.id, user_id=user.id, reason=reason)
    db.session.add(appeal)
    try:
        db.session.commit()
    except IntegrityError:
        # A double-submitted form on another worker stored the appeal first (uq_appeals_attempt).
        db.session.rollback()
        raise already from None
    return appeal


# ------------------------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueItem:
    """One attempt in a review queue, with what a reviewer needs to decide on it."""

    attempt: Attempt
    learner: str
    appeal: Appeal | None
    override: AttemptOverride | None
    decided: bool

    @property
    def open(self) -> bool:
        """Waiting for a reviewer: a waiting appeal, or a suggestion nobody has decided on."""
        if self.appeal is not None:
            return self.appeal.state == "waiting"
        return not self.decided


def _members(cohort: Cohort | None):
    """SQL condition: the attempt's learner is in this cohort, or (None) in no cohort at all."""
    if cohort is not None:
        return Attempt.user_id.in_(select(CohortMembership.user_id).where(CohortMembership.cohort_id == cohort.id))
    return ~exists().where(CohortMembership.user_id == Attempt.user_id)


def _decided():
    """SQL condition: a reviewer has decided on the attempt (kept or overridden it)."""
    return exists().where(ReviewDecision.attempt_id == Attempt.id)


def _latest():
    """SQL condition: the attempt is the learner's latest at its exercise (older suggestions are moot)."""
    other = Attempt.__table__.alias("later")
    return ~exists().where(other.c.user_id == Attempt.user_id, other.c.exercise_id == Attempt.exercise_id,
                           other.c.attempt_number > Attempt.attempt_number)


def _queue_query(cohort: Cohort | None, exercise_id: str | None, reason: str | None, state: str):
    """The select of (attempt, appeal) rows in a queue, appealed first (oldest appeal first), then suggested."""
    query = (
        select(Attempt, Appeal).outerjoin(Appeal, Appeal.attempt_id == Attempt.id)
        .where(_members(cohort), or_(Appeal.id.is_not(None), and_(Attempt.review == "suggested", _latest())))
    )
    if exercise_id:
        query = query.where(Attempt.exercise_id == exercise_id)
    if reason == APPEALED:
        query = query.where(Appeal.id.is_not(None))
    elif reason:
        # The reasons are a JSON list of slugs; its text holds each one in quotes on both databases.
        query = query.where(cast(Attempt.review_reasons, String).like(f'%"{reason}"%'))
    is_open = or_(Appeal.state == "waiting", and_(Appeal.id.is_(None), ~_decided()))
    if state == "open":
        query = query.where(is_open)
    elif state == "done":
        query = query.where(~is_open)
    return query


def queue(cohort: Cohort | None, *, exercise_id: str | None = None, reason: str | None = None,
          state: str = "open", page: int = 1, page_size: int = QUEUE_PAGE_SIZE) -> Page[QueueItem]:
    """Return one page of a queue, with how many items match; `cohort` None is the self-paced queue."""
    query = _queue_query(cohort, exercise_id, reason, state if state in STATES else "open")
    found = db.paginate(
        query.order_by(Appeal.id.is_(None), Appeal.created_at, Attempt.created_at.desc(), Attempt.id.desc()),
        page, page_size, scalars=False)
    rows = found.items
    ids = [a.id for a, _ in rows]
    overrides = {o.attempt_id: o for o in db.session.scalars(
        select(AttemptOverride).where(AttemptOverride.attempt_id.in_(ids)))} if ids else {}
    decided = set(db.session.scalars(
        select(ReviewDecision.attempt_id).where(ReviewDecision.attempt_id.in_(ids)))) if ids else set()
    names = {uid: name for uid, name in db.session.execute(
        select(User.id, func.coalesce(func.nullif(User.display_name, ""), User.email))
        .where(User.id.in_({a.user_id for a, _ in rows})))} if ids else {}
    return replace(found, items=[QueueItem(a, names.get(a.user_id, ""), appeal, overrides.get(a.id), a.id in decided)
                                 for a, appeal in rows])


def open_count(cohort: Cohort | None) -> int:
    """How many items of a queue wait for a reviewer (shown on every page of the cohort).

    The same items as _queue_query's open state, counted in two parts that never overlap (an item has a waiting
    appeal, or no appeal and the grader's undecided suggestion), each read from its own small index: the queue's
    one query ORs them across an outer join, which read every attempt of the cohort on every cohort page.
    """
    # A probe of the membership key for each appeal, rather than SQLite driving from every member's attempts.
    members = (exists().where(CohortMembership.cohort_id == cohort.id, CohortMembership.user_id == Attempt.user_id)
               if cohort is not None else _members(None))
    appealed = (select(func.count()).select_from(Appeal).join(Attempt, Attempt.id == Appeal.attempt_id)
                .where(Appeal.state == "waiting", members))
    suggested = select(func.count()).select_from(Attempt).where(
        Attempt.review == "suggested", _latest(), ~exists().where(Appeal.attempt_id == Attempt.id), ~_decided(),
        _members(cohort))
    return int(db.session.scalar(appealed) or 0) + int(db.session.scalar(suggested) or 0)


def scope_attempt(cohort: Cohort | None, attempt_id: int) -> Attempt:
    """Return an attempt of the scope's learners (a cohort's members, or learners in no cohort), else NotFound."""
    attempt = db.session.scalar(select(Attempt).where(Attempt.id == attempt_id, _members(cohort)))
    if attempt is None:
        raise NotFound(attempt_id)
    return attempt


def decisions_of(attempt: Attempt) -> list[tuple[ReviewDecision, str]]:
    """Return the attempt's audit rows, oldest first, each with the reviewer's name (empty if the account is gone)."""
    rows = db.session.execute(
        select(ReviewDecision, func.coalesce(func.nullif(User.display_name, ""), User.email))
        .outerjoin(User, User.id == ReviewDecision.actor_id)
        .where(ReviewDecision.attempt_id == attempt.id).order_by(ReviewDecision.id)
    )
    return [(d, name or "") for d, name in rows]


# ---------------------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision as read from the form: keep the grade, or override it."""

    action: str  # "keep" | "override"
    passed: bool = False
    score: float = 0.0
    comment: str = ""


def read_decision(action: str | None, passed: str | None, score: str | None, comment: str | None) -> Decision:
    """Validate a decision's fields; raise ReviewError naming what is wrong."""
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ReviewError(f"The comment must be at most {MAX_COMMENT_CHARS} characters long (it has {len(comment)}).")
    if action == "keep":
        return Decision("keep", comment=comment)
    if action != "override":
        raise ReviewError("Choose whether to keep the grade or override it.")
    if passed not in ("yes", "no"):
        raise ReviewError("Say whether the overridden attempt passes.")
    try:
        percent = float((score or "").strip().rstrip("%"))
    except ValueError:
        raise ReviewError("The score must be a number from 0 to 100, for example 80.") from None
    if not 0 <= percent <= 100:
        raise ReviewError("The score must be a number from 0 to 100, for example 80.")
    return Decision("override", passed == "yes", round(percent / 100, 4), comment)


def decide(reviewer: User, attempt: Attempt, decision: Decision) -> ReviewDecision:
    """Store a decision: the override beside the grader's result, the audit row, and the appeal's answer."""
    db.begin_write()
    before = effective_result(attempt)
    override = db.session.get(AttemptOverride, attempt.id)
    now = utcnow()
    if decision.action == "override":
        if override is None:
            override = AttemptOverride(attempt_id=attempt.id, passed=decision.passed, score=decision.score)
            db.session.add(override)
        override.passed, override.score = decision.passed, decision.score
        override.comment, override.decided_by, override.decided_at = decision.comment, reviewer.id, now
        new_passed, new_score = decision.passed, decision.score
    else:
        new_passed, new_score = before.passed, before.score
    audit = ReviewDecision(attempt_id=attempt.id, actor_id=reviewer.id, created_at=now, action=decision.action,
                           old_passed=before.passed, old_score=before.score, new_passed=new_passed,
                           new_score=new_score, comment=decision.comment)
    db.session.add(audit)
    appeal = appeal_of(attempt)
    if appeal is not None:
        appeal.state = "upheld" if decision.action == "override" else "declined"
        appeal.comment, appeal.decided_at, appeal.decided_by = decision.comment, now, reviewer.id
    db.session.flush()
    # The roster, item analysis and progress read summaries: recompute this learner's in the same transaction.
    summaries.refresh(db.session, attempt.exercise_id, [attempt.user_id])
    # An override moves the learner's best score in the LMS gradebook too (the outbox, web/services/lti.py).
    queued = lti.queue_scores(attempt.user_id, attempt.exercise_id)
    db.session.commit()
    if queued:  # a learner from no LMS costs one query here, not two
        lti.after_attempt(attempt.user_id)
    return audit


def rules_disagree(attempt: Attempt, override: AttemptOverride | None) -> bool:
    """True when the grader's current result (after any regrade) and the override differ on pass or fail."""
    return override is not None and bool(override.passed) != bool(attempt.passed)



def learner_panel(user: User, attempt: Attempt) -> dict[str, object]:
    """What the learner's attempt page shows of review: the appeal and override, if any, and who appeals go to."""
    from web.forms import AppealForm  # forms need a request; services are imported without one

    override = db.session.get(AttemptOverride, attempt.id)
    return {"appeal": appeal_of(attempt), "override": override, "self_paced": in_no_cohort(user),
            "appeal_form": AppealForm()}
