"""An author's whole loop in a real browser: `content new`, the live preview reloading on
save with the problems on the page, import, several learners answering, item statistics,
and a learner's problem report answered and seen on the learner's dashboard."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

SLUG = "e2e-authored-card"
IMPORT_WAIT = 15.0  # seconds: a bound on the watcher's first import, not a timing target


def _wait_for_page(url: str) -> None:
    deadline = time.monotonic() + IMPORT_WAIT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never appeared"
            time.sleep(0.1)


def test_the_preview_reloads_on_save_and_shows_problems_in_place(preview_server, new_tab):
    from playwright.sync_api import expect

    path = preview_server.content / "questions" / f"{SLUG}.yaml"
    from quizapp.content.starters import write_starter

    write_starter("question", SLUG, preview_server.content)
    tab = new_tab(preview_server.url)
    # The watcher imports the new file within a moment of its saving.
    _wait_for_page(f"{preview_server.url}/questions/{SLUG}")
    tab.goto(f"/questions/{SLUG}")
    expect(tab.locator("h1")).to_have_text("E2e authored card")
    expect(tab.locator(".preview-banner")).to_contain_text("no problems")

    # Save a new title: the open page reloads by itself.
    path.write_text(path.read_text().replace("title: E2e authored card", "title: Authored live"))
    expect(tab.locator("h1")).to_have_text("Authored live", timeout=10_000)

    # Save a mistake: the page keeps the last good version and shows the problem in place.
    broken = path.read_text().replace("difficulty: medium", "difficulty: hardest")
    path.write_text(broken)
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if text.startswith("difficulty"))
    problems = tab.locator(".preview-problems")
    expect(problems).to_contain_text(f"{path.resolve()}:{line}", timeout=10_000)
    expect(problems).to_contain_text("difficulty: must be one of easy, medium, hard")
    expect(tab.locator("h1")).to_have_text("Authored live")


def test_learners_answer_an_authored_card_the_author_reads_the_statistics_and_a_report(
    live_server, new_tab, sign_up
):
    from playwright.sync_api import expect

    live_server.flask("content", "new", "question", SLUG, "--dir", str(live_server.content))
    imported = live_server.flask("content", "import", str(live_server.content))
    assert "1 added" in imported.stdout, imported.stdout

    # Three learners answer its single-choice check: two right, one wrong.
    for number, choice in enumerate(["The right statement.", "The right statement.",
                                     "A wrong but plausible statement."]):  # fmt: skip
        tab = new_tab()
        sign_up(tab, f"learner{number}")
        tab.goto(f"/questions/{SLUG}")
        check = tab.locator("#check-0")
        check.get_by_label(choice).check()
        check.get_by_role("button", name="Check answer").click()
        expect(tab.locator("#check-0 .verdict")).to_contain_text("Saved")
        if number == 2:
            learner = tab

    # The third learner reports the card.
    learner.goto(f"/questions/{SLUG}")
    learner.locator(".report-problem summary").click()
    learner.get_by_label("Unclear or ambiguous").check()
    learner.get_by_label("Tell the authors what you noticed").fill("Which statement is meant?")
    learner.get_by_role("button", name="Send report").click()
    expect(learner.locator(".flash-success")).to_contain_text("an author will look at your report")

    live_server.flask("users", "set-role", "learner0", "author")
    author = new_tab()
    author.goto("/login")
    author.get_by_label("Username").fill("learner0")
    author.get_by_label("Password").fill("correct horse battery staple")
    author.get_by_role("button", name="Log in").click()
    author.get_by_role("link", name="Author").click()
    row = author.locator(f"#item-{SLUG}-0")
    expect(row).to_contain_text("3")  # attempts and learners
    expect(row).to_contain_text("67%")  # facility: two of three right on the first attempt
    author.get_by_role("link", name=re.compile("^Reports")).click()
    report = author.locator("article.report").filter(has_text="Which statement is meant?")
    report.get_by_label("Status").select_option("fixed")
    report.get_by_label(re.compile("^Reply to the learner")).fill("Clarified: the second one.")
    report.get_by_role("button", name="Save").click()
    expect(author.locator(".flash-success")).to_contain_text("saved")

    learner.goto("/dashboard")
    outcome = learner.locator("#my-reports").locator("..")
    expect(outcome).to_contain_text("Fixed")
    expect(outcome).to_contain_text("Clarified: the second one.")
