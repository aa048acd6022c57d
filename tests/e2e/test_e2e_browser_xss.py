"""Script payloads in a real browser never run: each would set window.__xss if it did."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.e2e

PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '"><img src="/static/favicon.svg" onload="window.__xss = 2">',
    '\'><svg onload="window.__xss = 3">',
    "javascript:window.__xss=4",
]


def _fired(page) -> object:
    return page.evaluate("window.__xss")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_search_payload_is_shown_as_text_and_never_runs(page, payload):
    from playwright.sync_api import expect

    page.goto("/?q=" + quote(payload))
    page.wait_for_load_state("load")
    expect(page.locator("#q")).to_have_value(payload)
    expect(page.locator(".result-count")).to_contain_text(payload)
    assert _fired(page) is None


def test_a_self_rated_answer_with_markup_is_shown_as_text_and_never_runs(page):
    from playwright.sync_api import expect

    payload = PAYLOADS[0] + PAYLOADS[1]
    page.goto("/questions/vanishing-gradient-problem")
    check = page.locator("#check-2")
    check.locator("textarea").fill(payload)
    check.get_by_role("button", name="Compare with the model answer").click()
    expect(page.locator("#check-2 .self-answer blockquote")).to_have_text(payload)
    assert _fired(page) is None

    page.locator("#check-2").get_by_role("button", name="Good").click()
    expect(page.locator("#check-2 .verdict")).to_contain_text("You rated yourself Good")
    expect(page.locator("#check-2 .self-answer blockquote")).to_have_text(payload)
    assert _fired(page) is None


def test_a_username_with_markup_is_refused_and_never_runs(page, console):
    from playwright.sync_api import expect

    payload = "<svg onload=window.__xss=6>"  # the field holds at most 40 characters
    page.goto("/register")
    page.get_by_label("Username").fill(payload)
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Repeat the password").fill("a long enough passphrase")
    with console.expecting_status(400):
        page.get_by_role("button", name="Sign up").click()
        expect(page.locator(".field-error")).to_contain_text("letters a–z without accents, digits")
    expect(page.get_by_label("Username")).to_have_value(payload)
    assert _fired(page) is None


AUTHOR_QUESTION = """\
slug: xss-in-content
title: "An author's payloads <img src=/static/favicon.svg onload=window.__xss=10>"
difficulty: easy
topics: [gradient-flow]
question: |
  <script>window.__xss = 11</script> <img src="/static/favicon.svg" onload="window.__xss=12">
  [a link](javascript:window.__xss=13)
answer: |
  Plain $x^2$ math and <svg onload="window.__xss=14"></svg>.
explanation: |
  ```mermaid
  graph LR
    A["<img src=/static/favicon.svg onload=window.__xss=15>"] --> B[end]
    click A callback "Tooltip"
    click B "javascript:window.__xss=16"
  ```
references:
  - title: A reference
    url: https://example.org/
checks:
  - kind: self_rated
    prompt: Does anything run?
"""


def test_author_payloads_in_markdown_and_mermaid_never_run(page, live_server):

    source = live_server.content / "questions" / "xss-in-content.yaml"
    source.write_text(AUTHOR_QUESTION)
    live_server.flask("content", "import", str(live_server.content))
    try:
        _payloads_stay_inert(page)
    finally:  # retired again, so the other tests (and their screenshots) never meet it
        source.unlink()
        live_server.flask("content", "import", str(live_server.content))


def _payloads_stay_inert(page) -> None:
    from playwright.sync_api import expect

    page.goto("/questions/xss-in-content")
    page.locator("#answer summary").click()
    page.locator("#explanation summary").click()
    diagram = page.locator("#explanation pre.mermaid svg")
    expect(diagram).to_be_visible()
    # The label's tag is drawn as text (diagrams.js), never parsed as HTML by mermaid.
    expect(diagram).to_contain_text("‹img src=/static/favicon.svg onload=window.__xss=15›")
    diagram.locator(".node").last.click()  # node B's javascript: link
    expect(page).to_have_url(re.compile("/questions/xss-in-content$"))
    expect(page.locator("h1")).to_contain_text("onload=window.__xss=10")
    expect(page.locator(".panel-question")).to_contain_text("<script>window.__xss = 11</script>")
    assert _fired(page) is None
