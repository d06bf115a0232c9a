"""WTForms classes for every form of the site (each carries its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from web.inputs import whole_number
from web.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from web.services.cohorts import MAX_ANNOUNCEMENT_LENGTH, MAX_NAME_LENGTH

# A join code is 9 characters; anything much longer is not one, and is not echoed back in full.
MAX_CODE_INPUT = 40


def _text(value: str | None) -> str:
    """A posted text field as the services take it: missing is empty."""
    return value or ""


def _code(value: str | None) -> str:
    """A posted join code, cut to MAX_CODE_INPUT characters."""
    return (value or "")[:MAX_CODE_INPUT]


def _row_id(value: str | None) -> int | None:
    """A posted row id (`whole_number`), or None when it is missing or not one."""
    try:
        return whole_number(value or "")
    except ValueError:
        return None


PASSWORD_RULE = f"At least {MIN_PASSWORD_LENGTH} characters."
PASSWORD_LENGTH = Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                         message=f"The password must be at least {MIN_PASSWORD_LENGTH} characters long "
                                 f"(and at most {MAX_PASSWORD_LENGTH}).")


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    remember = BooleanField("Keep me logged in on this device")


class RegisterForm(FlaskForm):
    """A new learner account."""

    display_name = StringField("Your name", validators=[Optional(), Length(max=100)],
                               description="Shown to your instructor if you join a cohort. Optional.")
    email = EmailField("Email address", validators=[DataRequired(),
                                                    Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), PASSWORD_LENGTH],
                             description=PASSWORD_RULE)
    confirm = PasswordField("Repeat the password", validators=[DataRequired(), EqualTo("password",
                                                               message="The two passwords do not match.")])


class ChangePasswordForm(FlaskForm):
    """Current password and a new one."""

    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), PASSWORD_LENGTH],
                        description=PASSWORD_RULE)
    confirm = PasswordField("Repeat the new password", validators=[DataRequired(), EqualTo(
        "new", message="The two new passwords do not match.")])


class DeleteAccountForm(FlaskForm):
    """Password confirmation before deleting an account for good."""

    # Own ids: the account page also holds ChangePasswordForm, whose `confirm` would take this label's for="confirm"
    # (the tick box then had no name for screen readers, and clicking its text did not tick it).
    password = PasswordField("Your password", validators=[DataRequired()], id="delete-password")
    confirm = BooleanField("I understand that my account, progress and answers will be deleted for good",
                           validators=[InputRequired(message="Tick the box to confirm.")], id="delete-confirm")


class ActionForm(FlaskForm):
    """A button-only form (log out, log out everywhere): just the CSRF token."""


class ExerciseForm(FlaskForm):
    """The fixed part of an exercise form; the answer fields depend on the exercise type."""

    idempotency_key = HiddenField()


class DisplayNameForm(FlaskForm):
    """The learner's name as rosters and the certificate show it."""

    display_name = StringField("Your name", validators=[DataRequired(message="Type your name."), Length(max=100)],
                               description="As it should appear on your certificate. Up to 100 characters.")
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    """The email address of the account whose password was forgotten."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    """A new password, chosen from an emailed reset link."""

    new = PasswordField("New password", validators=[DataRequired(), PASSWORD_LENGTH], description=PASSWORD_RULE)
    confirm = PasswordField("Repeat the new password", validators=[DataRequired(), EqualTo(
        "new", message="The two new passwords do not match.")])


class CohortSettingsForm(FlaskForm):
    """A cohort's name, due date and announcement, edited by its instructor."""

    name = StringField("Cohort name", validators=[DataRequired(message="Give the cohort a name."),
                                                  Length(max=MAX_NAME_LENGTH)])
    due_on = DateField("Due date", validators=[Optional()],
                       description="Optional. Learners see it on their progress page; those not finished by the end "
                                   "of that day are marked overdue on the roster.")
    announcement = TextAreaField(
        "Announcement", validators=[Optional(), Length(max=MAX_ANNOUNCEMENT_LENGTH)],
        description=f"Optional, up to {MAX_ANNOUNCEMENT_LENGTH:,} characters. Shown to the cohort's learners on their "
                    "progress page. Markdown works: *emphasis*, **bold**, lists and links; HTML is removed.")
class AppealForm(FlaskForm):
    """A learner's appeal of one attempt: why they think it was graded wrong."""

    reason = TextAreaField("Why do you think this was graded wrong?",
                           validators=[DataRequired(message="Say in a sentence or two why."),
                                       Length(max=500, message="At most 500 characters.")],
                           description="Up to 500 characters. One appeal per attempt.")


class DecisionForm(FlaskForm):
    """A reviewer's decision on one attempt: keep the grade, or override it with a verdict, a score and a comment."""

    action = RadioField("Decision", choices=[SelectChoice("keep", "Keep the grade"),
                                                  SelectChoice("override", "Override the grade")],
                        default="keep", validators=[InputRequired(message="Choose to keep or to override.")])
    passed = RadioField("Passed", choices=[SelectChoice("yes", "Passed"), SelectChoice("no", "Not passed")],
                        validate_choice=False)
    score = StringField("Score (0 to 100)", validators=[Optional(), Length(max=10)])
    comment = TextAreaField("Comment for the learner", validators=[Optional(), Length(max=1000)],
                            description="The learner sees this on their attempt page. Up to 1000 characters.")


class JoinForm(FlaskForm):
    """A learner's join code for a cohort (the service says what is wrong with a bad one)."""

    code = StringField("Join code", filters=[_code])


class NewCohortForm(FlaskForm):
    """The name of a new cohort (the service refuses an empty or too long one, in words)."""

    name = StringField("Cohort name", filters=[_text])


class SwitchForm(FlaskForm):
    """A button that turns a cohort setting on or off: archived=1/0 (archive) or open=1/0 (joining)."""

    archived = HiddenField(filters=[_text])
    open = HiddenField(filters=[_text])


class RoleForm(FlaskForm):
    """An admin's choice of role for one user, with the list's search to go back to."""

    role = StringField("Role", filters=[_text])
    q = HiddenField(filters=[_text])


class OwnerForm(FlaskForm):
    """An admin's choice of a cohort's new owner."""

    owner_id = StringField("Give this cohort to", filters=[_row_id])
