"""The export holds everything about me (issue 11, item 8), and account deletion removes it.

Exercise and lab runs, predictions and settings used to be missing from both exports. The
export and deletion now walk one registry of personal tables (services/personal_data.py),
row by row and column by column; the tests below fail when a table with a `user_id` column
or a column of such a table is left out, and when a secret leaks into the file.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import EXERCISE_SLUG, make_app, write_exercise
from sec_support import sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Base, ScheduleFit, SimRun, User
from quizapp.services.accounts import (
    create_api_token,
    delete_account,
    revoke_api_token,
    set_desired_retention,
)
from quizapp.services.content_import import import_content
from quizapp.services.learning import submit_answer
from quizapp.services.personal_data import (
    ACCOUNT_WITHHELD,
    ALWAYS_WITHHELD,
    PERSONAL_TABLES,
    personal_table_names,
)
from quizapp.services.reports import report_problem
from quizapp.services.simulations import start_exercise_run, start_lab_run

LAB_CONFIG = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16, "activation": "relu"}


def wait_for_runs(app) -> None:
    deadline = time.monotonic() + 120  # a bound on starting a worker, not a timing check
    with app.app_context():
        while db.session.scalar(
            select(func.count()).where(SimRun.status.in_(("queued", "running")))
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
            db.session.expire_all()


@pytest.fixture
def learner(tmp_path, content_dir):
    """A learner who did a bit of everything: answers, a card, tokens, an exercise run with a
    prediction, a lab run, a problem report, a schedule fit and a changed setting; and another
    learner."""
    write_exercise(content_dir)
    app = make_app(f"sqlite:///{tmp_path / 'export.sqlite'}")
    with app.app_context():
        import_content(content_dir)
    client = app.test_client()
    assert sign_up(client, "exporter").status_code == 302
    assert sign_up(app.test_client(), "bystander").status_code == 302
    with app.app_context():
        me, other = (
            db.session.scalar(select(User).where(User.username_key == name))
            for name in ("exporter", "bystander")
        )
        submit_answer(me, "alpha", 0, 1)
        submit_answer(other, "beta", 0, 1)
        secret = create_api_token(me, "laptop", expires_in_days=30).secret
        revoke_api_token(me, create_api_token(me, "old phone").token.id)
        set_desired_retention(me, 0.85)
        start_exercise_run(me, EXERCISE_SLUG, {"init": "xavier_normal"}, prediction="healthy")
        start_lab_run(me, LAB_CONFIG)
        start_lab_run(other, {**LAB_CONFIG, "depth": 5})
        report_problem(me, "question", "alpha", "typo", "A typo in the prompt.")
        # A fitted schedule (the fit itself needs 512 spaced reviews; its row is what counts).
        db.session.add(ScheduleFit(id="export-fit", user_id=me.id, version=1, status="failed",
                                   error="Too few reviews."))  # fmt: skip
        db.session.commit()
    wait_for_runs(app)
    yield {"app": app, "client": client, "secret": secret}
    with app.app_context():
        db.engine.dispose()


def both_exports(learner) -> list[dict]:
    page = learner["client"].get("/account/export")
    api = (
        learner["app"]
        .test_client()
        .get("/api/v1/me/export", headers={"Authorization": f"Bearer {learner['secret']}"})
    )
    assert page.status_code == api.status_code == 200
    return [json.loads(page.get_data(as_text=True)), api.get_json()]


def test_every_table_with_a_user_id_is_in_the_registry():
    """A new table that stores something per user must be exported and deleted with the rest."""
    registered = {table.model.__tablename__ for table in PERSONAL_TABLES}
    assert personal_table_names() == registered
    assert {"attempts", "review_cards", "api_tokens", "sim_runs"} <= registered


def test_both_exports_hold_runs_predictions_and_settings(learner):
    for export in both_exports(learner):
        assert export["account"]["desired_retention"] == 0.85
        runs = export["simulation_runs"]
        assert [(run["exercise"], run["status"]) for run in runs] == [
            (EXERCISE_SLUG, "done"),
            (None, "done"),
        ]
        exercise_run, lab_run = runs
        assert exercise_run["choices"] == {"init": "xavier_normal"}
        assert (exercise_run["prediction"], exercise_run["passed"]) == ("healthy", True)
        assert exercise_run["prediction_correct"] is True
        assert lab_run["config"]["depth"] == 4 and lab_run["run"]
        assert {run["config"].get("depth") for run in runs} != {5}  # not the bystander's
        assert [a["question"] for a in export["attempts"]][0] == "alpha"
        assert all(a["question"] != "beta" for a in export["attempts"])
        tokens = {token["name"]: token for token in export["api_tokens"]}
        assert tokens["laptop"]["expires_at"] and tokens["laptop"]["revoked_at"] is None
        assert tokens["old phone"]["revoked_at"]


def test_every_column_of_every_personal_table_is_exported_unless_withheld(learner):
    (export, _) = both_exports(learner)
    user_columns = set(Base.metadata.tables["users"].columns.keys())
    assert set(export["account"]) == user_columns - ACCOUNT_WITHHELD
    for table in PERSONAL_TABLES:
        rows = export[table.name]
        assert rows, f"the fixture made no {table.name}"
        columns = set(table.model.__table__.columns.keys())
        expected = columns - ((ALWAYS_WITHHELD | table.withheld) - set(table.renamed))
        references = {"question_id": "question", "exercise_id": "exercise"}
        expected = {table.renamed.get(c, references.get(c, c)) for c in expected}
        for row in rows:
            assert set(row) == expected, table.name


def test_the_export_holds_no_secret(learner):
    app = learner["app"]
    with app.app_context():
        me = db.session.scalar(select(User).where(User.username_key == "exporter"))
        secrets = [me.password_hash, me.session_token, learner["secret"]]
        secrets += db.session.scalars(select(ApiToken.token_hash)).all()
    for export in both_exports(learner):
        text = json.dumps(export)
        for secret in secrets:
            assert secret not in text


def test_deleting_the_account_empties_every_personal_table(learner):
    app = learner["app"]
    with app.app_context():
        me = db.session.scalar(select(User).where(User.username_key == "exporter"))
        my_id = me.id
        delete_account(me)
        for table in PERSONAL_TABLES:
            model = table.model
            mine = db.session.scalar(select(func.count()).where(model.user_id == my_id))
            theirs = db.session.scalar(select(func.count()).where(model.user_id != my_id))
            assert mine == 0, table.name
            if table.name in ("attempts", "review_cards", "simulation_runs"):
                assert theirs >= 1, table.name  # the bystander keeps theirs
