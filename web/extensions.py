"""Unbound Flask extensions, bound to an app in `create_app`: database, login, CSRF and rate limits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from time import monotonic
from typing import Any, Generic, TypeVar

from flask import Flask, Response, abort, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem
from sqlalchemy import Engine, Select, String, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.functions import GenericFunction

RowT = TypeVar("RowT")
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_BEGIN_OPTION = "sqlite_begin"
# While the rate-limit storage is down, each worker says so in the log this often (seconds), not on every request.
LIMITER_WARNING_EVERY = 60.0


class Base(DeclarativeBase):
    """Declarative base for every table of the site."""


def normalise_database_url(url: str) -> str:
    """Rewrite postgres:// and postgresql:// URLs to the psycopg 3 driver; leave others alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Turn on WAL, a busy timeout and foreign keys for every new SQLite connection."""
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside one writer, so several gunicorn workers can share the file.
    cur.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL syncs at checkpoints instead of on every commit: a crash of the site loses nothing, only a
    # power cut can drop the last commits, and the database is never corrupted. FULL cost ~2 ms per commit.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # SQLite ignores ON DELETE CASCADE unless this is on, per connection.
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _casefold(text: str | None) -> str | None:
    """Python's str.casefold for SQLite's casefold() (NULL stays NULL)."""
    return None if text is None else text.casefold()


def _sqlite_functions(dbapi_conn: Any, _record: Any) -> None:
    """Give every new SQLite connection the SQL functions the site's queries use that SQLite lacks."""
    dbapi_conn.create_function("casefold", 1, _casefold, deterministic=True)


class casefold(GenericFunction):  # noqa: N801 - named like the SQL function it stands for
    """Text folded for case-insensitive sorting and searching, ordered by code point as Python orders strings.

    SQLite runs Python's str.casefold (registered on every connection), so a sort or search there equals Python's.
    PostgreSQL has no casefold before version 18: lower() under the "C" collation is the same but for the few
    letters that fold to more than one (German ß stays ß instead of becoming ss).
    """

    type = String()
    name = "casefold"
    inherit_cache = True


@compiles(casefold, "postgresql")
def _casefold_postgresql(element: casefold, compiler: Any, **kw: Any) -> str:
    """Render casefold(x) on PostgreSQL as lower(x) compared by code point."""
    return f'lower({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _sqlite_begin(conn: Any) -> None:
    """Emit BEGIN ourselves (the sqlite3 module otherwise delays it, which breaks SAVEPOINTs).

    Transactions opened by `Database.begin_write()` use BEGIN IMMEDIATE: they take the write lock up front,
    waiting for it under busy_timeout, instead of failing later when another worker wrote since they read.
    """
    immediate = conn.get_execution_options().get(SQLITE_BEGIN_OPTION) == "IMMEDIATE"
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_folder(url: str) -> str | None:
    """Return the folder of a SQLite database file named by a URL; None for other backends and in-memory SQLite."""
    parsed = make_url(normalise_database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return None
    return os.path.dirname(os.path.abspath(parsed.database))


def make_engine(url: str) -> Engine:
    """Create an engine for a database URL with the per-backend settings the site relies on."""
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = sqlite_folder(url)
        if folder:
            # SQLite creates the file but not its folder (a fresh checkout has no instance/ yet).
            os.makedirs(folder, exist_ok=True)
        # isolation_level=None hands transaction control to SQLAlchemy (SQLAlchemy's documented pysqlite recipe).
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _sqlite_functions)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    """One page of a longer list: its rows, how many rows match in all, and where this page is."""

    items: list[RowT]
    total: int
    page: int
    pages: int
    size: int

    @property
    def first(self) -> int:
        """Return how many matching rows come before this page."""
        return (self.page - 1) * self.size


def page_count(total: int, size: int) -> int:
    """Return how many pages of `size` hold `total` rows (one, even when there are none)."""
    return max(1, -(-total // size))


class Database:
    """A tiny Flask binding for SQLAlchemy 2.0: one engine per app, one session per app context.

    Tests may set `app.extensions["db_bind"]` to an open Connection so each test runs inside a
    transaction that is rolled back afterwards (sessions then use savepoints for their commits).
    """

    def init_app(self, app: Flask) -> None:
        """Create the app's engine from DATABASE_URL and close the session when a context ends."""
        app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])
        app.teardown_appcontext(self._remove_session)

    @property
    def engine(self) -> Engine:
        """Return the current app's engine."""
        return current_app.extensions["db_engine"]

    @property
    def session(self) -> Session:
        """Return the session of the current app context, opening it on first use."""
        if "db_session" not in g:
            bind = current_app.extensions.get("db_bind") or self.engine
            # create_savepoint: when a test hands us a Connection already in a transaction,
            # commit() releases a savepoint instead of ending the test's outer transaction.
            g.db_session = Session(bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint")
        return g.db_session

    def begin_write(self) -> Session:
        """Make the session's transaction one meant for writing (on SQLite, a new one); return the session.

        Services call this before they change rows. On SQLite the new transaction starts with BEGIN IMMEDIATE,
        so concurrent writers queue (busy_timeout) rather than fail with a stale read snapshot; on PostgreSQL
        it is an ordinary transaction. Anything pending in the session is committed first.
        """
        session = self.session
        if session.in_transaction():
            # PostgreSQL (READ COMMITTED) lets a transaction that has only read go on to write, and each statement
            # sees the latest commits: committing it would hand the connection back to the pool and check out (and
            # pre-ping) another one. SQLite must end the read to take its write lock with BEGIN IMMEDIATE.
            if (session.get_bind().dialect.name == "postgresql" and not session.new and not session.dirty
                    and not session.deleted):
                return session
            session.commit()
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        return session

    def get_or_404(self, model: type[RowT], key: Any) -> RowT:
        """Return the row with this primary key, or end the request with the site's 404 page."""
        row = self.session.get(model, key)
        if row is None:
            abort(404)
        return row

    def paginate(self, query: Select, page: int, size: int, *, total: int | None = None,
                 scalars: bool = True) -> Page:
        """Return one page of an ordered query; a page past the last shows the last page, not an empty list.

        `total` skips the count when the caller already has it; `scalars=False` keeps whole rows (several columns).
        """
        if total is None:
            total = self.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        pages = page_count(total, size)
        page = min(max(1, page), pages)
        result = self.session.execute(query.limit(size).offset((page - 1) * size))
        return Page(list(result.scalars() if scalars else result), total, page, pages, size)

    def add_or_existing(self, row: RowT, key: tuple[Any, ...]) -> RowT:
        """Commit a new row; if a concurrent request stored the same primary key first, return theirs instead.

        Two tabs or workers racing to create the same per-learner row is normal, and either copy will do.
        """
        session = self.session
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = session.get(type(row), key)
            if existing is None:
                raise
            return existing
        return row

    @staticmethod
    def _remove_session(_exc: BaseException | None) -> None:
        """Close the context's session; anything not committed is rolled back."""
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


class SiteLimiter(Limiter):
    """Flask-Limiter, plus what the site needs when its storage (Redis) is down: keep serving, say so, and count.

    With RATELIMIT_IN_MEMORY_FALLBACK_ENABLED (set in web.config) Flask-Limiter itself switches the decorated limits
    to this worker's memory when the storage fails, and back when it answers again. This class adds the same switch
    for limits counted by hand (`count`), a warning once a minute while it lasts, and `degraded` for /healthz.
    """

    def init_app(self, app: Flask) -> None:
        """Bind to an app, starting enabled, healthy and with the app's own key prefix.

        One limiter object serves every app a process builds (tests build many), and Flask-Limiter would keep an
        earlier app's RATELIMIT_ENABLED=False, key prefix and dead-storage flag.
        """
        self.enabled = True
        self._storage_dead = False
        self._key_prefix = ""
        self._warned_at: float | None = None
        super().init_app(app)
        app.after_request(self._warn_while_degraded)

    @property
    def degraded(self) -> bool:
        """Return True while limits are counted in this worker's memory because the storage is unreachable."""
        return self.enabled and self.limiter.storage is not self.storage

    def healthy(self) -> bool:
        """Return True unless limits are counted per worker or the storage does not answer now (for /healthz)."""
        return not self.enabled or (not self.degraded and self.storage.check())

    def count(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one hit of a limit checked outside the decorators; return False when it is used up."""
        if not self.enabled:
            return True
        if self._key_prefix:
            identifiers = (self._key_prefix, *identifiers)
        try:
            return self.limiter.hit(item, *identifiers)
        except self.storage.base_exceptions:
            if self.degraded:
                raise
            # The switch Flask-Limiter makes for decorated limits; it checks the storage again and switches back.
            self._storage_dead = True
            return self.limiter.hit(item, *identifiers)

    def forget(self, key: str) -> None:
        """Clear this request's counts of the limits keyed by `key` (after a success that should wipe them)."""
        for current in self.current_limits:
            if key in current.request_args:
                try:
                    current.limiter.clear(current.limit, *current.request_args)
                except self.storage.base_exceptions:
                    # The storage went down mid-request: the count stays, which only makes the limit stricter.
                    current_app.logger.warning("rate-limit storage unreachable: could not clear %s", key)

    def _warn_while_degraded(self, response: Response) -> Response:
        """Log a warning at most once a minute per worker while limits are counted in memory."""
        if self.degraded and (self._warned_at is None or monotonic() - self._warned_at >= LIMITER_WARNING_EVERY):
            self._warned_at = monotonic()
            current_app.logger.warning(
                "rate-limit storage %s is unreachable: limits are counted in this worker's memory until it answers "
                "again (this warning repeats every %d s while it lasts)",
                current_app.config.get("RATELIMIT_STORAGE_URI"), LIMITER_WARNING_EVERY)
        return response


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
# Storage comes from RATELIMIT_STORAGE_URI (Redis in production); memory:// when unset.
limiter = SiteLimiter(key_func=get_remote_address)
