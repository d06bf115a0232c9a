"""Site-wide pages and hooks: health check, brand stylesheet, error pages, template globals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from web.extensions import csrf, db, limiter
from web.memo import kept
from web.models import utcnow

bp = Blueprint("core", __name__)

# Error codes with their own friendly page; anything else falls back to the generic one.
ERROR_TITLES = {
    400: "The request could not be understood",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "That was too large to send",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}
LAST_SEEN_EVERY = timedelta(minutes=5)


@bp.get("/healthz")
@csrf.exempt
def healthz() -> tuple[Response, int]:
    """Report 200 when the database answers, 503 otherwise (for load balancers and uptime checks).

    A rate-limit storage that does not answer is 200 "degraded": the site serves, but each worker counts limits on
    its own, so the cross-worker login limit is looser until Redis is back.
    """
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    if not limiter.healthy():
        return jsonify(status="degraded", rate_limits="per-worker memory: the rate-limit storage is unreachable"), 200
    return jsonify(status="ok"), 200


@bp.get("/brand.css")
def brand_css() -> Response:
    """Serve the configured accent colour as a CSS custom property, so the CSP needs no inline styles."""
    # SITE_ACCENT was validated as a hex colour in build_config, so it cannot break out of the rule.
    css = f":root {{ --accent: {current_app.config['SITE_ACCENT']}; }}\n"
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


# More than the layout's links under any number of script roots in practice; past it the cache starts again.
PAGE_URLS_MAX = 1024


def page_url(endpoint: str, filename: str | None = None) -> str:
    """Return the address of a page that takes no arguments (or a static file), built once per script root.

    Every page's header and footer link the same dozen pages; url_for on each of them was a tenth of a page.
    """
    def build() -> str:
        """Build the address with url_for."""
        return url_for(endpoint, filename=filename) if filename else url_for(endpoint)

    return kept("page_urls", (endpoint, filename), build, PAGE_URLS_MAX)


@bp.app_context_processor
def site_globals() -> dict[str, object]:
    """Give every template the branding settings, the course and the addresses of the layout's pages."""
    return {
        "site_title": current_app.config["SITE_TITLE"],
        "site_logo_url": current_app.config.get("SITE_LOGO_URL"),
        "course": current_app.extensions["course"],
        "has_endpoint": lambda name: name in current_app.view_functions,
        "page_url": page_url,
    }


def site_zone() -> ZoneInfo:
    """Return the time zone the site shows times in (SITE_TIMEZONE, checked at start-up)."""
    return ZoneInfo(current_app.config["SITE_TIMEZONE"])


@bp.app_template_filter("site_time")
def site_time(moment: datetime | None, fmt: str = "%d %b %Y %H:%M", named: bool = True) -> str:
    """Format a stored (UTC) time in the site's time zone, naming the zone: '02 Dec 2026 10:30 Europe/Paris'.

    named=False leaves the zone out, for a table whose column heading names it once.
    """
    if moment is None:
        return ""
    zone = site_zone()
    local = moment.astimezone(zone).strftime(fmt)
    return f"{local} {zone.key}" if named else local


@bp.before_app_request
def touch_last_seen() -> None:
    """Record when a logged-in user was last active, at most every few minutes to spare writes."""
    if request.endpoint in ("static", "core.healthz", "core.brand_css") or not current_user.is_authenticated:
        return
    now = utcnow()
    if current_user.last_seen_at is None or now - current_user.last_seen_at > LAST_SEEN_EVERY:
        db.begin_write()
        current_user.last_seen_at = now
        db.session.commit()


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    """Render the friendly page for an HTTP error code."""
    title = ERROR_TITLES.get(code, ERROR_TITLES[500])
    return render_template("error.html", code=code, title=title, message=message), code


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    """Show our own page for client and server errors (redirects and the like pass through)."""
    code = exc.code or 500
    if code < 400:
        return exc
    if exc.response is not None:
        # The raiser built its own page (e.g. the login form on a rate limit): show that one.
        return exc.response
    message = None
    if code == 429:
        message = "Please wait a minute and try again."
    elif code == 413:
        message = "Please shorten what you sent and try again."
    return render_error(code, message)


CSRF_EXPIRED_MESSAGE = "Your form had expired, so nothing was sent. Everything you typed is still here: send it again."


def confirm_page(heading: str, message: list[str], action: str, button: str, cancel: str,
                 hidden: dict[str, str] | None = None) -> str:
    """Render the no-JavaScript confirmation page of an action that cannot simply be taken back (a POST to `action`)."""
    return render_template("confirm.html", heading=heading, message=message, action=action, button=button,
                           cancel=cancel, hidden=hidden)


def csrf_recovery(blueprint: Blueprint, endpoint: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a function that re-shows `endpoint`'s form with the posted values when its CSRF token failed."""

    def decorator(func: Callable[[], Any]) -> Callable[[], Any]:
        """Record the recovery view on the app the blueprint is registered on."""
        full = f"{blueprint.name}.{endpoint}"
        blueprint.record_once(lambda state: state.app.extensions.setdefault("csrf_recovery", {}).update({full: func}))
        return func

    return decorator


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError) -> Any:
    """Re-show the form with what was typed when the view knows how; otherwise explain the expiry."""
    recover = current_app.extensions.get("csrf_recovery", {}).get(request.endpoint)
    if recover is not None:
        return recover()
    return render_error(400, "The form had expired. Please go back, reload the page and send it again.")


@bp.app_errorhandler(Exception)
def unexpected_error(exc: Exception) -> tuple[str, int]:
    """Log an unexpected error and show the friendly 500 page, never a traceback."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        # The database itself may be what failed; the page must still render.
        current_app.logger.warning("rollback failed while handling an error", exc_info=True)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(500)
