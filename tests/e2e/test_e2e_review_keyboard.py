"""Reviewing a deck in a real browser with the keyboard only (reveal, rate, undo), without a
page load between cards; and the same review with JavaScript off, through plain forms."""

from __future__ import annotations

import re
import sqlite3

import pytest
from test_e2e_learner_journey import sign_up, visit

pytestmark = pytest.mark.e2e


def limit_new_cards(live_server, username: str, count: int) -> None:
    with sqlite3.connect(live_server.database) as connection:
        connection.execute(
            "UPDATE users SET new_cards_per_day = ? WHERE username = ?", (count, username)
        )


def review_logs(live_server, username: str) -> list[tuple[str, int]]:
    with sqlite3.connect(live_server.database) as connection:
        return connection.execute(
            "SELECT q.slug, l.rating FROM review_logs l JOIN questions q ON q.id = l.question_id "
            "JOIN users u ON u.id = l.user_id WHERE u.username = ? ORDER BY l.id",
            (username,),
        ).fetchall()


def test_a_deck_is_reviewed_with_the_keyboard_only(page, live_server, screenshot):
    from playwright.sync_api import expect

    username = sign_up(page, "kbd")
    limit_new_cards(live_server, username, 3)
    visit(page, "/review")
    page.evaluate("window.reviewPageLoad = 'first'")  # gone if the page ever reloads
    title = page.locator("#review-title")
    count = page.locator(".review-count")
    expect(count).to_have_text("1 / 3")
    expect(page.locator(".shortcuts")).to_contain_text("Undo the last rating")
    first = title.inner_text()

    page.keyboard.press("Space")
    expect(page.locator(".review-answer")).to_be_visible()
    intervals = page.locator(".rating-interval")
    expect(intervals).to_have_count(4)
    expect(intervals.nth(3)).to_have_text(re.compile(r"\d+ (d|min|h)"))
    screenshot(page, "review-answer")

    page.keyboard.press("3")
    expect(page.locator(".review-status")).to_contain_text("Rated Good")
    expect(count).to_have_text("2 / 3")
    second = title.inner_text()
    assert second != first

    page.keyboard.press("u")
    expect(page.locator(".review-status")).to_contain_text("is back as it was")
    expect(title).to_have_text(first)
    expect(count).to_have_text("1 / 3")
    assert review_logs(live_server, username) == []

    for key in ("4", "1", "4"):  # Easy, Again (it comes back within minutes), Easy
        page.keyboard.press("Enter")
        expect(page.locator(".rating-buttons")).to_be_visible()
        page.keyboard.press(key)
        expect(page.locator(".review-status")).to_contain_text("Rated")
    expect(count).to_have_text("4 / 4")
    page.keyboard.press("Space")
    page.keyboard.press("4")

    summary = page.locator(".review-summary")
    expect(summary).to_contain_text("You reviewed 4 cards")
    screenshot(page, "review-summary")
    assert page.evaluate("window.reviewPageLoad") == "first"  # never a full reload
    logs = review_logs(live_server, username)
    assert [rating for _, rating in logs] == [4, 1, 4, 4]
    assert logs[0][0] != logs[1][0] and logs[1][0] == logs[3][0]  # the forgotten card again


def test_reviewing_works_without_javascript(browser, live_server):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    tab = context.new_page()
    try:
        username = sign_up(tab, "nojs")
        limit_new_cards(live_server, username, 2)
        visit(tab, "/review")
        tab.get_by_role("button", name=re.compile("Show answer")).click()
        expect(tab.locator(".review-answer")).to_be_visible()
        tab.get_by_role("button", name=re.compile("Good")).click()
        expect(tab.locator(".flash")).to_contain_text("Rated Good")
        expect(tab.locator(".review-count")).to_have_text("2 / 2")
        tab.get_by_role("button", name=re.compile("Undo")).click()
        expect(tab.locator(".flash")).to_contain_text("is back as it was")
        expect(tab.locator(".review-count")).to_have_text("1 / 2")
        assert review_logs(live_server, username) == []
    finally:
        context.close()
