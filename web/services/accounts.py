"""Account services: create users, check passwords, change them, export and delete a learner's data."""

from __future__ import annotations

import contextlib
import re
import secrets
import unicodedata
from functools import cache
from typing import Any

from argon2.exceptions import VerificationError
from sqlalchemy import select

from web.extensions import db
from web.models import (
    ROLES,
    Attempt,
    CohortMembership,
    LessonProgress,
    User,
    hash_password,
    password_hasher,
    utcnow,
)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A request about an account cannot be carried out; the message says why, for the user."""


def validate_email(email: str) -> str:
    """Return the normalised email or raise AccountError."""
    email = (email or "").strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError(f"{email!r} is not a valid email address.")
    return email


def validate_password(password: str) -> str:
    """Return the password if long enough, else raise AccountError."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    return password


@cache
def _dummy_hash() -> str:
    """Return an argon2 hash of a random password, made once per process."""
    return hash_password(secrets.token_hex(16))


def verify_nothing(password: str) -> None:
    """Spend the time of one password check without any account behind it."""
    # The result is meaningless (it always fails); only the time spent matters.
    with contextlib.suppress(VerificationError):
        password_hasher().verify(_dummy_hash(), password)


def find_user(email: str) -> User | None:
    """Return the user with this email (case-insensitive), or None."""
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def clean_display_name(name: str | None) -> str:
    """A display name without format characters: a right-to-left override in a name ("Eve\u202egnp.exe")
    would reverse the text around it on every roster, gradebook and certificate that shows it."""
    visible = "".join(c for c in (name or "") if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())[:100]


def create_user(email: str, password: str, *, role: str = "learner", display_name: str = "") -> User:
    """Create and commit a user; raise AccountError for a bad email, weak password, role or taken email."""
    email = validate_email(email)
    validate_password(password)
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    db.begin_write()
    if find_user(email) is not None:
        raise AccountError(f"An account with the email {email} already exists.")
    user = User(email=email, display_name=clean_display_name(display_name), role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user when email and password match, else None (same work either way)."""
    user = find_user(email)
    if user is None:
        # Verify against a throwaway hash anyway so unknown emails take as long as wrong passwords.
        verify_nothing(password or "")
        return None
    if not user.check_password(password or ""):
        return None
    # check_password may have upgraded the hash parameters.
    db.begin_write()
    user.last_seen_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; ends every other session."""
    if not user.check_password(current or ""):
        raise AccountError("The current password is not correct.")
    validate_password(new)
    db.begin_write()
    user.set_password(new)
    user.session_version += 1
    db.session.commit()


def locked_admin_ids() -> set[int]:
    """Return the ids of every admin, their rows locked until the transaction ends (FOR UPDATE; SQLite ignores it)."""
    return set(db.session.scalars(select(User.id).where(User.role == "admin").with_for_update()))


def change_role(user: User, role: str) -> None:
    """Give a user a new role; refuse unknown roles and removing the last admin."""
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    # SQLite: BEGIN IMMEDIATE makes concurrent writers queue. PostgreSQL: two admins demoting each other at once both
    # counted two admins and left none, so the admin rows are locked; the second waits, then sees only one admin.
    db.begin_write()
    admins = locked_admin_ids()
    if user.id in admins and role != "admin" and len(admins) <= 1:
        db.session.rollback()  # release the locks now, not when the request ends
        raise AccountError(f"{user.email} is the last admin; make someone else an admin first.")
    user.role = role
    db.session.commit()


def end_all_sessions(user: User) -> None:
    """Invalidate every login cookie of this user (log out everywhere)."""
    db.begin_write()
    user.session_version += 1
    db.session.commit()


def delete_account(user: User, password: str) -> None:
    """Delete a user and everything recorded about them, after checking their password."""
    if not user.check_password(password or ""):
        raise AccountError("The password is not correct; your account was not deleted.")
    db.begin_write()
    db.session.delete(user)
    db.session.commit()


def export_data(user: User) -> dict[str, Any]:
    """Return everything stored about a user, as a JSON-ready dict."""
    attempts = db.session.scalars(select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.id))
    progress = db.session.scalars(
        select(LessonProgress).where(LessonProgress.user_id == user.id).order_by(LessonProgress.lesson_id)
    )
    memberships = db.session.scalars(select(CohortMembership).where(CohortMembership.user_id == user.id))
    return {
        "account": {
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "created_at": user.created_at.isoformat(),
            "last_seen_at": user.last_seen_at.isoformat() if user.last_seen_at else None,
        },
        "lessons_read": [
            {"lesson": p.lesson_id, "first_read_at": p.first_read_at.isoformat(),
             "last_read_at": p.last_read_at.isoformat()}
            for p in progress
        ],
        "attempts": [
            {
                "id": a.id,
                "exercise": a.exercise_id,
                "attempt_number": a.attempt_number,
                "answer": a.answer,
                "score": a.score,
                "passed": a.passed,
                "status": a.status,
                "checks": a.checks,
                "grader_version": a.grader_version,
                "created_at": a.created_at.isoformat(),
                "earlier_grades": [
                    {"score": g.score, "passed": g.passed, "status": g.status, "grader_version": g.grader_version,
                     "reason": g.reason, "created_at": g.created_at.isoformat()}
                    for g in a.grades
                ],
            }
            for a in attempts
        ],
        "cohorts": [
            {"cohort": m.cohort.name, "joined_at": m.joined_at.isoformat()} for m in memberships
        ],
    }

