"""Sign-up, log-in, log-out and the account page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from quizapp.extensions import csrf, limiter, login_manager
from quizapp.models.base import utcnow
from quizapp.services import accounts
from quizapp.services import learning as learning_service
from quizapp.services.errors import ServiceError
from quizapp.web import session_answers
from quizapp.web.errors import error_response, wants_json
from quizapp.web.forms import (
    ChangePasswordForm,
    ConfirmForm,
    DeleteAccountForm,
    LoginForm,
    RegisterForm,
    RetentionForm,
    TokenForm,
)
from quizapp.web.login_throttle import claim_password_check, password_check_passed
from quizapp.web.question_page import has_session_cookie
from quizapp.web.return_to import safe_local_url

auth = Blueprint("auth", __name__)

REGISTRATION_LIMIT = "10 per hour"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
COOKIELESS_ENDPOINTS = {"learning.answer"}


API_PREFIX = "/api/"
INVALID_CREDENTIALS = (
    "The Authorization header does not authenticate: send 'Authorization: Bearer <token>' "
    "with an active, unexpired API token, or no Authorization header at all."
)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def init_auth(app: Flask) -> None:
    """Wire Flask-Login (session or API token) and CSRF on every state-changing request."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token: str):
        return accounts.load_session_user(session_token)

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, "Sign in, or send an API token as 'Authorization: Bearer'.")
        flash(login_manager.login_message, "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.before_request
    def authenticate_api_token():
        # On the API an Authorization header is the whole credential: a valid token signs the
        # request in (a session cookie sent alongside is ignored), anything else is a 401.
        # Never "skip the CSRF check because a header is there, then fall back to the
        # cookie": that would let a forged request ride on the victim's session.
        if not request.path.startswith(API_PREFIX) or "Authorization" not in request.headers:
            return None
        token = _bearer_token()
        user = accounts.user_for_api_token(token) if token else None
        if user is None:
            response = app.make_response(error_response(401, INVALID_CREDENTIALS))
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        g._login_user = user  # Flask-Login's per-request user: the session is never consulted
        g.authenticated_by_token = True
        return None

    @app.before_request
    def protect_from_csrf():
        # CSRF rides on cookies. API calls signed in by a token, or with no cookie at all
        # (curl, an anonymous script), carry no ambient authority: nothing to forge.
        if not app.config["WTF_CSRF_ENABLED"] or request.method not in STATE_CHANGING:
            return
        if request.path.startswith(API_PREFIX) and (
            g.get("authenticated_by_token") or not has_session_cookie()
        ):
            return
        # An answer sent with no cookie is graded and never stored: nothing to forge. Log-in
        # and sign-up stay protected even then (login CSRF signs a victim into my account).
        if request.endpoint in COOKIELESS_ENDPOINTS and not has_session_cookie():
            return
        csrf.protect()


def _safe_next(target: str | None) -> str:
    return safe_local_url(target) or url_for("pages.catalog")


def _answers(count: int) -> str:
    return f"{count} answer{'' if count == 1 else 's'}"


@auth.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTRATION_LIMIT, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("pages.catalog"))
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.register_user(form.username.data, form.password.data)
        except ServiceError as error:
            (form[error.field].errors if error.field in form else form.form_errors).append(
                error.message
            )
            status = error.status_code
        else:
            unsaved = session_answers.take_unsaved()
            login_user(user)
            adopted = learning_service.adopt_answers(user, unsaved)
            kept = ""
            if adopted:
                kept = (
                    f" {_answers(adopted)} from this visit {'is' if adopted == 1 else 'are'} kept."
                )
            flash(f"Welcome, {user.username}! Your progress is now saved.{kept}", "success")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template(
        "auth/register.html", form=form, unsaved=session_answers.unsaved_count()
    ), status


@auth.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("pages.catalog"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        # Counted before the (slow) password check, atomically, per account and per address.
        claim_password_check(form.username.data)
        user = accounts.authenticate(form.username.data, form.password.data)
        if user is not None:
            password_check_passed(form.username.data)
            unsaved = session_answers.take_unsaved()
            login_user(user, remember=bool(form.remember.data))
            if learning_service.adopt_answers(user, unsaved):
                flash(
                    "The answers you gave before logging in are saved to your account.", "success"
                )
            return redirect(_safe_next(form.next.data))
        # One message whether the username exists or not: no account enumeration.
        form.form_errors.append("Wrong username or password.")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@auth.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Ends the session on the server: a copy of the cookies kept anywhere stops working.
        accounts.end_all_sessions(current_user)
    logout_user()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("pages.catalog"))


@auth.get("/logout")
def logout_page():
    return render_template("auth/logout.html", form=ConfirmForm())


@auth.route("/account", methods=["GET", "POST"])
@login_required
def account():
    action = request.form.get("action")
    # Only the submitted form reads the request: the others keep their defaults (the ticked
    # "revoke all my tokens" box would otherwise come back unticked after any other action).
    password_form = ChangePasswordForm(
        prefix="pw", **({} if action == "password" else {"formdata": None})
    )
    retention_form = RetentionForm(
        prefix="ret", desired_retention=round(current_user.desired_retention, 2)
    )
    token_form = TokenForm(prefix="tok")
    delete_form = DeleteAccountForm(prefix="del")
    new_token = None
    status = 200
    try:
        if action == "password" and password_form.validate_on_submit():
            revoked = accounts.change_password(
                current_user,
                password_form.current_password.data,
                password_form.new_password.data,
                revoke_tokens=bool(password_form.revoke_tokens.data),
            )
            # This device stays signed in with the new session token (and keeps remember-me if
            # it had it). The user object, not the proxy: a proxy would point at itself.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            login_user(current_user._get_current_object(), remember=remembered in request.cookies)
            flash("Password changed. Other devices have been signed out.", "success")
            if revoked:
                flash(f"{revoked} API token{'s' if revoked != 1 else ''} revoked.", "success")
            return redirect(url_for("auth.account"))
        if action == "retention" and retention_form.validate_on_submit():
            accounts.set_desired_retention(
                current_user, float(retention_form.desired_retention.data)
            )
            flash("Review settings saved.", "success")
            return redirect(url_for("auth.account"))
        if action == "token" and token_form.validate_on_submit():
            new_token = accounts.create_api_token(
                current_user, token_form.name.data, token_form.lifetime_days()
            )
        if action == "delete" and delete_form.validate_on_submit():
            if accounts.authenticate(current_user.username, delete_form.password.data) is None:
                delete_form.password.errors.append("The password is wrong.")
                status = 400
            else:
                accounts.delete_account(current_user)
                logout_user()
                flash("Your account and all its data have been deleted.", "info")
                return redirect(url_for("pages.catalog"))
    except ServiceError as error:
        flash(error.message, "error")
        status = error.status_code
    if request.method == "POST" and status == 200 and new_token is None:
        status = 400
    return render_template(
        "auth/account.html",
        password_form=password_form,
        retention_form=retention_form,
        token_form=token_form,
        delete_form=delete_form,
        revoke_form=ConfirmForm(prefix="rev"),
        new_token=new_token,
        tokens=sorted(
            (token for token in current_user.tokens if token.revoked_at is None),
            key=lambda token: token.created_at,
            reverse=True,
        ),
        now=utcnow(),
    ), status


@auth.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    accounts.revoke_api_token(current_user, token_id)
    flash("Token revoked.", "success")
    return redirect(url_for("auth.account"))
