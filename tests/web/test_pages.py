"""HTML pages with the real question bank imported: the seed card, catalog, topics, errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import CONTENT_DIR, REPO_ROOT

from quizapp.content.loader import load_bank
from quizapp.content.schemas import DIFFICULTIES

SEED = "vanishing-gradient-problem"
SEED_RELATED = [
    ("attention-mechanisms", "Hard"),
    ("backpropagation-explained", "Medium"),
    ("cnn-architecture-components", "Medium"),
    ("activation-functions-compared", "Medium"),
]
SEED_REFERENCES = [
    "https://www.deeplearningbook.org/",
    "https://arxiv.org/abs/1502.03167",
    "https://arxiv.org/abs/1512.03385",
    "https://arxiv.org/abs/1805.11604",  # batch norm's covariate-shift caveat (issue 16)
]


# ---------------------------------------------------------------- a small DOM for assertions

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (
                    (tag is None or child.tag == tag)
                    and (cls is None or cls in child.classes)
                    and all(child.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
                ):
                    found.append(child)
                found.extend(child.find_all(tag, cls, **attrs))
        return found

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}> in <{self.tag}>"
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(response) -> Node:
    builder = TreeBuilder()
    builder.feed(response.get_data(as_text=True))
    builder.close()
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


def card_slugs(document: Node) -> list[str]:
    """The questions listed as cards, in page order."""
    return [
        card.find("a").attrs["href"].removeprefix("/questions/")
        for card in document.find_all("article", cls="question-card")
    ]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bank() -> list[dict[str, Any]]:
    loaded = load_bank(CONTENT_DIR)
    assert loaded.ok, [str(error) for error in loaded.errors]
    return loaded.questions


@pytest.fixture(scope="module")
def bank_app(real_bank_app):
    return real_bank_app


@pytest.fixture
def web(bank_app):
    return bank_app.test_client()


def ordered(questions: list[dict[str, Any]]) -> list[str]:
    """The catalog's order: easy to hard, then by title."""
    rank = {name: index for index, name in enumerate(DIFFICULTIES)}
    return [q["slug"] for q in sorted(questions, key=lambda q: (rank[q["difficulty"]], q["title"]))]


def matches(question: dict[str, Any], search: str) -> bool:
    text = " ".join((question["title"], question["question"], question["answer"])).lower()
    return all(word.lower() in text for word in search.split())


# ---------------------------------------------------------------- the seed card


def test_seed_card_shows_question_answer_explanation_references_and_related(
    imported_app,
) -> None:
    response = imported_app.test_client().get(f"/questions/{SEED}")

    assert response.status_code == 200
    page = parse(response)
    assert squash(page.find("title").text()).startswith("Explain the vanishing gradient problem")
    assert page.find("h1").text() == "Explain the vanishing gradient problem"
    question = page.find("section", cls="panel-question")
    assert "Can you explain the vanishing gradient problem in deep neural networks" in squash(
        question.text()
    )

    # The answer is in the page itself, folded in a <details>: it opens without JavaScript.
    answer = page.find("details", id="answer")
    assert "open" not in answer.attrs
    assert answer.find("summary")
    assert "gradients of the loss function diminish as they are backpropagated" in squash(
        answer.text()
    )
    assert "Skip Connections/Residual Networks" in answer.text()

    explanation = page.find("details", id="explanation")
    assert explanation.find_all("math", display="block")
    assert explanation.find_all("math", display="inline")
    (diagram,) = explanation.find_all("pre", cls="mermaid")
    assert "B[Conv Layer 1]" in diagram.text()
    assert "$$" not in explanation.text()

    references = page.find("ul", cls="references").find_all("a")
    assert [link.attrs["href"] for link in references] == SEED_REFERENCES
    assert "Deep Residual Learning for Image Recognition" in references[2].text()
    assert all("noopener" in (link.attrs.get("rel") or "") for link in references)

    items = page.find("ul", cls="related").find_all("li", cls="related-item")
    shown = [
        (
            item.find("a", cls="related-title").attrs["href"].removeprefix("/questions/"),
            item.find("span", cls="badge").text(),
        )
        for item in items
    ]
    assert shown == SEED_RELATED


def test_seed_card_related_links_lead_to_their_pages(web) -> None:
    page = parse(web.get(f"/questions/{SEED}"))
    for link in page.find("ul", cls="related").find_all("a", cls="related-title"):
        target = web.get(link.attrs["href"])
        assert target.status_code == 200
        assert parse(target).find("h1").text() == link.text()


def test_reveal_opens_the_answer_and_explanation(web) -> None:
    page = parse(web.get(f"/questions/{SEED}?reveal=1"))

    assert "open" in page.find("details", id="answer").attrs
    assert "open" in page.find("details", id="explanation").attrs


def test_every_question_page_renders(web, bank) -> None:
    for question in bank:
        response = web.get(f"/questions/{question['slug']}")
        assert response.status_code == 200, question["slug"]
        assert parse(response).find("h1").text() == question["title"]


# ---------------------------------------------------------------- catalog


def test_catalog_lists_every_question_in_order(web, bank) -> None:
    response = web.get("/?page=1")

    page = parse(response)
    expected = ordered(bank)
    size = web.application.config["QUIZAPP_PAGE_SIZE"]
    assert card_slugs(page) == expected[:size]
    count = len(bank)
    assert squash(page.find("p", cls="result-count").text()) == f"{count} questions"


@pytest.mark.parametrize("size", [7, 10])
def test_pagination_walks_through_every_question_once(bank_app, web, bank, size: int) -> None:
    bank_app.config["QUIZAPP_PAGE_SIZE"] = size
    try:
        pages = math.ceil(len(bank) / size)
        seen: list[str] = []
        url = "/"
        for number in range(1, pages + 1):
            page = parse(web.get(url))
            pager = page.find("nav", cls="pager")
            assert f"Page {number} of {pages}" in squash(pager.text())
            seen.extend(card_slugs(page))
            following = pager.find_all("a", rel="next")
            if number < pages:
                url = following[0].attrs["href"]
            else:
                assert following == []
                assert pager.find_all("a", rel="prev")
        assert seen == ordered(bank)
    finally:
        bank_app.config["QUIZAPP_PAGE_SIZE"] = 24


def test_pager_keeps_the_filters(bank_app, web, bank) -> None:
    bank_app.config["QUIZAPP_PAGE_SIZE"] = 2
    try:
        medium = [q for q in bank if q["difficulty"] == "medium"]
        assert len(medium) > 2
        page = parse(web.get("/?difficulty=medium"))
        next_url = page.find("nav", cls="pager").find("a", rel="next").attrs["href"]
        assert "difficulty=medium" in next_url and "page=2" in next_url
        assert card_slugs(parse(web.get(next_url))) == ordered(medium)[2:4]
    finally:
        bank_app.config["QUIZAPP_PAGE_SIZE"] = 24


@pytest.mark.parametrize("topic", ["gradient-flow", "initialization", "activation-functions"])
def test_catalog_filters_by_topic(bank_app, web, bank, topic: str) -> None:
    bank_app.config["QUIZAPP_PAGE_SIZE"] = 100
    try:
        page = parse(web.get(f"/?topic={topic}"))
    finally:
        bank_app.config["QUIZAPP_PAGE_SIZE"] = 24

    expected = ordered([q for q in bank if topic in q["topics"]])
    assert expected
    assert card_slugs(page) == expected
    assert "selected" in page.find("select", id="topic").find("option", value=topic).attrs


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_catalog_filters_by_difficulty(bank_app, web, bank, difficulty: str) -> None:
    bank_app.config["QUIZAPP_PAGE_SIZE"] = 100
    try:
        page = parse(web.get(f"/?difficulty={difficulty}"))
    finally:
        bank_app.config["QUIZAPP_PAGE_SIZE"] = 24

    expected = ordered([q for q in bank if q["difficulty"] == difficulty])
    assert expected
    assert card_slugs(page) == expected
    badges = {badge.text() for badge in page.find("div", cls="grid").find_all("span", cls="badge")}
    assert badges == {difficulty.capitalize()}


def test_catalog_combines_topic_and_difficulty(web, bank) -> None:
    page = parse(web.get("/?topic=gradient-flow&difficulty=hard"))

    expected = ordered(
        [q for q in bank if "gradient-flow" in q["topics"] and q["difficulty"] == "hard"]
    )
    assert card_slugs(page) == expected[:24]


@pytest.mark.parametrize("search", ["vanishing", "VANISHING gradient", "residual", "sigmoid"])
def test_catalog_text_search(web, bank, search: str) -> None:
    page = parse(web.get("/", query_string={"q": search}))

    expected = ordered([q for q in bank if matches(q, search)])
    assert expected
    assert card_slugs(page) == expected[:24]
    assert page.find("input", id="q").attrs["value"] == search
    assert f"matching “{search}”" in page.find("p", cls="result-count").text()


def test_search_for_the_seed_card_finds_it(web) -> None:
    page = parse(web.get("/?q=vanishing+gradient+problem"))

    assert SEED in card_slugs(page)


@pytest.mark.parametrize("search", ["%", "_", "zzqx-nothing-like-this"])
def test_search_wildcards_are_literal(web, bank, search: str) -> None:
    page = parse(web.get("/", query_string={"q": search}))

    expected = ordered([q for q in bank if matches(q, search)])
    assert card_slugs(page) == expected[:24]
    if not expected:
        assert "No question matches these filters" in page.find("main").text()


def test_unknown_topic_filter_shows_no_question(web) -> None:
    page = parse(web.get("/?topic=no-such-topic"))

    assert card_slugs(page) == []
    assert "No question matches these filters" in page.find("main").text()


# ---------------------------------------------------------------- topics


def test_topics_page_lists_every_topic_with_its_count(web, bank) -> None:
    page = parse(web.get("/topics"))

    cards = page.find("div", cls="grid").find_all("article", cls="card")
    shown = {
        card.find("a").attrs["href"].removeprefix("/topics/"): squash(
            card.find("p", cls="muted").text()
        )
        for card in cards
    }
    declared = load_bank(CONTENT_DIR).topics
    assert list(shown) == [topic["slug"] for topic in declared]
    for topic in declared:
        count = sum(topic["slug"] in q["topics"] for q in bank)
        assert shown[topic["slug"]] == f"{count} question{'' if count == 1 else 's'}"


def test_topic_page_lists_its_questions(web, bank) -> None:
    page = parse(web.get("/topics/residual-connections"))

    assert page.find("h1").text() == "Residual and skip connections"
    expected = ordered([q for q in bank if "residual-connections" in q["topics"]])
    assert SEED in expected
    assert card_slugs(page) == expected


def test_topic_chips_on_a_question_link_to_topic_pages(web) -> None:
    page = parse(web.get(f"/questions/{SEED}"))

    chips = page.find("header", cls="question-head").find_all("a", cls="chip")
    assert [chip.attrs["href"] for chip in chips] == [
        "/topics/gradient-flow",
        "/topics/initialization",
        "/topics/activation-functions",
        "/topics/residual-connections",
        "/topics/backpropagation",
    ]  # in the author's topic order from topics.yaml


# ---------------------------------------------------------------- errors


def assert_friendly_page(response, status: int, *phrases: str) -> Node:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    page = parse(response)
    error = page.find("section", cls="error-page")
    assert error.find("p", cls="error-code").text() == str(status)
    assert error.find("a").attrs["href"] == "/"  # a way back
    for phrase in phrases:
        assert phrase in squash(error.text())
    return page


def test_unknown_question_is_a_friendly_404_page(web) -> None:
    assert_friendly_page(
        web.get("/questions/no-such-question"), 404, "No question 'no-such-question'."
    )


def test_unknown_topic_is_a_friendly_404_page(web) -> None:
    assert_friendly_page(web.get("/topics/no-such-topic"), 404, "No topic 'no-such-topic'.")


def test_unknown_address_is_a_friendly_404_page(web) -> None:
    assert_friendly_page(web.get("/no/such/page"), 404, "Page not found")


@pytest.mark.parametrize(
    "number", ["0", "-1", "abc", "1.5", "", "²", "100001", "99999999999999999999999"]
)
def test_bad_page_number_is_a_400_page(web, number: str) -> None:
    response = web.get("/", query_string={"page": number})

    assert_friendly_page(response, 400, "page must be a whole number from 1 to 100000")


def test_page_past_the_end_is_empty_not_an_error(web, bank) -> None:
    page = parse(web.get("/?page=100000"))

    assert card_slugs(page) == []
    assert squash(page.find("p", cls="result-count").text()) == f"{len(bank)} questions"


def test_bad_difficulty_is_a_400_page(web) -> None:
    assert_friendly_page(
        web.get("/?difficulty=impossible"), 400, "difficulty must be one of easy, medium, hard"
    )


def test_overlong_search_is_a_400_page(web) -> None:
    assert_friendly_page(web.get("/", query_string={"q": "x" * 201}), 400, "200 characters")


def test_unexpected_error_is_a_friendly_500_page_without_traceback(app) -> None:
    def broken_view():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/broken-for-test", view_func=broken_view)

    response = app.test_client().get("/broken-for-test")

    assert_friendly_page(response, 500, "An unexpected error occurred")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)


def test_api_docs_page_loads(web) -> None:
    response = web.get("/api/docs")

    assert response.status_code == 200
    page = parse(response)
    ui = page.find("div", id="swagger-ui")
    assert ui.attrs["data-spec-url"] == "/api/openapi.json"
    sources = [script.attrs.get("src") for script in page.find_all("script")]
    assert all(src and src.startswith("/static/") for src in sources)
    for src in sources:
        assert web.get(src).status_code == 200


# ---------------------------------------------------------------- no torch on the web path


def test_creating_the_app_does_not_import_torch() -> None:
    script = (
        "import sys; from quizapp import create_app; create_app(); print('torch' in sys.modules)"
    )
    env = {**os.environ, "DATABASE_URL": "sqlite://", "PYTHONPATH": str(REPO_ROOT)}

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_importing_and_serving_pages_does_not_import_torch(tmp_path: Path) -> None:
    script = f"""
import sys
from quizapp import create_app
from quizapp.extensions import db
from quizapp.services.content_import import import_content
app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite:///{tmp_path / "t.sqlite"}",
                  "TESTING": True, "RATELIMIT_ENABLED": False}})
with app.app_context():
    db.create_all()
    import_content({str(CONTENT_DIR)!r})
client = app.test_client()
for url in ("/", "/questions/{SEED}", "/topics", "/api/v1/questions", "/api/v1/questions/{SEED}"):
    assert client.get(url).status_code == 200, url
print('torch' in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_favicon_ico_leads_to_the_sites_icon(web) -> None:
    """Browsers ask for /favicon.ico whatever the page declares; it was a 404."""
    asked = web.get("/favicon.ico")
    assert asked.status_code == 302
    icon = web.get(asked.headers["Location"])
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
