"""Database tables of the learning site, as SQLAlchemy 2.0 typed mappings."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from web.extensions import Base

ROLES = ("learner", "instructor", "admin")
# Readable join codes: no 0/O, 1/I/L, so a code read aloud in a seminar room is typed right.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_DEFAULT_HASHER = PasswordHasher()

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC datetimes and always gives back aware ones, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive datetimes and convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use web.models.utcnow()")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return aware UTC datetimes whatever the backend handed back."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def password_hasher() -> PasswordHasher:
    """Return the app's argon2id hasher (tests configure a cheaper one), or the default outside an app."""
    if has_app_context():
        return current_app.extensions.get("password_hasher", _DEFAULT_HASHER)
    return _DEFAULT_HASHER


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return password_hasher().hash(password)


def new_join_code() -> str:
    """Return a random, readable cohort join code such as 'KX7D-M2QP'."""
    raw = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def new_shuffle_seed() -> int:
    """Return a secret per-learner seed for shuffling an exercise's options."""
    return secrets.randbits(31)


class User(UserMixin, Base):
    """A person with an account: learner, instructor or admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('learner', 'instructor', 'admin')", name="ck_users_role"),
        UniqueConstraint("email", name="uq_users_email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    # Bumped on password change and "log out everywhere": cookies carrying the old value stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Set when the owner of the email followed the link sent at registration (accounts made by an admin, the CLI
    # or the demo are confirmed at once). Until then the account cannot log in.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        """Store emails trimmed and lower-cased so look-ups are case-insensitive."""
        return value.strip().lower()

    @validates("role")
    def _check_role(self, _key: str, value: str) -> str:
        """Reject unknown roles before they reach the database."""
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r} (expected one of {', '.join(ROLES)})")
        return value

    def get_id(self) -> str:
        """Return the login cookie id: user id plus session version, so old cookies die on a bump."""
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        """Hash and store a new password."""
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """Return True when the password matches; re-hashes if the hash parameters have changed."""
        hasher = password_hasher()
        try:
            hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if hasher.check_needs_rehash(self.password_hash):
            self.password_hash = hash_password(password)
        return True

    @property
    def name(self) -> str:
        """Return the name to show: the display name, or the email when none is set."""
        return self.display_name or self.email

    @property
    def is_instructor(self) -> bool:
        """Instructors and admins may manage cohorts."""
        return self.role in ("instructor", "admin")

    @property
    def is_admin(self) -> bool:
        """Return True for administrators."""
        return self.role == "admin"


class Cohort(Base):
    """A group of learners an instructor follows, joined with a code."""

    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("join_code", name="uq_cohorts_join_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SET NULL: deleting an instructor's account keeps the cohort (and its learners' records) for an admin.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    join_code: Mapped[str] = mapped_column(String(16), default=new_join_code)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # False: the code (and its link) admits nobody until the instructor opens joining again; the code is kept.
    join_open: Mapped[bool] = mapped_column(default=True, server_default=true())
    # A calendar day, not a moment: "due 14 March" means by the end of that day wherever the cohort meets.
    due_on: Mapped[date | None] = mapped_column(Date(), default=None)
    # Markdown, sanitised when shown (course/render.py), at most cohorts.MAX_ANNOUNCEMENT_LENGTH characters.
    announcement: Mapped[str] = mapped_column(Text, default="", server_default="")
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    owner: Mapped[User | None] = relationship()
    memberships: Mapped[list[CohortMembership]] = relationship(
        back_populates="cohort", cascade="all, delete-orphan", passive_deletes=True
    )


class CohortMembership(Base):
    """One learner's place in one cohort."""

    __tablename__ = "cohort_memberships"

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


def new_certificate_code() -> str:
    """Return an unguessable verification code for a certificate's public page (not derived from any id)."""
    return secrets.token_urlsafe(18)


class Certificate(Base):
    """A learner's certificate of completion with the code of its public verification page.

    Withdrawing keeps the row (withdrawn_at set) so a withdrawn code never verifies again; re-issuing adds a row
    with a new code. At most one row per learner is not withdrawn (web/services/certificates.py keeps that).
    """

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("code", name="uq_certificates_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64), default=new_certificate_code)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    user: Mapped[User] = relationship()


class Attempt(Base):
    """One graded submission: the raw answer and the server-side result."""

    __tablename__ = "attempts"
    __table_args__ = (
        # A double click posts the same key twice: the second insert fails and the first attempt is reused.
        UniqueConstraint("user_id", "idempotency_key", name="uq_attempts_user_idempotency"),
        # A submission's attempt number (MAX over the pair) and its latest predecessors, each an index probe.
        Index("ix_attempts_pair_number", "user_id", "exercise_id", "attempt_number"),
        Index("ix_attempts_pair_time", "user_id", "exercise_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    answer: Mapped[Any] = mapped_column(JSONType)
    score: Mapped[float]
    passed: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    checks: Mapped[Any] = mapped_column(JSONType, default=list)
    grader_version: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    # The normalised answer text the checks' spans point into, for highlighting on the feedback page.
    answer_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    attempt_number: Mapped[int] = mapped_column(Integer, default=1)
    # The grader's doubt about this grade ("none" or "suggested", graders.Result.review) and its reasons.
    review: Mapped[str] = mapped_column(String(16), default="none", server_default="none", index=True)
    review_reasons: Mapped[Any] = mapped_column(JSONType, default=list, server_default=text("'[]'"))

    user: Mapped[User] = relationship(back_populates="attempts")
    grades: Mapped[list[AttemptGrade]] = relationship(
        back_populates="attempt", cascade="all, delete-orphan", passive_deletes=True, order_by="AttemptGrade.id"
    )


class ExerciseSummary(Base):
    """One learner's standing on one exercise, kept from their attempts so instructor pages never read them all.

    Written only by `web.services.summaries` (`refresh`, and `record_attempt` for a submission), in the same
    transaction as the attempts it sums up.
    Check-id lists are stored as sorted JSON text, so equal sets group together in SQL.
    """

    __tablename__ = "exercise_summaries"
    __table_args__ = (
        Index("ix_exercise_summaries_exercise", "exercise_id", "last_at"),
        # Covering indexes, one per instructor page's pass, so SQLite reads no table row (each row lookup through
        # the composite primary key's separate index cost more than the rest of the query).
        # The roster: per learner, what it counts and flags.
        Index("ix_exercise_summaries_roster", "user_id", "exercise_id", "passed", "last_at", "stuck"),
        # Item analysis: per exercise, grouped by the latest checks, in index order (no sort).
        Index("ix_exercise_summaries_items", "exercise_id", "last_checks", "last_failed", "user_id", "attempts",
              "passed", "first_score"),
        # Each exercise's learners best total first, ties by id: the discrimination index's thirds are the first
        # and the last rows of this index, read with a LIMIT instead of sorting every summary.
        Index("ix_exercise_summaries_rank", "exercise_id", "minus_total", "user_id", "first_score"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Counted attempts only: an attempt whose result is `invalid` enters no statistic.
    attempts: Mapped[int] = mapped_column(Integer)
    best_score: Mapped[float]
    passed: Mapped[bool]
    first_score: Mapped[float]
    last_attempt_id: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The checks the latest counted attempt ran, and those it failed (item analysis counts learners by these).
    last_checks: Mapped[str] = mapped_column(Text, default="[]")
    last_failed: Mapped[str] = mapped_column(Text, default="[]")
    # Checks failed on the latest REPEAT_FAIL_STREAK or more attempts in a row while unpassed (the roster's
    # "stuck" flag); NULL when there are none.
    stuck: Mapped[str | None] = mapped_column(Text, default=None)
    # The learner's total course score (their LearnerTotal) negated, on each of their summaries: ascending, the
    # rank index lists best first with ties by id, and backwards worst first. Kept by summaries.refresh_totals;
    # a server default only, so summary writers that predate it (migration 0007's fill) still insert.
    minus_total: Mapped[float] = mapped_column(Double(), server_default=text("0"))


class LearnerTotal(Base):
    """A learner's total course score: the sum of their best scores, one row per learner with a summary.

    Written only by `web.services.summaries.refresh_totals`, in the same transaction as the summaries it sums, so
    instructor pages read 10,000 totals rather than grouping every summary.
    """

    __tablename__ = "learner_totals"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    total: Mapped[float] = mapped_column(Double())


class AttemptGrade(Base):
    """A previous grading of an attempt, kept when a regrade changes it (the audit trail)."""

    __tablename__ = "attempt_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    passed: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    checks: Mapped[Any] = mapped_column(JSONType, default=list)
    grader_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(String(200), default="regrade")

    attempt: Mapped[Attempt] = relationship(back_populates="grades")


APPEAL_STATES = ("waiting", "upheld", "declined")


class Appeal(Base):
    """A learner's "I think this was graded wrong" on one of their attempts (one per attempt), and its answer."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint("state IN ('waiting', 'upheld', 'declined')", name="ck_appeals_state"),
        UniqueConstraint("attempt_id", name="uq_appeals_attempt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    # The reviewer's words to the learner, shown on the attempt page once decided.
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class AttemptOverride(Base):
    """A reviewer's grade for an attempt, kept beside the grader's result (never over it): regrades leave it alone."""

    __tablename__ = "attempt_overrides"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True)
    passed: Mapped[bool]
    score: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewDecision(Base):
    """The audit of review: who decided what about an attempt, when, and its effective grade before and after."""

    __tablename__ = "review_decisions"
    __table_args__ = (CheckConstraint("action IN ('keep', 'override')", name="ck_review_decisions_action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    old_passed: Mapped[bool]
    old_score: Mapped[float]
    new_passed: Mapped[bool]
    new_score: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")


class LessonProgress(Base):
    """When a learner first and last read a lesson."""

    __tablename__ = "lesson_progress"
    # Covering the roster's grouped pass over lesson reads (SQLite then reads no table row).
    __table_args__ = (Index("ix_lesson_progress_reads", "user_id", "lesson_id", "last_read_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lesson_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExerciseState(Base):
    """Per-learner exercise state kept on the server: the secret seed that shuffles options."""

    __tablename__ = "exercise_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    shuffle_seed: Mapped[int] = mapped_column(Integer, default=new_shuffle_seed)


class SavedDraft(Base):
    """An answer posted after the login expired, kept until the learner logs in again (found by a session token)."""

    __tablename__ = "saved_drafts"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(100))
    # The posted answer fields as [name, value] pairs, replayed into the form after login.
    fields: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# ------------------------------------------------------------------------------------------- LTI 1.3 (web/lti.py)


class LtiPlatform(Base):
    """An LMS registered to launch the site over LTI 1.3: where its login, token and key-set endpoints are."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    jwks_url: Mapped[str] = mapped_column(String(500))
    # The audience of client assertions when the platform's token endpoint wants one other than its URL (Moodle).
    token_audience: Mapped[str] = mapped_column(String(500), default="")
    # Origins allowed to frame LTI-launched pages (Canvas frames from the school's own host, not the issuer's).
    frame_origins: Mapped[Any] = mapped_column(JSONType, default=list)
    # Switched off by an admin: its launches are refused and its scores wait in the outbox until it is on again.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", passive_deletes=True, order_by="LtiDeployment.id"
    )


class PlatformRecord:
    """The columns of a record that belongs to one LMS platform (a deployment, user or course of it).

    A mixin, not a table: its id and its platform, deleted with the platform. `sort_order` keeps them the first
    columns, as the migration creates them.
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-2)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), sort_order=-1)


class LtiDeployment(PlatformRecord, Base):
    """One deployment id of a platform: the tool installed in one place (an account, a course) of that LMS."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployments_platform_dep"),)

    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiKey(Base):
    """One of the tool's RSA signing keys; a retired key is still published until `expires_at`."""

    __tablename__ = "lti_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class LtiState(Base):
    """A one-time value kept on the server: a login's state (with its nonce), or a hand-off to a new window."""

    __tablename__ = "lti_states"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "login" or "handoff"
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    target: Mapped[str] = mapped_column(String(500), default="")
    # A hand-off from a deep-linking launch carries the open request, so the new window can finish it.
    deep_link: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class LtiUser(PlatformRecord, Base):
    """A platform's user (iss + sub) mapped to the one site account made at their first launch."""

    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("platform_id", "sub", name="uq_lti_users_platform_sub"),)

    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class LtiContext(PlatformRecord, Base):
    """An LMS course (context) mapped to the cohort made at its first launch."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id", name="uq_lti_contexts_platform_context"),)

    context_id: Mapped[str] = mapped_column(String(255))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    # The course's roster (Names and Role Provisioning Services), when the platform offers it.
    memberships_url: Mapped[str] = mapped_column(String(500), default="")


class LtiResourceLink(Base):
    """A link placed in an LMS course: what it opens, and the line item its scores go to (AGS)."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("context_ref", "resource_link_id", name="uq_lti_links_context_link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    context_ref: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    exercise_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    lineitem_url: Mapped[str] = mapped_column(String(500), default="")


class LtiScore(Base):
    """The outbox: a learner's best score on a linked exercise, waiting until the platform accepts it."""

    __tablename__ = "lti_scores"
    __table_args__ = (UniqueConstraint("link_id", "user_id", name="uq_lti_scores_link_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    # pending (to send, at next_try_at), sent, or failed (refused by the platform; not retried by itself).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_score: Mapped[float | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
