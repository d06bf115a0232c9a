"""The learning site: `create_app()` builds a configured Flask app (gunicorn 'web:create_app()')."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from flask import Flask

from course.loader import load_course
from course.model import Course


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the site; `config` overrides settings read from the environment."""
    # Imported here, as flaskr does, so that `import web.cli` (every `course check`) does not load the whole site.
    from web import admin, auth, cohorts, core, exercises, inputs, instructor, learn, lti, progress, reviews, security
    from web.config import build_config
    from web.extensions import csrf, db, limiter, login_manager, mail

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(build_config(app.instance_path, config))

    # First: the `<id:...>` URL converter must exist before the blueprints add their routes, and control characters
    # are stripped from form and query values before the CSRF check and rate limits read them.
    inputs.init_app(app)
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)
    security.init_app(app)
    lti.init_app(app)
    if app.config.get("PASSWORD_HASH_FAST"):
        # Test suites only: argon2id with minimal cost, so hundreds of logins take milliseconds.
        app.extensions["password_hasher"] = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    # {% do %} lets templates build small lists and maps (ids to texts) without logic in the views.
    app.jinja_env.add_extension("jinja2.ext.do")

    # Loaded once; a content error raises ContentErrors with every problem listed: never half-start.
    app.extensions["course"] = load_site_course(app)

    # Each area of the site is one module holding its own `bp`.
    for module in (core, auth, learn, exercises, progress, cohorts, instructor, admin, reviews, lti):
        app.register_blueprint(module.bp)
    return app


def load_site_course(app: Flask) -> Course:
    """Load the course from COURSE_DIR (default: the shipped course) and COURSE_EXTRA_DIRS."""
    return load_course(app.config.get("COURSE_DIR"), extra_dirs=app.config.get("COURSE_EXTRA_DIRS"))
