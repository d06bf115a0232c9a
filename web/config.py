"""Settings for the site, read from the environment with safe defaults."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from web.extensions import normalise_database_url, sqlite_folder
from web.services.branding import accent_problem

DEVELOPMENT_ENVS = ("development", "dev")
DEFAULT_ACCENT = "#1d4f91"

# Every setting the site reads from the environment, with its default (None: unset).
ENV_SETTINGS: dict[str, Any] = {
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "RATELIMIT_STORAGE_URI": "memory://",
    # Prepended to every rate-limit key: sites (or test runs) sharing one Redis database keep their counts apart.
    "RATELIMIT_KEY_PREFIX": "",
    "COURSE_DIR": None,
    "COURSE_EXTRA_DIRS": None,
    # The public address, e.g. https://course.example.org: links shared outside the site are built on it (never on
    # the request's Host header), and https turns on HSTS.
    "SITE_URL": None,
    "SITE_TITLE": "Closing the Job Interview",
    "SITE_LOGO_URL": None,
    "SITE_ACCENT": DEFAULT_ACCENT,
    # The time zone instructors' pages and the gradebook CSV show times in (an IANA name such as Europe/Paris).
    "SITE_TIMEZONE": "UTC",
    "LOGIN_RATE_LIMIT": "10/minute",
    # Across every email from one address: generous, as a seminar room shares one address, and successes count too.
    "LOGIN_ADDRESS_RATE_LIMIT": "60/minute;300/hour",
    # Password-reset emails: per address asked for (a mailbox is not flooded), and per client address across emails.
    "RESET_RATE_LIMIT": "3/hour",
    "RESET_ADDRESS_RATE_LIMIT": "20/hour",
    # Roster: a learner not complete and inactive for more than this many days needs attention.
    "ATTENTION_STALL_DAYS": "7",
    # Outgoing email (registration links). Without MAIL_SERVER, mail is written to instance/outbox/ and printed.
    "MAIL_SERVER": None,
    "MAIL_PORT": "587",
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": "true",
    "MAIL_USE_SSL": "false",
    "MAIL_DEFAULT_SENDER": "Closing the Job Interview <no-reply@localhost>",
}


class ConfigError(RuntimeError):
    """The site is misconfigured and must not start."""


def app_env(overrides: Mapping[str, Any]) -> str:
    """Return the deployment environment name: APP_ENV, else FLASK_ENV, else production."""
    env = overrides.get("APP_ENV") or os.environ.get("APP_ENV") or os.environ.get("FLASK_ENV") or "production"
    return str(env).lower()


def database_url(instance_path: str, configured: str | None = None) -> str:
    """Return the database URL: the given one, else DATABASE_URL, else SQLite in the instance folder.

    A SQLite file's folder is made here, so a folder that cannot be (a file in its way, no permission) stops
    start-up with a message naming the setting, not a bare FileExistsError from deep inside the engine.
    """
    url = configured or os.environ.get("DATABASE_URL")
    if not url:
        url = "sqlite:///" + os.path.join(instance_path, "course.sqlite3")
    folder = sqlite_folder(url)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"DATABASE_URL names a SQLite file in {folder}, a folder that cannot be made "
                              f"({exc.strerror}); point DATABASE_URL at a folder the site may create.") from None
    return normalise_database_url(url)


def development_key(instance_path: str) -> str:
    """Return a local key kept in the instance folder, so dev sessions survive restarts and agree across workers."""
    path = os.path.join(instance_path, "dev-secret-key")
    os.makedirs(instance_path, exist_ok=True)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key and the others read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker may have created the file a moment ago and still be writing it.
        for _ in range(50):
            with open(path, encoding="ascii") as fh:
                key = fh.read().strip()
            if len(key) >= 32:
                return key
            time.sleep(0.05)
        raise ConfigError(f"{path} holds no usable key; delete it and start again") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key


def site_url(value: str | None) -> str | None:
    """Return SITE_URL as scheme://host[:port] (no trailing slash), None when unset; raise ConfigError if malformed."""
    if not value:
        return None
    url = str(value).strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", url):
        raise ConfigError(f"SITE_URL must be the site's public address such as https://course.example.org "
                          f"(scheme and host, no path), got {value!r}")
    return url


def site_timezone(value: str | None) -> str:
    """Return SITE_TIMEZONE as a known IANA zone name (default UTC); raise ConfigError naming the setting if not."""
    name = str(value or "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SITE_TIMEZONE must be a time zone name from the IANA database, such as UTC, "
                          f"Europe/Paris or America/New_York; got {value!r}") from None
    return name


def _flag(value: Any) -> bool:
    """An environment flag: true, yes, on or 1 (any case) is on."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def mail_settings(cfg: dict[str, Any], instance_path: str) -> None:
    """Pick the mail backend: SMTP when MAIL_SERVER is set, memory under test, else the outbox folder."""
    cfg["MAIL_PORT"] = int(cfg.get("MAIL_PORT") or 587)
    cfg["MAIL_USE_TLS"] = _flag(cfg.get("MAIL_USE_TLS"))
    cfg["MAIL_USE_SSL"] = _flag(cfg.get("MAIL_USE_SSL"))
    cfg.setdefault("MAIL_OUTBOX_DIR", os.path.join(instance_path, "outbox"))
    if cfg.get("MAIL_BACKEND"):
        return
    if cfg.get("MAIL_SERVER"):
        cfg["MAIL_BACKEND"] = "smtp"
    elif cfg.get("TESTING"):
        cfg["MAIL_BACKEND"] = "locmem"
    else:
        cfg["MAIL_BACKEND"] = "web.mail"  # the outbox folder (web/mail.py)


def build_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the full settings mapping: defaults, then the environment, then explicit overrides."""
    overrides = dict(overrides or {})
    env = app_env(overrides)
    development = env in DEVELOPMENT_ENVS
    cfg: dict[str, Any] = {key: os.environ.get(key, default) for key, default in ENV_SETTINGS.items()}
    cfg.update(
        APP_ENV=env,
        TESTING=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session; expiry is handled by the session
        RATELIMIT_HEADERS_ENABLED=True,
        # Redis down must not stop logins: each worker then counts in its own memory (and logs it, see SiteLimiter),
        # and any storage error left over is logged instead of turning the request into a 500.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
    )
    cfg.update(overrides)
    mail_settings(cfg, instance_path)
    # Cookies are Secure everywhere but local development and tests (which talk plain http).
    secure = not (development or cfg["TESTING"])
    cfg.setdefault("SESSION_COOKIE_SECURE", secure)
    cfg.setdefault("REMEMBER_COOKIE_SECURE", secure)
    cfg["DATABASE_URL"] = database_url(instance_path, cfg.get("DATABASE_URL"))
    if not cfg.get("SECRET_KEY"):
        if not (development or cfg["TESTING"]):
            raise ConfigError(
                "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random value "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))'), "
                "or set APP_ENV=development for a local run."
            )
        cfg["SECRET_KEY"] = secrets.token_hex(32) if cfg["TESTING"] else development_key(instance_path)
    accent = str(cfg.get("SITE_ACCENT") or DEFAULT_ACCENT)
    # Hex only (it is written into brand.css) and readable: links on white, white text on the accent.
    problem = accent_problem(accent)
    if problem:
        raise ConfigError(problem)
    cfg["SITE_ACCENT"] = accent
    stall = str(cfg.get("ATTENTION_STALL_DAYS"))
    if not stall.isdigit() or int(stall) < 1:
        raise ConfigError(f"ATTENTION_STALL_DAYS must be a whole number of days (1 or more), got {stall!r}")
    cfg["ATTENTION_STALL_DAYS"] = int(stall)
    cfg["SITE_URL"] = site_url(cfg.get("SITE_URL"))
    cfg["SITE_TIMEZONE"] = site_timezone(cfg.get("SITE_TIMEZONE"))
    if isinstance(cfg.get("COURSE_EXTRA_DIRS"), str):
        cfg["COURSE_EXTRA_DIRS"] = [p for p in cfg["COURSE_EXTRA_DIRS"].split(os.pathsep) if p]
    return cfg
