"""Accounts: register, log in and out, name, change or reset a password, download or delete your data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from web.core import CSRF_EXPIRED_MESSAGE, csrf_recovery
from web.extensions import limiter
from web.forms import (
    ActionForm,
    ChangePasswordForm,
    DeleteAccountForm,
    DisplayNameForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
)
from web.security import is_safe_next
from web.services import accounts
from web.services import cohorts as cohort_svc

bp = Blueprint("auth", __name__)


def _login_rate_key() -> str:
    """Rate-limit logins per client address and email, so one attacker cannot lock out everyone."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"login:{request.remote_addr}:{email}"


def _address_rate_key() -> str:
    """Rate-limit logins per client address across every email (password spraying: one password, many accounts)."""
    return f"login-address:{request.remote_addr}"


def _login_limit() -> str:
    """Return the configured login limit per address and email (LOGIN_RATE_LIMIT, e.g. '10/minute')."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    """Return the configured login limit per address (LOGIN_ADDRESS_RATE_LIMIT, e.g. '60/minute;300/hour')."""
    return current_app.config["LOGIN_ADDRESS_RATE_LIMIT"]


def _refuse_login(error: str) -> Callable[[Any], Response]:
    """Build a breach answer: the login form again (email kept) with `error` and a 429, not a bare error page."""

    def breached(_limit: Any) -> Response:
        """Render the login form with the error."""
        form = LoginForm()
        form.password.data = ""
        html = render_template("auth/login.html", form=form, next=request.args.get("next", ""), error=error)
        return Response(html, status=429)

    return breached


def _forget_failed_logins() -> None:
    """Clear this address and email's count after a successful login, so the limit counts failures since then.

    Every attempt is counted before its password is checked (a failure could only be counted afterwards, which let
    parallel guesses all pass the check first); this is what keeps a learner who logs in often from locking out.
    The per-address count is not cleared: one good password must not wipe out a spray of bad ones.
    """
    limiter.forget(_login_rate_key())


def _after_login_target() -> str:
    """Return where to go after logging in: a safe local `next`, else where the role's work is."""
    target = request.args.get("next") or request.form.get("next")
    if is_safe_next(target):
        return target
    # An admin manages users, an instructor follows their cohorts; a learner continues the course.
    if current_user.is_authenticated and current_user.is_admin:
        return url_for("admin.index")
    if current_user.is_authenticated and current_user.is_instructor:
        return url_for("instructor.index")
    return url_for("progress.overview")


_FAILED = object()  # what submit_to returns when the form did not validate or the operation refused


def submit_to(form: Any, field: Any, operation: Callable[[], Any]) -> Any:
    """Validate a posted form and run one account operation: its result, or _FAILED (a refusal is `field`'s error)."""
    if not form.validate_on_submit():
        return _FAILED
    try:
        return operation()
    except accounts.AccountError as exc:
        field.errors.append(str(exc))
        return _FAILED


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def register() -> str | BaseResponse:
    """Start a learner account: the link that finishes it goes to the email, whoever owns that address."""
    if current_user.is_authenticated:
        return redirect(url_for("progress.overview"))
    form = RegisterForm()
    target = request.args.get("next")
    email = submit_to(form, form.email, lambda: accounts.register_learner(
        form.email.data, form.password.data, form.display_name.data,
        next_path=target if is_safe_next(target) else None))
    if email is not _FAILED:
        session["registered_email"] = email
        return redirect(url_for("auth.register_sent"))
    return render_template("auth/register.html", form=form)


@bp.route("/register/sent")
def register_sent() -> str | BaseResponse:
    """Tell the person to check their email; the same page whether or not the address had an account."""
    email = session.get("registered_email")
    if not email:
        return redirect(url_for("auth.register"))
    return render_template("auth/register_sent.html", email=email)


def _emailed_link_page(template: str, form: FlaskForm, check: Callable[[], Any],
                       act: Callable[[], BaseResponse]) -> str | BaseResponse | tuple[str, int]:
    """The page of an emailed link: `act` on a valid post, else the form while `check` finds the link good.

    A link that is broken, expired or used already (an `AccountError` from either) is a 400 with the reason and no
    form; a posted form that is not valid is shown again with a 400.
    """
    try:
        if form.validate_on_submit():
            return act()
        check()
    except accounts.AccountError as exc:
        return render_template(template, form=None, error=str(exc)), 400
    return render_template(template, form=form, error=None), 400 if form.is_submitted() else 200


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def confirm_email(token: str) -> str | BaseResponse | tuple[str, int]:
    """Confirm an email from its registration link: a button, so a mail scanner opening the link confirms nothing."""

    def confirm() -> BaseResponse:
        """Confirm the email, log the person in and go on where they were going."""
        user, target = accounts.confirm_email(token)
        session.pop("registered_email", None)
        login_user(user)
        flash("Your email is confirmed and your account is ready. Welcome!", "success")
        return redirect(target if is_safe_next(target) else url_for("progress.overview"))

    # ActionForm holds only its CSRF token, which CSRFProtect checks before the view: a confirm post always validates.
    return _emailed_link_page("auth/confirm_email.html", ActionForm(), lambda: accounts.confirmable(token), confirm)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, key_func=_address_rate_key, methods=["POST"], on_breach=_refuse_login(
    "Too many login attempts from your network. Please wait a few minutes and try again."))
@limiter.limit(_login_limit, key_func=_login_rate_key, methods=["POST"], on_breach=_refuse_login(
    "Too many failed attempts for this email. Please wait a minute and try again."))
def login() -> str | BaseResponse:
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(_after_login_target())
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None and user.email_confirmed_at is None:
            # Only someone who knows the password learns this, so it reveals nothing about who has an account.
            accounts.send_confirmation(user)
            return render_template("auth/login.html", form=form, next=request.args.get("next", ""),
                                   error=f"Confirm your email address first: we have sent the link to {user.email} "
                                         "again.")
        if user is not None:
            _forget_failed_logins()
            login_user(user, remember=form.remember.data)
            flash(f"You are logged in as {user.email}.", "success")
            return redirect(_after_login_target())
        # One message for both cases, so the form does not reveal which emails have accounts.
        error = "The email address or password is not correct."
    return render_template("auth/login.html", form=form, error=error, next=request.args.get("next", ""))


@csrf_recovery(bp, "login")
def login_with_expired_token() -> tuple[str, int]:
    """Re-show the login form with the email kept when its CSRF token had expired."""
    # A new form object carries a fresh token; the posted email is kept, the password is not echoed back.
    form = LoginForm()
    form.password.data = ""
    return render_template("auth/login.html", form=form, error=CSRF_EXPIRED_MESSAGE,
                           next=request.args.get("next", "")), 400


@csrf_recovery(bp, "register")
def register_with_expired_token() -> tuple[str, int]:
    """Re-show the registration form with the name and email kept when its CSRF token had expired."""
    form = RegisterForm()
    form.password.data = form.confirm.data = ""
    return render_template("auth/register.html", form=form, error=CSRF_EXPIRED_MESSAGE), 400


@bp.post("/logout")
def logout() -> BaseResponse:
    """Log out: every login cookie of the account stops working, including any copy of this one."""
    form = ActionForm()
    if form.validate_on_submit():
        # Sessions live in signed cookies, so dropping the user id from this browser's cookie would leave a copied
        # cookie valid; bumping the session version is the only server-side switch that really ends it.
        if current_user.is_authenticated:
            accounts.end_all_sessions(current_user)
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("learn.course_page"))


def account_page(password_form: ChangePasswordForm | None = None, delete_form: DeleteAccountForm | None = None,
                 name_form: DisplayNameForm | None = None, status: int = 200) -> tuple[str, int]:
    """Render the account page, re-showing whichever form had errors."""
    # An instructor deleting their account leaves their cohorts without an owner: say so before they confirm.
    owned = cohort_svc.owned_count(current_user) if current_user.is_instructor else 0
    return render_template("auth/account.html", password_form=password_form or ChangePasswordForm(),
                           delete_form=delete_form or DeleteAccountForm(), action_form=ActionForm(),
                           name_form=name_form or DisplayNameForm(display_name=current_user.display_name),
                           owned_cohorts=owned), status


@bp.get("/account")
@login_required
def account() -> tuple[str, int]:
    """Show the account page: password, data download, sessions, deletion."""
    return account_page()


@bp.post("/account/name")
@login_required
def display_name() -> tuple[str, int] | BaseResponse:
    """Set or change the display name; go back to a safe `next` (the certificate asks for it) or the account page."""
    form = DisplayNameForm()
    name = submit_to(form, form.display_name, lambda: accounts.set_display_name(current_user, form.display_name.data))
    if name is not _FAILED:
        flash(f"Your name is now shown as “{name}”.", "success")
        target = form.next.data
        return redirect(target if is_safe_next(target) else url_for("auth.account"))
    if form.next.data == url_for("progress.certificate"):
        return render_template("progress/certificate_name.html", form=form), 400
    return account_page(name_form=form, status=400)


@bp.post("/account/password")
@login_required
def change_password() -> tuple[str, int] | BaseResponse:
    """Change the password; every other session is logged out."""
    form = ChangePasswordForm()
    if submit_to(form, form.current, lambda: accounts.change_password(current_user, form.current.data,
                                                                      form.new.data)) is not _FAILED:
        # The session version changed, so log this browser in again with the new one.
        login_user(current_user._get_current_object())
        flash("Your password has been changed. Other devices have been logged out.", "success")
        return redirect(url_for("auth.account"))
    return account_page(password_form=form, status=400)


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere() -> BaseResponse:
    """End every session of this account, including this one."""
    form = ActionForm()
    if form.validate_on_submit():
        accounts.end_all_sessions(current_user)
        logout_user()
        flash("You have been logged out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account/export")
@login_required
def export() -> Response:
    """Download everything stored about you, as JSON."""
    data = accounts.export_data(current_user)
    response = Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-course-data.json"'
    return response


@bp.post("/account/delete")
@login_required
def delete_account() -> tuple[str, int] | BaseResponse:
    """Delete the account and all its data after the password is confirmed."""
    form = DeleteAccountForm()
    if submit_to(form, form.password, lambda: accounts.delete_account(current_user._get_current_object(),
                                                                      form.password.data)) is not _FAILED:
        logout_user()
        flash("Your account and everything stored about you have been deleted.", "info")
        return redirect(url_for("learn.course_page"))
    return account_page(delete_form=form, status=400)


def _reset_rate_key() -> str:
    """Count password-reset requests per email asked about, so nobody floods one mailbox."""
    return f"reset:{(request.form.get('email') or '').strip().lower()[:254]}"


def _reset_address_key() -> str:
    """Count password-reset requests per client address across every email."""
    return f"reset-address:{request.remote_addr}"


def _refuse_reset(_limit: Any) -> Response:
    """Answer a reset request past its limit with the form again, saying to wait, and a 429."""
    html = render_template("auth/forgot.html", form=ForgotPasswordForm(), sent_to=None,
                           error="Too many password-reset requests. Please wait an hour and try again.")
    return Response(html, status=429)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_ADDRESS_RATE_LIMIT"], key_func=_reset_address_key,
               methods=["POST"], on_breach=_refuse_reset)
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], key_func=_reset_rate_key, methods=["POST"],
               on_breach=_refuse_reset)
def forgot_password() -> str | tuple[str, int]:
    """Ask for a password-reset email; the answer is the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    email = submit_to(form, form.email, lambda: accounts.request_password_reset(form.email.data))
    if email is not _FAILED:
        return render_template("auth/forgot.html", form=None, sent_to=email, error=None)
    status = 400 if form.is_submitted() else 200
    return render_template("auth/forgot.html", form=form, sent_to=None, error=None), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def reset_password(token: str) -> str | BaseResponse | tuple[str, int]:
    """Choose a new password from an emailed link; every session of the account ends, then log in with it."""
    form = ResetPasswordForm()

    def reset() -> BaseResponse:
        """Set the new password, end every session of the account and send the person to log in."""
        user = accounts.reset_password(token, form.new.data)
        if current_user.is_authenticated:
            logout_user()
        flash(f"Your password has been changed and every device logged out. Log in as {user.email} with the "
              "new password.", "success")
        return redirect(url_for("auth.login"))

    return _emailed_link_page("auth/reset.html", form, lambda: accounts.resettable(token), reset)
