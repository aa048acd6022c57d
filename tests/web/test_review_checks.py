"""The review card's check is drawn by its kind's own partial (checks/<kind>.html), in the
learner's stable option order: the same order as on the question page, answers sent and
re-sent by shown position, stored by authored index with the layout beside them."""

from __future__ import annotations

import re

import pytest
from conftest import MULTIPLE_CHOICE, add_user, sign_in, write_question
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import Attempt
from quizapp.services.content_import import import_content

ORDERING = """checks:
  - kind: ordering
    prompt: Order the steps of a training step.
    items: [Forward pass, Loss, Backward pass, Update]
"""
OPTION_TEXT = re.compile(r'<span class="prose option-text">(.*?)</span>', re.S)


def option_texts(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text).strip() for text in OPTION_TEXT.findall(html)]


@pytest.fixture
def learner(app, content_dir, client):
    """A learner whose only new card is `choice` (its first check is multiple choice)."""
    (content_dir / "questions" / "alpha.yaml").unlink()
    (content_dir / "questions" / "beta.yaml").unlink()
    write_question(content_dir, "choice", replace={"checks:\n": MULTIPLE_CHOICE})
    with app.app_context():
        import_content(content_dir)
    sign_in(client, add_user(app, "ada"))
    return client


def hidden_fields(form_html: str, names: set[str]) -> list[tuple[str, str]]:
    fields = re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)">', form_html)
    return [(name, value) for name, value in fields if name in names]


def test_the_review_card_asks_in_the_learners_order_and_grades_by_shown_position(app, learner):
    front = learner.get("/review").text
    page = learner.get("/questions/choice").text
    shown = option_texts(front)
    assert len(shown) == 3 and shown != ["sigmoid", "ReLU", "tanh"]  # shuffled, 3 options
    assert shown == option_texts(page)[:3]  # as on its page
    assert 'type="submit" formnovalidate>Show answer' in front

    # Pick sigmoid and tanh (authored 0 and 2, both right) by where they are shown.
    picks = [str(shown.index("sigmoid")), str(shown.index("tanh"))]
    back = learner.post(
        "/review/reveal", data={"question": "choice", "check": "0", "response": picks}
    ).text
    assert "<strong>Right!</strong>" in back and "You picked 2 of 2 right options" in back
    graded = re.search(r'<fieldset class="review-check review-graded" disabled>.*?</fieldset>',
                       back, re.S).group(0)  # fmt: skip
    assert option_texts(graded) == shown
    assert graded.count("option-verdict-picked_right") == 2
    rate_form = re.search(r"<form[^>]*data-review-rate>.*?</form>", back, re.S).group(0)
    assert hidden_fields(rate_form, {"check", "response"}) == [
        ("check", "0"), *[("response", pick) for pick in picks],  # as they were sent
    ]  # fmt: skip

    rated = learner.post(
        "/review/rate",
        data={"question": "choice", "rating": "good", "check": "0", "response": picks},
    )
    assert rated.status_code == 303
    with app.app_context():
        attempt = db.session.scalar(select(Attempt))
        order = attempt.layout["options"]
        assert [["sigmoid", "ReLU", "tanh"][i] for i in order] == shown
        assert (attempt.response, attempt.score) == ([0, 2], 1.0)


def test_an_ordering_card_is_asked_with_its_own_selects_and_a_bad_answer_comes_back(
    app, content_dir, client
):
    (content_dir / "questions" / "alpha.yaml").unlink()
    (content_dir / "questions" / "beta.yaml").unlink()
    write_question(content_dir, "steps", replace={"checks:\n": ORDERING})
    with app.app_context():
        import_content(content_dir)
    sign_in(client, add_user(app, "bo"))
    front = client.get("/review").text
    items = [
        re.sub(r"<[^>]+>", "", item).strip()
        for item in re.findall(
            r'<span class="prose item-text" id="item-0-\d">(.*?)</span>', front, re.S
        )
    ]
    assert sorted(items) == ["Backward pass", "Forward pass", "Loss", "Update"]

    half = client.post("/review/reveal", data={"question": "steps", "check": "0",
                                               "position-0": "1"})  # fmt: skip
    assert half.status_code == 422
    assert "Give every item a position from 1 to 4." in half.text
    assert re.search(r'name="position-0"[^>]*required', half.text)  # the same card, asked again

    right = ["Forward pass", "Loss", "Backward pass", "Update"]
    positions = {f"position-{shown}": str(right.index(item) + 1)
                 for shown, item in enumerate(items)}  # fmt: skip
    back = client.post("/review/reveal", data={"question": "steps", "check": "0", **positions}).text
    assert "<strong>Right!</strong>" in back
    rate_form = re.search(r"<form[^>]*data-review-rate>.*?</form>", back, re.S).group(0)
    assert sorted(hidden_fields(rate_form, set(positions))) == sorted(positions.items())


@pytest.mark.parametrize("step", ["reveal", "rate"])
def test_a_check_index_that_is_not_a_number_is_refused_not_a_500(learner, step):
    form = {"question": "choice", "check": "²", "response": "0", "rating": "good"}
    answer = learner.post(f"/review/{step}", data=form)
    assert answer.status_code == 400
    assert "check must be the index of one of the card&#39;s checks" in answer.text
