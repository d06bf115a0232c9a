"""Reading: the course outline and the lesson pages."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_login import current_user
from markupsafe import Markup

from course import navigation
from course.model import Course
from course.render import render_markdown
from web.memo import kept
from web.services.progress import STATUS_LABELS, load_progress, record_lesson_read

bp = Blueprint("learn", __name__)


def the_course() -> Course:
    """Return the course loaded at start-up."""
    return current_app.extensions["course"]


def resolve_link(kind: str, ident: str) -> str | None:
    """Map `exercise:ID` and `lesson:ID` links in course Markdown to site URLs; unknown ids stay unlinked."""
    course = the_course()
    known = {navigation.EXERCISE: course.exercises, navigation.LESSON: course.lessons}.get(kind, ())
    return step_url(kind, ident) if ident in known else None


def markdown(text: str) -> str:
    """Render course Markdown, sanitised, with site links resolved (for templates)."""
    return render_markdown(text, resolve_link)


def _build_step_url(kind: str, ident: str) -> str:
    """Build the page address of a course step with url_for."""
    if kind == navigation.LESSON:
        return url_for("learn.lesson", lesson_id=ident)
    if kind == navigation.EXERCISE:
        return url_for("exercises.show", exercise_id=ident)
    return url_for("progress.certificate")


# More entries than any course has steps: past it (many script roots), the cache starts again.
STEP_URLS_MAX = 4096


def step_url(kind: str, ident: str) -> str:
    """Return the page of a course step (a lesson, an exercise, or the certificate), built once per script root.

    Every lesson and exercise page lists the whole course, so the addresses are kept per app and script root (a
    deployment under a path prefix) instead of built by url_for on every view: they were a quarter of a page.
    """
    return kept("step_urls", (kind, ident), lambda: _build_step_url(kind, ident), STEP_URLS_MAX)


def item_url(item: navigation.Item) -> str:
    """Return the page of a course step of the outline or the pager."""
    return step_url(item.kind, item.id)


# Distinct outlines kept rendered: one per pattern of done steps and page shown, so far more than a cohort's
# learners share; past it the cache starts again (about 8 KB each).
OUTLINE_HTML_MAX = 512


def outline_nav(outline: navigation.Outline) -> Markup:
    """Return the course outline's list as HTML, rendered once per outline, sign-in state and script root.

    The outline is a pure function of those three (titles, ticks, the page shown, the addresses), and rendering
    its thirty entries was over a third of a lesson page's time; learners at the same point share one copy.
    """
    def build() -> Markup:
        """Render the list (autoescaped, so its HTML is safe to keep as markup)."""
        return Markup(render_template("learn/_outline_nav.html", outline=outline))  # noqa: S704 - autoescaped

    return kept("outline_html", (current_user.is_authenticated, outline), build, OUTLINE_HTML_MAX)


@bp.app_context_processor
def learn_helpers() -> dict[str, object]:
    """Give templates the Markdown renderer, the status labels, the URL of a course step and the outline."""
    return {"markdown": markdown, "status_labels": STATUS_LABELS, "item_url": item_url, "outline_nav": outline_nav}


@bp.get("/")
def course_page() -> str:
    """Show every module, lesson and exercise with the learner's status."""
    return render_template("learn/course.html", progress=load_progress(the_course(), current_user))


@bp.get("/lessons/<lesson_id>")
def lesson(lesson_id: str) -> str:
    """Show one lesson; reading it while logged in records progress."""
    course = the_course()
    lesson = course.lessons.get(lesson_id)
    if lesson is None:
        abort(404)
    progress = load_progress(course, current_user)
    if current_user.is_authenticated:
        record_lesson_read(current_user, lesson_id, progress)
    return render_template(
        "learn/lesson.html",
        lesson=lesson,
        module=course.module_of(lesson_id),
        # A lesson's Next is its own first exercise, then the following lesson (course order).
        previous_step=navigation.previous_item(course, navigation.LESSON, lesson_id),
        next_step=navigation.next_item(course, navigation.LESSON, lesson_id),
        outline=progress.outline(navigation.LESSON, lesson_id),
        progress=progress,
    )
