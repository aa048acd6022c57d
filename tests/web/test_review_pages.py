"""The review screen, leeches, review limits, memory sections, the review log and schedule
pages, and their JSON API, through the test client."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_user, as_shown, sign_in, write_question
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Attempt, ReviewCard, ReviewLog, User
from quizapp.services.content_import import import_content
from quizapp.services.review import rate_card

FRAGMENT = {"X-Review-Fragment": "1"}


@pytest.fixture
def bank(app, content_dir):
    """alpha (medium), beta (easy), gamma (hard, activation-functions); alpha is related to
    beta and gamma. Each card's check 0 is single choice with option 1 right."""
    write_question(content_dir, "alpha", related=["beta", "gamma"])
    write_question(
        content_dir, "gamma", difficulty="hard",
        replace={"topics: [gradient-flow]": "topics: [activation-functions]"},
    )  # fmt: skip
    with app.app_context():
        import_content(content_dir)
    return app


@pytest.fixture
def learner(bank, client) -> int:
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    return user_id


def current_slug(html: str) -> str | None:
    found = re.search(r'name="question" value="([\w-]+)"', html)
    return found.group(1) if found else None


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------------- without JavaScript


def test_the_review_screen_shows_one_card_its_progress_and_the_shortcuts(bank, client, learner):
    page = client.get("/review")

    assert page.status_code == 200
    assert current_slug(page.text) == "beta"  # easy first
    assert 'aria-label="Card 1 of 3"' in page.text
    assert "<kbd>Space</kbd>" in page.text and "<kbd>U</kbd>" in page.text
    assert page.text.count('id="review-title"') == 1
    assert 'name="rating"' not in page.text  # the answer and ratings wait for the reveal


def test_revealing_grades_the_check_suggests_a_rating_and_shows_each_interval(
    bank, client, learner
):
    wrong = as_shown(client, "beta", 0, 0)  # the position this learner sees option 0 at
    page = client.post("/review/reveal", data={"question": "beta", "check": "0", "response": wrong})

    assert page.status_code == 200
    assert "Not quite." in page.text
    assert re.findall(r'rating-interval">([^<]+)<', page.text) == [
        "1 min",
        "6 min",
        "10 min",
        "8 d",
    ]
    assert re.search(r"rating-again is-suggested", page.text)
    assert "Suggested from your answer: <strong>Again</strong>" in page.text
    assert count(bank, Attempt) == 0


def test_rating_stores_the_answer_and_moves_to_the_next_card(bank, client, learner):
    rated = client.post(
        "/review/rate",
        data={
            "question": "beta",
            "rating": "hard",
            "check": "0",
            "response": as_shown(client, "beta", 0, 1),
            "form_key": "k",
        },  # fmt: skip
    )
    page = client.get("/review")

    assert rated.status_code == 303
    assert "Rated Hard" in page.text and current_slug(page.text) == "alpha"
    assert 'aria-label="Card 2 of 3"' in page.text
    with bank.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert (attempt.rating, attempt.score, attempt.kind) == ("hard", 1.0, "single_choice")


def test_undo_puts_the_card_back_and_shows_it_again(bank, client, learner):
    client.post("/review/rate", data={"question": "beta", "rating": "good"})
    page = client.get("/review")
    review_id = re.search(r'name="review" value="(\d+)"', page.text).group(1)

    undone = client.post("/review/undo", data={"review": review_id})
    again = client.get(undone.location)

    assert undone.status_code == 303
    assert current_slug(again.text) == "beta"
    assert "is back as it was" in again.text
    assert count(bank, Attempt) == 0 and count(bank, ReviewCard) == 0


def test_a_stale_undo_is_refused_with_a_conflict(bank, client, learner):
    client.post("/review/rate", data={"question": "beta", "rating": "good"})
    client.post("/review/rate", data={"question": "alpha", "rating": "good"})
    with bank.app_context():
        first = db.session.scalar(select(ReviewLog.id).order_by(ReviewLog.id))

    response = client.post("/review/undo", data={"review": str(first)})

    assert response.status_code == 409
    assert "Only your last rating can be undone" in response.text


def test_the_end_of_a_session_is_summarised(bank, client, learner):
    served = []
    for rating in ("again", "easy", "easy", "easy"):
        slug = current_slug(client.get("/review").text)
        served.append(slug)
        client.post("/review/rate", data={"question": slug, "rating": rating})

    page = client.get("/review")

    # The forgotten card comes back within the session (Anki's 20-minute learn-ahead).
    assert served == ["beta", "alpha", "gamma", "beta"]
    assert "Session done" in page.text
    assert "You reviewed 4 cards" in page.text and "recalling 75 %" in page.text
    assert re.search(r"<td>1</td><td>0</td><td>0</td><td>3</td>", page.text)


def test_a_bad_rating_is_a_clear_400(bank, client, learner):
    response = client.post("/review/rate", data={"question": "beta", "rating": "perfect"})

    assert response.status_code == 400
    assert "rating must be one of again, hard, good, easy" in response.text


# ----------------------------------------------------------------------------- with JavaScript


def test_the_script_gets_just_the_next_card_fragment(bank, client, learner):
    revealed = client.post("/review/reveal", data={"question": "beta"}, headers=FRAGMENT)
    rated = client.post(
        "/review/rate", data={"question": "beta", "rating": "good"}, headers=FRAGMENT
    )

    for response in (revealed, rated):
        assert response.status_code == 200
        assert "<html" not in response.text and "<nav" not in response.text
    assert "data-review-rate" in revealed.text
    assert current_slug(rated.text) == "alpha" and "Rated Good" in rated.text
    assert "data-review-undo" in rated.text


# ------------------------------------------------------------------------ leeches and limits


def test_leeches_are_listed_with_easier_questions_and_can_go_back(bank, client, learner):
    with bank.app_context():
        user = db.session.get(User, learner)
        user.leech_threshold = 2
        at = datetime(2025, 1, 1, tzinfo=UTC)
        rate_card(user, "alpha", "good", now=at)
        for days in (3, 6):
            rate_card(user, "alpha", "again", now=at + timedelta(days=days))

    page = client.get("/review/leeches")
    resumed = client.post("/review/leeches/alpha", data={"action": "resume"})

    assert "Forgotten 2 times" in page.text
    assert 'href="/questions/beta"' in page.text and 'href="/questions/gamma"' not in page.text
    assert resumed.status_code == 303
    assert "No leeches" in client.get("/review/leeches").text or "back in review" in (
        client.get("/review/leeches").text
    )
    with bank.app_context():
        assert db.session.scalar(select(ReviewCard.suspended_at)) is None


def test_review_limits_are_settings_on_the_account_page(bank, client, learner):
    account = client.get("/account")
    saved = client.post(
        "/account/review-settings",
        data={"new_cards_per_day": "1", "max_reviews_per_day": "50", "leech_threshold": "5"},
        follow_redirects=True,
    )
    refused = client.post(
        "/account/review-settings", data={"new_cards_per_day": "lots"}, follow_redirects=True
    )

    assert 'id="review-settings"' in account.text
    assert 'href="/account/review-log.csv"' in account.text
    assert "Review limits saved." in saved.text
    assert "new cards per day must be a whole number" in refused.text
    with bank.app_context():
        user = db.session.get(User, learner)
        assert (user.new_cards_per_day, user.max_reviews_per_day, user.leech_threshold) == (
            1, 50, 5,
        )  # fmt: skip
    assert client.get("/review").text.count('aria-label="Card 1 of 1"') == 1


# ------------------------------------------------------------------------ memory you can see


def test_recall_forecast_and_calendar_are_on_the_dashboard(bank, client, learner):
    client.post("/review/rate", data={"question": "beta", "rating": "easy"})

    page = client.get("/dashboard")

    assert "Your memory" in page.text and "mean recall now" in page.text
    assert "Reviews due, next 30 days" in page.text
    assert page.text.count('class="forecast-bar"') == 30
    assert "Answers per day over the last year" in page.text
    assert len(re.findall(r'<rect class="day [\w-]+" x=', page.text)) == 53 * 7
    assert "1 answers on 1 days." in page.text or "1 answer" in page.text


def test_the_question_page_shows_my_recall_of_it(bank, client, learner):
    client.post("/review/rate", data={"question": "beta", "rating": "good"})

    page = client.get("/questions/beta")

    assert re.search(r"Your recall now: <strong>\d+ %</strong>", page.text)
    assert "<time datetime=" in page.text


# ------------------------------------------------------------------------------- review log


def test_the_review_log_downloads_as_csv(bank, client, learner):
    client.post("/review/rate", data={"question": "beta", "rating": "good"})

    response = client.get("/account/review-log.csv")

    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "card_id,review_time,review_rating,review_state,review_duration,elapsed_days"
    assert lines[1].startswith("beta,") and lines[1].endswith(",3,0,,-1")


def test_a_bad_import_lists_its_lines_and_imports_nothing(bank, client, learner):
    text = (
        "card_id,review_time,review_rating\n"
        "beta,1740821400000,3\nbeta,yesterday,3\nzeta,1740821400000,3\n"
    )

    response = client.post(
        "/account/review-log/import", data={"file": (io.BytesIO(text.encode()), "log.csv")}
    )

    assert response.status_code == 400
    assert "Nothing was imported." in response.text
    assert "line 3: review_time: &#39;yesterday&#39; is not a whole number" in response.text
    assert count(bank, ReviewLog) == 0


def test_a_good_import_is_confirmed(bank, client, learner):
    text = "card_id,review_time,review_rating\nbeta,1740821400000,3\n"

    response = client.post(
        "/account/review-log/import",
        data={"file": (io.BytesIO(text.encode()), "log.csv")},
        follow_redirects=True,
    )

    assert "Imported 1 reviews (0 already here); 1 cards rescheduled" in response.text


def test_the_schedule_page_states_the_threshold(bank, client, learner):
    page = client.get("/account/schedule")
    refused = client.post("/account/schedule")

    assert "at least <strong>512</strong>" in page.text
    assert refused.status_code == 409


# --------------------------------------------------------------------------------- JSON API


def test_the_api_reviews_a_card_and_undoes_it(bank, client, learner):
    queue = client.get("/api/v1/me/review/queue").get_json()
    shown = client.post("/api/v1/me/review/reveal", json={"question": "beta", "check": 0,
                        "response": int(as_shown(client, "beta", 0, 1))}).get_json()  # fmt: skip
    rated = client.post("/api/v1/me/review/ratings", json={"question": "beta", "rating": "good"})
    undone = client.post("/api/v1/me/review/undo", json={"review": rated.get_json()["review_id"]})

    assert [c["question"] for c in queue["cards"]] == ["beta", "gamma", "alpha"]  # by topic
    assert shown["suggested"] == "good" and shown["correct"] is True
    assert [o["interval"] for o in shown["options"]] == ["1 min", "6 min", "10 min", "8 d"]
    assert rated.status_code == 201 and rated.get_json()["interval"] == "10 min"
    assert undone.status_code == 200
    assert undone.get_json() == {"question": "beta", "kind": "question"}
    assert count(bank, ReviewLog) == 0


def test_the_api_gives_memory_settings_leeches_log_and_schedule(bank, client, learner):
    client.post("/api/v1/me/review/ratings", json={"question": "beta", "rating": "good"})

    memory = client.get("/api/v1/me/memory").get_json()
    settings = client.put("/api/v1/me/review/settings", json={"new_cards_per_day": 3})
    bad = client.put("/api/v1/me/review/settings", json={"leech_threshold": 0})
    csv = client.get("/api/v1/me/review-log")
    imported = client.post(
        "/api/v1/me/review-log", data="card_id,review_time,review_rating\nnope,1740821400000,3\n",
        content_type="text/csv",
    )  # fmt: skip
    schedule = client.get("/api/v1/me/schedule").get_json()

    assert [c["question"] for c in memory["cards"]] == ["beta"]
    assert len(memory["forecast"]) == 30 and memory["activity"][0]["count"] == 1
    assert settings.get_json()["new_cards_per_day"] == 3 and bad.status_code == 400
    assert client.get("/api/v1/me/review/leeches").get_json() == []
    assert csv.mimetype == "text/csv" and csv.text.count("\n") == 2
    assert imported.status_code == 400
    assert imported.get_json()["problems"] == ["line 2: card_id: no question 'nope' here"]
    assert (schedule["threshold"], schedule["ready"], schedule["fits"]) == (512, False, [])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/me/review/queue"),
        ("post", "/api/v1/me/review/ratings"),
        ("post", "/api/v1/me/review/undo"),
        ("get", "/api/v1/me/memory"),
        ("get", "/api/v1/me/review-log"),
        ("get", "/api/v1/me/schedule"),
        ("post", "/api/v1/me/schedule/fits"),
    ],
)
def test_the_review_api_needs_a_learner(bank, client, method, path):
    response = getattr(client, method)(path, json={})

    assert response.status_code == 401


@pytest.mark.parametrize(
    "path", ["/review", "/review/leeches", "/account/schedule", "/account/review-log.csv"]
)
def test_review_pages_send_visitors_to_log_in(bank, client, path):
    response = client.get(path)

    assert response.status_code in (302, 401)


@pytest.mark.parametrize("action", ["reveal", "rate", "undo"])
def test_a_form_address_opened_again_is_the_review_screen(bank, client, learner, action):
    """Without JavaScript the address bar reads /review/<action> after that form; opened
    again (Enter, a reload, a bookmark) it answered 405 Method not allowed."""
    opened = client.get(f"/review/{action}")
    assert (opened.status_code, opened.headers["Location"]) == (302, "/review")
    assert client.get(f"/review/{action}", follow_redirects=True).status_code == 200
