"""An author edits the content folder the server reads: a mistake is reported as path:line by
`flask content check`, the fix is imported with `flask content import`, the browser shows it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

SLUG = "adam-bias-correction"
NEW_TITLE = "Adam and its bias correction, as an author rewrote it"


def _line_of(text: str, prefix: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def test_an_author_fixes_a_reported_mistake_and_sees_the_change_in_the_browser(page, live_server):
    from playwright.sync_api import expect

    path = live_server.content / "questions" / f"{SLUG}.yaml"
    original = path.read_text()
    assert "\ndifficulty: hard\n" in original
    page.goto(f"/questions/{SLUG}")
    expect(page.locator("h1")).to_have_text("Adam and its bias correction")

    # A typo in the difficulty: the check names the file and the line, and exits 1.
    path.write_text(original.replace("\ndifficulty: hard\n", "\ndifficulty: hrad\n"))
    checked = live_server.flask(
        "content", "check", str(live_server.content), "--no-simulate", check=False
    )
    assert checked.returncode == 1
    line = _line_of(path.read_text(), "difficulty:")
    assert re.search(rf"^{re.escape(str(path))}:{line}: difficulty: ", checked.stderr, re.M), (
        checked.stderr
    )
    # Import refuses the broken folder too and changes nothing.
    refused = live_server.flask("content", "import", str(live_server.content), check=False)
    assert refused.returncode == 1
    assert "Nothing imported" in refused.stderr

    # The fix, with a new title: check passes, import updates exactly that question.
    title_line = _line_of(original, "title:")
    lines = original.splitlines(keepends=True)
    lines[title_line - 1] = f"title: {NEW_TITLE}\n"
    path.write_text("".join(lines))
    live_server.flask("content", "check", str(live_server.content), "--no-simulate")
    imported = live_server.flask("content", "import", str(live_server.content))
    assert imported.stdout.startswith("0 added, 1 updated"), imported.stdout

    page.reload()
    expect(page.locator("h1")).to_have_text(NEW_TITLE)
    page.goto("/?q=bias+correction")
    expect(page.get_by_role("link", name=NEW_TITLE)).to_be_visible()
