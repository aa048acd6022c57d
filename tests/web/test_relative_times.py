"""Moments are shown as relative times ("in 10 min", "yesterday") through the one filter, which
renders a <time> element with the exact time in its attributes."""

from __future__ import annotations

import re

from conftest import REPO_ROOT, add_user, sign_in

TEMPLATES = REPO_ROOT / "quizapp" / "web" / "templates"
# A value formatted by hand in a template: what it is called, and the format call.
FORMATTED = re.compile(r"([\w.]+)\.(strftime|isoformat)\(")


def test_templates_format_only_calendar_days_by_hand() -> None:
    """Times go through `relative_time`; only whole days (forecast, calendar, accuracy per day)
    are written as dates."""
    by_hand = {
        f"{path.relative_to(TEMPLATES)}: {name}.{call}"
        for path in TEMPLATES.rglob("*.html")
        for name, call in FORMATTED.findall(path.read_text())
        if name.split(".")[-1] != "day"
    }
    assert by_hand == set()


def test_the_account_page_says_when_in_relative_times(app, client) -> None:
    sign_in(client, add_user(app))
    page = client.get("/account").text

    assert re.search(r'member since <time datetime="[^"]+" title="[^"]+ UTC">now</time>', page)
    assert not re.search(r"\d\d \w{3} \d{4}", re.sub(r"<time[^>]*>", "", page))
