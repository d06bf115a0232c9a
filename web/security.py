"""Security plumbing: response headers, the login cookie loader, and safe redirect targets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from sqlalchemy import select

from web.extensions import db, login_manager
from web.models import User

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)


def init_app(app: Flask) -> None:
    """Install the login settings and the security headers on an app."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    # A stolen cookie used from elsewhere still needs the session version; "strong" would also
    # log people out on every network change (phones), which loses typed work.
    login_manager.session_protection = "basic"
    app.after_request(add_security_headers)


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Return the user for a login cookie id '<id>:<session_version>', or None if it is stale."""
    user_id, _, version = (token or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return db.session.scalar(select(User).where(User.id == int(user_id), User.session_version == int(version)))


def add_security_headers(response: Response) -> Response:
    """Add CSP and the other protective headers to every response."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # Pages can hold a learner's own answers: keep them out of shared caches.
    if request.endpoint != "static" and request.endpoint != "core.brand_css":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def is_safe_next(target: str | None) -> bool:
    """Return True only for a local path such as '/lessons/x?y=1' (no scheme, host, or tricks)."""
    if not target or not target.startswith("/"):
        return False
    # Browsers treat backslashes as slashes and drop tabs/newlines, so '/\\evil' and '/\t/evil' go off-site.
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    if target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
