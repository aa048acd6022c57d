"""The kinds added through the registry, answered as a learner would: on the page without
JavaScript (plain selects and text fields) and through the JSON API; tries, hints and a
bad answer shown again beside its field."""

from __future__ import annotations

import re

import pytest
from conftest import add_user, shown, sign_in, write_question
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import Attempt
from quizapp.services.content_import import import_content

NEW_KINDS = """checks:
  - kind: ordering
    prompt: Order the steps of a training step.
    items: [Forward pass, Loss, Backward pass, Update]
  - kind: short_text
    prompt: Which activation is $\\max(0, x)$?
    accepted: [ReLU]
    patterns: ['rectified linear( unit)?']
    hints: [Rectified linear unit., It starts with R.]
    hint_penalty: 0.25
  - kind: matching
    prompt: Match each activation with its derivative's maximum.
    pairs:
      - {left: Sigmoid, right: 1/4}
      - {left: Tanh, right: '1'}
    distractors: ['2']
  - kind: numeric
    prompt: The sigmoid's largest slope?
    answer: 0.25
    percent: true
    tries: 3
"""


@pytest.fixture
def bank(app, content_dir):
    write_question(content_dir, "delta", replace={"checks:\n": NEW_KINDS})
    with app.app_context():
        import_content(content_dir)
    return app


def attempts(app) -> list[Attempt]:
    with app.app_context():
        return list(db.session.scalars(select(Attempt).order_by(Attempt.id)))


def test_each_new_kind_is_a_plain_form_with_required_fields_and_a_stated_format(bank):
    page = bank.test_client(use_cookies=False).get("/questions/delta").text
    kinds = re.findall(r'<form class="check check-(\w+)', page)
    assert kinds[:4] == ["ordering", "short_text", "matching", "numeric"]
    ordering = re.search(r'id="check-0".*?</form>', page, re.S).group(0)
    assert (
        len(
            re.findall(
                r'<select id="position-0-\d" name="position-\d" aria-labelledby="[^"]+" required',
                ordering,
            )
        )
        == 4
    )
    assert "Give each item its position, 1 for the first" in ordering
    short = re.search(r'id="check-1".*?</form>', page, re.S).group(0)
    assert re.search(r'<input type="text" id="answer-1" name="response"[^>]* required', short)
    assert "case and extra spaces do not matter" in short
    assert 'name="action" value="hint" formnovalidate' in short
    assert "2 tries left before the answer is shown." in short
    matching = re.search(r'id="check-2".*?</form>', page, re.S).group(0)
    assert len(re.findall(r'name="match-\d" required', matching)) == 2
    # Per pair: a blank choice, the two pairs' right items and the distractor.
    assert matching.count("<option value=") == 2 * 4
    numeric = re.search(r'id="check-3".*?</form>', page, re.S).group(0)
    assert "A percentage such as 25% is fine." in numeric and "3 tries left" in numeric


def test_ordering_is_answered_by_position_selects_with_partial_credit(bank):
    client = bank.test_client(use_cookies=False)
    with bank.app_context():
        shown_items = shown("delta", 0, [0, 1, 2, 3])  # where each authored item is shown
    # Swap the first two steps: tau = 2/3.
    positions = {0: 2, 1: 1, 2: 3, 3: 4}
    form = {"check": "0", **{f"position-{shown_items[i]}": str(p) for i, p in positions.items()}}
    page = client.post("/questions/delta/answer", data=form)
    assert page.status_code == 200
    assert "Partly right:</strong> score 67 %" in page.text
    assert page.text.count("belongs at") == 2 and page.text.count("in place") == 2
    assert "The right order:" in page.text


def test_an_incomplete_ordering_comes_back_with_the_positions_given(bank):
    client = bank.test_client(use_cookies=False)
    page = client.post("/questions/delta/answer", data={"check": "0", "position-0": "2"})
    assert page.status_code == 422
    assert "Give every item a position from 1 to 4." in page.text
    assert re.search(
        r'name="position-0" aria-labelledby="[^"]+" required>.*?<option value="2" selected>',
        page.text,
        re.S,
    )


def test_short_text_with_a_hint_and_a_second_try_is_stored_once_with_the_penalty(bank):
    client = bank.test_client()
    user_id = add_user(bank)
    sign_in(client, user_id)
    hinted = client.post(
        "/questions/delta/answer", data={"check": "1", "action": "hint", "response": "Re"}
    )
    assert hinted.status_code == 200
    assert "<strong>Hint 1.</strong> <p>Rectified linear unit.</p>" in hinted.text
    assert 'name="hints_used" value="1"' in hinted.text and 'value="Re"' in hinted.text
    wrong = client.post(
        "/questions/delta/answer",
        data={"check": "1", "response": "sigmoid", "hints_used": "1", "tries_used": "0"},
    )
    assert wrong.status_code == 200
    assert "<strong>Not quite.</strong> Try again: 1 try left." in wrong.text
    assert 'value="sigmoid"' in wrong.text and "Accepted answer" not in wrong.text
    assert 'name="tries_used" value="1"' in wrong.text
    assert attempts(bank) == []  # a try with tries left is not an answer yet
    right = client.post(
        "/questions/delta/answer",
        data={"check": "1", "response": " rectified   Linear unit ", "hints_used": "1",
              "tries_used": "1"},
    )  # fmt: skip
    assert "<strong>Right!</strong> Accepted answer: <strong>ReLU</strong>." in right.text
    assert "1 hint used: −25 % each, score 75 %." in right.text
    (attempt,) = attempts(bank)
    assert (attempt.score, attempt.correct, attempt.hints_used, attempt.tries_used) == (
        0.75,
        True,
        1,
        2,
    )


def test_numbers_in_the_forms_people_write_them(bank):
    client = bank.test_client(use_cookies=False)
    for typed in ("1/4", "0,25", "2.5e-1", "2.5×10^-1", "25%"):
        page = client.post("/questions/delta/answer", data={"check": "3", "response": typed})
        assert "<strong>Right!</strong>" in page.text, typed
    wrong = client.post("/questions/delta/answer", data={"check": "3", "response": "0.3"})
    assert "Try again: 2 tries left." in wrong.text and "The answer is" not in wrong.text
    last = client.post(
        "/questions/delta/answer", data={"check": "3", "response": "0.3", "tries_used": "2"}
    )
    assert "The answer is 0.25." in last.text


def test_the_api_shows_the_new_kinds_without_their_keys_and_grades_them(bank):
    client = bank.test_client(use_cookies=False)
    checks = client.get("/api/v1/questions/delta").get_json()["checks"]
    ordering, short, matching, numeric = checks[:4]
    assert sorted(i["text"] for i in ordering["items_to_order"]) == sorted(
        ["Forward pass", "Loss", "Backward pass", "Update"]
    )
    assert (short["tries"], short["hint_penalty"], len(short["hints_html"])) == (2, 0.25, 2)
    assert "accepted" not in short and "patterns" not in short
    assert [left["text"] for left in matching["lefts"]] == ["Sigmoid", "Tanh"]
    assert sorted(r["text"] for r in matching["rights"]) == ["1", "1/4", "2"]
    assert "pairs" not in matching and "distractors" not in matching
    assert numeric["tries"] == 3 and "answer" not in numeric

    texts = [r["text"] for r in matching["rights"]]
    body = client.post(
        "/api/v1/questions/delta/attempts",
        json={"check": 2, "response": [texts.index("1/4"), texts.index("2")]},
    ).get_json()
    assert (body["score"], body["verdicts"], body["final"]) == (0.5, ["right", "wrong"], True)
    assert body["expected"] == [texts.index("1/4"), texts.index("1")]

    steps = [i["text"] for i in ordering["items_to_order"]]
    in_order = [steps.index(s) for s in ("Forward pass", "Loss", "Backward pass", "Update")]
    body = client.post(
        "/api/v1/questions/delta/attempts", json={"check": 0, "response": in_order}
    ).get_json()
    assert (body["score"], body["correct"], body["response"]) == (1.0, True, in_order)

    first = client.post(
        "/api/v1/questions/delta/attempts", json={"check": 1, "response": "tanh", "hints_used": 2}
    ).get_json()
    assert (first["final"], first["tries_left"], first["expected"]) == (False, 1, None)
    second = client.post(
        "/api/v1/questions/delta/attempts",
        json={"check": 1, "response": "relu", "hints_used": 2, "tries_used": 2},
    ).get_json()
    assert (second["correct"], second["score"], second["raw_score"]) == (True, 0.5, 1.0)


def test_the_worksheet_prints_every_check_in_the_learners_order(bank):
    client = bank.test_client(use_cookies=False)
    page = client.get("/questions/delta/worksheet")
    assert page.status_code == 200
    assert page.text.count('<li class="worksheet-check">') == 7
    assert "___ <span" in page.text and "Answer: ____" in page.text
    assert "Model answer" in page.text


def test_a_reload_neither_hides_a_revealed_hint_nor_resets_the_tries(bank):
    client = bank.test_client()
    user_id = add_user(bank)
    sign_in(client, user_id)
    client.post("/questions/delta/answer", data={"check": "1", "action": "hint"})
    client.post("/questions/delta/answer", data={"check": "1", "response": "tanh"})
    page = client.get("/questions/delta").text
    short = re.search(r'id="check-1".*?</form>', page, re.S).group(0)
    assert "<strong>Hint 1.</strong>" in short and "1 try left before the answer" in short
    assert 'name="hints_used" value="1"' in short and 'name="tries_used" value="1"' in short
    # A form sent with the hidden fields reset still counts the hint and the try.
    last = client.post(
        "/questions/delta/answer",
        data={"check": "1", "response": "relu", "hints_used": "0", "tries_used": "0"},
    )
    assert "1 hint used: −25 % each, score 75 %." in last.text
    (attempt,) = attempts(bank)
    assert (attempt.hints_used, attempt.tries_used, attempt.score) == (1, 2, 0.75)
    fresh = client.get("/questions/delta").text
    assert "2 tries left before the answer" in fresh  # answered for good: a clean slate


SUPERSCRIPT_TWO = "²"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize(
    "field",
    ["check", "started_ms", "tries_used", "hints_used", "position-0"],
)
def test_a_digit_that_is_not_a_number_is_refused_or_ignored_never_a_500(bank, field):
    """Every whole number the answer form reads: a learner's own positions and the form's
    bookkeeping fields alike."""
    client = bank.test_client(use_cookies=False)
    form = {"check": "0", **{f"position-{shown}": str(shown + 1) for shown in range(4)}}
    form[field] = SUPERSCRIPT_TWO
    page = client.post("/questions/delta/answer", data=form)
    assert page.status_code in (200, 400, 422), page.status_code
    if field == "check":
        assert "That check does not exist on this question." in page.text
    if field == "position-0":
        assert "Give every item a position from 1 to 4." in page.text


def test_the_api_refuses_a_check_index_that_is_not_a_number(bank):
    client = bank.test_client(use_cookies=False)
    answer = client.post(
        "/api/v1/questions/delta/attempts", json={"check": SUPERSCRIPT_TWO, "response": "relu"}
    )
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "check must be a number from 0 to 6"
