"""Security plumbing: response headers, the login cookie loader, and safe redirect targets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, url_for
from sqlalchemy import bindparam, select

from web.config import DEVELOPMENT_ENVS
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
# Browsers then refuse plain http to the site for a year; sent only when SITE_URL says the site is served over https.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


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
    https = (app.config.get("SITE_URL") or "").startswith("https://")
    app.extensions["strict_transport_security"] = STRICT_TRANSPORT_SECURITY if https else None
    if not app.config.get("SITE_URL") and not (app.config["APP_ENV"] in DEVELOPMENT_ENVS or app.testing):
        app.logger.warning("SITE_URL is not set: links to share (cohort join links) and the links in emails "
                           "(finishing a registration) show their path only, so emailed links will not work")
    app.after_request(add_security_headers)


# Built once: every logged-in request runs it (tests/test_attacks.py: a logout or password change ends old cookies).
_USER_BY_TOKEN = select(User).where(User.id == bindparam("uid"), User.session_version == bindparam("version"))


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Return the user for a login cookie id '<id>:<session_version>', or None if it is stale."""
    user_id, _, version = (token or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return db.session.scalar(_USER_BY_TOKEN, {"uid": int(user_id), "version": int(version)})


def policy_for(ancestors: list[str] | None, form_targets: tuple[str, ...] = ()) -> str:
    """Return the site's CSP, framable by `ancestors` (None: by no one) and posting forms to `form_targets` too."""
    csp = current_app.extensions["content_security_policy"]
    if ancestors is not None:
        csp = csp.replace("frame-ancestors 'none'", " ".join(["frame-ancestors 'self'", *ancestors]))
    if form_targets:
        csp = csp.replace("form-action 'self'", " ".join(["form-action 'self'", *form_targets]))
    return csp


def add_security_headers(response: Response) -> Response:
    """Add CSP and the other protective headers to every response."""
    # A session launched from an LMS (web/lti.py) may be framed by that LMS only; every other page by no one.
    framing = current_app.extensions.get("frame_ancestors")
    ancestors = framing() if framing else None
    response.headers.setdefault("Content-Security-Policy", policy_for(ancestors))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if ancestors is None:
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    hsts = current_app.extensions["strict_transport_security"]
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", hsts)
    # Pages can hold a learner's own answers: keep them out of shared caches.
    if request.endpoint != "static" and request.endpoint != "core.brand_css":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def public_url(endpoint: str, **values: object) -> str:
    """Return the address of a page to share outside the site, built on SITE_URL.

    Without SITE_URL, development and tests take the host from the request; production gives the path only, as the
    Host header is the client's to choose (a poisoned one would put someone else's site in an instructor's link).
    """
    path = url_for(endpoint, **values)
    site = current_app.config.get("SITE_URL")
    if site:
        return site + path
    if current_app.config["APP_ENV"] in DEVELOPMENT_ENVS or current_app.testing:
        return url_for(endpoint, _external=True, **values)
    return path


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
