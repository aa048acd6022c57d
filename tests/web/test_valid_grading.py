"""Grading that cannot be gamed: a learner who always picks the first option they are shown
scores about what chance gives over the real bank, through the real API and pages."""

from __future__ import annotations

import re
from statistics import mean

from conftest import CONTENT_DIR, add_user, shown, sign_in

from quizapp.content.loader import load_bank
from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.grading import account_key, check_id, resolve_check

CHOICE_KINDS = {name for name, kind in CHECK_KINDS.items() if "options" in kind.shuffled}


def choice_checks():
    return [
        (question["slug"], index, check)
        for question in load_bank(CONTENT_DIR).questions
        for index, check in enumerate(question["checks"])
        if check["kind"] in CHOICE_KINDS
    ]


def first_option(check: dict) -> object:
    return [0] if check["kind"] == "multiple_choice" else 0


def chance(check: dict) -> float:
    """The expected score of picking the first shown option when the order is random."""
    count = len(check["options"])
    if check["kind"] == "single_choice":
        return 1 / count
    correct = len(check["correct"])
    if check.get("scoring") == "partial":  # 1/k when the pick is right, 0 when wrong
        return correct / count * (1 / correct)
    return (correct / count) if correct == 1 else 0.0


def test_a_learner_who_always_picks_the_first_shown_option_scores_near_chance():
    """Over 50 learners and every choice check of the bank (domain only: the whole layout
    and grading path, no HTTP)."""
    checks = choice_checks()
    assert len(checks) >= 40
    expected = mean(chance(check) for _, _, check in checks)
    scores = [
        resolve_check(check, account_key(learner), check_id(slug, index))
        .grade(first_option(check))
        .score
        for learner in range(50)
        for slug, index, check in checks
    ]
    assert abs(mean(scores) - expected) < 0.05, (mean(scores), expected)


def test_the_first_option_bot_through_the_api_scores_near_chance(real_bank_app):
    """A cookie-less script reading each question and answering its first shown option."""
    client = real_bank_app.test_client(use_cookies=False)
    scores, expected = [], []
    for slug, index, check in choice_checks():
        shown = client.get(f"/api/v1/questions/{slug}").get_json()["checks"][index]
        if any("{{" in o["text"] for o in check["options"]):  # a variant: its own numbers
            assert len(shown["options"]) == len(check["options"])
            assert not any("{{" in o["text"] for o in shown["options"]), shown["options"]
        else:
            assert sorted(o["text"] for o in shown["options"]) == sorted(
                o["text"] for o in check["options"]
            )
        body = client.post(
            f"/api/v1/questions/{slug}/attempts",
            json={"check": index, "response": first_option(check)},
        ).get_json()
        scores.append(body["score"])
        expected.append(chance(check))
    # Before options were shuffled this bot scored 100 %.
    assert mean(scores) < mean(expected) + 0.2, (mean(scores), mean(expected))


def test_a_signed_in_learner_sees_the_same_order_on_reload_review_and_feedback(real_bank_app):
    client = real_bank_app.test_client()
    user_id = add_user(real_bank_app)
    sign_in(client, user_id)
    slug = "vanishing-gradient-problem"

    def option_texts(html: str) -> list[str]:
        form = re.search(r'<form class="check check-multiple_choice.*?</form>', html, re.S)
        return re.findall(r'<span class="prose option-text">(.*?)</span>', form.group(0), re.S)

    first = option_texts(client.get(f"/questions/{slug}").text)
    assert option_texts(client.get(f"/questions/{slug}").text) == first
    api = client.get(f"/api/v1/questions/{slug}").get_json()["checks"][0]["options"]
    assert [o["text_html"] for o in api] == first
    graded = client.post(f"/questions/{slug}/answer", data={"check": "0", "response": ["0"]})
    assert option_texts(graded.text) == first  # the feedback shows what was answered
    other = real_bank_app.test_client()
    sign_in(other, add_user(real_bank_app))
    orders = {tuple(option_texts(other.get(f"/questions/{slug}").text))}
    for _ in range(5):
        someone = real_bank_app.test_client()
        sign_in(someone, add_user(real_bank_app))
        orders.add(tuple(option_texts(someone.get(f"/questions/{slug}").text)))
    assert len(orders | {tuple(first)}) > 1  # learners see different orders


def test_the_export_records_the_order_each_answer_was_given_in(real_bank_app):
    client = real_bank_app.test_client()
    user_id = add_user(real_bank_app)
    sign_in(client, user_id)
    slug = "vanishing-gradient-problem"
    client.post(f"/questions/{slug}/answer", data={"check": "1", "response": "0"})
    (attempt,) = client.get("/api/v1/me/export").get_json()["attempts"]
    with real_bank_app.app_context():
        layout = attempt["layout"]["options"]
        # The first shown option, stored by its written index, with the order it was shown in.
        assert attempt["response"] == layout[0]
        assert shown(slug, 1, attempt["response"], user_id) == 0
