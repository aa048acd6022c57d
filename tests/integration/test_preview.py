"""The author's live preview: scratch database, problems on the page, reload after a save."""

from __future__ import annotations

import time

import pytest

from quizapp.web.preview import create_preview_app, reimport, watch

SEED = "vanishing-gradient-problem"


@pytest.fixture
def preview(copy_content, tmp_path, monkeypatch):
    learners_db = tmp_path / "learners.sqlite"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{learners_db}")
    app = create_preview_app(copy_content, scratch=tmp_path / "scratch")
    yield app, copy_content, learners_db


def test_the_preview_serves_the_folder_without_touching_the_learners_database(preview):
    app, root, learners_db = preview
    page = app.test_client().get(f"/questions/{SEED}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Explain the vanishing gradient problem" in text
    assert f"<strong>Preview</strong> of <code>{root.resolve()}</code>" in text
    assert "no problems" in text
    assert not learners_db.exists()


def test_a_broken_file_keeps_its_last_good_version_and_shows_its_problems(preview):
    app, root, _ = preview
    path = root / "questions" / f"{SEED}.yaml"
    original = path.read_text()
    path.write_text(
        original.replace("difficulty: medium", "difficulty: extreme").replace(
            "title: Explain the vanishing gradient problem", "title: A new title"
        )
    )
    reimport(app)
    client = app.test_client()
    page = client.get(f"/questions/{SEED}").get_data(as_text=True)
    assert "Explain the vanishing gradient problem" in page  # the last good version
    assert f"{path.resolve()}:3</code>: difficulty: must be one of easy, medium, hard" in page
    listing = client.get("/preview/problems").get_data(as_text=True)
    assert f"{path.resolve()}:3" in listing
    other = client.get("/questions/backpropagation-explained").get_data(as_text=True)
    assert "1 problem in the folder" in other and "preview-problems" not in other

    path.write_text(original.replace("Explain the vanishing", "Explain, again, the vanishing"))
    reimport(app)
    page = client.get(f"/questions/{SEED}").get_data(as_text=True)
    assert "Explain, again, the vanishing gradient problem" in page
    assert "no problems" in page


def test_a_new_file_appears_and_a_deleted_one_is_retired(preview):
    app, root, _ = preview
    from quizapp.content.starters import write_starter

    write_starter("question", "my-new-card", root)
    reimport(app)
    client = app.test_client()
    assert "My new card" in client.get("/questions/my-new-card").get_data(as_text=True)
    (root / "questions" / "my-new-card.yaml").unlink()
    reimport(app)
    assert client.get("/questions/my-new-card").status_code == 410


def test_saving_a_file_reimports_through_the_watcher_and_signals_the_pages(preview):
    app, root, _ = preview
    state = app.extensions["quizapp_preview"]
    observer = watch(app)
    try:
        seen = state.version
        path = root / "questions" / f"{SEED}.yaml"
        path.write_text(path.read_text().replace("Explain the vanishing", "Explain the fading"))
        assert state.wait_for_change(seen, timeout=10) > seen
        deadline = time.monotonic() + 10
        while "Explain the fading" not in app.test_client().get(f"/questions/{SEED}").get_data(
            as_text=True
        ):
            assert time.monotonic() < deadline, "the saved change never reached the page"
            time.sleep(0.05)
    finally:
        observer.stop()
    events = app.test_client().get("/preview/events", buffered=False)
    assert events.mimetype == "text/event-stream"
    first = next(events.response)
    assert first.decode() == f'data: {{"version": {state.version}}}\n\n'
    events.close()


def test_preview_routes_do_not_exist_outside_the_preview(client):
    assert client.get("/preview/events").status_code == 404
    assert "preview-banner" not in client.get("/").get_data(as_text=True)
