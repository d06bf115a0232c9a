"""Cohorts end to end through the site: create, join, archive, roster, item analysis, drill-down, admin, branding."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_token_from, login_as
from web import create_app
from web.config import ConfigError
from web.extensions import db
from web.manage import upgrade
from web.models import Cohort, CohortMembership, LessonProgress, User, utcnow
from web.services import analytics, branding, cohort_stats
from web.services import cohorts as svc

pytestmark = pytest.mark.db


def post(client, url, data=None, form_page="/join", **kwargs):
    """POST a form with a valid CSRF token taken from a page the user can see."""
    token = csrf_token_from(client.get(form_page).get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)



def add_member(cohort, user, days_ago=0):
    """Put a user in a cohort, joined `days_ago` days ago."""
    joined = utcnow() - timedelta(days=days_ago)
    db.session.add(CohortMembership(cohort_id=cohort.id, user_id=user.id, joined_at=joined))
    db.session.commit()


def page(response) -> str:
    """Return a response's text, asserting exactly one h1 (every page has one)."""
    html = response.get_data(as_text=True)
    assert len(re.findall(r"<h1[\s>]", html)) == 1, "a page must have exactly one h1"
    return html


# ------------------------------------------------------------------------------------ create and join


def test_instructor_creates_a_cohort_and_gets_a_code_and_link(client, instructor):
    """POST /instructor/cohorts creates the cohort and lands on its page showing the code and /join link."""
    login_as(client, instructor)
    response = post(client, "/instructor/cohorts", {"name": "  Agency intake,   January "},
                    form_page="/instructor/", follow_redirects=True)
    html = page(response)
    cohort = db.session.scalar(select(Cohort).where(Cohort.owner_id == instructor.id))
    assert cohort.name == "Agency intake, January"
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", cohort.join_code)
    assert cohort.join_code in html and f"/join/{cohort.join_code}" in html


def test_cohort_needs_a_name_and_a_csrf_token(client, instructor):
    """An empty name re-shows the form with the problem; a POST without a token is refused."""
    login_as(client, instructor)
    response = post(client, "/instructor/cohorts", {"name": "   "}, form_page="/instructor/")
    assert response.status_code == 400 and "Give the cohort a name" in page(response)
    assert client.post("/instructor/cohorts", data={"name": "No token"}).status_code == 400
    assert db.session.scalar(select(Cohort).where(Cohort.owner_id == instructor.id)) is None


def test_join_link_prefills_the_form_but_only_a_post_joins(client, make_user, cohort):
    """GET /join/<code> shows the code in the form and adds nobody; POST /join adds the learner."""
    learner = make_user()
    login_as(client, learner)
    html = page(client.get("/join/abcdefgh"))
    assert 'value="ABCD-EFGH"' in html
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None
    response = post(client, "/join", {"code": " abcd-efgh "}, follow_redirects=True)
    assert "You have joined “Careers Seminar, Spring”" in page(response)
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is not None
    again = post(client, "/join", {"code": "ABCD-EFGH"}, follow_redirects=True)
    assert "already in" in again.get_data(as_text=True)


def test_joining_needs_csrf_and_a_valid_code(client, make_user, cohort):
    """No token: 400 and no membership; a wrong code re-shows the form with a clear message."""
    learner = make_user()
    login_as(client, learner)
    assert client.post("/join", data={"code": cohort.join_code}).status_code == 400
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None
    response = post(client, "/join", {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 400 and "No open cohort has that join code" in page(response)


def test_expired_form_keeps_the_typed_code(client, make_user, cohort):
    """A join post whose CSRF token failed re-shows the form with the code and says nothing was sent."""
    learner = make_user()
    login_as(client, learner)
    response = client.post("/join", data={"code": "ABCD-EFGH", "csrf_token": "stale"})
    html = page(response)
    assert response.status_code == 400 and 'value="ABCD-EFGH"' in html and "expired" in html
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None


def test_guessing_join_codes_is_rate_limited_per_account(client, make_user, cohort):
    """After 10 wrong codes in a minute the account gets 429; another account (same address) is unaffected."""
    learner = make_user()
    login_as(client, learner)
    for i in range(10):
        assert post(client, "/join", {"code": f"WRNG-{i:04d}"}).status_code == 400
    assert post(client, "/join", {"code": "WRNG-9999"}).status_code == 429
    other = client.application.test_client()
    login_as(other, make_user())
    assert post(other, "/join", {"code": cohort.join_code}, follow_redirects=True).status_code == 200


def test_a_learner_may_be_in_several_cohorts(client, make_user, cohort, instructor):
    """Joining a second cohort keeps the first; both are listed on the join page."""
    other = Cohort(name="Agency intake, January", owner_id=instructor.id, join_code="JKMN-PQRS")
    db.session.add(other)
    db.session.commit()
    learner = make_user()
    login_as(client, learner)
    post(client, "/join", {"code": cohort.join_code})
    html = page(post(client, "/join", {"code": other.join_code}, follow_redirects=True))
    assert "Careers Seminar, Spring" in html and "Agency intake, January" in html
    assert len(db.session.scalars(select(CohortMembership).where(CohortMembership.user_id == learner.id)).all()) == 2


def test_anonymous_join_goes_to_login(client, cohort):
    """The join link asks an anonymous visitor to log in first."""
    response = client.get(f"/join/{cohort.join_code}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------- archive


def test_archive_blocks_joins_hides_from_list_but_stays_viewable(client, make_user, instructor, cohort):
    """Archived: no new joins, hidden from the default list, shown with ?archived=1, roster still opens."""
    login_as(client, instructor)
    post(client, f"/instructor/cohorts/{cohort.id}/archive", {"archived": "1"}, form_page="/instructor/")
    db.session.refresh(cohort)
    assert cohort.archived
    link = f'href="/instructor/cohorts/{cohort.id}"'
    assert link not in client.get("/instructor/").get_data(as_text=True)
    assert link in client.get("/instructor/?archived=1").get_data(as_text=True)
    assert client.get(f"/instructor/cohorts/{cohort.id}").status_code == 200

    learner_client = client.application.test_client()
    learner = make_user()
    login_as(learner_client, learner)
    refused = post(learner_client, "/join", {"code": cohort.join_code})
    assert refused.status_code == 400
    assert db.session.get(CohortMembership, (cohort.id, learner.id)) is None

    post(client, f"/instructor/cohorts/{cohort.id}/archive", {"archived": "0"}, form_page="/instructor/")
    db.session.refresh(cohort)
    assert not cohort.archived


# ----------------------------------------------------------------------------------------------- roster


def test_roster_shows_progress_and_who_needs_attention(client, make_user, make_attempt, instructor, cohort):
    """Completion per module, exercises passed and attention reasons appear; filters and sorts work by GET."""
    busy = make_user(display_name="Busy Bea")
    stuck = make_user(display_name="Stuck Sam")
    idle = make_user(display_name="Idle Ida")
    add_member(cohort, busy)
    add_member(cohort, stuck)
    add_member(cohort, idle, days_ago=30)
    make_attempt(busy, "why-close-quiz", score=1.0)
    db.session.add(LessonProgress(user_id=busy.id, lesson_id="why-close-matters"))
    db.session.commit()
    fail = [{"id": "asks-for-job", "passed": False, "weight": 1.0, "message": "Ask for the job."}]
    for _ in range(3):
        make_attempt(stuck, "when-to-close-scenarios", score=0.2, checks=fail, answer="Hire me now!")
    login_as(client, instructor)
    html = page(client.get(f"/instructor/cohorts/{cohort.id}"))
    assert "Busy Bea" in html and "Stuck Sam" in html and "Idle Ida" in html
    title = client.application.extensions["course"].exercises["when-to-close-scenarios"].title
    assert f"failed check asks-for-job 3+ times in a row on “{title}”" in html
    assert "no activity for more than 7 days" in html
    assert "1 / " in html  # Bea passed one exercise
    attention = client.get(f"/instructor/cohorts/{cohort.id}?filter=attention").get_data(as_text=True)
    assert "Stuck Sam" in attention and "Idle Ida" in attention and "Busy Bea" not in attention
    found = client.get(f"/instructor/cohorts/{cohort.id}?q=bea").get_data(as_text=True)
    assert "Busy Bea" in found and "Stuck Sam" not in found
    by_passed = client.get(f"/instructor/cohorts/{cohort.id}?sort=passed&order=desc").get_data(as_text=True)
    assert by_passed.index("Busy Bea") < by_passed.index("Idle Ida")
    assert 'aria-sort="descending"' in by_passed


def test_roster_pages_keep_sort_and_filter(client, make_user, make_attempt, instructor, cohort):
    """A long roster comes a page at a time; the page links keep the sort, order, search and attention filter."""
    client.application.config["ROSTER_PAGE_SIZE"] = 2
    for i in range(5):
        add_member(cohort, make_user(display_name=f"Pat {i}"))
    login_as(client, instructor)
    base = f"/instructor/cohorts/{cohort.id}"
    first = page(client.get(f"{base}?sort=name&order=desc&q=pat"))
    assert "Pat 4" in first and "Pat 3" in first and "Pat 2" not in first
    assert "5 of 5 learners, matching “pat”; showing 1–2 (page 1 of 3)" in first
    assert "Previous page" not in first
    next_link = re.search(r'<a href="([^"]+)">Next page</a>', first).group(1).replace("&amp;", "&")
    assert all(part in next_link for part in ("page=2", "sort=name", "order=desc", "q=pat"))
    last = page(client.get(f"{base}?sort=name&order=desc&q=pat&page=3"))
    assert "Pat 0" in last and "Pat 1" not in last and "Next page" not in last and "Previous page" in last
    # A page past the end (the roster shrank since the link was made) shows the last page, not an empty table.
    assert "Pat 0" in page(client.get(f"{base}?sort=name&order=desc&page=99"))
    assert "Next page" not in page(client.get(f"{base}?filter=attention"))


def test_roster_sorted_and_paged_in_sql_lists_the_lines_of_the_full_computation(make_user, make_attempt, cohort, app):
    """Every sort, order, filter and page of the roster (SQL) equals sorting every member's line in Python."""
    course = app.extensions["course"]
    lesson, other_lesson = course.lesson_order()[:2]
    quiz = "why-close-quiz"
    fail = [{"id": "ask", "passed": False, "message": "Ask."}]
    # Names that tie once case is folded (then emails decide), exact twins (then join order decides), accents,
    # an email for a name, and learners never active at all (they tie on last activity).
    names = ["ann", "Ann", "Émile", "zoë", "Bob", "Bob", "", "Yves", "élodie"]
    people = []
    for i, name in enumerate(names):
        user = make_user(email=f"p{i}-{'B' if i % 2 else 'a'}@example.org", display_name=name or "x")
        if not name:
            user.display_name = ""
            db.session.commit()
        add_member(cohort, user, days_ago=30 if i in (2, 5, 7) else 0)
        people.append(user)
    make_attempt(people[0], quiz, score=1.0)
    make_attempt(people[1], quiz, score=1.0)
    make_attempt(people[3], "close-myths", score=1.0)
    for _ in range(3):
        make_attempt(people[4], "close-myths", score=0.0, checks=fail)
    stamp = utcnow() - timedelta(days=2)
    for user, lid, when in ((people[0], lesson, stamp), (people[3], lesson, stamp), (people[3], other_lesson, stamp),
                            (people[6], lesson, utcnow() - timedelta(days=20)), (people[8], lesson, stamp)):
        db.session.add(LessonProgress(user_id=user.id, lesson_id=lid, first_read_at=when, last_read_at=when))
    db.session.commit()
    outline = analytics.outline_of(course)
    now = utcnow()
    full = analytics.roster_from_counts(outline, svc.learner_rows(cohort), cohort_stats.roster_counts(cohort, outline),
                                        now)
    assert 0 < sum(e.needs_attention for e in full) < len(full)
    size = 3
    cases = [(sort, order, attention_only, q) for sort in analytics.ROSTER_SORTS for order in ("asc", "desc")
             for attention_only in (False, True) for q in ("", "b")]
    cases += [("unknown", "desc", False, ""), ("name", "asc", False, "É"), ("name", "asc", False, "-a@"),
              ("name", "asc", False, "%")]
    for sort, order, attention_only, q in cases:
        expected = analytics.sort_and_filter(full, sort, order, attention_only, q)
        pages = max(1, -(-len(expected) // size))
        # Every page, then one past the last (which shows the last).
        for number in range(1, pages + 2):
            got = cohort_stats.roster(cohort, outline, now, sort=sort, order=order, attention_only=attention_only,
                                      q=q, page=number, size=size)
            shown = min(number, pages)
            assert got.lines.items == expected[(shown - 1) * size:shown * size], (sort, order, attention_only, q)
            assert (got.lines.total, got.lines.page, got.lines.pages) == (len(expected), shown, pages)
            assert (got.members, got.flagged) == (len(full), sum(e.needs_attention for e in full))


# ---------------------------------------------------------------------------------- item analysis


def test_item_analysis_shows_failed_checks_chart_and_na(client, make_user, make_attempt, instructor, cohort):
    """The item page ranks failed checks, quotes escaped anonymous answers, draws an accessible chart, says n/a."""
    learners = [make_user(display_name=f"Secret Name {i}", email=f"secret{i}@example.org") for i in range(2)]
    for u in learners:
        add_member(cohort, u)
    fail = [{"id": "asks-for-job", "passed": False, "weight": 1.0, "message": "Ask for the job."},
            {"id": "polite", "passed": True, "weight": 1.0, "message": ""}]
    make_attempt(learners[0], "when-to-close-scenarios", score=0.5, checks=fail,
                 answer="<script>alert(1)</script> give me the job")
    make_attempt(learners[1], "when-to-close-scenarios", score=0.5, checks=fail, answer="Sign me up")
    login_as(client, instructor)
    html = page(client.get(f"/instructor/cohorts/{cohort.id}/items/when-to-close-scenarios"))
    assert "asks-for-job" in html and "2 of 2" in html and "100%" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "Secret Name" not in html and "secret0@example.org" not in html
    assert 'role="img"' in html and "<title id=\"chart-item-title\">" in html and "<desc id=" in html
    assert 'class="visually-hidden"' in html and "<caption>" in html
    assert "n/a (fewer than 3 learners)" in html
    overview = page(client.get(f"/instructor/cohorts/{cohort.id}/items"))
    assert "when-to-close-scenarios" in overview and "n/a" in overview
    assert client.get(f"/instructor/cohorts/{cohort.id}/items/no-such-exercise").status_code == 404


# ---------------------------------------------------------------------------------------- drill-down


def test_drill_down_shows_each_attempt_escaped_with_checks(client, make_user, make_attempt, instructor,
                                                           cohort):
    """An instructor sees a member's attempts: escaped answer, per-check results, time; non-members are 404."""
    learner = make_user(display_name="Dana")
    add_member(cohort, learner)
    checks = [{"id": "thanks", "passed": True, "weight": 1.0, "message": "You thanked them."},
              {"id": "next-steps", "passed": False, "weight": 1.0, "message": "Ask about next steps."}]
    make_attempt(learner, "next-steps-questions", score=0.5, checks=checks, answer="<b>Thanks</b> & bye")
    login_as(client, instructor)
    html = page(client.get(f"/instructor/cohorts/{cohort.id}/learners/{learner.id}"))
    assert "&lt;b&gt;Thanks&lt;/b&gt; &amp; bye" in html
    assert "next-steps" in html and "Ask about next steps." in html and "failed" in html
    assert "<time datetime=" in html
    outsider = make_user()
    assert client.get(f"/instructor/cohorts/{cohort.id}/learners/{outsider.id}").status_code == 404


# ------------------------------------------------------------------------------------ who sees what


def test_instructors_see_only_their_cohorts_and_admins_see_all(client, make_user, instructor, cohort):
    """Another instructor's list lacks the cohort and its pages are 404; an admin lists and opens it."""
    other = make_user("instructor")
    login_as(client, other)
    link = f'href="/instructor/cohorts/{cohort.id}"'
    assert link not in client.get("/instructor/").get_data(as_text=True)
    assert client.get(f"/instructor/cohorts/{cohort.id}").status_code == 404
    admin_client = client.application.test_client()
    login_as(admin_client, make_user("admin"))
    assert link in admin_client.get("/instructor/").get_data(as_text=True)
    assert admin_client.get(f"/instructor/cohorts/{cohort.id}").status_code == 200


def test_ownerless_cohort_stays_usable_by_admins_who_can_give_it_away(client, make_user, make_attempt,
                                                                       instructor, cohort):
    """Its owner deletes their account: learners stay, every page opens for an admin, who gives it away."""
    learner = make_user(display_name="Lee Learner")
    add_member(cohort, learner)
    make_attempt(learner, "why-close-quiz", answer="freshest-memory")
    login_as(client, instructor)
    assert "You manage 1 cohort." in page(client.get("/account"))  # said before they confirm
    post(client, "/account/delete", {"password": TEST_PASSWORD, "confirm": "y"}, form_page="/account")
    db.session.expire_all()
    assert db.session.get(User, instructor.id) is None and db.session.get(Cohort, cohort.id).owner_id is None

    login_as(client, make_user("admin"))
    assert "You manage" not in page(client.get("/account"))  # an admin sees every cohort but owns none of these
    assert "(no owner)" in page(client.get("/instructor/"))
    roster = page(client.get(f"/instructor/cohorts/{cohort.id}"))
    assert "Lee Learner" in roster and "Owner: nobody" in roster
    base = f"/instructor/cohorts/{cohort.id}"
    for url in (f"{base}/items", f"{base}/items/why-close-quiz", f"{base}/learners/{learner.id}",
                f"{base}/gradebook.csv", f"{base}/gradebook.json"):
        assert client.get(url).status_code == 200, url

    successor = make_user("instructor", display_name="Sam Successor")
    refused = post(client, f"/admin/cohorts/{cohort.id}/owner", {"owner_id": learner.id}, form_page="/admin/",
                   follow_redirects=True)
    assert "Choose an instructor or admin" in refused.get_data(as_text=True)
    done = post(client, f"/admin/cohorts/{cohort.id}/owner", {"owner_id": successor.id}, form_page="/admin/",
                follow_redirects=True)
    assert "now belongs to Sam Successor" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Cohort, cohort.id).owner_id == successor.id
    login_as(client, successor)
    assert "Lee Learner" in page(client.get(f"/instructor/cohorts/{cohort.id}"))


# --------------------------------------------------------------------------------------------- admin


def test_admin_lists_searches_and_changes_roles(client, make_user):
    """The admin page finds users by email and changes a role with a CSRF-protected POST."""
    admin = make_user("admin")
    target = make_user(email="future.instructor@example.org")
    make_user(email="someone.else@example.org")
    login_as(client, admin)
    html = page(client.get("/admin/?q=future"))
    assert "future.instructor@example.org" in html and "someone.else@example.org" not in html
    assert client.post(f"/admin/users/{target.id}/role", data={"role": "instructor"}).status_code == 400
    post(client, f"/admin/users/{target.id}/role", {"role": "instructor"}, form_page="/admin/")
    db.session.refresh(target)
    assert target.role == "instructor"
    response = post(client, f"/admin/users/{target.id}/role", {"role": "wizard"}, form_page="/admin/",
                    follow_redirects=True)
    assert "Unknown role" in response.get_data(as_text=True)


def test_admin_actions_on_unknown_ids_get_the_404_page(client, make_user):
    """A role or owner change for a user or cohort that does not exist is a plain 404, and changes nothing."""
    admin = make_user("admin")
    login_as(client, admin)
    for url, data in (("/admin/users/999999/role", {"role": "instructor"}),
                      ("/admin/cohorts/999999/owner", {"owner_id": admin.id})):
        response = post(client, url, data, form_page="/admin/")
        assert response.status_code == 404, url
        assert "Page not found" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_last_admin_cannot_demote_themself(client, make_user):
    """With one admin, their own demotion is refused; with two it goes through."""
    admin = make_user("admin")
    login_as(client, admin)
    response = post(client, f"/admin/users/{admin.id}/role", {"role": "learner"}, form_page="/admin/",
                    follow_redirects=True)
    assert "is the last admin" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"
    make_user("admin")
    post(client, f"/admin/users/{admin.id}/role", {"role": "instructor"}, form_page="/admin/")
    db.session.refresh(admin)
    assert admin.role == "instructor"


def test_cli_creates_an_instructor(tmp_path, monkeypatch, runner):
    """`course user create --role instructor EMAIL` makes an instructor account from the command line."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "cli-secret")
    result = runner.invoke(args=["user", "create", "--role", "instructor", "--password", "a long password",
                                 "teach@example.org"])
    assert result.exit_code == 0
    assert "created instructor teach@example.org" in result.stdout
    app = create_app()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "teach@example.org"))
        assert user.role == "instructor" and user.check_password("a long password")


# ------------------------------------------------------------------------------------------- branding


@pytest.mark.parametrize(("accent", "ok"), [("#1d4f91", True), ("#000", True), ("#767676", True),
                                            ("#777777", False), ("#ffcc00", False), ("blue", False),
                                            ("#12345", False), ("", False)])
def test_accent_must_be_hex_with_enough_contrast(accent, ok):
    """Hex only, and at least 4.5:1 against white (#767676 is the lightest grey that passes)."""
    assert (branding.accent_problem(accent) is None) is ok


def test_contrast_ratio_matches_wcag():
    """Black on white is 21:1; a colour against itself is 1:1."""
    assert branding.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert branding.contrast_ratio("#1d4f91", "#1d4f91") == pytest.approx(1.0)


def test_branding_is_configurable_and_bad_accent_stops_start_up(app_config):
    """A deployment's title, logo and accent show on the page; a low-contrast accent refuses to start."""
    app = create_app({**app_config, "SITE_TITLE": "Northfield University Careers", "SITE_ACCENT": "#7a1f3d",
                      "SITE_LOGO_URL": "/static/logo.svg"})
    client = app.test_client()
    html = client.get("/no-such-page").get_data(as_text=True)  # the 404 page wears the branding too
    assert "Northfield University Careers" in html and 'src="/static/logo.svg"' in html
    assert "#7a1f3d" in client.get("/brand.css").get_data(as_text=True)
    with pytest.raises(ConfigError, match="contrast ratio"):
        create_app({**app_config, "SITE_ACCENT": "#ffcc00"})


@pytest.mark.parametrize(("logo", "img_src"), [
    (None, "img-src 'self' data:;"),
    ("/static/logo.svg", "img-src 'self' data:;"),
    ("https://cdn.northfield.example/brand/logo.svg", "img-src 'self' data: https://cdn.northfield.example;"),
    ("https://cdn.example:8443/logo.svg", "img-src 'self' data: https://cdn.example:8443;"),
    ("http://cdn.example/logo.svg", "img-src 'self' data:;"),  # never weaken the page for a plain-http image
    ("https://cdn.example;script-src *;/x.svg", "img-src 'self' data:;"),
])
def test_an_off_site_logo_is_allowed_by_the_csp(app_config, logo, img_src):
    """An https SITE_LOGO_URL on a CDN shows (its origin joins img-src); nothing else changes the policy."""
    client = create_app({**app_config, "SITE_LOGO_URL": logo}).test_client()
    csp = client.get("/").headers["Content-Security-Policy"]
    assert img_src in csp + ";"
    assert "script-src 'self';" in csp and csp.count(";") == 7


def test_roster_reads_only_what_it_needs_and_agrees_with_every_attempt(make_user, make_attempt, cohort, app):
    """The roster's reduced rows (aggregates + latest tails) give the same roster as reading every attempt."""
    fail = [{"id": "ask", "passed": False, "message": "Ask."}]
    ok = [{"id": "ask", "passed": True, "message": ""}]
    people = [make_user(display_name=f"P{i}") for i in range(4)]
    for u in people:
        add_member(cohort, u)
    # P0: stuck (3 fails in a row); P1: failed 3 times then passed; P2: 4 tries, the last one passes the check;
    # P3: two fails only.
    for _ in range(3):
        make_attempt(people[0], "why-close-quiz", score=0.0, checks=fail)
        make_attempt(people[1], "why-close-quiz", score=0.0, checks=fail)
        make_attempt(people[2], "why-close-quiz", score=0.0, checks=fail)
    make_attempt(people[1], "why-close-quiz", score=1.0, checks=ok)
    make_attempt(people[2], "why-close-quiz", score=0.5, checks=ok, passed=False)
    make_attempt(people[3], "close-myths", score=0.0, checks=fail)
    make_attempt(people[3], "close-myths", score=0.0, checks=fail)
    make_attempt(people[3], "why-close-quiz", score=1.0)
    outline = analytics.outline_of(app.extensions["course"])
    now = utcnow()
    full = analytics.roster(outline, svc.learner_rows(cohort), svc.attempt_rows(cohort), svc.read_rows(cohort), now)
    lean = analytics.roster(outline, svc.learner_rows(cohort), svc.roster_attempt_rows(cohort),
                            svc.read_rows(cohort), now)
    assert lean == full
    assert [e.needs_attention for e in full] == [True, False, False, False]


def test_item_analysis_ranks_tied_totals_by_learner_id_as_the_full_computation(make_user, make_attempt, cohort, app):
    """Discrimination from the rank index equals the one from every attempt, with totals tied across the thirds."""
    members = [make_user(display_name=f"T{i}") for i in range(9)]
    for u in members:
        add_member(cohort, u)
    # Every member's total is 1.0 (a score on one exercise, its complement on the other), so only ids order them;
    # a learner with a second, better attempt has a first score below the best that counts in the total.
    scores = [0.0, 0.5, 1.0, 0.0, 0.5, 1.0, 0.25, 0.75, 1.0]
    for u, score in zip(members, scores, strict=True):
        if score >= 0.5:
            make_attempt(u, "why-close-quiz", score=score - 0.5)
        make_attempt(u, "why-close-quiz", score=score)
        make_attempt(u, "when-to-close-scenarios", score=1.0 - score)
    # Learners outside the cohort, with the best totals: they must rank nowhere in it.
    for i in range(3):
        outsider = make_user(display_name=f"O{i}")
        make_attempt(outsider, "why-close-quiz", score=1.0)
        make_attempt(outsider, "when-to-close-scenarios", score=1.0)
    rng = random.Random(15)
    for u in members[:4]:
        # And some members on a third exercise, with totals that tie again among themselves.
        make_attempt(u, "order-close-steps", score=rng.choice((0.0, 1.0)))
    outline = analytics.outline_of(app.extensions["course"])
    rows = list(svc.attempt_rows(cohort))
    totals = analytics.total_scores(rows)
    checked = 0
    for stat in cohort_stats.item_analysis(cohort, outline):
        firsts: dict[int, float] = {}
        for a in sorted((r for r in rows if r.exercise_id == stat.exercise_id and r.counts),
                        key=lambda r: (r.created_at, r.attempt_number, r.id)):
            firsts.setdefault(a.user_id, a.score)
        expected = analytics.discrimination_index([(firsts[uid], totals[uid]) for uid in sorted(firsts)])
        assert stat.discrimination == (None if expected is None else pytest.approx(expected)), stat.exercise_id
        one = cohort_stats.one_item(cohort, outline, stat.exercise_id)
        assert one.discrimination == stat.discrimination and one.learners == stat.learners == len(firsts)
        checked += expected is not None
    assert checked == 3
    (quiz,) = [s for s in cohort_stats.item_analysis(cohort, outline) if s.exercise_id == "why-close-quiz"]
    # Top third T0-T2 (first scores 0, 0, 0.5), bottom third T6-T8 (0.25, 0.25, 0.5): ids break the ties.
    assert quiz.discrimination == pytest.approx(0.5 / 3 - 1.0 / 3)
