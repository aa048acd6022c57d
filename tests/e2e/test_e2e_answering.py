"""The learner journey through the check kinds in a real browser, on desktop and phone:
a malformed number comes back beside its field, a hint, a second try, ordering and
matching with plain selects (no JavaScript needed), a typed short answer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

BACKPROP = "/questions/backpropagation-explained"
ACTIVATIONS = "/questions/activation-functions-compared"
STEPS = [
    "Run the forward pass",
    "Compute the loss",
    "Compute the output layer",
    "Propagate",
    "Update every weight",
]
MATCHES = {"Sigmoid": "1/4, at x = 0", "Tanh": "1, at x = 0", "ReLU": "1, for every x > 0"}


def choose_containing(select, text: str) -> None:
    """Pick the option of a <select> whose label contains `text`."""
    labels = select.locator("option").all_text_contents()
    (label,) = [label for label in labels if text in label]
    select.select_option(label=label)


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
)
def test_answering_forgives_input_and_offers_hints_tries_and_new_kinds(
    page, console, screenshot, viewport
):
    from playwright.sync_api import expect

    page.set_viewport_size(viewport)
    page.goto(BACKPROP)
    numeric = page.locator("#check-0")
    field = numeric.get_by_label("Your answer")
    expect(field).to_have_attribute("required", "")
    expect(numeric).to_contain_text("A number: 0.25, 0,25, 1/4, 2.5e-3 or 2.5×10^-3.")

    # Malformed: the same question again (422), the input kept, the problem beside it.
    field.fill("minus a tenth")
    with console.expecting_status(422):
        numeric.get_by_role("button", name="Check answer").click()
        problem = page.locator("#check-0 .field-problem")
        expect(problem).to_contain_text("Not a number: 'minus a tenth'")
    expect(page.locator("#check-0").get_by_label("Your answer")).to_have_value("minus a tenth")

    # A hint, then a wrong try (the answer stays hidden), then the right answer.
    page.locator("#check-0").get_by_role("button", name="Show a hint (−25 %)").click()
    expect(page.locator("#check-0 .hint")).to_contain_text("First compute")
    page.locator("#check-0").get_by_label("Your answer").fill("-0,2")
    page.locator("#check-0").get_by_role("button", name="Check answer").click()
    expect(page.locator("#check-0 .verdict")).to_contain_text("Try again: 1 try left.")
    expect(page.locator("#check-0")).not_to_contain_text("The answer is")
    page.locator("#check-0").get_by_label("Your answer").fill("-1.058×10^-1")
    page.locator("#check-0").get_by_role("button", name="Check answer").click()
    verdict = page.locator("#check-0 .verdict")
    expect(verdict).to_contain_text("Right!")
    expect(verdict).to_contain_text("1 hint used: −25 % each, score 75 %.")

    # Ordering: one position select per shown item.
    ordering = page.locator("#check-3")
    for position, step in enumerate(STEPS, start=1):
        item = ordering.locator(".ordering-item", has_text=step)
        item.locator("select").select_option(str(position))
    ordering.get_by_role("button", name="Check answer").click()
    expect(page.locator("#check-3 .verdict")).to_contain_text("Right!")
    expect(page.locator("#check-3 .item-right")).to_have_count(len(STEPS))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

    page.goto(ACTIVATIONS)
    matching = page.locator("#check-3")
    for left, right in MATCHES.items():
        choose_containing(
            matching.locator(".matching-pair", has_text=left).locator("select"), right
        )
    matching.get_by_role("button", name="Check answer").click()
    expect(page.locator("#check-3 .verdict")).to_contain_text("Right!")

    short = page.locator("#check-4")
    short.get_by_label("Your answer").fill("  Relu. ")
    short.get_by_role("button", name="Check answer").click()
    expect(page.locator("#check-4 .verdict")).to_contain_text("Accepted answer: ReLU.")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    if viewport["width"] == 1280:
        screenshot(page, "answer-kinds")
