"""The review card's check on a desktop (1280 px) and a phone (390 px): drawn by its kind's
own partial in the learner's order (the same as on the question page), answered with the
digit keys by shown position, graded, and shown back in that order."""

from __future__ import annotations

import re
import secrets

import pytest
from test_e2e_answer_ui import SEED, assert_no_horizontal_overflow, device, visit  # noqa: F401

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
AUTHORED = (
    "He initialisation",
    "Skip (residual)",
    "Batch normalisation",
    "Replacing ReLU with sigmoid",
    "Making the network deeper",
)
RIGHT = AUTHORED[:3]


def test_the_review_card_asks_in_the_learners_order_and_grades_by_shown_position(
    device,  # noqa: F811
    screenshot,
):
    from playwright.sync_api import expect

    tab = device
    visit(tab, "/register")
    tab.get_by_label("Username").fill(f"reviewer-{tab.device}-{secrets.token_hex(2)}")
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_label("Repeat the password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    tab.locator(".flash-success").wait_for()

    visit(tab, SEED)
    on_page = tab.locator("#check-0 .option-text").all_inner_texts()
    visit(tab, "/review?card=vanishing-gradient-problem")
    shown = tab.locator(".review-front .option-text").all_inner_texts()
    assert shown == on_page, (shown, on_page)
    assert [next(a for a in AUTHORED if text.strip().startswith(a)) for text in shown] != list(
        AUTHORED
    )
    assert_no_horizontal_overflow(tab)

    for number, text in enumerate(shown, 1):
        if text.strip().startswith(RIGHT):
            tab.keyboard.press(str(number))
    expect(tab.locator(".review-front input:checked")).to_have_count(3)
    tab.get_by_role("button", name=re.compile("Show answer")).click()
    expect(tab.locator(".verdict")).to_contain_text("Right!")
    expect(tab.locator(".verdict")).to_contain_text("You picked 3 of 3 right options")
    expect(tab.locator(".review-graded .option-text")).to_have_text(shown)
    expect(tab.locator(".review-graded .option-verdict-picked_right")).to_have_count(3)
    expect(tab.locator(".rating.is-suggested")).to_contain_text("Good")
    assert_no_horizontal_overflow(tab)
    if tab.device == "phone":
        screenshot(tab, "phone-review")
    tab.keyboard.press("3")
    expect(tab.locator(".review-status")).to_contain_text("Rated Good")
