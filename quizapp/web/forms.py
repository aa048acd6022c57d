"""Flask-WTF forms: CSRF-protected, with server-side validation of every field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange


class RegisterForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(min=3, max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Remember me")
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=10, max=200)]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired(),
            EqualTo("new_password", message="The passwords do not match."),
        ],
    )
    # A password change usually means the old one may be known to someone else; their
    # tokens would outlive the change otherwise.
    revoke_tokens = BooleanField("Also revoke all my API tokens", default=True)


class RetentionForm(FlaskForm):
    desired_retention = DecimalField(
        "Desired retention",
        places=2,
        validators=[DataRequired(), NumberRange(min=0.7, max=0.99)],
    )


NEVER = "never"
TOKEN_LIFETIME_CHOICES = [
    SelectChoice("7", "in 7 days"),
    SelectChoice("30", "in 30 days"),
    SelectChoice("90", "in 90 days"),
    SelectChoice("365", "in a year"),
    SelectChoice(NEVER, "never (until revoked)"),
]


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=80)])
    expires_in_days = SelectField("Expires", choices=TOKEN_LIFETIME_CHOICES, default="90")

    def lifetime_days(self) -> int | None:
        """The chosen lifetime in days; None for a token that never expires."""
        return None if self.expires_in_days.data == NEVER else int(self.expires_in_days.data)


class ConfirmForm(FlaskForm):
    """A button that only needs CSRF protection (log out, revoke)."""


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired()])
