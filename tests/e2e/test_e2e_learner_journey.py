"""A new learner in a real browser: sign up, read and answer the seed card, review, run an
exercise, look at the dashboard and the account; screenshots of every main page."""

from __future__ import annotations

import re
import sqlite3

import pytest

pytestmark = pytest.mark.e2e

SEED = "/questions/vanishing-gradient-problem"
EXERCISE = "/exercises/tanh-depth-30-init"
PASSWORD = "correct horse battery staple"
SIMULATION_WAIT = 120_000  # ms: the first run starts a worker that imports torch


def visit(page, path: str):
    response = page.goto(path)
    assert response is not None and response.ok, f"{path} answered {response and response.status}"
    return response


def sign_up(page, username: str) -> str:
    """Register a new account through the sign-up form (the server's database is new)."""
    from playwright.sync_api import expect

    visit(page, "/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Welcome, {username}")
    return username


def test_a_new_learner_reads_the_seed_card_answers_and_finds_it_in_review(
    page, live_server, screenshot
):
    from playwright.sync_api import expect

    username = sign_up(page, "ada")
    expect(page.get_by_role("link", name=username)).to_be_visible()
    screenshot(page, "catalog")

    visit(page, SEED)
    expect(page.locator("h1")).to_have_text("Explain the vanishing gradient problem")
    answer = page.locator("#answer .prose")
    expect(answer).to_be_hidden()
    page.locator("#answer summary").click()
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("Skip Connections/Residual Networks")

    page.locator("#explanation summary").click()
    expect(page.locator("#explanation math").first).to_be_visible()
    # diagrams.js draws the ```mermaid block when its <details> opens.
    expect(page.locator("#explanation pre.mermaid svg").first).to_be_attached()
    expect(page.locator("#explanation pre.mermaid svg").first).to_be_visible()
    screenshot(page, "question")

    # A wrong answer to the single-choice check: the option's feedback and the right option.
    check = page.locator("#check-1")
    check.get_by_label("The learning rate is divided by the depth").check()
    check.get_by_role("button", name="Check answer").click()
    graded = page.locator("#check-1")
    expect(graded.locator(".verdict")).to_contain_text("Not quite.")
    expect(graded.locator(".verdict")).to_contain_text("Saved")
    expect(graded.locator(".option-wrong .option-feedback")).to_contain_text(
        "optimisers do not scale the learning rate"
    )
    expect(graded.locator(".option-right")).to_contain_text("The chain rule multiplies")

    # Relearning is due a minute later, so nothing is due yet.
    review_link = page.get_by_role("link", name=re.compile("^Review"))
    expect(review_link.locator(".nav-count")).to_have_count(0)

    # A day passes: the card's due date moves into the past, as the clock would move it.
    with sqlite3.connect(live_server.database) as connection:
        moved = connection.execute(
            "UPDATE review_cards SET due_at = '2000-01-01 00:00:00.000000' "
            "WHERE user_id = (SELECT id FROM users WHERE username = ?)",
            (username,),
        ).rowcount
    assert moved == 1
    page.reload()
    expect(review_link.locator(".nav-count")).to_have_text("1")

    review_link.click()
    # The due card comes first, one card at a time.
    expect(page.locator("#review-title")).to_have_text("Explain the vanishing gradient problem")
    screenshot(page, "review")

    # Answer its check with the keyboard (the digit of each right option where this learner
    # sees it: the order is theirs), turn the card over with Space, and rate it Good with "3".
    shown = page.locator(".review-front .option-text").all_inner_texts()
    right = ("He initialisation", "Skip (residual)", "Batch normalisation")
    keys = [str(n) for n, text in enumerate(shown, 1) if text.strip().startswith(right)]
    assert len(keys) == 3, shown
    for key in keys:
        page.keyboard.press(key)
    expect(page.locator(".review-check input:checked")).to_have_count(3)
    page.keyboard.press("Space")
    expect(page.locator(".verdict")).to_contain_text("Right!")
    expect(page.locator(".review-graded .option-text")).to_have_text(shown)  # the same order
    expect(page.locator(".rating.is-suggested")).to_contain_text("Good")
    page.keyboard.press("3")
    expect(page.locator(".review-status")).to_contain_text("Rated Good")
    page.reload()
    expect(
        page.get_by_role("link", name=re.compile("^Review")).locator(".nav-count")
    ).to_have_count(0)

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_contain_text("progress")
    expect(page.locator("main")).to_contain_text("Explain the vanishing gradient problem")
    screenshot(page, "dashboard")

    page.get_by_role("link", name=username).click()
    expect(page.locator("h1")).to_contain_text("account")
    screenshot(page, "account")


def test_an_exercise_fails_with_the_default_init_and_passes_with_xavier(page, screenshot):
    from playwright.sync_api import expect

    sign_up(page, "grace")
    visit(page, EXERCISE)
    page.get_by_label("Vanishing").check()
    page.get_by_label("PyTorch default").check()
    page.get_by_role("button", name="Run the simulation").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    badge = page.locator(".verdict-badge")
    # runs.js polls the run and reloads the page when the worker has finished.
    expect(badge).to_have_text("Vanishing", timeout=SIMULATION_WAIT)
    expect(page.locator(".prediction-result")).to_contain_text("right!")
    expect(page.locator(".goal-results li.bad")).to_have_count(1)
    expect(page.locator(".feedback")).to_contain_text("The signal died on its way back.")
    expect(page.get_by_role("heading", name="Why it works")).to_have_count(0)

    page.get_by_role("link", name="Try again").click()
    expect(page).to_have_url(re.compile(EXERCISE + "$"))
    page.get_by_label("Xavier/Glorot normal").check()
    page.get_by_role("button", name="Run the simulation").click()
    expect(badge).to_have_text("Healthy", timeout=SIMULATION_WAIT)
    expect(page.locator(".goal-results li.ok")).to_have_count(1)
    expect(page.get_by_role("heading", name="Why it works")).to_be_visible()
    expect(page.locator("svg").first).to_be_visible()
    screenshot(page, "exercise-result")

    # The exercise list marks it solved, and the previous runs are listed on its page.
    visit(page, EXERCISE)
    expect(page.locator("table tbody tr")).to_have_count(2)

    visit(page, "/lab")
    expect(page.locator("h1")).to_contain_text("lab")
    screenshot(page, "lab")


def test_a_learner_logs_out_and_back_in(page, console, screenshot):
    from playwright.sync_api import expect

    username = sign_up(page, "alan")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".flash-info")).to_contain_text("signed out")
    page.get_by_role("link", name="Log in").click()
    expect(page.locator("h1")).to_contain_text("Log in")
    screenshot(page, "login")

    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not the password")
    with console.expecting_status(401):
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".form-error")).to_have_text("Wrong username or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=username)).to_be_visible()
