"""Display names, the certificate's public verification page, and password reset by email."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_token_from, login_as, sent_mail
from web.extensions import db
from web.models import Certificate, LessonProgress, User
from web.services import accounts, certificates

pytestmark = pytest.mark.db
RESET_LINK = re.compile(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_.\-]+)")
NEW_PASSWORD = "a brand new passphrase"


def post_form(client, url, data, page_url=None, **kwargs):
    """GET the page holding the form, then POST `data` with its CSRF token."""
    token = csrf_token_from(client.get(page_url or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def finish_course(app, make_attempt, user):
    """Read every lesson and pass every exercise of the test course."""
    course = app.extensions["course"]
    for lesson_id in course.lesson_order():
        db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson_id))
    db.session.commit()
    for exercise_id in course.exercise_order():
        make_attempt(user, exercise_id, score=1.0)


def reset_path(app, email: str) -> str:
    """The path of the newest password-reset link emailed to an address."""
    for message in reversed(sent_mail(app)):
        if email in message.to:
            match = RESET_LINK.search(message.body)
            assert match, f"the last email to {email} holds no reset link: {message.body}"
            return match.group(1)
    raise AssertionError(f"no email was sent to {email}")


# ----------------------------------------------------------------------------------------- display name


def test_learner_sets_and_changes_their_display_name(client, make_user, login):
    """The account page shows the name in its form; a new one is saved cleaned; an empty one is refused."""
    user = make_user(display_name="Old Name")
    login(user)
    assert 'value="Old Name"' in client.get("/account").get_data(as_text=True)
    done = post_form(client, "/account/name", {"display_name": "  Amina\u202e   Diallo "}, page_url="/account",
                     follow_redirects=True)
    assert "Your name is now shown as “Amina Diallo”" in done.get_data(as_text=True)
    db.session.refresh(user)
    assert user.display_name == "Amina Diallo"
    for bad in ("", "\u200b\u202e"):
        refused = post_form(client, "/account/name", {"display_name": bad}, page_url="/account")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "Your name:" in html, bad
    db.session.refresh(user)
    assert user.display_name == "Amina Diallo"


def test_name_form_goes_back_only_to_a_local_next(client, make_user, login):
    """A `next` off the site is ignored after saving."""
    login(make_user())
    response = post_form(client, "/account/name", {"display_name": "Pat", "next": "https://evil.example/"},
                         page_url="/account")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")


# ---------------------------------------------------------------------------------------- certificate


def test_certificate_asks_for_a_name_instead_of_printing_an_email(app, client, make_user, make_attempt, login):
    """A finished learner without a display name is asked for one; the email is never on the certificate."""
    user = make_user(email="nameless@example.org")
    user.display_name = ""
    db.session.commit()
    login(user)
    finish_course(app, make_attempt, user)
    ask = client.get("/progress/certificate")
    html = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "Your name for the certificate" in html
    assert "Certificate of completion" not in html and "nameless@example.org" not in html.split("<main", 1)[1]
    assert db.session.scalar(select(Certificate).where(Certificate.user_id == user.id)) is None
    empty = post_form(client, "/account/name", {"display_name": " ", "next": "/progress/certificate"},
                      page_url="/progress/certificate")
    assert empty.status_code == 400 and "Your name for the certificate" in empty.get_data(as_text=True)
    saved = post_form(client, "/account/name", {"display_name": "Nia Named", "next": "/progress/certificate"},
                      page_url="/progress/certificate", follow_redirects=True)
    cert = saved.get_data(as_text=True)
    assert "Certificate of completion" in cert and "Nia Named" in cert
    assert "nameless@example.org" not in cert.split('class="certificate"', 1)[1].split("</section>", 1)[0]


def test_certificate_has_a_public_page_with_name_course_and_date_only(app, client, make_user, make_attempt, login):
    """The certificate links to /certificates/<code>, which anyone can open: name, course, date, nothing else."""
    user = make_user(email="grace@example.org", display_name="Grace Hopper")
    login(user)
    finish_course(app, make_attempt, user)
    html = client.get("/progress/certificate").get_data(as_text=True)
    (code,) = set(re.findall(r"/certificates/([A-Za-z0-9_-]+)", html))
    assert len(code) >= 24 and str(user.id) != code
    stored = db.session.scalar(select(Certificate).where(Certificate.user_id == user.id))
    assert stored.code == code
    # Opening the certificate again keeps the code.
    assert f"/certificates/{code}" in client.get("/progress/certificate").get_data(as_text=True)

    public = app.test_client().get(f"/certificates/{code}")
    page = public.get_data(as_text=True)
    main = page.split("<main", 1)[1]
    assert public.status_code == 200 and "Grace Hopper" in main and app.extensions["course"].title in main
    assert stored.completed_at.strftime("%d %B %Y") in main
    for private in ("grace@example.org", "score", "%", "attempt"):
        assert private not in main.lower(), private
    assert '<meta name="robots" content="noindex">' in page


def test_verification_codes_are_random_not_derived_from_the_learner(app, make_user):
    """Two learners finishing at the same moment get unrelated codes; a code is none of their ids or emails."""
    from web.models import utcnow  # noqa: PLC0415 - one timestamp for both

    now = utcnow()
    a, b = make_user(display_name="A"), make_user(display_name="B")
    code_a, code_b = certificates.ensure(a, now).code, certificates.ensure(b, now).code
    # The same learner and moment again gives another code: nothing about the learner or the time decides it.
    again = certificates.reissue(a, now).code
    assert len({code_a, code_b, again}) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", c) for c in (code_a, code_b, again))  # 144 random bits
    assert certificates.verify(code_a) is None and certificates.verify(again).user_id == a.id
    assert certificates.verify("x" * 200) is None and certificates.verify("") is None


def test_learner_withdraws_and_reissues_the_public_page(app, client, make_user, make_attempt, login):
    """Withdraw: the code is a 404 for good and no new one appears by itself; re-issue: a new code, old one dead."""
    user = make_user(display_name="Wendy Withdraw")
    login(user)
    finish_course(app, make_attempt, user)
    html = client.get("/progress/certificate").get_data(as_text=True)
    (first,) = set(re.findall(r"/certificates/([A-Za-z0-9_-]+)", html))
    anonymous = app.test_client()
    assert anonymous.get(f"/certificates/{first}").status_code == 200

    withdrawn = post_form(client, "/progress/certificate/link", {"action": "withdraw"},
                          page_url="/progress/certificate", follow_redirects=True)
    after = withdrawn.get_data(as_text=True)
    assert "public page of your certificate is withdrawn" in after and "/certificates/" not in after
    unknown = anonymous.get("/certificates/no-such-code")
    gone = anonymous.get(f"/certificates/{first}")
    assert gone.status_code == unknown.status_code == 404
    assert "/certificates/" not in client.get("/progress/certificate").get_data(as_text=True)

    reissued = post_form(client, "/progress/certificate/link", {"action": "issue"}, page_url="/progress/certificate",
                         follow_redirects=True).get_data(as_text=True)
    (second,) = set(re.findall(r"/certificates/([A-Za-z0-9_-]+)", reissued))
    assert second != first
    assert anonymous.get(f"/certificates/{second}").status_code == 200
    assert anonymous.get(f"/certificates/{first}").status_code == 404
    live = db.session.scalars(select(Certificate).where(Certificate.user_id == user.id,
                                                        Certificate.withdrawn_at.is_(None))).all()
    assert [c.code for c in live] == [second]
    exported = accounts.export_data(user)["certificates"]
    assert [(c["code"], c["withdrawn_at"] is None) for c in exported] == [(first, False), (second, True)]


def test_certificate_actions_need_a_finished_course_and_a_token(app, client, make_user, make_attempt, login):
    """An unfinished learner cannot make a page; a POST without a CSRF token changes nothing."""
    user = make_user()
    login(user)
    assert post_form(client, "/progress/certificate/link", {"action": "issue"},
                     page_url="/account").status_code == 403
    finish_course(app, make_attempt, user)
    client.get("/progress/certificate")
    assert client.post("/progress/certificate/link", data={"action": "withdraw"}).status_code == 400
    assert certificates.current(user) is not None


# -------------------------------------------------------------------------------------- password reset


def ask_reset(client, email):
    """Post the forgot-password form for an address."""
    return post_form(client, "/password/forgot", {"email": email})


def test_forgot_password_answers_alike_whether_or_not_the_email_has_an_account(app, client, make_user):
    """Same page for both; the account's owner gets a link, the unknown address a note with no link."""
    make_user(email="known@example.org")
    known = ask_reset(client, "known@example.org").get_data(as_text=True)
    unknown = ask_reset(client, "nobody@example.org").get_data(as_text=True)
    strip = re.compile(r'name="csrf_token"[^>]*value="[^"]+"')

    def same(html):
        """The page without its CSRF token and with the address blanked out."""
        return strip.sub("", html).replace("known@example.org", "X").replace("nobody@example.org", "X")

    assert same(known) == same(unknown) and "Check your email" in known
    assert reset_path(app, "known@example.org").startswith("/password/reset/")
    (note,) = [m for m in sent_mail(app) if "nobody@example.org" in m.to]
    assert "no account with this address" in note.body and "/password/reset/" not in note.body


def test_reset_link_sets_a_new_password_ends_every_session_and_works_once(app, client, make_user, login):
    """The link shows a form; the new password works, the old one and every old session do not; the link is spent."""
    user = make_user(email="reset@example.org")
    other_device = app.test_client()
    login_as(other_device, user)
    assert other_device.get("/progress").status_code == 200
    ask_reset(client, "reset@example.org")
    link = reset_path(app, "reset@example.org")
    page = client.get(link)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    mismatch = post_form(client, link, {"new": NEW_PASSWORD, "confirm": "something else"})
    assert mismatch.status_code == 400 and "do not match" in mismatch.get_data(as_text=True)
    done = post_form(client, link, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, follow_redirects=True)
    assert "Your password has been changed" in done.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(NEW_PASSWORD) and not user.check_password(TEST_PASSWORD)
    assert other_device.get("/progress").status_code == 302  # the old session is over
    assert accounts.authenticate("reset@example.org", NEW_PASSWORD) is not None
    again = client.get(link)
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    replay = post_form(client, link, {"new": "yet another passphrase", "confirm": "yet another passphrase"},
                       page_url="/password/forgot")
    assert replay.status_code == 400
    db.session.refresh(user)
    assert user.check_password(NEW_PASSWORD)


def test_a_reset_link_dies_when_the_password_changes_another_way(app, client, make_user, login):
    """Changing the password on the account page spends any reset link sent before."""
    user = make_user(email="change@example.org")
    ask_reset(client, "change@example.org")
    link = reset_path(app, "change@example.org")
    accounts.change_password(user, TEST_PASSWORD, NEW_PASSWORD)
    assert client.get(link).status_code == 400


def test_an_expired_or_tampered_reset_link_says_so(app, client, make_user, monkeypatch):
    """After an hour the link is refused as expired; a changed one as not valid; nothing changes."""
    user = make_user(email="late@example.org")
    ask_reset(client, "late@example.org")
    link = reset_path(app, "late@example.org")
    tampered = client.get(link[:-2] + ("ab" if not link.endswith("ab") else "cd"))
    assert tampered.status_code == 400 and "not valid" in tampered.get_data(as_text=True)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + accounts.RESET_MAX_AGE + 60)
    expired = client.get(link)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(TEST_PASSWORD)


def test_a_registration_link_is_no_reset_link(app, client, make_user):
    """The two kinds of signed link have their own salts: one cannot stand in for the other."""
    user = make_user()
    token = accounts.confirmation_token(user)
    response = client.get(f"/password/reset/{token}")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert "p" not in accounts._read_signed(accounts.CONFIRM_SALT, token, 60, expired="", invalid="")


def test_the_reset_token_does_not_carry_the_password_hash(app, make_user):
    """itsdangerous payloads are readable: only a digest of the hash goes in."""
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    user = make_user()
    payload = accounts.reset_token(user).split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"u", "v", "p"} and data["p"] not in user.password_hash and len(data["p"]) == 16


def test_reset_also_confirms_a_waiting_address(app, client):
    """A reset link reaches the mailbox as a registration link would, so an unconfirmed account is confirmed."""
    waiting = User(email="waiting@example.org", role="learner")
    waiting.set_password(TEST_PASSWORD)
    db.session.add(waiting)
    db.session.commit()
    ask_reset(client, "waiting@example.org")
    post_form(client, reset_path(app, "waiting@example.org"), {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    db.session.refresh(waiting)
    assert waiting.email_confirmed_at is not None and waiting.check_password(NEW_PASSWORD)


def test_forgot_password_is_rate_limited_per_email_and_keeps_answering_in_words(app, client, make_user):
    """Past the per-email limit the form comes back with a 429 and a message, and no more mail goes out."""
    make_user(email="flood@example.org")
    for _ in range(3):
        assert ask_reset(client, "flood@example.org").status_code == 200
    refused = ask_reset(client, "flood@example.org")
    assert refused.status_code == 429 and "Too many password-reset requests" in refused.get_data(as_text=True)
    assert len([m for m in sent_mail(app) if "flood@example.org" in m.to]) == 3
    assert ask_reset(client, "someone-else@example.org").status_code == 200


def test_forgot_password_refuses_a_malformed_address_by_name(client):
    """Not an email: the form says so and sends nothing."""
    response = ask_reset(client, "not an email")
    assert response.status_code == 400 and "Email address:" in response.get_data(as_text=True)


def test_certificate_dates_are_in_the_site_time_zone(app, client, make_user):
    """A course finished late on 1 December UTC was finished on 2 December where the site is (UTC+14)."""
    from datetime import UTC, datetime  # noqa: PLC0415 - only this test builds a time by hand

    user = make_user(display_name="Late Finisher")
    certificate = certificates.ensure(user, datetime(2026, 12, 1, 12, 30, tzinfo=UTC))
    app.config["SITE_TIMEZONE"] = "Pacific/Kiritimati"
    main = client.get(f"/certificates/{certificate.code}").get_data(as_text=True).split("<main", 1)[1]
    assert "02 December 2026" in main and "01 December 2026" not in main
