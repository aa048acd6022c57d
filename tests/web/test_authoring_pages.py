"""Learners report problems; authors read item statistics and answer reports (pages and API)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from conftest import add_user, make_app, shown, sign_in

from quizapp.extensions import db
from quizapp.models import ProblemReport, User
from quizapp.services.content_import import import_content


def _make_author(app, name: str = "editor", role: str = "author") -> int:
    user_id = add_user(app, name)
    with app.app_context():
        db.session.get(User, user_id).role = role
        db.session.commit()
    return user_id


@pytest.fixture
def bank(app, content_dir):
    with app.app_context():
        import_content(content_dir)
    return app


@pytest.fixture
def learner(bank, client) -> int:
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    return user_id


def _report(client, slug="alpha", **form):
    data = {"category": "wrong_answer", "message": "The key should be option 2."} | form
    return client.post(f"/questions/{slug}/report", data=data)


def test_every_card_offers_the_report_form_and_anonymous_visitors_a_sign_in(bank, client):
    page = client.get("/questions/alpha").get_data(as_text=True)
    assert "Report a problem" in page and "Sign in</a> to report a problem" in page
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    page = client.get("/questions/alpha").get_data(as_text=True)
    assert 'action="/questions/alpha/report"' in page
    assert 'name="category" value="typo"' in page


def test_a_report_reaches_the_inbox_and_the_reply_reaches_the_dashboard(bank, client, learner):
    response = _report(client, message="Option <b>2</b> & its <script>x</script> feedback")
    assert response.status_code == 303 and response.location.endswith("/questions/alpha")
    assert "an author will look at your report" in client.get("/questions/alpha").get_data(True)

    author = bank.test_client()
    sign_in(author, _make_author(bank))
    inbox = author.get("/author/reports").get_data(as_text=True)
    assert "Question alpha" in inbox and "from ada" in inbox
    assert "Option &lt;b&gt;2&lt;/b&gt; &amp; its &lt;script&gt;" in inbox  # escaped, not run
    with bank.app_context():
        report_id = db.session.query(ProblemReport.id).scalar()
    saved = author.post(
        f"/author/reports/{report_id}", data={"status": "fixed", "reply": "Fixed, thank you!"}
    )
    assert saved.status_code == 303

    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Your reports" in dashboard
    assert "<strong>Fixed</strong>" in dashboard and "Fixed, thank you!" in dashboard


def test_an_empty_report_comes_back_with_the_learners_choice_and_a_message(bank, client, learner):
    response = _report(client, category="typo", message="   ")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Write the message first." in page
    assert 'value="typo" required checked' in page
    with bank.app_context():
        assert db.session.query(ProblemReport).count() == 0


def test_reports_need_a_known_target_and_a_category(bank, client, learner):
    assert _report(client, slug="nope").status_code == 404
    assert _report(client, category="rude").status_code == 422
    assert client.post("/questions/alpha/report", data={}).status_code == 422


def test_author_pages_are_for_authors_and_admins_only(bank, client, learner):
    for path in ("/author", "/author/reports", "/author/exercises", "/author/items.csv"):
        assert client.get(path).status_code == 403, path
    anonymous = bank.test_client()
    assert anonymous.get("/author").status_code == 302
    admin = bank.test_client()
    sign_in(admin, _make_author(bank, "root", role="admin"))
    assert admin.get("/author").status_code == 200
    assert client.post("/author/reports/1", data={"status": "fixed"}).status_code == 403


def test_item_statistics_page_sorts_flags_and_downloads_csv(bank, client, learner):
    with bank.app_context():
        right_option = str(shown("alpha", 0, 1, learner))  # options are shuffled per learner
    for check, response in ((0, right_option), (1, "0.25")):
        client.post("/questions/alpha/answer", data={"check": str(check), "response": response})
    author = bank.test_client()
    sign_in(author, _make_author(bank))
    page = author.get("/author?sort=attempts&order=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in page
    assert page.index('id="item-alpha-0"') < page.index('id="item-beta-0"')
    assert "corrected item–total correlation" in page
    download = author.get("/author/items.csv")
    assert download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    alpha = next(row for row in rows if row["question"] == "alpha" and row["check"] == "0")
    assert (alpha["attempts"], alpha["facility"], alpha["option_picks"]) == (
        "1",
        "1.0000",
        "0:0 1:1",
    )


def test_option_picks_are_lettered_from_a_as_the_options_are(bank, client, learner):
    """A CSS counter reset to -1 lettered them "0", "A", "B": every pick one letter off."""
    with bank.app_context():
        right_option = str(shown("alpha", 0, 1, learner))
    client.post("/questions/alpha/answer", data={"check": "0", "response": right_option})
    author = bank.test_client()
    sign_in(author, _make_author(bank))
    page = author.get("/author").get_data(as_text=True)
    row = page[page.index('id="item-alpha-0"') :]
    picks = row[row.index('<ol class="option-picks"') : row.index("</ol>")]
    letters = re.findall(r'<span class="option-letter">(\w)</span>', picks)
    assert letters == ["A", "B"], picks
    assert re.search(r'<span class="option-letter">B</span> 1 <span aria-label="key">', picks)


def test_reports_and_statistics_through_the_api(bank, client, learner):
    created = client.post(
        "/api/v1/questions/alpha/reports", json={"category": "unclear", "message": "Which sigmoid?"}
    )
    assert created.status_code == 201
    assert created.json["status"] == "open" and created.json["target_title"] == "Question alpha"
    assert client.post("/api/v1/questions/alpha/reports", json={"category": "x"}).status_code == 400
    assert [r["message"] for r in client.get("/api/v1/me/reports").json] == ["Which sigmoid?"]
    assert client.get("/api/v1/author/reports").status_code == 403

    author = bank.test_client()
    sign_in(author, _make_author(bank))
    listed = author.get("/api/v1/author/reports?status=open").json
    assert [r["target_slug"] for r in listed] == ["alpha"]
    answered = author.patch(
        f"/api/v1/author/reports/{listed[0]['id']}", json={"status": "wont_fix", "reply": "Any."}
    )
    assert answered.status_code == 200 and answered.json["replied_by"] == "editor"
    assert client.get("/api/v1/me/reports").json[0]["status"] == "wont_fix"
    assert author.patch("/api/v1/author/reports/999", json={"status": "fixed"}).status_code == 404
    items = author.get("/api/v1/author/items?sort=facility").json
    assert {(item["question"], item["check"]) for item in items} >= {("alpha", 0), ("beta", 2)}
    assert author.get("/api/v1/author/exercises").status_code == 200


def test_reports_are_rate_limited_per_learner(tmp_path, content_dir):
    app = make_app(f"sqlite:///{tmp_path / 'limited.sqlite'}", RATELIMIT_ENABLED=True)
    with app.app_context():
        import_content(content_dir)
    client = app.test_client()
    sign_in(client, add_user(app, "eager"))
    codes = [_report(client, message=f"report {n}").status_code for n in range(11)]
    assert codes[:10] == [303] * 10
    assert codes[10] == 429
    with app.app_context():
        assert db.session.query(ProblemReport).count() == 10


def test_a_topic_downloads_as_an_anki_deck_built_once_per_content_version(bank, client, tmp_path):
    import sqlite3
    import zipfile

    from quizapp.content.interchange.anki import note_guid

    bank.instance_path = str(tmp_path / "instance")  # decks are cached there
    page = client.get("/topics/gradient-flow").get_data(as_text=True)
    assert 'href="/topics/gradient-flow/deck.apkg"' in page
    response = client.get("/topics/gradient-flow/deck.apkg")
    assert response.status_code == 200
    assert "quizapp-gradient-flow.apkg" in response.headers["Content-Disposition"]
    (tmp_path / "deck.apkg").write_bytes(response.data)
    with zipfile.ZipFile(tmp_path / "deck.apkg") as archive:
        (tmp_path / "c.anki2").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "c.anki2") as connection:
        guids = {row[0] for row in connection.execute("SELECT guid FROM notes")}
    assert guids == {note_guid("alpha"), note_guid("beta")}
    cached = list((Path(bank.instance_path) / "decks").glob("gradient-flow-*.apkg"))
    assert len(cached) == 1
    assert client.get("/api/v1/topics/gradient-flow/deck").data == response.data  # same file
    assert client.get("/api/v1/deck").status_code == 200
    assert client.get("/topics/nope/deck.apkg").status_code == 404
    assert client.get("/api/v1/topics/nope/deck").status_code == 404
