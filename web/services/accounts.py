"""Account services: register and confirm learners, create users, check and change passwords, export and delete."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import unicodedata
from functools import cache
from typing import Any

from argon2.exceptions import VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from web import mail
from web.extensions import Page, db
from web.models import (
    ROLES,
    Appeal,
    Attempt,
    AttemptOverride,
    Certificate,
    CohortMembership,
    LessonProgress,
    User,
    hash_password,
    password_hasher,
    utcnow,
)
from web.security import public_url

# A registration link is good for a day, and once: confirming spends it, registering again replaces it.
CONFIRM_SALT = "confirm-email"
CONFIRM_MAX_AGE = 24 * 3600
# A password-reset link is good for an hour, and once: the new password and session version it leads to no longer
# match what it was signed with.
RESET_SALT = "reset-password"
RESET_MAX_AGE = 3600
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERS_PAGE_SIZE = 50


class AccountError(ValueError):
    """A request about an account cannot be carried out; the message says why, for the user."""


class UnknownUser(LookupError):
    """No user has this id."""


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
    """Create and commit a confirmed user (admin, CLI, demo); raise AccountError for bad input or a taken email."""
    email = validate_email(email)
    validate_password(password)
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    db.begin_write()
    if find_user(email) is not None:
        raise AccountError(f"An account with the email {email} already exists.")
    user = User(email=email, display_name=clean_display_name(display_name), role=role, email_confirmed_at=utcnow())
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def register_learner(email: str, password: str, display_name: str = "", next_path: str | None = None) -> str:
    """Start a learner's registration and email the owner of the address; return the address.

    The answer and the work are the same whether or not the address has an account, so the form reveals nothing:
    a new address gets a link that finishes the account; an address with an account gets a note saying so; an
    account still waiting for its link is taken over by whoever registers again (the old link stops working),
    since it belongs to no one until the address's owner confirms it. Raises AccountError only for a malformed
    address or a weak password, which is about what was typed, not about who has an account.
    """
    email = validate_email(email)
    validate_password(password)
    name = clean_display_name(display_name)
    db.begin_write()
    user = find_user(email)
    if user is None:
        user = User(email=email, display_name=name, role="learner")
        user.set_password(password)
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:  # the same address registered twice at once: the other request made it
            db.session.rollback()
            user = find_user(email)
        else:
            send_confirmation(user, next_path)
            return email
    if user is not None and user.email_confirmed_at is None:
        user.display_name = name
        user.set_password(password)
        user.session_version += 1
        db.session.commit()
        send_confirmation(user, next_path)
        return email
    # The time a new account's password hash would have taken, so the answer cannot be told apart by its speed.
    verify_nothing(password)
    db.session.rollback()
    mail.send(email, "You already have an account", "account_exists.txt", login_link=public_url("auth.login"),
              site=current_app.config["SITE_TITLE"])
    return email


def _signer(salt: str) -> URLSafeTimedSerializer:
    """Signer for one kind of emailed link, keyed on SECRET_KEY with that kind's own salt.

    The salt keeps the kinds apart: a registration link's token is no password-reset token, and back.
    """
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _read_signed(salt: str, token: str, max_age: int, *, expired: str, invalid: str) -> dict[str, Any]:
    """The contents of a signed link (a dict with int "u" and "v"), or AccountError with `expired` or `invalid`."""
    try:
        data = _signer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise AccountError(expired) from None
    except BadSignature:
        raise AccountError(invalid) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("v"), int):
        raise AccountError(invalid)
    return data


def confirmation_token(user: User, next_path: str | None = None) -> str:
    """The signed part of a registration link: the account, its session version and where to go next."""
    return _signer(CONFIRM_SALT).dumps({"u": user.id, "v": user.session_version, "n": next_path or ""})


def send_confirmation(user: User, next_path: str | None = None) -> None:
    """Email the link that confirms an address (at registration, and again after a login it is still missing)."""
    token = confirmation_token(user, next_path)
    mail.send(user.email, "Finish creating your account", "confirm_email.txt",
              link=public_url("auth.confirm_email", token=token), site=current_app.config["SITE_TITLE"],
              hours=CONFIRM_MAX_AGE // 3600)


def _read_confirmation(token: str) -> dict[str, Any]:
    """The contents of a signed registration link, or AccountError saying why it cannot be read."""
    return _read_signed(
        CONFIRM_SALT, token, CONFIRM_MAX_AGE,
        expired="This link has expired. Register again with the same email to get a new one.",
        invalid="This link is not valid. Check that you copied all of it, or register again.")


def confirmable(token: str) -> tuple[User, dict[str, Any]]:
    """The account a registration link would confirm and the link's contents; AccountError if it cannot be used."""
    data = _read_confirmation(token)
    user = db.session.get(User, data["u"])
    if user is None or user.email_confirmed_at is not None:
        raise AccountError("This link has been used already. Log in with your email and password.")
    if user.session_version != data["v"]:
        raise AccountError("This link has been used already, or a newer one was sent: use the latest email, "
                           "or log in.")
    return user, data


def confirm_email(token: str) -> tuple[User, str]:
    """Confirm the address a registration link was sent to; return its user and the page to go to next."""
    db.begin_write()
    try:
        user, data = confirmable(token)
    except AccountError:
        db.session.rollback()
        raise
    user.email_confirmed_at = utcnow()
    db.session.commit()
    return user, str(data.get("n") or "")


def set_display_name(user: User, name: str) -> str:
    """Store a learner's display name (cleaned); raise AccountError when nothing visible is left."""
    cleaned = clean_display_name(name)
    if not cleaned:
        raise AccountError("Type your name as it should appear on your certificate, for example “Amina Diallo”.")
    db.begin_write()
    user.display_name = cleaned
    db.session.commit()
    return cleaned


def _password_fingerprint(user: User) -> str:
    """A short digest of the password hash: a reset link dies once the password changes, without carrying the hash
    (itsdangerous payloads are signed, not encrypted)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def reset_token(user: User) -> str:
    """The signed part of a password-reset link: the account, its session version and its password's fingerprint."""
    return _signer(RESET_SALT).dumps({"u": user.id, "v": user.session_version, "p": _password_fingerprint(user)})


def request_password_reset(email: str) -> str:
    """Email a reset link to the address's account, or a note that it has none; return the normalised address.

    Both cases send one email and hash nothing, so the answer (and its time) says nothing about who has an account.
    Raises AccountError only for a malformed address, which is about what was typed.
    """
    email = validate_email(email)
    user = find_user(email)
    site = current_app.config["SITE_TITLE"]
    if user is None:
        mail.send(email, "Password reset requested", "reset_no_account.txt", site=site,
                  register_link=public_url("auth.register"))
        return email
    mail.send(user.email, "Reset your password", "reset_password.txt", site=site, minutes=RESET_MAX_AGE // 60,
              link=public_url("auth.reset_password", token=reset_token(user)))
    return email


def resettable(token: str) -> User:
    """The account a password-reset link would change; AccountError if the link cannot be used (any more)."""
    data = _read_signed(
        RESET_SALT, token, RESET_MAX_AGE,
        expired="This link has expired: reset links work for an hour. Ask for a new one below.",
        invalid="This link is not valid. Check that you copied all of it, or ask for a new one below.")
    user = db.session.get(User, data["u"])
    if user is None or user.session_version != data["v"] or data.get("p") != _password_fingerprint(user):
        raise AccountError("This link has been used already, or the password was changed since it was sent. "
                           "Ask for a new one below.")
    return user


def reset_password(token: str, new: str) -> User:
    """Set a new password from a reset link, spend the link and end every session of the account; return it."""
    validate_password(new)
    db.begin_write()
    try:
        user = resettable(token)
    except AccountError:
        db.session.rollback()
        raise
    user.set_password(new)
    user.session_version += 1
    # Following a link sent to the address proves it is theirs, as the registration link would have.
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
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


def find_users(q: str, role: str, page: int, size: int = USERS_PAGE_SIZE) -> Page[User]:
    """Return one page of users, newest first, whose email or name holds `q`, of `role` when it is a role."""
    query = select(User)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.email).like(like), func.lower(User.display_name).like(like)))
    if role in ROLES:
        query = query.where(User.role == role)
    return db.paginate(query.order_by(User.id.desc()), page, size)


def change_role_of(user_id: int, role: str) -> User:
    """Give the user with this id a new role (as `change_role`) and return them; UnknownUser when there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise UnknownUser(user_id)
    change_role(user, role)
    return user


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
        "certificates": [
            {"code": c.code, "completed_at": c.completed_at.isoformat(), "created_at": c.created_at.isoformat(),
             "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None}
            for c in db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)
                                        .order_by(Certificate.id))
        ],
        # The learner's appeals and the grades reviewers gave their attempts (the grader's doubts stay internal).
        "appeals": [
            {"attempt": ap.attempt_id, "reason": ap.reason, "state": ap.state, "comment": ap.comment,
             "created_at": ap.created_at.isoformat(),
             "decided_at": ap.decided_at.isoformat() if ap.decided_at else None}
            for ap in db.session.scalars(select(Appeal).where(Appeal.user_id == user.id).order_by(Appeal.id))
        ],
        "overridden_grades": [
            {"attempt": o.attempt_id, "score": o.score, "passed": o.passed, "comment": o.comment,
             "decided_at": o.decided_at.isoformat()}
            for o in db.session.scalars(select(AttemptOverride).join(Attempt, Attempt.id == AttemptOverride.attempt_id)
                                        .where(Attempt.user_id == user.id).order_by(AttemptOverride.attempt_id))
        ],
    }

