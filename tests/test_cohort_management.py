"""Cohorts an agency trainer can run: rename, join code off/on/new, remove, leave, archive, due date, announcement."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import login_as
from tests.test_cohorts import page as html_of
from tests.test_cohorts import post
from web.extensions import db
from web.models import Cohort, CohortMembership, LessonProgress, utcnow
from web.services import cohorts as svc

pytestmark = pytest.mark.db


@pytest.fixture
def cohort_name() -> str:
    """This module's cohort, named as an agency names an intake."""
    return "Agency intake, January"


def member(cohort, user):
    """Put a user in a cohort."""
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=user.id))
    db.session.commit()
    return user


def settings(client, cohort, follow_redirects=False, **fields):
    """Post the cohort's settings form with the given fields (name kept unless given)."""
    data = {"name": cohort.name, "due_on": "", "announcement": "", **fields}
    return post(client, f"/instructor/cohorts/{cohort.id}/settings", data, form_page=f"/instructor/cohorts/{cohort.id}",
                follow_redirects=follow_redirects)


# ------------------------------------------------------------------------------------------- rename


def test_instructor_renames_a_cohort_and_a_bad_name_keeps_what_was_typed(client, instructor, cohort):
    """A new name is saved trimmed; an empty or over-long one is refused naming the field, the rest kept."""
    login_as(client, instructor)
    form = html_of(client.get(f"/instructor/cohorts/{cohort.id}/settings"))
    assert 'value="Agency intake, January"' in form
    done = settings(client, cohort, name="  Agency intake,   February ", follow_redirects=True)
    assert "Settings of “Agency intake, February” saved" in html_of(done)
    db.session.refresh(cohort)
    assert cohort.name == "Agency intake, February"
    refused = settings(client, cohort, name="", announcement="Keep this text")
    html = html_of(refused)
    assert refused.status_code == 400 and "Cohort name: Give the cohort a name." in html and "Keep this text" in html
    too_long = settings(client, cohort, name="x" * 201)
    assert too_long.status_code == 400 and "Cohort name" in html_of(too_long)
    db.session.refresh(cohort)
    assert cohort.name == "Agency intake, February"


def test_another_instructor_cannot_change_a_cohort_they_do_not_own(client, make_user, instructor, cohort):
    """Every management route of someone else's cohort is the same 404 as a missing one, and changes nothing."""
    learner = member(cohort, make_user())
    login_as(client, make_user("instructor"))
    base = f"/instructor/cohorts/{cohort.id}"
    for url, data in ((f"{base}/settings", {"name": "Hijacked"}), (f"{base}/joining", {"open": "0"}),
                      (f"{base}/new-code", {}), (f"{base}/learners/{learner.id}/remove", {}),
                      (f"{base}/archive", {"archived": "1"})):
        assert client.get(url).status_code in (404, 405)
        assert post(client, url, data).status_code == 404, url
    db.session.refresh(cohort)
    assert (cohort.name, cohort.join_code, cohort.join_open, cohort.archived) == (
        "Agency intake, January", "ABCD-EFGH", True, False)
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is not None


def test_an_admin_manages_any_cohort(client, make_user, cohort):
    """Admins reach every cohort's settings, as the access rule says."""
    login_as(client, make_user("admin"))
    settings(client, cohort, name="Renamed by admin")
    db.session.refresh(cohort)
    assert cohort.name == "Renamed by admin"


# ---------------------------------------------------------------------------------------- join code


def test_turning_the_join_code_off_refuses_joins_like_a_wrong_code(client, make_user, instructor, cohort):
    """Off: a join with the right code gets the wrong-code answer; on again: the same code works."""
    login_as(client, instructor)
    off = post(client, f"/instructor/cohorts/{cohort.id}/joining", {"open": "0"}, follow_redirects=True)
    assert "is turned off" in html_of(off)
    learner_client = client.application.test_client()
    learner = make_user()
    login_as(learner_client, learner)
    refused = post(learner_client, "/join", {"code": "ABCD-EFGH"})
    assert refused.status_code == 400 and "No open cohort has that join code" in refused.get_data(as_text=True)
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None
    post(client, f"/instructor/cohorts/{cohort.id}/joining", {"open": "1"})
    assert post(learner_client, "/join", {"code": "ABCD-EFGH"}).status_code == 302
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is not None


def test_a_new_join_code_is_asked_for_first_and_kills_the_old_one(client, make_user, instructor, cohort):
    """GET shows a confirmation naming the old code; POST makes a fresh code; the old one admits nobody."""
    kept = member(cohort, make_user())
    login_as(client, instructor)
    ask = html_of(client.get(f"/instructor/cohorts/{cohort.id}/new-code"))
    assert "ABCD-EFGH" in ask and "stop working" in ask and 'method="post"' in ask
    db.session.refresh(cohort)
    assert cohort.join_code == "ABCD-EFGH"  # opening the confirmation changes nothing
    done = html_of(post(client, f"/instructor/cohorts/{cohort.id}/new-code", follow_redirects=True))
    db.session.refresh(cohort)
    assert cohort.join_code != "ABCD-EFGH" and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", cohort.join_code)
    assert f"The new join code is {cohort.join_code}" in done
    newcomer_client = client.application.test_client()
    newcomer = make_user()
    login_as(newcomer_client, newcomer)
    assert post(newcomer_client, "/join", {"code": "ABCD-EFGH"}).status_code == 400
    assert post(newcomer_client, "/join", {"code": cohort.join_code}).status_code == 302
    assert db.session.get(CohortMembership, (cohort.id, kept.id)) is not None  # members stay


# ------------------------------------------------------------------------------------ remove and leave


def test_instructor_removes_a_learner_after_confirming(client, make_user, make_attempt, instructor, cohort):
    """The drill-down links to a confirmation; POST takes the learner out; their own records stay theirs."""
    learner = member(cohort, make_user(display_name="Rita Removed"))
    make_attempt(learner, "why-close-quiz")
    login_as(client, instructor)
    drill = html_of(client.get(f"/instructor/cohorts/{cohort.id}/learners/{learner.id}"))
    remove_url = f"/instructor/cohorts/{cohort.id}/learners/{learner.id}/remove"
    assert f'href="{remove_url}"' in drill
    ask = html_of(client.get(remove_url))
    assert "Remove Rita Removed from “Agency intake, January”?" in ask
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is not None
    done = html_of(post(client, remove_url, follow_redirects=True))
    assert "Rita Removed is no longer in" in done
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None
    assert "Rita Removed" not in html_of(client.get(f"/instructor/cohorts/{cohort.id}")).split("</h1>", 1)[1]
    assert len(learner.attempts) == 1
    assert client.get(f"/instructor/cohorts/{cohort.id}/learners/{learner.id}").status_code == 404
    assert post(client, remove_url).status_code == 404  # removing twice: not a member any more


def test_a_learner_leaves_a_cohort_after_confirming(client, make_user, cohort):
    """The join page links each cohort to a confirmation; POST leaves; another cohort's id is a 404."""
    learner = member(cohort, make_user())
    login_as(client, learner)
    listing = html_of(client.get("/join"))
    assert f'href="/cohorts/{cohort.id}/leave"' in listing
    ask = html_of(client.get(f"/cohorts/{cohort.id}/leave"))
    assert "Leave “Agency intake, January”?" in ask and "no longer see your progress" in ask
    done = html_of(post(client, f"/cohorts/{cohort.id}/leave", follow_redirects=True))
    assert "You have left “Agency intake, January”" in done and "You are not in any cohort yet" in done
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None
    assert client.get(f"/cohorts/{cohort.id}/leave").status_code == 404
    assert post(client, f"/cohorts/{cohort.id}/leave").status_code == 404
    assert client.get("/cohorts/987654/leave").status_code == 404


# ------------------------------------------------------------------------------------------- archive


def test_archive_asks_first_then_makes_the_cohort_read_only(client, make_user, instructor, cohort):
    """The roster links to a confirmation; once archived nothing can be changed until it is reopened."""
    learner = member(cohort, make_user())
    login_as(client, instructor)
    roster = html_of(client.get(f"/instructor/cohorts/{cohort.id}"))
    assert f'href="/instructor/cohorts/{cohort.id}/archive"' in roster
    ask = html_of(client.get(f"/instructor/cohorts/{cohort.id}/archive"))
    assert "Archive “Agency intake, January”?" in ask and 'name="archived" value="1"' in ask
    db.session.refresh(cohort)
    assert not cohort.archived
    post(client, f"/instructor/cohorts/{cohort.id}/archive", {"archived": "1"})
    db.session.refresh(cohort)
    assert cohort.archived
    page = html_of(client.get(f"/instructor/cohorts/{cohort.id}/settings"))
    assert "Reopen this cohort" in page and 'name="name"' not in page  # no edit form on an archived cohort

    refused = settings(client, cohort, name="Changed anyway")
    assert refused.status_code == 400 and svc.ARCHIVED_MESSAGE in html_of(refused)
    post(client, f"/instructor/cohorts/{cohort.id}/joining", {"open": "0"})
    post(client, f"/instructor/cohorts/{cohort.id}/new-code")
    post(client, f"/instructor/cohorts/{cohort.id}/learners/{learner.id}/remove")
    db.session.refresh(cohort)
    assert (cohort.name, cohort.join_code, cohort.join_open) == ("Agency intake, January", "ABCD-EFGH", True)
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is not None
    flashed = html_of(client.get(f"/instructor/cohorts/{cohort.id}/settings"))
    assert svc.ARCHIVED_MESSAGE in flashed


# ------------------------------------------------------------------------------- due date and overdue


def test_due_date_shows_to_learners_and_flags_overdue_learners_on_the_roster(client, app, make_user, make_attempt,
                                                                               instructor, cohort):
    """A past due date marks the unfinished learner overdue (not the finished one) and tells both on /progress."""
    course = app.extensions["course"]
    late = member(cohort, make_user(display_name="Lou Late"))
    done = member(cohort, make_user(display_name="Fin Finished"))
    for lesson_id in course.lesson_order():
        db.session.add(LessonProgress(user_id=done.id, lesson_id=lesson_id))
    db.session.commit()
    for exercise_id in course.exercise_order():
        make_attempt(done, exercise_id, score=1.0)
    login_as(client, instructor)
    yesterday = svc.site_today() - timedelta(days=1)
    settings(client, cohort, due_on=yesterday.isoformat())
    db.session.refresh(cohort)
    assert cohort.due_on == yesterday
    roster = html_of(client.get(f"/instructor/cohorts/{cohort.id}"))
    rows = {name: row for row in roster.split("<tr>") for name in ("Lou Late", "Fin Finished") if name in row}
    assert "Overdue" in rows["Lou Late"] and "Overdue" not in rows["Fin Finished"]
    assert "The due date has passed" in roster

    learner_client = client.application.test_client()
    login_as(learner_client, late)
    progress = html_of(learner_client.get("/progress"))
    assert "Overdue:" in progress and f'datetime="{yesterday.isoformat()}"' in progress
    login_as(learner_client, done)
    finished = html_of(learner_client.get("/progress"))
    assert "Due date:" in finished and "Overdue:" not in finished


def test_due_today_is_not_overdue_and_a_bad_date_is_refused_by_name(client, make_user, instructor, cohort):
    """The due day itself is on time; a date that is not one says which field is wrong and saves nothing."""
    member(cohort, make_user(display_name="Tess Today"))
    login_as(client, instructor)
    settings(client, cohort, due_on=svc.site_today().isoformat())
    assert "Overdue" not in html_of(client.get(f"/instructor/cohorts/{cohort.id}"))
    bad = settings(client, cohort, due_on="31/02/2027", announcement="Draft kept")
    html = html_of(bad)
    assert bad.status_code == 400 and "Due date: Not a valid date value." in html and "Draft kept" in html
    db.session.refresh(cohort)
    assert cohort.due_on == svc.site_today() and cohort.announcement == ""


def test_site_today_follows_the_site_time_zone(app):
    """Just after midnight UTC it is still the day before in New York."""
    from datetime import UTC, datetime  # noqa: PLC0415 - only this test builds times by hand

    moment = datetime(2027, 3, 15, 1, 0, tzinfo=UTC)
    app.config["SITE_TIMEZONE"] = "America/New_York"
    assert svc.site_today(moment) == date(2027, 3, 14)
    app.config["SITE_TIMEZONE"] = "UTC"
    assert svc.site_today(moment) == date(2027, 3, 15)


# --------------------------------------------------------------------------------------- announcement


def test_announcement_is_sanitised_markdown_on_the_learners_progress_page(client, make_user, instructor, cohort):
    """Markdown renders; a script or an event handler never reaches the page; other cohorts' learners see nothing."""
    learner = member(cohort, make_user())
    outsider = make_user()
    login_as(client, instructor)
    text = ("**Session 3 moved** to Thursday.\n\n<script>alert(1)</script>"
            "<img src=x onerror=alert(2)> [notes](https://example.org/notes) [evil](javascript:alert(3))")
    settings(client, cohort, announcement=text)
    db.session.refresh(cohort)
    assert cohort.announcement == text and cohort.announced_at is not None
    learner_client = client.application.test_client()
    login_as(learner_client, learner)
    html = html_of(learner_client.get("/progress"))
    assert "From your cohort “Agency intake, January”" in html
    assert "<strong>Session 3 moved</strong>" in html and 'href="https://example.org/notes"' in html
    assert "<script>alert" not in html and "onerror" not in html and "javascript:" not in html
    login_as(learner_client, outsider)
    assert "Session 3 moved" not in learner_client.get("/progress").get_data(as_text=True)


def test_announcement_length_is_limited_and_archived_cohorts_say_nothing(client, make_user, instructor, cohort):
    """Over the limit: refused with the limit named, draft kept. An archived cohort's notice leaves /progress."""
    learner = member(cohort, make_user())
    login_as(client, instructor)
    long = settings(client, cohort, announcement="a" * (svc.MAX_ANNOUNCEMENT_LENGTH + 1))
    html = html_of(long)
    assert long.status_code == 400 and f"{svc.MAX_ANNOUNCEMENT_LENGTH}" in html and "a" * 100 in html
    settings(client, cohort, announcement="Bring your CV.")
    learner_client = client.application.test_client()
    login_as(learner_client, learner)
    assert "Bring your CV." in learner_client.get("/progress").get_data(as_text=True)
    svc.set_archived(cohort, True)
    assert "Bring your CV." not in learner_client.get("/progress").get_data(as_text=True)
    svc.set_archived(cohort, False)
    settings(client, cohort, announcement="")
    db.session.refresh(cohort)
    assert cohort.announcement == "" and cohort.announced_at is None
    assert "From your cohort" not in learner_client.get("/progress").get_data(as_text=True)


def test_announced_at_changes_only_when_the_text_does(client, instructor, cohort):
    """Saving the form again (a rename) keeps the announcement's date."""
    login_as(client, instructor)
    settings(client, cohort, announcement="Hello")
    db.session.refresh(cohort)
    first = cohort.announced_at
    cohort.announced_at = first - timedelta(days=3)
    db.session.commit()
    settings(client, cohort, name="Renamed", announcement="Hello")
    db.session.refresh(cohort)
    assert cohort.announced_at == first - timedelta(days=3) and cohort.name == "Renamed"
    assert db.session.scalar(select(Cohort.announced_at).where(Cohort.id == cohort.id)) <= utcnow()
