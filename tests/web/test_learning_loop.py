"""The learning loop around an answer: feedback kept on the page, answers kept on sign-up,
the learner's state on every card, "Next question" and topic practice sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_user, as_shown, shown, sign_in, write_question
from sqlalchemy import select, update

from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services.content_import import import_content
from quizapp.services.learning import submit_answer
from quizapp.web.relative_time import describe

PASSWORD = "correct horse battery staple"


@pytest.fixture
def bank(app, content_dir):
    """alpha, beta, gamma in gradient-flow; delta alone in activation-functions."""
    write_question(content_dir, "gamma", difficulty="hard")
    write_question(
        content_dir, "delta", replace={"topics: [gradient-flow]": "topics: [activation-functions]"}
    )
    with app.app_context():
        import_content(content_dir)
    return app


def answer(client, slug: str, check: int, response: str, **fields):
    return client.post(
        f"/questions/{slug}/answer", data={"check": str(check), "response": response, **fields}
    )


def verdicts(page: str) -> dict[int, str]:
    """Each check's verdict class on the page, by check index."""
    found = re.findall(r'id="check-(\d+)-result"></span>\s*<div class="verdict ([a-z-]+)"', page)
    return {int(index): css for index, css in found}


def question_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.slug == slug))


def user_named(app, username: str) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


# Feedback in view


def test_answering_one_check_keeps_the_feedback_of_the_others(bank, client):
    first = answer(client, "alpha", 0, as_shown(client, "alpha", 0, 0))  # wrong option
    assert verdicts(first.text) == {0: "verdict-wrong"}
    second = answer(client, "alpha", 1, "0.25")
    assert verdicts(second.text) == {0: "verdict-wrong", 1: "verdict-right"}
    # The form posts to the verdict's anchor, so the browser scrolls the feedback into view.
    assert 'action="/questions/alpha/answer#check-2-result"' in second.text
    # Another question's page does not show alpha's answers; a fresh visit starts clean.
    assert verdicts(answer(client, "beta", 1, "0.3").text) == {1: "verdict-wrong"}
    assert verdicts(client.get("/questions/alpha").text) == {}


def test_the_phone_menu_is_a_details_element_holding_every_link(bank, client):
    page = client.get("/").text
    menu = re.search(r'<details class="nav-menu">(.*?)</details>', page, re.S).group(1)
    for label in ("Questions", "Topics", "Exercises", "Lab", "Log in", "Sign up"):
        assert f">{label}</a>" in menu


# Sign up to keep this answer


def test_signing_up_keeps_the_answers_given_before_and_returns_to_the_question(bank, client):
    answer(client, "alpha", 0, as_shown(client, "alpha", 0, 1))
    answer(client, "alpha", 1, "0.3")  # wrong, one try left: not final, not kept yet
    page = answer(client, "alpha", 1, "0.3", tries_used="1")
    assert 'href="/register?next=/questions/alpha">Sign up to keep this answer</a>' in page.text
    form = client.get("/register?next=/questions/alpha")
    assert "The 2 answers you gave on this visit will be kept" in form.text
    signed_up = client.post(
        "/register?next=/questions/alpha",
        data={"username": "keeper", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert signed_up.status_code == 302
    assert signed_up.headers["Location"] == "/questions/alpha"
    user = user_named(bank, "keeper")
    with bank.app_context():
        kept = list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)))
        card = db.session.scalar(select(ReviewCard).where(ReviewCard.user_id == user.id))
    assert [(a.check_index, a.correct) for a in kept] == [(0, True), (1, False)]
    assert card is not None and card.reviews == 2
    back = client.get("/questions/alpha")
    assert "2 answers from this visit are kept." in back.text
    assert 'class="state state-answered">Answered</span>' in back.text
    # Kept once: signing out and in again adds nothing.
    client.post("/logout")
    client.post("/login", data={"username": "keeper", "password": PASSWORD})
    with bank.app_context():
        assert len(list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)))) == 2


def test_logging_in_keeps_the_answers_given_before(bank, client):
    client.post(
        "/register", data={"username": "returner", "password": PASSWORD, "confirm": PASSWORD}
    )
    client.post("/logout")
    answer(client, "beta", 1, "0.25")
    logged_in = client.post(
        "/login", data={"username": "returner", "password": PASSWORD, "next": "/questions/beta"}
    )
    assert logged_in.headers["Location"] == "/questions/beta"
    user = user_named(bank, "returner")
    with bank.app_context():
        kept = list(db.session.scalars(select(Attempt).where(Attempt.user_id == user.id)))
    assert [(a.check_index, a.correct) for a in kept] == [(1, True)]


# The learner's state on every card


def test_catalog_topic_and_question_pages_show_the_learners_state(bank, client):
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    answer(client, "alpha", 0, as_shown(client, "alpha", 0, 1))
    catalog = client.get("/").text
    cards = dict(
        re.findall(r'href="/questions/(\w+)">.*?<p class="card-state">(.*?)</p>', catalog, re.S)
    )
    assert "state-answered" in cards["alpha"] and re.search(
        r"review <time[^>]*>in ", cards["alpha"]
    )
    assert "state-new" in cards["beta"]
    topic = client.get("/topics/gradient-flow").text
    assert topic.count('class="state state-new">New</span>') == 2  # beta and gamma
    # A day later the card is due, said in words.
    with bank.app_context():
        db.session.execute(
            update(ReviewCard).values(due_at=datetime.now(UTC) - timedelta(days=1, hours=1))
        )
        db.session.commit()
    page = client.get("/questions/alpha").text
    assert re.search(
        r'class="state state-due">Due <time datetime="[^"]+"[^>]*>yesterday</time>', page
    )
    assert 'class="level level-attempted">Attempted</span>' in page or "level-familiar" in page


def test_visitors_see_no_state(bank):
    page = bank.test_client(use_cookies=False).get("/").text
    assert 'class="card-state"' not in page


@pytest.mark.parametrize(
    ("delta", "said"),
    [
        (timedelta(seconds=20), "now"),
        (timedelta(minutes=10), "in 10 min"),
        (timedelta(minutes=-10), "10 min ago"),
        (timedelta(hours=3), "in 3 hours"),
        (timedelta(hours=20), "tomorrow"),
        (timedelta(hours=-20), "yesterday"),
        (timedelta(days=3), "in 3 days"),
        (timedelta(days=-45), "2 months ago"),
        (timedelta(days=800), "in 2 years"),
    ],
)
def test_times_are_said_relative_to_now(delta, said):
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert describe(now + delta, now) == said


# The dashboard moves with the first answer


def test_the_dashboard_counts_answered_and_mastered_questions_per_topic(bank, client):
    sign_in(client, add_user(bank, "ada"))
    answer(client, "alpha", 0, as_shown(client, "alpha", 0, 0))  # wrong: attempted
    page = client.get("/dashboard").text
    assert "answered 1/3 · mastered 0/3" in page  # gradient flow: alpha, beta, gamma
    assert "answered 0/1 · mastered 0/1" in page
    # The bar fills from the left: the attempted segment starts at 0 and is a third wide.
    assert '<rect class="seg level-attempted" x="0.00" y="0" width="33.33" height="10"/>' in page
    assert '<ul class="legend"' in page


# Next question and practice sessions


def test_next_question_serves_due_cards_first_then_the_weakest_topic_then_new(bank, client):
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    visitor = bank.test_client()
    # Nothing answered: a visitor starts at the top of the catalog (no seed card here).
    assert visitor.get("/practice/next").headers["Location"] == "/questions/beta"  # easy first
    answer(
        client, "delta", 0, as_shown(client, "delta", 0, 0)
    )  # wrong: activation functions is weak
    answer(client, "alpha", 0, as_shown(client, "alpha", 0, 1))
    answer(client, "alpha", 1, "0.25")
    # Nothing due yet. Gradient flow (2 of 3 not started) is weaker than activation
    # functions (its one question attempted): its next new question comes first.
    assert client.get("/practice/next?after=alpha").headers["Location"] == "/questions/beta"
    with bank.app_context():
        db.session.execute(
            update(ReviewCard)
            .where(ReviewCard.question_id == question_id(bank, "alpha"))
            .values(due_at=datetime.now(UTC) - timedelta(hours=2))
        )
        db.session.commit()
    assert client.get("/practice/next").headers["Location"] == "/questions/alpha"
    # The API agrees and says why.
    body = client.get("/api/v1/next-question").get_json()
    assert (body["question"]["question"], body["reason"]) == ("alpha", "due")
    assert body["question"]["state"]["status"] == "due"


def test_a_topic_practice_session_shows_its_progress_and_ends_with_a_summary(bank, client):
    sign_in(client, add_user(bank, "ada"))
    start = client.get("/practice/topics/gradient-flow")
    first = start.headers["Location"]
    assert first in ("/questions/alpha", "/questions/beta", "/questions/gamma")
    page = client.get(first).text
    assert "<strong>1 / 3</strong>" in page
    assert "Next in this session (2 / 3)" in page
    slug = first.rsplit("/", 1)[1]
    answered = answer(client, slug, 0, "1").text
    assert "<strong>1 / 3</strong>" in answered
    links = re.findall(r'<a class="button" href="/questions/(\w+)">Next in this session', answered)
    second = links[0]
    third_page = client.get(f"/questions/{second}").text
    third = re.findall(r'href="/questions/(\w+)">Next in this session', third_page)[0]
    last = client.get(f"/questions/{third}").text
    assert "<strong>3 / 3</strong>" in last and "Finish the session" in last
    done = client.get("/practice/finish").text
    assert "You answered 1 of 3 questions on Gradient flow." in done
    assert "Practice session" not in client.get(f"/questions/{third}").text  # it has ended


def test_practice_session_api_plans_due_then_weak_then_new(bank, client):
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    answer(client, "beta", 0, as_shown(client, "beta", 0, 0))  # wrong: beta is shaky
    body = client.get("/api/v1/topics/gradient-flow/practice?size=2").get_json()
    assert body["topic"] == "gradient-flow" and body["size"] == 2
    assert [item["question"] for item in body["questions"]] == ["beta", "alpha"]
    assert body["questions"][1]["state"]["status"] == "new"
    assert client.get("/api/v1/topics/nowhere/practice").status_code == 404
    assert client.get("/api/v1/topics/gradient-flow/practice?size=0").status_code in (400, 422)
    cards = client.get("/api/v1/me/cards").get_json()
    assert [(card["question"], card["status"]) for card in cards] == [("beta", "answered")]


def test_the_catalog_starts_with_the_seed_card(imported_app):
    client = imported_app.test_client()
    first = client.get("/").text
    start = re.search(r'<section class="start-here".*?</section>', first, re.S).group(0)
    assert 'href="/questions/vanishing-gradient-problem"' in start
    assert "Start here" in start
    assert 'class="start-here"' not in client.get("/?page=2").text
    assert 'class="start-here"' not in client.get("/?difficulty=easy").text


def test_submitting_an_answer_directly_still_works_for_every_learner(bank):
    with bank.app_context():
        result = submit_answer(None, "alpha", 0, shown("alpha", 0, 1))
    assert result.grade.correct


def test_the_address_shown_after_an_answer_opens_the_question(bank):
    """After an answer the address bar reads /questions/<slug>/answer: opened again (Enter in
    the address bar, a bookmark, a link shared) it answered 405 Method not allowed."""
    client = bank.test_client()
    opened = client.get("/questions/alpha/answer")
    assert opened.status_code == 302
    assert opened.headers["Location"] == "/questions/alpha"
    assert client.get("/questions/alpha/answer", follow_redirects=True).status_code == 200
