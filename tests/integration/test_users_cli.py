"""`flask users create|set-role|list`: accounts from the command line."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import User
from quizapp.services.accounts import authenticate

PASSWORD = "correct horse battery"


def add_user(app, username: str, role: str = "learner") -> None:
    with app.app_context():
        db.session.add(
            User(username=username, username_key=username.lower(), password_hash="x", role=role)
        )
        db.session.commit()


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_create_reads_the_password_from_stdin_and_the_account_can_log_in(app, runner):
    result = runner.invoke(
        args=["users", "create", "Ada", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created admin 'Ada'." in result.output
    with app.app_context():
        user = authenticate("ada", PASSWORD)
        assert (user.username, user.role) == ("Ada", "admin")


def test_create_prompts_twice_without_echo_and_defaults_to_learner(app, runner):
    result = runner.invoke(args=["users", "create", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert "Created learner 'bob'." in result.output
    with app.app_context():
        assert db.session.scalar(select(User.role)) == "learner"


def test_create_stops_when_the_two_passwords_differ(app, runner):
    result = runner.invoke(args=["users", "create", "bob"], input=f"{PASSWORD}\nsomething else\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert user_count(app) == 0


def test_create_reports_a_taken_username_and_exits_1(app, runner):
    add_user(app, "ada")
    result = runner.invoke(args=["users", "create", "ADA", "--password-stdin"], input=PASSWORD)
    assert result.exit_code == 1
    assert "Error: That username is taken. Choose another." in result.output
    assert user_count(app) == 1


def test_create_reports_a_weak_password_and_a_bad_username(app, runner):
    weak = runner.invoke(args=["users", "create", "ada", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1
    assert "Error: Password must be at least 10 characters." in weak.output
    bad = runner.invoke(args=["users", "create", "a b", "--password-stdin"], input=PASSWORD)
    assert bad.exit_code == 1
    assert "Error: Username must be 3 to 40" in bad.output
    assert user_count(app) == 0


def test_create_refuses_an_unknown_role(app, runner):
    result = runner.invoke(
        args=["users", "create", "ada", "--role", "root", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 2
    assert "'root' is not one of 'learner', 'author', 'admin'" in result.output
    assert user_count(app) == 0


def test_set_role_changes_the_role(app, runner):
    add_user(app, "ada")
    result = runner.invoke(args=["users", "set-role", "Ada", "author"])
    assert result.exit_code == 0, result.output
    assert "'ada' is now author." in result.output
    with app.app_context():
        assert db.session.scalar(select(User.role)) == "author"


def test_set_role_reports_an_unknown_user_or_role_and_exits_1(app, runner):
    add_user(app, "ada")
    missing = runner.invoke(args=["users", "set-role", "nobody", "admin"])
    assert missing.exit_code == 1
    assert "Error: No user 'nobody'." in missing.output
    bad_role = runner.invoke(args=["users", "set-role", "ada", "superuser"])
    assert bad_role.exit_code == 1
    assert "Error: Role must be one of learner, author, admin." in bad_role.output
    with app.app_context():
        assert db.session.scalar(select(User.role)) == "learner"


def test_list_prints_a_table_of_username_role_and_creation(app, runner):
    assert runner.invoke(args=["users", "list"]).output == "No users.\n"
    add_user(app, "zed", role="admin")
    add_user(app, "amelia-long-name")
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["username", "role", "created"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert [row[:2] for row in rows] == [["amelia-long-name", "learner"], ["zed", "admin"]]
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row[2])
    assert lines[0].index("role") == lines[1].index("learner") == lines[2].index("admin")


def test_sign_out_ends_every_session_and_can_revoke_every_token(app, runner):
    from quizapp.services.accounts import create_api_token, user_for_api_token

    add_user(app, "Ada")
    add_user(app, "bob")
    with app.app_context():
        ada, bob = (
            db.session.scalar(select(User).where(User.username == n)) for n in ("Ada", "bob")
        )
        tokens = {name: (user.session_token, create_api_token(user, "cli").secret)
                  for name, user in (("ada", ada), ("bob", bob))}  # fmt: skip

    kept = runner.invoke(args=["users", "sign-out", "ada"])
    assert kept.exit_code == 0, kept.output
    assert kept.output.strip() == "'Ada' is signed out everywhere."
    revoked = runner.invoke(args=["users", "sign-out", "ADA", "--revoke-tokens"])
    assert revoked.output.strip() == "'Ada' is signed out everywhere. 1 API token revoked."
    with app.app_context():
        ada, bob = (
            db.session.scalar(select(User).where(User.username == n)) for n in ("Ada", "bob")
        )
        assert ada.session_token != tokens["ada"][0]
        assert bob.session_token == tokens["bob"][0]
        assert user_for_api_token(tokens["ada"][1]) is None
        assert user_for_api_token(tokens["bob"][1]) == bob

    missing = runner.invoke(args=["users", "sign-out", "nobody"])
    assert missing.exit_code == 1
    assert "Error: No user 'nobody'." in missing.output
    assert "Traceback" not in missing.output
