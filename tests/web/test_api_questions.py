"""The read-only JSON API: questions, one question, topics, the OpenAPI document, JSON errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import CONTENT_DIR, write_question

from quizapp.content.loader import load_bank
from quizapp.content.rendering import reference_card
from quizapp.content.schemas import DIFFICULTIES
from quizapp.services.content_import import import_content

SEED = "vanishing-gradient-problem"
# Keys that would give the answer away before grading.
SECRET_CHECK_KEYS = {
    "correct", "answer", "tolerance", "relative_tolerance", "model_answer",
    "variant_spec", "variant_template",  # a variant check's template holds its answer
}  # fmt: skip
SECRET_OPTION_KEYS = {"feedback", "feedback_html", "correct"}


@pytest.fixture(scope="module")
def bank():
    loaded = load_bank(CONTENT_DIR)
    assert loaded.ok, [str(error) for error in loaded.errors]
    return loaded


@pytest.fixture(scope="module")
def api_app(real_bank_app):
    return real_bank_app


@pytest.fixture
def api(api_app):
    return api_app.test_client()


def ordered(questions: list[dict[str, Any]]) -> list[str]:
    rank = {name: index for index, name in enumerate(DIFFICULTIES)}
    return [q["slug"] for q in sorted(questions, key=lambda q: (rank[q["difficulty"]], q["title"]))]


def get_json(client, url: str, status: int = 200, **kwargs) -> Any:
    response = client.get(url, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def assert_json_error(response, status: int, *phrases: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    for phrase in phrases:
        assert phrase in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


# ---------------------------------------------------------------- list


def test_list_questions_default_page(api, bank) -> None:
    body = get_json(api, "/api/v1/questions")

    total = len(bank.questions)
    assert body["total"] == total
    assert (body["page"], body["per_page"]) == (1, 24)
    assert body["pages"] == math.ceil(total / 24)
    assert [item["slug"] for item in body["items"]] == ordered(bank.questions)[:24]
    by_slug = {q["slug"]: q for q in bank.questions}
    for item in body["items"]:
        source = by_slug[item["slug"]]
        assert item == {
            "slug": source["slug"],
            "title": source["title"],
            "difficulty": source["difficulty"],
            "topics": [t["slug"] for t in bank.topics if t["slug"] in source["topics"]],
            "url": f"/questions/{source['slug']}",
        }


@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_pagination_covers_every_question_once(api, bank, per_page: int) -> None:
    total = len(bank.questions)
    pages = math.ceil(total / per_page)
    seen: list[str] = []
    for page in range(1, pages + 1):
        body = get_json(api, f"/api/v1/questions?per_page={per_page}&page={page}")
        assert (body["total"], body["pages"], body["page"], body["per_page"]) == (
            total,
            pages,
            page,
            per_page,
        )
        assert len(body["items"]) == min(per_page, total - (page - 1) * per_page)
        seen.extend(item["slug"] for item in body["items"])
    assert seen == ordered(bank.questions)


def test_page_past_the_end_is_empty(api, bank) -> None:
    body = get_json(api, "/api/v1/questions?page=999")

    assert body["items"] == []
    assert body["total"] == len(bank.questions)


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("topic=initialization", lambda q: "initialization" in q["topics"]),
        ("topic=residual-connections", lambda q: "residual-connections" in q["topics"]),
        ("difficulty=easy", lambda q: q["difficulty"] == "easy"),
        ("difficulty=hard", lambda q: q["difficulty"] == "hard"),
        (
            "topic=gradient-flow&difficulty=medium",
            lambda q: "gradient-flow" in q["topics"] and q["difficulty"] == "medium",
        ),
        (
            "q=vanishing",
            lambda q: "vanishing" in (q["title"] + q["question"] + q["answer"]).lower(),
        ),
        ("topic=no-such-topic", lambda q: False),
    ],
)
def test_list_filters(api, bank, query: str, keep) -> None:
    body = get_json(api, f"/api/v1/questions?per_page=100&{query}")

    expected = ordered([q for q in bank.questions if keep(q)])
    assert [item["slug"] for item in body["items"]] == expected
    assert body["total"] == len(expected)


def test_search_matches_every_word(api, bank) -> None:
    body = get_json(api, "/api/v1/questions?per_page=100&q=Gradient+RESIDUAL")

    def keep(q):
        text = (q["title"] + q["question"] + q["answer"]).lower()
        return "gradient" in text and "residual" in text

    assert [item["slug"] for item in body["items"]] == ordered(
        [q for q in bank.questions if keep(q)]
    )
    assert SEED in [item["slug"] for item in body["items"]]


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ("per_page=101", "per_page"),
        ("per_page=1000", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=100001", "page"),
        ("difficulty=impossible", "difficulty: must be one of easy, medium, hard"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_bad_list_arguments_are_400_json(api, query: str, phrase: str) -> None:
    assert_json_error(api.get(f"/api/v1/questions?{query}"), 400, phrase)


# ---------------------------------------------------------------- one question


def test_seed_question_in_full(api, bank) -> None:
    body = get_json(api, f"/api/v1/questions/{SEED}")
    source = bank.documents[SEED].data

    assert body["slug"] == SEED
    assert body["title"] == "Explain the vanishing gradient problem"
    assert body["difficulty"] == "medium"
    assert body["url"] == f"/questions/{SEED}"
    assert body["topics"] == [t["slug"] for t in bank.topics if t["slug"] in source["topics"]]
    assert body["question"] == source["question"]
    assert body["answer"] == source["answer"]
    assert body["explanation"] == source["explanation"]
    assert "<math" in body["explanation_html"]
    assert '<pre class="mermaid">' in body["explanation_html"]
    assert "Conv Layer 1" in body["explanation_html"]
    assert (
        "<p>" in body["answer_html"]
        and "<strong>Weight Initialisation</strong>" in (body["answer_html"])
    )
    assert [ref["url"] for ref in body["references"]] == [
        "https://www.deeplearningbook.org/",
        "https://arxiv.org/abs/1502.03167",
        "https://arxiv.org/abs/1512.03385",
        "https://arxiv.org/abs/1805.11604",  # the covariate-shift caveat (issue 16)
    ]
    assert body["references"][2]["year"] == 2015
    assert body["references"][2]["authors"].startswith("Kaiming He")
    assert body["related"] == [
        {"slug": "attention-mechanisms", "title": related_title(bank, "attention-mechanisms"),
         "difficulty": "hard"},
        {"slug": "backpropagation-explained",
         "title": related_title(bank, "backpropagation-explained"), "difficulty": "medium"},
        {"slug": "cnn-architecture-components",
         "title": related_title(bank, "cnn-architecture-components"), "difficulty": "medium"},
        {"slug": "activation-functions-compared",
         "title": related_title(bank, "activation-functions-compared"), "difficulty": "medium"},
    ]  # fmt: skip


def related_title(bank, slug: str) -> str:
    return bank.documents[slug].data["title"]


def test_checks_are_listed_without_their_answers(api, bank) -> None:
    # A question with params in the variant a visitor without a cookie sees: the reference.
    for question in map(reference_card, bank.questions):
        body = get_json(api, f"/api/v1/questions/{question['slug']}")
        assert len(body["checks"]) == len(question["checks"])
        for index, (check, source) in enumerate(
            zip(body["checks"], question["checks"], strict=True)
        ):
            assert "correct" not in check and "answer" not in check
            assert not SECRET_CHECK_KEYS & set(check), check
            assert check["index"] == index
            assert check["kind"] == source["kind"]
            assert check["prompt"] == source["prompt"]
            assert check["prompt_html"].startswith("<")
            if source["kind"] in ("single_choice", "multiple_choice"):
                # Every option, in this client's shuffled order (pinned ones in place).
                texts = [o["text"] for o in check["options"]]
                assert sorted(texts) == sorted(o["text"] for o in source["options"])
                for position, option in enumerate(source["options"]):
                    if option.get("fixed"):
                        assert texts[position] == option["text"]
                for option in check["options"]:
                    assert not SECRET_OPTION_KEYS & set(option), option
                    assert option["text_html"].startswith("<")
            else:
                assert "options" not in check


def test_numeric_check_shows_its_unit_but_not_its_answer(api, bank) -> None:
    numeric = [
        (q["slug"], index, check)
        for q in bank.questions
        for index, check in enumerate(q["checks"])
        if check["kind"] == "numeric"
    ]
    assert numeric, "the bank has no numeric check to test"
    for slug, index, source in numeric:
        check = get_json(api, f"/api/v1/questions/{slug}")["checks"][index]
        assert check["kind"] == "numeric"
        assert "answer" not in check and "tolerance" not in check
        if source.get("unit"):
            assert check["unit"] == source["unit"]


def test_unknown_question_is_404_json(api) -> None:
    assert_json_error(api.get("/api/v1/questions/no-such-question"), 404, "no-such-question")


def test_retired_question_is_410_json(app, content_dir) -> None:
    gamma = write_question(content_dir, "gamma", related=["alpha"])
    with app.app_context():
        import_content(content_dir)
        gamma.unlink()
        import_content(content_dir)
    client = app.test_client()

    assert_json_error(client.get("/api/v1/questions/gamma"), 410, "retired")
    listed = get_json(client, "/api/v1/questions")
    assert [item["slug"] for item in listed["items"]] == ["beta", "alpha"]  # easy before medium
    assert listed["total"] == 2
    related = get_json(client, "/api/v1/questions/alpha")["related"]
    assert [item["slug"] for item in related] == ["beta"]


# ---------------------------------------------------------------- topics


def test_topics_with_counts_in_author_order(api, bank) -> None:
    body = get_json(api, "/api/v1/topics")

    assert body == [
        {
            "slug": topic["slug"],
            "title": topic["title"],
            "description": topic["description"],
            "question_count": sum(topic["slug"] in q["topics"] for q in bank.questions),
        }
        for topic in bank.topics
    ]


def test_topics_of_an_empty_bank(client) -> None:
    assert get_json(client, "/api/v1/topics") == []
    assert get_json(client, "/api/v1/questions") == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 24,
        "pages": 1,
    }


# ---------------------------------------------------------------- documentation and errors


def test_openapi_document_lists_the_question_endpoints(api) -> None:
    spec = get_json(api, "/api/openapi.json")

    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "quizapp API"
    for path in ("/api/v1/questions", "/api/v1/questions/{slug}", "/api/v1/topics"):
        assert "get" in spec["paths"][path], path
    parameters = {p["name"] for p in spec["paths"]["/api/v1/questions"]["get"]["parameters"]}
    assert {"topic", "difficulty", "q", "page", "per_page"} <= parameters
    responses = spec["paths"]["/api/v1/questions/{slug}"]["get"]["responses"]
    assert {"200", "404", "410"} <= set(responses)


def test_api_docs_page_points_at_the_document(api) -> None:
    response = api.get("/api/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert 'data-spec-url="/api/openapi.json"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/no-such-endpoint", 404),
        ("post", "/api/v1/questions", 405),
        ("delete", f"/api/v1/questions/{SEED}", 405),
        ("put", "/api/v1/topics", 405),
    ],
)
def test_api_errors_are_json(api, method: str, url: str, status: int) -> None:
    assert_json_error(getattr(api, method)(url), status)


def test_a_page_error_is_json_when_json_is_asked_for(api) -> None:
    response = api.get("/questions/no-such-question", headers={"Accept": "application/json"})

    assert_json_error(response, 404, "no-such-question")
