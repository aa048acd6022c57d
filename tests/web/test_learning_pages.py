"""Answering on question pages, the Review page, the dashboard, mistakes and export."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import MULTIPLE_CHOICE, add_user, shown, sign_in, write_question
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services.content_import import import_content
from quizapp.services.learning import submit_answer

SEED = "vanishing-gradient-problem"


@pytest.fixture
def bank(app, content_dir):
    """alpha, beta: 0 single choice ("1/4", index 1, is right), 1 numeric 0.25, 2 self-rated;
    gamma starts with a multiple-choice check."""
    write_question(content_dir, "gamma", replace={"checks:\n": MULTIPLE_CHOICE})
    with app.app_context():
        import_content(content_dir)
    return app


@pytest.fixture
def learner(bank, client) -> int:
    user_id = add_user(bank, "ada")
    sign_in(client, user_id)
    return user_id


def answer(client, slug: str, check: int | str, response=None, **fields):
    data = {"check": str(check), **fields}
    if response is not None:
        data["response"] = response
    return client.post(f"/questions/{slug}/answer", data=data)


def pick(app, slug: str, check: int, authored, user_id: int | None = None):
    """Authored option indexes as the form sends them: the positions shown, as text."""
    with app.app_context():
        value = shown(slug, check, authored, user_id)
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def attempts(app, user_id: int | None = None) -> list[Attempt]:
    with app.app_context():
        query = select(Attempt).order_by(Attempt.id)
        if user_id is not None:
            query = query.where(Attempt.user_id == user_id)
        return list(db.session.scalars(query))


def answer_in_the_past(app, user_id: int, slug: str, check: int, response, days: float, **kw):
    with app.app_context():
        user = db.session.get(User, user_id)
        when = datetime.now(UTC) - timedelta(days=days)
        response = shown(slug, check, response, user_id)
        return submit_answer(user, slug, check, response, now=when, tries_used=2, **kw)


def verdict(page: str, check: int | None = None) -> str:
    """The first verdict on the page, or the given check's one."""
    if check is not None:
        page = page[page.index(f'id="check-{check}-result"') :]
    match = re.search(r'<div class="verdict ([a-z-]+)" role="status">(.*?)</div>', page, re.S)
    assert match, "no verdict on the page"
    return " ".join([match.group(1), *re.sub(r"<[^>]+>", " ", match.group(2)).split()])


# Answering on the question page


def test_every_check_on_the_page_is_a_form_with_its_own_key(bank, client, learner):
    anonymous = bank.test_client(use_cookies=False).get("/questions/alpha").text
    assert "to keep your answers and get review reminders" in anonymous
    assert 'name="form_key"' not in anonymous  # nothing a visitor sends is stored
    page = client.get("/questions/alpha")
    forms = re.findall(
        r'<form class="check check-(\w+)[^"]*" method="post" action="([^"]+)"', page.text
    )
    assert forms == [
        ("single_choice", "/questions/alpha/answer#check-0-result"),
        ("numeric", "/questions/alpha/answer#check-1-result"),
        ("self_rated", "/questions/alpha/answer#check-2-result"),
    ]
    keys = re.findall(r'name="form_key" value="([0-9a-f]+)"', page.text)
    again = re.findall(r'name="form_key" value="([0-9a-f]+)"', client.get("/questions/alpha").text)
    assert len(set(keys + again)) == 6


def test_an_anonymous_visitor_gets_feedback_but_nothing_is_stored(bank, client):
    right = answer(client, "alpha", 0, pick(bank, "alpha", 0, 1))
    assert right.status_code == 200
    assert verdict(right.text).startswith("verdict-right Right!")
    assert "✓ You picked it: right." in right.text
    assert "Sign up to keep this answer</a> and review it later" in right.text

    wrong = answer(client, "alpha", 0, pick(bank, "alpha", 0, 0))
    assert verdict(wrong.text).startswith("verdict-wrong Not quite.")
    assert "✗ You picked it: not right.</strong> <p>That is tanh's maximum derivative.</p>" in (
        wrong.text
    )
    assert "○ Missed: this option is correct." in wrong.text
    assert 'class="option option-wrong"' in wrong.text
    assert 'class="option option-right"' in wrong.text  # the right option is shown too
    assert attempts(bank) == []


def test_a_learners_answer_is_saved_with_its_next_review(bank, client, learner):
    page = answer(client, "alpha", 1, "0.251", started_ms="0")
    assert page.status_code == 200
    assert verdict(page.text).startswith("verdict-right Right!")
    assert "The answer is 0.25." in verdict(page.text)
    assert re.search(r'Saved; next review <time datetime="[^"]+" title="[^"]+ UTC">in ', page.text)
    (stored,) = attempts(bank, learner)
    assert (stored.check_index, stored.kind, stored.response, stored.correct) == (
        1,
        "numeric",
        0.251,
        True,
    )


def test_partial_credit_on_a_multiple_choice_check(bank, client, learner):
    chosen = pick(bank, "gamma", 0, [0, 1], learner)
    page = client.post("/questions/gamma/answer", data={"check": "0", "response": chosen})
    assert page.status_code == 200
    assert verdict(page.text).startswith("verdict-wrong Not quite.")
    chosen = pick(bank, "gamma", 0, [2], learner)
    half = client.post("/questions/gamma/answer", data={"check": "0", "response": chosen})
    assert verdict(half.text).startswith("verdict-partial Partly right: score 50 %.")
    # Per option: what was picked right, picked wrong and missed.
    assert half.text.count("✓ You picked it: right.") == 1
    assert half.text.count("○ Missed: this option is correct.") == 1
    assert "✗ You picked it" not in half.text
    nothing = client.post("/questions/gamma/answer", data={"check": "0"})
    assert nothing.status_code == 200  # choosing no option is an answer: none apply
    assert [a.score for a in attempts(bank, learner)] == [0.0, 0.5, 0.0]


def test_self_rated_answers_show_the_model_answer_before_the_learner_rates(bank, client, learner):
    compare = answer(client, "alpha", 2, "Saturation multiplies small factors.")
    assert compare.status_code == 200
    assert "Model answer" in compare.text
    assert "It is" in compare.text  # the question's answer stands in for a model answer
    assert re.findall(r'name="rating" value="(\w+)"', compare.text) == [
        "again",
        "hard",
        "good",
        "easy",
    ]
    assert attempts(bank, learner) == []  # nothing is graded before the rating

    rated = answer(client, "alpha", 2, "Saturation multiplies small factors.", rating="hard")
    assert "You rated yourself <strong>Hard</strong>." in rated.text
    (stored,) = attempts(bank, learner)
    assert (stored.rating, stored.score, stored.response) == (
        "hard",
        0.5,
        "Saturation multiplies small factors.",
    )


def test_a_form_submitted_twice_is_one_attempt(bank, client, learner):
    form = {
        "check": "0",
        "response": pick(bank, "alpha", 0, 1, learner),
        "form_key": "d41d8cd98f00b204e9800998ecf8427e",
    }
    first = client.post("/questions/alpha/answer", data=form)
    second = client.post("/questions/alpha/answer", data=form)
    assert first.status_code == second.status_code == 200
    assert verdict(first.text) == verdict(second.text)
    assert len(attempts(bank, learner)) == 1
    with bank.app_context():
        assert db.session.scalar(select(ReviewCard.reviews)) == 1


# A bad answer comes back on the question page, beside its field, with what was entered.
PAGE_PROBLEMS = [
    ("0", None, "Choose one of the options."),
    ("0", "7", "Option 7 does not exist; choose 0–1."),
    ("0", "first", "Choose an option by its number"),
    ("1", "", "Enter a number."),
    ("1", "a quarter", "Not a number: &#39;a quarter&#39; (write e.g. 0.25, 1/4 or 2.5e-3)."),
    ("2", "", "Write your answer first."),
    ("2", "   ", "Write your answer first."),
    ("2", "x" * 10_001, "Answer too long: at most 10,000 characters."),
]
# A request that names no check of a real question gets the error page.
PAGE_BAD_INPUT = [
    ("alpha", "9", "1", 400, "That check does not exist on this question."),
    ("alpha", "-1", "1", 400, "That check does not exist on this question."),
    ("alpha", "", "1", 400, "That check does not exist on this question."),
    ("no-such-card", "0", "1", 404, "No question &#39;no-such-card&#39;."),
]


def test_a_bad_answer_reshows_the_question_with_the_problem_beside_the_field(bank, client, learner):
    for check, response, message in PAGE_PROBLEMS:
        case = f"check {check!r} response {str(response)[:12]!r}"
        page = answer(client, "alpha", check, response)
        assert page.status_code == 422, case
        assert '<p class="error-code">' not in page.text, case
        problem = re.search(
            rf'<p class="field-problem" id="problem-{check}" role="alert">(.*?)</p>', page.text
        )
        assert problem and message in problem.group(1), (case, problem)
        assert f'aria-describedby="problem-{check}"' in page.text, case
        assert page.text.count('<form class="check check-') == 3, case  # the whole question
    typed = answer(client, "alpha", 1, "a quarter")
    assert 'value="a quarter"' in typed.text  # the learner's input is kept
    oversized = answer(client, "alpha", 2, "x" * 10_001, rating="good")
    assert oversized.status_code == 422
    assert attempts(bank) == []


def test_requests_naming_no_check_get_an_error_page(bank, client, learner):
    for slug, check, response, status, message in PAGE_BAD_INPUT:
        case = f"{slug} check {check!r} response {str(response)[:12]!r}"
        page = answer(client, slug, check, response)
        assert page.status_code == status, case
        assert message in page.text, case
        assert '<p class="error-code">' in page.text, case
    assert attempts(bank) == []


def test_a_retired_question_cannot_be_answered(bank, client, learner):
    with bank.app_context():
        db.session.scalar(
            select(Question).where(Question.slug == "beta")
        ).retired_at = datetime.now(UTC)
        db.session.commit()
    page = answer(client, "beta", 0, "1")
    assert page.status_code == 410
    assert "This question has been retired" in page.text
    assert attempts(bank) == []


# Review


def no_new_cards(app, user_id: int) -> None:
    """Leave new cards out of the learner's review, so only due cards are served."""
    with app.app_context():
        db.session.get(User, user_id).new_cards_per_day = 0
        db.session.commit()


def test_review_says_all_caught_up_when_nothing_is_due(bank, client, learner):
    no_new_cards(bank, learner)
    page = client.get("/review")
    assert page.status_code == 200
    assert "All caught up" in page.text
    assert 'class="nav-count"' not in page.text


def test_review_serves_the_most_overdue_card_first_and_counts_due_cards_in_the_nav(
    bank, client, learner
):
    no_new_cards(bank, learner)
    answer_in_the_past(bank, learner, "beta", 0, 0, days=2)
    answer_in_the_past(bank, learner, "alpha", 0, 0, days=3)
    answer_in_the_past(bank, learner, "gamma", 0, [0, 2], days=0)  # right just now: not due
    page = client.get("/review")
    assert re.search(r'<span class="nav-count" aria-label="2 due">2</span>', page.text)
    assert 'aria-label="Card 1 of 2"' in page.text
    assert re.search(r'name="question" value="([\w-]+)"', page.text).group(1) == "alpha"

    rated = client.post("/review/rate", data={"question": "alpha", "rating": "good"})
    assert rated.status_code == 303 and rated.location.endswith("/review")
    after = client.get("/review")
    assert re.search(r'name="question" value="([\w-]+)"', after.text).group(1) == "beta"
    assert 'aria-label="Card 2 of 2"' in after.text
    assert 'aria-label="1 due"' in after.text


def test_a_self_rated_check_answered_in_review_stays_in_review(bank, client, learner):
    answer_in_the_past(bank, learner, "alpha", 0, 0, days=1)
    compare = answer(client, "alpha", 2, "My recollection.", return_to="review")
    assert 'name="return_to" value="review"' in compare.text
    rated = answer(client, "alpha", 2, "My recollection.", rating="good", return_to="review")
    assert "Next card →" in rated.text
    assert "You rated yourself <strong>Good</strong>." in rated.text


def test_another_learners_due_cards_are_not_in_my_review(bank, client, learner):
    no_new_cards(bank, learner)
    other = add_user(bank, "bob")
    answer_in_the_past(bank, other, "alpha", 0, 0, days=3)
    page = client.get("/review")
    assert "All caught up" in page.text


# Dashboard, mistakes and export


def test_the_dashboard_of_a_new_learner(bank, client, learner):
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "No answers yet." in page.text
    assert "No data yet." in page.text  # no chart without data
    assert "Not started" in page.text
    assert 'href="/practice/mistakes"' in page.text


def stat(page: str, label: str) -> str:
    match = re.search(
        r'<span class="stat-value">([^<]*)</span><span class="stat-label">' + label, page
    )
    assert match, label
    return match.group(1)


def test_the_dashboard_shows_mastery_accuracy_streak_due_counts_and_history(bank, client, learner):
    answer_in_the_past(bank, learner, "alpha", 0, 0, days=2)
    answer_in_the_past(bank, learner, "beta", 0, 1, days=1)
    answer_in_the_past(bank, learner, "gamma", 0, [2], days=0)
    answer_in_the_past(bank, learner, "alpha", 2, "text", days=0, rating="easy")
    page = client.get("/dashboard").text

    assert stat(page, "answers") == "4"
    assert stat(page, "accuracy") == "62%"  # (0 + 1 + 0.5 + 1) / 4
    assert stat(page, "day streak") == "3"
    assert stat(page, "due now") == "1"  # gamma was partly wrong: again, due in a minute
    assert 'href="/review">Review 1 due card</a>' in page
    # The accuracy chart is drawn on the server, with its numbers as a table too.
    assert re.search(r'<svg viewBox="0 0 \d+ \d+" role="img"', page)
    assert page.count('<circle class="dot line-accuracy"') == 3
    assert '<title id="accuracy-per-day-t">Accuracy per day</title>' in page
    assert re.search(r"<td>\d{4}-\d\d-\d\d</td><td>0%</td><td>1</td>", page)
    # Mastery by topic: alpha and beta are familiar already; gamma's score is low.
    assert re.search(r'Gradient flow</a>\s*<span class="level level-\w+">', page)
    assert re.search(r"answered \d+/\d+ · mastered \d+/\d+", page)
    # History, newest first.
    history = re.search(r"<h2>Recent answers</h2>(.*?)</table>", page, re.S).group(1)
    assert re.findall(r'href="/questions/([\w-]+)"', history) == ["alpha", "gamma", "beta", "alpha"]
    assert "Easy" in history and "50%" in history


def test_practice_my_mistakes_lists_questions_last_answered_wrong(bank, client, learner):
    answer_in_the_past(bank, learner, "alpha", 0, 0, days=2)
    answer_in_the_past(bank, learner, "beta", 0, 0, days=2)
    answer_in_the_past(bank, learner, "alpha", 0, 1, days=1)  # put right since
    page = client.get("/practice/mistakes")
    assert page.status_code == 200
    assert re.findall(r'<h2 class="card-title"><a href="/questions/([\w-]+)">', page.text) == [
        "beta"
    ]
    answer(client, "beta", 1, "0.25")
    assert "No mistakes to practise. Well done!" in client.get("/practice/mistakes").text


def test_export_downloads_everything_about_me_as_json(bank, client, learner):
    answer_in_the_past(bank, learner, "alpha", 0, 1, days=1)
    answer_in_the_past(bank, add_user(bank, "bob"), "beta", 0, 1, days=1)
    response = client.get("/account/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="quizapp-ada.json"'
    data = json.loads(response.text)
    assert data["account"]["username"] == "ada"
    assert [(a["question"], a["check"], a["correct"]) for a in data["attempts"]] == [
        ("alpha", 0, True)
    ]
    assert [card["question"] for card in data["review_cards"]] == ["alpha"]


def test_learner_pages_send_visitors_to_log_in(bank, client):
    for path in ("/review", "/dashboard", "/practice/mistakes", "/account/export", "/account"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={path}"


# The seed card, as imported from content/


def test_the_seed_card_can_be_answered_check_by_check(imported_app):
    client = imported_app.test_client()
    user_id = add_user(imported_app)
    sign_in(client, user_id)
    page = client.get(f"/questions/{SEED}")
    assert page.text.count('<form class="check check-') == 3
    chosen = pick(imported_app, SEED, 0, [0, 1], user_id)
    partly = client.post(f"/questions/{SEED}/answer", data={"check": "0", "response": chosen})
    assert verdict(partly.text).startswith("verdict-partial Partly right: score 67 %.")
    chosen = pick(imported_app, SEED, 0, [0, 3], user_id)
    wrong_option = client.post(f"/questions/{SEED}/answer", data={"check": "0", "response": chosen})
    assert verdict(wrong_option.text).startswith("verdict-wrong Not quite.")
    assert "Wrong, the sigmoid" in wrong_option.text
    chosen = pick(imported_app, SEED, 1, 0, user_id)
    right = client.post(f"/questions/{SEED}/answer", data={"check": "1", "response": chosen})
    assert verdict(right.text, 1).startswith("verdict-right Right!")
    # The first check's feedback stays on the page beside the new one.
    assert verdict(right.text, 0).startswith("verdict-wrong Not quite.")
    rated = client.post(
        f"/questions/{SEED}/answer",
        data={"check": "2", "response": "Gradients shrink; use ReLU.", "rating": "good"},
    )
    assert "You rated yourself <strong>Good</strong>." in rated.text
    with imported_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 4
        assert db.session.scalar(select(ReviewCard.reviews)) == 4
