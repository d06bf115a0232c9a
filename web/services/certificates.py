"""Certificates: the verification code behind each learner's public certificate page, issued, withdrawn, re-issued.

A code is secrets.token_urlsafe (web.models.new_certificate_code), stored, and derived from nothing: knowing a
learner's id, email or another code tells nothing about it. Withdrawn codes stay in the table so they never
verify again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from web.extensions import db
from web.models import Certificate, User, utcnow

# token_urlsafe(18) is 24 characters; anything much longer in a URL is not a code and is not looked up.
MAX_CODE_LENGTH = 64
ISSUE_TRIES = 3


def current(user: User) -> Certificate | None:
    """Return the learner's certificate that is not withdrawn, if any."""
    return db.session.scalar(select(Certificate).where(Certificate.user_id == user.id,
                                                       Certificate.withdrawn_at.is_(None)))


def ever_issued(user: User) -> bool:
    """Return True once the learner has had any certificate code (withdrawn ones too)."""
    return db.session.scalar(select(Certificate.id).where(Certificate.user_id == user.id).limit(1)) is not None


def _issue(user: User, completed_at: datetime) -> Certificate:
    """Store a new code for the learner, in the open write transaction, and commit (retrying a code collision)."""
    for _ in range(ISSUE_TRIES):
        certificate = Certificate(user_id=user.id, completed_at=completed_at)
        db.session.add(certificate)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            db.begin_write()
            continue
        return certificate
    raise RuntimeError("could not store a unique certificate code")


def ensure(user: User, completed_at: datetime) -> Certificate | None:
    """The learner's live certificate; the first time they finish, one is issued. None once they withdrew it."""
    found = current(user)
    if found is not None or ever_issued(user):
        return found
    db.begin_write()
    # Two tabs opening the certificate at once: the first one's code stands.
    found = current(user)
    if found is not None:
        db.session.rollback()
        return found
    return _issue(user, completed_at)


def withdraw(user: User) -> None:
    """Withdraw the learner's public page: its code stops verifying, for good."""
    db.begin_write()
    found = current(user)
    if found is not None:
        found.withdrawn_at = utcnow()
    db.session.commit()


def reissue(user: User, completed_at: datetime) -> Certificate:
    """Give the learner a new public page with a new code (any live one is withdrawn)."""
    db.begin_write()
    found = current(user)
    if found is not None:
        found.withdrawn_at = utcnow()
        db.session.flush()
    return _issue(user, completed_at)


def verify(code: str) -> Certificate | None:
    """Return the live certificate with this code, or None (unknown and withdrawn codes answer alike)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.code == code, Certificate.withdrawn_at.is_(None)))
