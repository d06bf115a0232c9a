"""Instructor pages: cohort list and creation, roster, item analysis, learner drill-down, gradebook export.

Views stay thin: they check access, fetch rows through web.services.cohorts, hand them to the pure
analytics, and render. Every cohort page goes through `managed_cohort`, so "not yours" and "no such
cohort" are the same 404 everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

import graders
from web.core import confirm_page
from web.forms import CohortSettingsForm, NewCohortForm, SwitchForm
from web.inputs import whole_number
from web.models import Cohort, utcnow
from web.security import public_url
from web.services import analytics, cohort_stats, gradebook, labels, outcomes, results
from web.services import cohorts as svc

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


def role_required(allowed: Callable[[Any], bool]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Build a view decorator: anonymous users go to log in, users for whom `allowed(user)` is false get 403."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap one view with the login and role checks."""

        @login_required
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            """Check the role, then run the view."""
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


# Instructors and admins; learners get 403.
instructor_required = role_required(lambda user: user.is_instructor)


def managed_cohort(cohort_id: int) -> Cohort:
    """Return the cohort if the current user may manage it, else answer 404."""
    try:
        return svc.get_managed(current_user, cohort_id)
    except svc.NotFound:
        abort(404)


def managed_member(cohort_id: int, user_id: int) -> tuple[Cohort, Any]:
    """Return a cohort the current user may manage and one of its learners, else answer 404."""
    cohort = managed_cohort(cohort_id)
    try:
        return cohort, svc.get_member(cohort, user_id)
    except svc.NotFound:
        abort(404)


def outline() -> analytics.Outline:
    """Return the course outline the analytics read."""
    return analytics.outline_of(current_app.extensions["course"])


def course_labels() -> dict[str, graders.Labels]:
    """Return every exercise's labels (check and answer ids in words), built once per loaded course."""
    ext = current_app.extensions
    if ext.get("labels_for_course") is not ext["course"]:
        ext["labels"] = labels.course_labels(ext["course"])
        ext["labels_for_course"] = ext["course"]
    return ext["labels"]


# Long option, pair and step texts are shortened in tables, with the full text on hover and focus.
bp.add_app_template_filter(labels.clip, "clip")


@bp.get("/")
@instructor_required
def index() -> str:
    """List the cohorts this instructor manages (archived ones with ?archived=1) and offer to create one."""
    show_archived = request.args.get("archived") == "1"
    rows = svc.visible_cohorts(current_user, include_archived=show_archived)
    counts = svc.member_counts([c.id for c in rows])
    return render_template("instructor/cohorts.html", cohorts=rows, counts=counts, show_archived=show_archived,
                           name="", error=None)


@bp.post("/cohorts")
@instructor_required
def create() -> Any:
    """Create a cohort from the form and go to its page, or re-show the form with the problem."""
    name = NewCohortForm().name.data
    try:
        cohort = svc.create_cohort(current_user, name)
    except svc.CohortError as exc:
        rows = svc.visible_cohorts(current_user)
        return render_template("instructor/cohorts.html", cohorts=rows, counts=svc.member_counts([c.id for c in rows]),
                               show_archived=False, name=name, error=str(exc)), 400
    flash(f"Cohort “{cohort.name}” created. Share the join code {cohort.join_code} with your learners.", "success")
    return redirect(url_for("instructor.roster", cohort_id=cohort.id))


@bp.get("/cohorts/<id:cohort_id>/archive")
@instructor_required
def archive_confirm(cohort_id: int) -> str:
    """Ask before archiving: learners can no longer join, and the cohort can no longer be changed."""
    cohort = managed_cohort(cohort_id)
    return confirm_page(
        f"Archive “{cohort.name}”?",
        ["Nobody can join an archived cohort, and its name, due date, announcement and learners can no longer be "
         "changed. It disappears from your list of cohorts and from its learners' progress pages; its records stay "
         "here, and you can reopen it at any time."],
        url_for("instructor.archive", cohort_id=cohort.id), "Archive this cohort",
        url_for("instructor.roster", cohort_id=cohort.id), hidden={"archived": "1"})


@bp.post("/cohorts/<id:cohort_id>/archive")
@instructor_required
def archive(cohort_id: int) -> Any:
    """Archive (archived=1) or unarchive (archived=0) a cohort."""
    cohort = managed_cohort(cohort_id)
    archived = SwitchForm().archived.data == "1"
    svc.set_archived(cohort, archived)
    flash(f"Cohort “{cohort.name}” {'archived: no one new can join' if archived else 'reopened for joining'}.",
          "success")
    return redirect(url_for("instructor.roster", cohort_id=cohort.id))


def _settings_page(cohort: Cohort, form: CohortSettingsForm, status: int = 200) -> tuple[str, int]:
    """Render a cohort's settings page with the given (possibly failed) form."""
    return render_template("instructor/settings.html", cohort=cohort, form=form,
                           join_url=public_url("cohorts.join_link", code=cohort.join_code)), status


@bp.route("/cohorts/<id:cohort_id>/settings", methods=["GET", "POST"])
@instructor_required
def settings(cohort_id: int) -> Any:
    """Show and save a cohort's name, due date and announcement, and offer the joining and archive actions."""
    cohort = managed_cohort(cohort_id)
    if request.method == "GET":
        return _settings_page(cohort, CohortSettingsForm(obj=cohort))
    # No obj here: WTForms would fill a field missing from the post with the stored value.
    form = CohortSettingsForm()
    if form.validate():
        try:
            svc.update_settings(cohort, form.name.data, form.due_on.data, form.announcement.data or "")
        except svc.CohortError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(f"Settings of “{cohort.name}” saved.", "success")
            return redirect(url_for("instructor.settings", cohort_id=cohort.id))
    return _settings_page(cohort, form, 400)


def _flash_outcome(operation: Callable[[], Any], success: Callable[[Any], str]) -> bool:
    """Run one cohort operation and flash how it went: its refusal as an error, or the success message."""
    try:
        result = operation()
    except svc.CohortError as exc:
        flash(str(exc), "error")
        return False
    flash(success(result), "success")
    return True


@bp.post("/cohorts/<id:cohort_id>/joining")
@instructor_required
def joining(cohort_id: int) -> Any:
    """Open (open=1) or close (open=0) the cohort's join code to new learners."""
    cohort = managed_cohort(cohort_id)
    join_open = SwitchForm().open.data == "1"
    _flash_outcome(lambda: svc.set_join_open(cohort, join_open), lambda _: (
        f"The join code {cohort.join_code} works again." if join_open else
        f"The join code {cohort.join_code} is turned off: nobody new can join until you turn it on."))
    return redirect(url_for("instructor.settings", cohort_id=cohort.id))


@bp.route("/cohorts/<id:cohort_id>/new-code", methods=["GET", "POST"])
@instructor_required
def new_code(cohort_id: int) -> Any:
    """Ask, then give the cohort a new join code: the old code and link stop working."""
    cohort = managed_cohort(cohort_id)
    if request.method == "GET":
        return confirm_page(
            f"A new join code for “{cohort.name}”?",
            [f"The code {cohort.join_code} and its link stop working at once; learners already in the cohort stay. "
             "Share the new code with anyone who has not joined yet."],
            url_for("instructor.new_code", cohort_id=cohort.id), "Make a new join code",
            url_for("instructor.settings", cohort_id=cohort.id))
    _flash_outcome(lambda: svc.regenerate_code(cohort),
                   lambda code: f"The new join code is {code}; the old one no longer works.")
    return redirect(url_for("instructor.settings", cohort_id=cohort.id))


@bp.route("/cohorts/<id:cohort_id>/learners/<id:user_id>/remove", methods=["GET", "POST"])
@instructor_required
def remove_learner(cohort_id: int, user_id: int) -> Any:
    """Ask, then take a learner out of the cohort (their account and progress stay theirs)."""
    cohort, member = managed_member(cohort_id, user_id)
    if request.method == "GET":
        return confirm_page(
            f"Remove {member.name} from “{cohort.name}”?",
            [f"{member.name} leaves the roster, item analysis and gradebook of this cohort, and you no longer see "
             "their answers. Their account and progress stay theirs; they can join again with the join code."],
            url_for("instructor.remove_learner", cohort_id=cohort.id, user_id=member.id), "Remove from cohort",
            url_for("instructor.learner", cohort_id=cohort.id, user_id=member.id))
    try:
        removed = _flash_outcome(lambda: svc.remove_member(cohort, member.id),
                                 lambda _: f"{member.name} is no longer in “{cohort.name}”.")
    except svc.NotFound:
        abort(404)
    if not removed:
        return redirect(url_for("instructor.learner", cohort_id=cohort.id, user_id=member.id))
    return redirect(url_for("instructor.roster", cohort_id=cohort.id))


@bp.get("/cohorts/<id:cohort_id>")
@instructor_required
def roster(cohort_id: int) -> str:
    """Show the roster: completion per module, passes, last activity and who needs attention."""
    cohort = managed_cohort(cohort_id)
    out = outline()
    stall_days = int(current_app.config.get("ATTENTION_STALL_DAYS", analytics.DEFAULT_STALL_DAYS))
    sort = request.args.get("sort", "name")
    sort = sort if sort in analytics.ROSTER_SORTS else "name"
    order = "desc" if request.args.get("order") == "desc" else "asc"
    attention_only = request.args.get("filter") == "attention"
    q = request.args.get("q", "")[:100]
    found = cohort_stats.roster(cohort, out, utcnow(), stall_days=stall_days, sort=sort, order=order,
                                attention_only=attention_only, q=q, page=request.args.get("page", 1, type=whole_number),
                                size=int(current_app.config.get("ROSTER_PAGE_SIZE", cohort_stats.ROSTER_PAGE_SIZE)))
    lines = replace(found.lines, items=labels.with_named_attention(found.lines.items, out, course_labels()))
    return render_template(
        "instructor/roster.html", cohort=cohort, outline=out, lines=lines, total=found.members,
        flagged=found.flagged, sort=sort, order=order, attention_only=attention_only,
        q=q, stall_days=stall_days, join_url=public_url("cohorts.join_link", code=cohort.join_code),
        overdue=svc.is_overdue(cohort, svc.site_today()),
        owners=svc.possible_owners() if current_user.is_admin else None,
    )


@bp.get("/cohorts/<id:cohort_id>/items")
@instructor_required
def items(cohort_id: int) -> str:
    """Show item analysis for every exercise, with the cohort's total-score distribution."""
    cohort = managed_cohort(cohort_id)
    out = outline()
    stats = cohort_stats.item_analysis(cohort, out)
    n_exercises = len(out.exercises) or 1
    totals = cohort_stats.total_scores(cohort)
    # Members who tried nothing have a total of 0, and count in the distribution too.
    untried = svc.member_counts([cohort.id]).get(cohort.id, 0) - len(totals)
    counts = analytics.histogram([t / n_exercises for t in totals.values()] + [0.0] * max(untried, 0))
    chart = analytics.histogram_svg(counts, f"Course score distribution, {cohort.name}", "chart-total")
    catalogue = course_labels()
    most_failed = {s.exercise_id: labels.named_checks(s, labels.labels_of(catalogue, s.exercise_id))[:1]
                   for s in stats}
    return render_template("instructor/items.html", cohort=cohort, stats=stats, chart=chart, counts=counts,
                           bin_label=analytics.bin_label, min_learners=analytics.MIN_LEARNERS_FOR_STATS,
                           most_failed=most_failed)


@bp.get("/cohorts/<id:cohort_id>/items/<exercise_id>")
@instructor_required
def item(cohort_id: int, exercise_id: str) -> str:
    """Show one exercise: statistics, first-attempt score histogram, most-failed checks with sample answers."""
    cohort = managed_cohort(cohort_id)
    course = current_app.extensions["course"]
    if exercise_id not in course.exercises:
        # Checked before any query: a path segment can hold anything, a NUL byte included (PostgreSQL refuses those).
        abort(404)
    words = labels.labels_of(course_labels(), exercise_id)
    stat = cohort_stats.one_item(cohort, analytics.outline_of(course), exercise_id, describe=words.answer)
    counts = analytics.histogram(stat.first_scores)
    chart = analytics.histogram_svg(counts, f"First-attempt scores on “{stat.title}”", "chart-item")
    return render_template("instructor/item.html", cohort=cohort, stat=stat, chart=chart,
                           counts=counts, bin_label=analytics.bin_label, exercise=course.exercises[exercise_id],
                           min_learners=analytics.MIN_LEARNERS_FOR_STATS, checks=labels.named_checks(stat, words),
                           samples=labels.sample_answers(stat, words))


@bp.get("/cohorts/<id:cohort_id>/learners/<id:user_id>")
@instructor_required
def learner(cohort_id: int, user_id: int) -> str:
    """Show every attempt of one learner of this cohort: answer, per-check results, time."""
    cohort, member = managed_member(cohort_id, user_id)
    course = current_app.extensions["course"]
    attempts = svc.learner_attempts(member)
    return render_template("instructor/learner.html", cohort=cohort, member=member, attempts=attempts,
                           course=course, labels=course_labels(), labels_of=labels.labels_of,
                           named_results=labels.named_results,
                           lines={a.id: results.attempt_line(course.exercises.get(a.exercise_id), a) for a in attempts},
                           answer_text=svc.answer_text, overrides=outcomes.overrides_for([a.id for a in attempts]))


def _export_name(cohort: Cohort, ext: str) -> str:
    """Return the download file name for a cohort's gradebook, in the cohort's own script ("Café Lyon")."""
    slug = "-".join("".join(ch if ch.isalnum() else " " for ch in cohort.name.lower()).split())[:60] or "cohort"
    return f"gradebook-{slug}-{utcnow():%Y%m%d}.{ext}"


def attachment(filename: str) -> str:
    """A Content-Disposition for a download: an ASCII name every client reads, plus the full name (RFC 5987).

    HTTP headers are Latin-1: a cohort called "Careers Seminar, Spring 🌱 ربيع" in a plain filename= made gunicorn
    refuse the response. Browsers that know filename* save the file under its real name.
    """
    decomposed = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._-]", "-", decomposed)).strip("-") or "download"
    return f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(filename, safe="")}'


def _gradebook_response(cohort: Cohort, fmt: str) -> Response:
    """Stream the gradebook in the given format from batched queries."""
    course = current_app.extensions["course"]
    exercises = course.exercise_order()
    lessons = course.lesson_order()
    rows = gradebook.cohort_rows(cohort.id, exercises, lessons)
    rule = analytics.completion_rule(course)
    if fmt == "csv":
        titles = {eid: course.exercises[eid].title for eid in exercises}
        body = gradebook.csv_stream(rows, exercises, len(lessons), rule, titles=titles,
                                    zone=current_app.config["SITE_TIMEZONE"])
        mimetype = "text/csv"
    else:
        meta = {"cohort": cohort.name, "exported_at": utcnow().isoformat(), "lessons_total": len(lessons)}
        body = gradebook.json_stream(rows, exercises, len(lessons), meta, rule)
        mimetype = "application/json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = attachment(_export_name(cohort, fmt))
    return response


@bp.get("/cohorts/<id:cohort_id>/gradebook.csv")
@instructor_required
def gradebook_csv(cohort_id: int) -> Response:
    """Download the gradebook as CSV (formula-safe)."""
    return _gradebook_response(managed_cohort(cohort_id), "csv")


@bp.get("/cohorts/<id:cohort_id>/gradebook.json")
@instructor_required
def gradebook_json(cohort_id: int) -> Response:
    """Download the gradebook as JSON."""
    return _gradebook_response(managed_cohort(cohort_id), "json")
