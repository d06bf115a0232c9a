"""Security plumbing: response headers, the login cookie loader, and safe redirect targets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from sqlalchemy import select

from web.extensions import db, login_manager
from web.models import User

CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
CONTENT_SECURITY_POLICY = "; ".join(CSP_DIRECTIVES)


def content_security_policy(logo_url: str | None) -> str:
    """Return the site's CSP; an https SITE_LOGO_URL on another host gets its origin in img-src, or it never shows."""
    parts = urlsplit(logo_url or "")
    # Only a plain host[:port]: anything else (spaces, ';', user info) could bend the header, so it gets no exception.
    if parts.scheme != "https" or not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", parts.netloc):
        return CONTENT_SECURITY_POLICY
    origin = f"https://{parts.netloc}"
    return "; ".join(f"{d} {origin}" if d.startswith("img-src ") else d for d in CSP_DIRECTIVES)


def init_app(app: Flask) -> None:
    """Install the login settings and the security headers on an app."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    # A stolen cookie used from elsewhere still needs the session version; "strong" would also
    # log people out on every network change (phones), which loses typed work.
    login_manager.session_protection = "basic"
    app.extensions["content_security_policy"] = content_security_policy(app.config.get("SITE_LOGO_URL"))
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
    response.headers.setdefault("Content-Security-Policy", current_app.extensions["content_security_policy"])
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
