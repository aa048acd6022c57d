"""Answering as a visitor and as a learner on a desktop (1280 px) and a phone (390 px):
feedback in view below the sticky header, the phone menu, answers kept on sign-up, card
states, the dashboard, next question and practice sessions; axe-core on every page."""

from __future__ import annotations

import re
import secrets

import pytest

pytestmark = pytest.mark.e2e

SEED = "/questions/vanishing-gradient-problem"
PASSWORD = "correct horse battery staple"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PHONE_HEADER_MAX = 64  # px


@pytest.fixture(params=sorted(VIEWPORTS))
def device(request, browser, live_server, console):
    """A fresh tab at the viewport's size, with no console error allowed."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=VIEWPORTS[request.param],
        color_scheme="light",
        reduced_motion="reduce",
        is_mobile=request.param == "phone",
        has_touch=request.param == "phone",
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    console.watch(tab)
    tab.device = request.param
    yield tab
    context.close()
    assert not console.problems, "\n".join(console.problems)


def visit(tab, path: str):
    response = tab.goto(path)
    assert response is not None and response.ok, f"{path} answered {response and response.status}"


def assert_no_horizontal_overflow(tab) -> None:
    width = tab.evaluate("document.documentElement.scrollWidth")
    viewport = tab.viewport_size["width"]
    assert width <= viewport, f"{tab.url} is {width} px wide in a {viewport} px viewport"


def assert_fully_in_view(tab, selector: str) -> None:
    """The element is entirely on screen and not under the sticky header."""
    header = tab.locator(".site-header").bounding_box()
    box = tab.locator(selector).bounding_box()
    viewport = tab.viewport_size["height"]
    assert box["y"] >= header["y"] + header["height"] - 1, (selector, box, header)
    assert box["y"] + box["height"] <= viewport + 1, (selector, box, viewport)


def answer_single_choice(tab, check: int, option_text: str) -> None:
    form = tab.locator(f"#check-{check}")
    form.get_by_label(option_text).check()
    form.get_by_role("button", name="Check answer").click()
    tab.wait_for_url(re.compile(rf"#check-{check}-result$"))


def test_feedback_in_view_and_answers_kept_through_sign_up(device, screenshot):
    from playwright.sync_api import expect

    tab = device
    visit(tab, SEED)
    header = tab.locator(".site-header").bounding_box()
    if tab.device == "phone":
        assert header["height"] <= PHONE_HEADER_MAX
        expect(tab.locator(".nav-wide")).to_be_hidden()
        tab.locator(".nav-menu-button").click()
        menu = tab.get_by_role("navigation", name="Main menu")
        expect(menu.get_by_role("link", name="Topics")).to_be_visible()
        screenshot(tab, "phone-menu", full_page=False)
        tab.locator(".nav-menu-button").click()
        expect(menu).to_be_hidden()
    else:
        expect(tab.locator(".nav-menu")).to_be_hidden()
        expect(tab.get_by_role("navigation", name="Main").get_by_role("link", name="Topics"))
    assert_no_horizontal_overflow(tab)

    # A wrong answer: the verdict is on screen, below the sticky header.
    answer_single_choice(tab, 1, "The learning rate is divided by the depth")
    verdict = tab.locator("#check-1 .verdict")
    expect(verdict).to_contain_text("Not quite.")
    assert_fully_in_view(tab, "#check-1 .verdict")
    # Answering the first check keeps the second one's feedback.
    first = tab.locator("#check-0")
    first.get_by_label("Skip (residual) connections").check()
    first.get_by_label("Batch normalisation").check()
    first.get_by_role("button", name="Check answer").click()
    expect(tab.locator("#check-0 .verdict")).to_be_visible()
    assert_fully_in_view(tab, "#check-0 .verdict")
    expect(tab.locator("#check-1 .verdict")).to_contain_text("Not quite.")
    if tab.device == "phone":
        screenshot(tab, "phone-feedback", full_page=False)

    # Sign up from the feedback: the answers move to the new account and we come back.
    tab.locator("#check-1").get_by_role("link", name="Sign up to keep this answer").click()
    expect(tab.locator(".flash-info")).to_contain_text("The 2 answers you gave on this visit")
    username = f"keeper-{tab.device}-{secrets.token_hex(2)}"
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_label("Repeat the password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    expect(tab).to_have_url(re.compile(SEED + "$"))
    expect(tab.locator(".flash-success")).to_contain_text("2 answers from this visit are kept")
    expect(tab.locator(".card-state-line")).to_contain_text("Answered")

    # The dashboard moved with those answers.
    visit(tab, "/dashboard")
    row = tab.locator(".mastery-row", has_text="Gradient flow")
    expect(row.locator(".mastery-counts")).to_contain_text(re.compile(r"answered 1/\d+"))
    expect(tab.locator(".legend")).to_contain_text("Mastered")
    assert_no_horizontal_overflow(tab)
    # Chart text as drawn on screen (font size times the SVG's scale) is at least 11 px.
    sizes = tab.eval_on_selector_all(
        ".chart text",
        "texts => texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)",
    )
    assert sizes and min(sizes) >= 11, sizes
    if tab.device == "phone":
        screenshot(tab, "phone-dashboard")

    # The catalog marks the card, and starts with it.
    visit(tab, "/")
    expect(tab.locator(".start-here")).to_contain_text("Explain the vanishing gradient problem")
    expect(tab.locator(".start-here .state")).to_have_text("Answered")
    assert_no_horizontal_overflow(tab)


def test_next_question_and_a_topic_practice_session(device, screenshot):
    from playwright.sync_api import expect

    tab = device
    visit(tab, "/register")
    tab.get_by_label("Username").fill(f"practiser-{tab.device}-{secrets.token_hex(2)}")
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_label("Repeat the password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    # Nothing answered yet: "Next question" starts at the seed card.
    visit(tab, "/practice/next")
    expect(tab).to_have_url(re.compile(SEED + "$"))

    visit(tab, "/topics/optimization")
    tab.get_by_role("link", name="Practise this topic").click()
    bar = tab.get_by_role("navigation", name="Practice session")
    expect(bar).to_contain_text("Practising Optimisation")
    expect(bar).to_contain_text("1 / ")
    total = int(re.search(r"1 / (\d+)", bar.inner_text()).group(1))
    tab.get_by_role("link", name=re.compile(r"Next in this session")).click()
    expect(bar).to_contain_text(f"2 / {total}")
    assert_no_horizontal_overflow(tab)
    if tab.device == "phone":
        screenshot(tab, "phone-practice", full_page=False)


def test_the_self_rated_step_and_the_review_log_format_fit_the_screen(device, sign_up):
    """Each once pushed a phone page sideways: the four rating buttons would not shrink
    below their words (and the fieldset grew with them), the CSV example would not wrap,
    the table of an exercise's previous runs would not either."""
    from playwright.sync_api import expect

    tab = device
    visit(tab, SEED)
    tab.locator("#check-2 textarea").fill("Gradients shrink layer by layer.")
    tab.get_by_role("button", name="Compare with the model answer").click()
    easy = tab.locator("#check-2").get_by_role("button", name=re.compile("^Easy"))
    expect(easy).to_be_visible()
    assert_no_horizontal_overflow(tab)
    box = easy.bounding_box()
    assert box["x"] + box["width"] <= tab.viewport_size["width"], box

    sign_up(tab, f"importer-{tab.device}-{secrets.token_hex(2)}")
    visit(tab, "/account/review-log/import")
    assert_no_horizontal_overflow(tab)

    # An exercise's table of previous runs scrolls in its own box.
    visit(tab, "/exercises/tanh-depth-30-init")
    tab.get_by_role("button", name="Run the simulation").click()
    tab.wait_for_url(re.compile(r"/runs/\w+$"))
    visit(tab, "/exercises/tanh-depth-30-init")
    expect(tab.get_by_role("heading", name="Your previous runs")).to_be_visible()
    assert_no_horizontal_overflow(tab)


PAGES_SIGNED_OUT = [
    "/",
    SEED,
    f"{SEED}?reveal=1",
    "/topics",
    "/topics/gradient-flow",
    "/exercises",
    "/exercises/sigmoid-depth-30-init",
    "/lab",
    "/login",
    "/register",
    "/practice/finish",
]
PAGES_SIGNED_IN = [
    *PAGES_SIGNED_OUT[:8],
    "/dashboard",
    "/review",
    "/account",
    "/practice/mistakes",
]


def axe_violations(tab) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def test_axe_finds_no_violation_on_any_page_signed_out_and_in(device):
    tab = device
    problems: list[str] = []
    for path in PAGES_SIGNED_OUT:
        visit(tab, path)
        assert_no_horizontal_overflow(tab)
        problems += [f"signed out {path}: {v}" for v in axe_violations(tab)]
    # A page with feedback on it.
    visit(tab, SEED)
    answer_single_choice(tab, 1, "The learning rate is divided by the depth")
    problems += [f"feedback: {v}" for v in axe_violations(tab)]
    visit(tab, "/register")
    tab.get_by_label("Username").fill(f"axe-{tab.device}-{secrets.token_hex(2)}")
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_label("Repeat the password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    tab.locator(".flash-success").wait_for()
    for path in PAGES_SIGNED_IN:
        visit(tab, path)
        assert_no_horizontal_overflow(tab)
        problems += [f"signed in {path}: {v}" for v in axe_violations(tab)]
    if tab.device == "phone":
        tab.locator(".nav-menu-button").click()
        problems += [f"open menu: {v}" for v in axe_violations(tab)]
    assert not problems, "\n".join(problems)


def test_the_theme_toggle_redraws_diagrams_and_mermaid_loads_only_when_shown(page):
    from playwright.sync_api import expect

    scripts = []
    page.on("request", lambda request: scripts.append(request.url))
    visit(page, SEED)
    assert not any("mermaid.min.js" in url for url in scripts)  # the diagram is not shown yet
    page.locator("#explanation summary").click()
    diagram = page.locator("#explanation pre.mermaid svg").first
    expect(diagram).to_be_visible()
    assert any("mermaid.min.js" in url for url in scripts)
    light = page.locator("#explanation pre.mermaid").first.inner_html()
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    redrawn = page.locator("#explanation pre.mermaid[data-processed] svg").first
    expect(redrawn).to_be_visible()
    page.wait_for_function(
        "light => document.querySelector('#explanation pre.mermaid').innerHTML !== light",
        arg=light,
    )
    page.get_by_role("button", name="Switch to light theme").click()
    expect(page.locator("#explanation pre.mermaid svg").first).to_be_visible()
