"""Drafts posted after a login expired: kept on the server, restored into the form after logging in again."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from web.extensions import db
from web.models import SavedDraft, utcnow

DRAFT_LIFETIME = timedelta(days=1)


def save_draft(exercise_id: str, fields: list[list[str]]) -> str:
    """Store posted answer fields and return the secret token that finds them again."""
    db.begin_write()
    db.session.execute(delete(SavedDraft).where(SavedDraft.created_at < utcnow() - DRAFT_LIFETIME))
    token = secrets.token_urlsafe(32)
    db.session.add(SavedDraft(token=token, exercise_id=exercise_id, fields=fields))
    db.session.commit()
    return token


def take_draft(token: str | None, exercise_id: str) -> list[list[Any]] | None:
    """Return and delete the draft for this token and exercise, or None (wrong exercise: kept for later)."""
    if not token:
        return None
    db.begin_write()
    draft = db.session.get(SavedDraft, token)
    if draft is None or draft.exercise_id != exercise_id:
        return None
    fields = draft.fields
    db.session.delete(draft)
    db.session.commit()
    return fields
