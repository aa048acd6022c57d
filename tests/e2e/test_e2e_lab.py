"""The gradient lab in a real browser: sliders that re-run in place, fields that follow the
kind, overlaying two runs, a shared permalink opened signed out, a phase diagram whose
critical line sits on the vanishing/exploding boundary where theory puts it, the phone layout.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
SIMULATION_WAIT = 120_000  # ms: the first run starts a worker that imports torch
SMALL = "/lab?kind=mlp&depth=6&width=8&batch_size=8&activation=tanh"
DONE = "#lab-result .lab-run[data-status=done]"


def run_id(page) -> str:
    return page.eval_on_selector("#lab-result", "node => node.dataset.runId || ''")


def wait_for_new_result(page, before: str) -> str:
    page.wait_for_function(
        "(before) => { const n = document.querySelector('#lab-result .lab-run');"
        " return n && n.dataset.runId !== before && n.dataset.status === 'done'; }",
        arg=before,
        timeout=SIMULATION_WAIT,
    )
    return run_id(page)


def sign_up(page, username: str) -> None:
    from playwright.sync_api import expect

    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Welcome, {username}")


def test_sliders_rerun_in_place_overlay_two_runs_and_share_a_permalink(
    page, browser, live_server, console, screenshot
):
    from playwright.sync_api import expect

    sign_up(page, "lab-learner")
    page.goto(SMALL)
    page.wait_for_selector(DONE, timeout=SIMULATION_WAIT)
    first = run_id(page)
    page.evaluate("window.labMarker = 'same page'")  # gone if the page ever reloads

    # Drive the depth slider from the keyboard: the charts are redrawn, the page never reloads.
    slider = page.locator("#lab-depth-slider")
    expect(slider).to_be_visible()
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wait_for_new_result(page, first)
    assert page.input_value("#lab-depth") == "9"
    expect(page).to_have_url(re.compile(r"depth=9"))
    # runs during the drag are throttled; the last position always gets its own run
    done = page.locator("#lab-result .lab-run[data-status=done]")
    expect(done).to_have_attribute("data-summary", re.compile(r"depth 9 "))
    second = run_id(page)
    assert page.evaluate("window.labMarker") == "same page"
    expect(page.locator("#lab-result .network-picture svg rect.net-cell")).to_have_count(9)

    # Switching kind hides what does not apply and keeps what still does.
    page.select_option("#lab-kind", "lstm")
    expect(page.locator('[data-field="activation"]')).to_be_hidden()
    expect(page.locator('[data-field="forget_bias"]')).to_be_visible()
    expect(page.locator("#lab-depth")).to_have_value("9")
    recurrent = wait_for_new_result(page, second)
    page.select_option("#lab-kind", "mlp")
    expect(page.locator("#lab-activation")).to_have_value("tanh")
    third = wait_for_new_result(page, recurrent)

    # A combination the simulator refuses is explained, and nothing is run.
    with console.expecting_status(400):  # the refusal is a 400 answer, by design
        page.fill("#lab-depth", "900")
        expect(page.locator("#lab-error .form-error")).to_contain_text("above the limit of 200")
    expect(page.locator('.lab-field[data-field="depth"]')).to_have_class(re.compile("has-error"))
    # The status line points to the message where it is: right below it.
    expect(page.locator("#lab-status")).to_have_text("Not run: see the message below.")
    status, message = page.locator("#lab-status"), page.locator("#lab-error .form-error")
    assert status.bounding_box()["y"] < message.bounding_box()["y"]
    assert run_id(page) == third
    page.fill("#lab-depth", "9")
    expect(page.locator("#lab-error .form-error")).to_have_count(0)

    # Overlay two runs from the history.
    history = page.locator("#history-list input[type=checkbox]")
    expect(history.first).to_be_visible()
    assert history.count() >= 2
    page.check(f'#history-list input[value="{first}"]')
    page.check(f'#history-list input[value="{second}"]')
    page.click("#overlay-button")
    page.wait_for_url(re.compile(r"/lab/overlay\?"))
    expect(page.locator(".legend li")).to_have_count(2)
    expect(page.locator("path.series.line-run-0")).to_have_count(1)
    expect(page.locator("path.series.line-run-1")).to_have_count(1)
    expect(page.locator("tr.differs th", has_text="depth")).to_have_count(1)
    screenshot(page, "lab-overlay")

    # The Share link opens for someone signed out, served from the cache.
    page.goto(f"/runs/{first}")
    share = page.get_attribute("a.share-link", "href") or ""
    assert share.startswith("/lab/results?")
    assert parse_qs(urlsplit(share).query)["depth"] == ["6"]
    stranger = browser.new_context(base_url=live_server.url)
    try:
        other = stranger.new_page()
        response = other.goto(share)
        assert response is not None and response.ok
        expect(other.locator(".lab-run[data-status=done]")).to_have_count(1)
        expect(other.locator(".verdict-badge")).to_be_visible()
        assert other.goto(f"/runs/{first}").status == 404  # the run itself stays private
    finally:
        stranger.close()


def test_a_phase_diagram_puts_the_critical_line_on_the_boundary(page, screenshot):
    from playwright.sync_api import expect

    page.goto("/lab/phase?preset=tanh-edge-of-chaos&size=6")
    page.wait_for_selector(".phase-figure[data-complete=true]", timeout=SIMULATION_WAIT)
    figure = page.locator(".phase-figure")
    critical = float(figure.get_attribute("data-critical"))
    # Theory: tanh with zero biases has χ₁ = 1 at σ_w = 1, a weight std of 1/√64.
    assert critical == pytest.approx(0.125, rel=0.15)
    cells = page.locator(".phase-cell")
    expect(cells).to_have_count(36)
    deepest = [cells.nth(30 + column) for column in range(6)]
    xs = [float(re.search(r"weight std ([\d.]+)", c.get_attribute("aria-label")).group(1))
          for c in deepest]  # fmt: skip
    verdicts = [c.get_attribute("data-verdict") for c in deepest]
    left = [v for x, v in zip(xs, verdicts, strict=True) if x < critical]
    right = [v for x, v in zip(xs, verdicts, strict=True) if x > critical]
    assert left[0] == "vanishing" and right[-1] == "exploding", verdicts
    assert "exploding" not in left and "vanishing" not in right, verdicts
    expect(page.locator("path.theory-critical")).to_have_count(1)
    assert page.locator("line.boundary-vanishing").count() > 0
    assert page.locator("line.boundary-exploding").count() > 0
    screenshot(page, "lab-phase")
    # A cell opens its configuration in the lab.
    deepest[-1].focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(DONE, timeout=SIMULATION_WAIT)
    assert "init_std=0.5" in page.url and "depth=50" in page.url
    expect(page.locator("#lab-result .verdict-badge")).to_have_text("Exploding")


def test_on_a_phone_run_and_the_first_chart_are_on_the_first_screen(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto(SMALL)
        phone.wait_for_selector(DONE, timeout=SIMULATION_WAIT)
        run = phone.locator("#lab-run").bounding_box()
        chart = phone.locator("#lab-result figure.chart svg").first.bounding_box()
        assert run and run["y"] + run["height"] <= 844
        assert chart and chart["y"] < 844, chart
    finally:
        context.close()


def test_on_a_phone_the_phase_diagrams_axis_labels_do_not_overlap(browser, live_server):
    """Six-digit ticks ("0.07294", "0.1137") ran into each other once the figure shrank."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto("/lab/phase?preset=tanh-edge-of-chaos&size=20")
        ticks = phone.locator(".phase-figure svg text.tick[text-anchor=middle]")
        boxes = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
        assert len(boxes) >= 5, boxes
        for left, right in itertools.pairwise(boxes):
            assert left["x"] + left["width"] <= right["x"], (left, right)
    finally:
        context.close()
