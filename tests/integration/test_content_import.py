"""`flask content import`: all or nothing, idempotent, updates, retires and restores questions."""

from __future__ import annotations

import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CONTENT_DIR, write_question
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Question, Topic, question_topics


def run_import(app, root: Path):
    return app.test_cli_runner().invoke(args=["content", "import", str(root)])


def snapshot(app) -> dict[str, tuple]:
    """Every question row as the database holds it, and the topics with their links."""
    with app.app_context():
        questions = {
            q.slug: (
                q.id,
                q.title,
                q.content_hash,
                q.created_at,
                q.updated_at,
                q.retired_at,
                q.question_html,
                q.explanation_html,
                tuple(topic.slug for topic in q.topics),
            )
            for q in db.session.scalars(select(Question))
        }
        topics = {
            t.slug: (t.id, t.title, t.description, t.position)
            for t in db.session.scalars(select(Topic))
        }
        links = db.session.scalar(select(func.count()).select_from(question_topics))
    return {"questions": questions, "topics": topics, "links": links}


def row_counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Question)),
            db.session.scalar(select(func.count()).select_from(Topic)),
            db.session.scalar(select(func.count()).select_from(question_topics)),
        )


def standalone_question(root: Path, slug: str = "gamma") -> Path:
    """A question nobody relates to, so deleting its file leaves the bank valid."""
    return write_question(root, slug, related=["alpha"], difficulty="hard")


# ---------------------------------------------------------------- first import


def test_import_adds_questions_and_creates_topics(app, content_dir: Path) -> None:
    result = run_import(app, content_dir)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 added, 0 updated, 0 unchanged, 0 retired"
    with app.app_context():
        topics = db.session.scalars(select(Topic).order_by(Topic.position)).all()
        assert [(t.slug, t.title, t.description) for t in topics] == [
            ("gradient-flow", "Gradient flow", "Vanishing and exploding gradients."),
            ("activation-functions", "Activation functions", "Sigmoid, tanh, ReLU and friends."),
        ]
        alpha = db.session.scalar(select(Question).where(Question.slug == "alpha"))
        assert alpha.title == "Question alpha"
        assert alpha.difficulty == "medium"
        assert [topic.slug for topic in alpha.topics] == ["gradient-flow"]
        assert alpha.related_slugs == ["beta"]
        assert alpha.retired_at is None
        assert len(alpha.content_hash) == 64
        assert [check["kind"] for check in alpha.checks] == [
            "single_choice",
            "numeric",
            "self_rated",
        ]


PYTHON_BLOCK = "  ```python\n  def grad(x):\n      return 2 * x\n  ```\n\n"


def test_import_renders_markdown_once_into_stored_html(app, content_dir: Path) -> None:
    write_question(
        content_dir,
        "gamma",
        related=["alpha"],
        replace={"  ```mermaid\n": PYTHON_BLOCK + "  ```mermaid\n"},
    )

    assert run_import(app, content_dir).exit_code == 0
    with app.app_context():
        gamma = db.session.scalar(select(Question).where(Question.slug == "gamma"))
        html = gamma.explanation_html
        assert '<math display="inline">' in html
        assert '<math display="block">' in html
        assert '<pre class="mermaid">graph LR' in html
        assert '<div class="highlight">' in html and '<span class="k">def</span>' in html
        assert "$" not in gamma.answer_html
        assert gamma.explanation_md.startswith("Since $\\sigma'(z)")  # the source is kept too
        option = gamma.checks[0]["options"][1]
        assert "<math" in option["feedback_html"]
        assert option["text_html"] == "<p>1/4</p>\n"


def test_import_of_the_real_bank_is_idempotent(imported_app) -> None:
    before = snapshot(imported_app)
    # Questions and exercises are both content files the import keeps in step.
    count = len(list(CONTENT_DIR.glob("questions/*.yaml"))) + len(
        list(CONTENT_DIR.glob("exercises/*.yaml"))
    )

    result = run_import(imported_app, CONTENT_DIR)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"0 added, 0 updated, {count} unchanged, 0 retired")
    assert snapshot(imported_app) == before


# ---------------------------------------------------------------- idempotence


def test_second_import_changes_nothing(app, content_dir: Path) -> None:
    assert run_import(app, content_dir).exit_code == 0
    before = snapshot(app)

    result = run_import(app, content_dir)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 added, 0 updated, 2 unchanged, 0 retired"
    assert snapshot(app) == before


def test_touching_a_file_without_changing_it_changes_nothing(app, content_dir: Path) -> None:
    assert run_import(app, content_dir).exit_code == 0
    before = snapshot(app)
    path = content_dir / "questions" / "alpha.yaml"
    path.write_bytes(path.read_bytes())  # new mtime, same bytes

    result = run_import(app, content_dir)

    assert result.stdout.strip() == "0 added, 0 updated, 2 unchanged, 0 retired"
    assert snapshot(app) == before


# ---------------------------------------------------------------- all or nothing


def break_last_file(root: Path) -> Path:
    """A file that sorts after every other one, invalid in its schema."""
    return write_question(root, "zzz-last", related=["alpha"], replace={"correct: 1": "correct: 7"})


def test_nothing_is_written_when_only_the_last_file_is_invalid(app, content_dir: Path) -> None:
    last = break_last_file(content_dir)

    result = run_import(app, content_dir)

    assert result.exit_code == 1
    assert f"{last}:" in result.stderr and "checks.0.correct" in result.stderr
    assert "Nothing imported: 1 problem(s)." in result.stderr
    assert row_counts(app) == (0, 0, 0)


def test_nothing_is_written_when_the_last_file_fails_to_render(app, content_dir: Path) -> None:
    # Valid for the schema and the linter; only the math converter rejects it.
    last = write_question(
        content_dir, "zzz-last", related=["alpha"], replace={"It is $1/4$": "It is $x^$"}
    )

    result = run_import(app, content_dir)

    assert result.exit_code == 1
    assert f"{last}:8: answer: cannot render math 'x^'" in result.stderr
    assert row_counts(app) == (0, 0, 0)


def test_a_bad_file_keeps_every_earlier_change_out_of_the_database(app, content_dir: Path) -> None:
    assert run_import(app, content_dir).exit_code == 0
    before = snapshot(app)
    write_question(content_dir, "alpha", related=["beta"], replace={"Question alpha": "Renamed"})
    (content_dir / "topics.yaml").write_text(
        (content_dir / "topics.yaml").read_text()
        + "- slug: brand-new\n  title: Brand new\n  description: x\n"
    )
    standalone_question(content_dir, "gamma")
    break_last_file(content_dir)

    result = run_import(app, content_dir)

    assert result.exit_code == 1
    assert snapshot(app) == before


def test_import_then_fix_then_import_again(app, content_dir: Path) -> None:
    last = break_last_file(content_dir)
    assert run_import(app, content_dir).exit_code == 1
    last.unlink()

    result = run_import(app, content_dir)

    assert result.exit_code == 0
    assert result.stdout.strip() == "2 added, 0 updated, 0 unchanged, 0 retired"


# ---------------------------------------------------------------- changes


def test_changed_file_updates_its_question_and_page(app, content_dir: Path) -> None:
    assert run_import(app, content_dir).exit_code == 0
    before = snapshot(app)["questions"]
    write_question(
        content_dir,
        "alpha",
        related=["beta"],
        replace={"title: Question alpha": "title: Why sigmoid gradients vanish"},
    )

    result = run_import(app, content_dir)

    assert result.stdout.strip() == "0 added, 1 updated, 1 unchanged, 0 retired"
    after = snapshot(app)["questions"]
    assert after["beta"] == before["beta"]
    alpha_id, title, content_hash, created_at, updated_at, *_ = after["alpha"]
    assert (alpha_id, created_at) == (before["alpha"][0], before["alpha"][3])
    assert title == "Why sigmoid gradients vanish"
    assert content_hash != before["alpha"][2]
    assert updated_at > before["alpha"][4]
    page = app.test_client().get("/questions/alpha").get_data(as_text=True)
    assert '<h1 id="question-title">Why sigmoid gradients vanish</h1>' in page
    assert "Question alpha" not in page


def test_changed_topics_follow_the_file(app, content_dir: Path) -> None:
    assert run_import(app, content_dir).exit_code == 0
    write_question(
        content_dir,
        "beta",
        related=["alpha"],
        replace={"topics: [gradient-flow]": "topics: [activation-functions, gradient-flow]"},
    )
    topics_file = content_dir / "topics.yaml"
    topics_file.write_text(
        topics_file.read_text().replace("title: Activation functions", "title: Activations")
    )

    assert run_import(app, content_dir).exit_code == 0

    with app.app_context():
        beta = db.session.scalar(select(Question).where(Question.slug == "beta"))
        assert sorted(topic.slug for topic in beta.topics) == [
            "activation-functions",
            "gradient-flow",
        ]
        titles = dict(db.session.execute(select(Topic.slug, Topic.title)).all())
        assert titles["activation-functions"] == "Activations"
    api = app.test_client().get("/api/v1/topics").get_json()
    counts = {topic["slug"]: topic["question_count"] for topic in api}
    assert counts == {"gradient-flow": 2, "activation-functions": 1}


# ---------------------------------------------------------------- retire and restore


def test_deleted_file_retires_its_question(app, content_dir: Path) -> None:
    gamma = standalone_question(content_dir)
    assert run_import(app, content_dir).exit_code == 0
    gamma_id = snapshot(app)["questions"]["gamma"][0]
    gamma.unlink()

    result = run_import(app, content_dir)

    assert result.stdout.strip() == "0 added, 0 updated, 2 unchanged, 1 retired"
    row = snapshot(app)["questions"]["gamma"]
    assert row[0] == gamma_id and row[5] is not None  # kept, with its history, but retired
    client = app.test_client()
    catalog = client.get("/").get_data(as_text=True)
    assert "/questions/gamma" not in catalog and "/questions/alpha" in catalog
    listed = client.get("/api/v1/questions").get_json()
    assert sorted(item["slug"] for item in listed["items"]) == ["alpha", "beta"]
    assert listed["total"] == 2
    topic_page = client.get("/topics/gradient-flow").get_data(as_text=True)
    assert "/questions/gamma" not in topic_page

    page = client.get("/questions/gamma")
    assert page.status_code == 410
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "This question has been retired" in text
    assert "Question gamma" in text  # says which question
    assert 'href="/"' in text  # a way back to the catalog
    assert "Traceback" not in text

    api = client.get("/api/v1/questions/gamma")
    assert api.status_code == 410
    body = api.get_json()
    assert body["code"] == 410
    assert "retired" in body["message"]


def test_restoring_the_file_brings_the_question_back(app, content_dir: Path) -> None:
    gamma = standalone_question(content_dir)
    text = gamma.read_text()
    assert run_import(app, content_dir).exit_code == 0
    gamma_id = snapshot(app)["questions"]["gamma"][0]
    gamma.unlink()
    assert run_import(app, content_dir).exit_code == 0
    gamma.write_text(text)

    result = run_import(app, content_dir)

    assert result.stdout.strip() == "0 added, 0 updated, 2 unchanged, 0 retired, 1 restored"
    row = snapshot(app)["questions"]["gamma"]
    assert row[0] == gamma_id and row[5] is None
    client = app.test_client()
    assert client.get("/questions/gamma").status_code == 200
    assert client.get("/api/v1/questions/gamma").status_code == 200
    assert "/questions/gamma" in client.get("/").get_data(as_text=True)
    # ...and a third run is quiet again.
    assert run_import(app, content_dir).stdout.strip() == (
        "0 added, 0 updated, 3 unchanged, 0 retired"
    )


def test_restoring_a_changed_file_restores_and_updates(app, content_dir: Path) -> None:
    gamma = standalone_question(content_dir)
    assert run_import(app, content_dir).exit_code == 0
    gamma.unlink()
    assert run_import(app, content_dir).exit_code == 0
    write_question(content_dir, "gamma", related=["alpha"], replace={"Question gamma": "Back"})

    result = run_import(app, content_dir)

    assert "1 updated" in result.stdout and "1 restored" in result.stdout
    page = app.test_client().get("/questions/gamma")
    assert page.status_code == 200
    assert '<h1 id="question-title">Back</h1>' in page.get_data(as_text=True)


# ---------------------------------------------------------------- no script from YAML


class PageElements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def assert_no_author_script(html: str) -> None:
    for tag, attrs in PageElements(html).tags:
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/"), f"inline script: {attrs}"
        assert tag not in {"iframe", "object", "embed"}
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}={value!r}>"
            if name in {"href", "src", "action"}:
                assert not (value or "").strip().lower().startswith(("javascript:", "data:"))
    assert "<script>alert" not in html
    assert "alert(1)</script>" not in html


XSS_QUESTION = textwrap.dedent(
    """\
    slug: xss
    title: "<script>alert(1)</script> title"
    difficulty: easy
    topics: [gradient-flow]
    question: |
      <img src=x onerror=alert(1)> and [click me](javascript:alert(1))
      <script>alert(1)</script>
    answer: |
      <a href="javascript:alert(1)">answer link</a> and <svg onload=alert(1)>
    explanation: |
      $\\text{<script>alert(1)</script>}$ and

      ```mermaid
      graph LR
        A["<script>alert(1)</script>"] --> B
      ```
    references:
      - title: "<script>alert(1)</script> reference"
        url: "https://example.org/\\"><script>alert(1)</script>"
    related: [alpha]
    checks:
      - kind: single_choice
        prompt: "<iframe src=https://evil.example></iframe> prompt"
        options:
          - text: "<img src=x onerror=alert(1)> option"
            feedback: "<script>alert(1)</script> feedback"
          - text: "[x](javascript:alert(1))"
            feedback: fine
        correct: 0
    """
)


def test_script_from_yaml_never_reaches_the_pages(app, content_dir: Path) -> None:
    (content_dir / "questions" / "xss.yaml").write_text(XSS_QUESTION)
    write_question(content_dir, "alpha", related=["beta", "xss"])

    result = run_import(app, content_dir)

    assert result.exit_code == 0, result.output
    client = app.test_client()
    pages = {
        url: client.get(url)
        for url in ("/questions/xss", "/questions/alpha", "/", "/topics/gradient-flow", "/?q=xss")
    }
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert_no_author_script(response.get_data(as_text=True))
    page = pages["/questions/xss"].get_data(as_text=True)
    # The author's text is shown as text, not dropped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in page
    assert "&lt;img src=x onerror=alert(1)&gt; option" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; reference" in page
    assert 'href="https://example.org/&#34;&gt;&lt;script&gt;' in page
    api = client.get("/api/v1/questions/xss").get_json()
    assert_no_author_script(api["question_html"] + api["answer_html"] + api["explanation_html"])
    for check in api["checks"]:
        assert_no_author_script(check["prompt_html"])
        for option in check["options"]:
            assert_no_author_script(option["text_html"])


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>", "//evil"]
)
def test_a_script_url_in_a_reference_is_refused(app, content_dir: Path, url: str) -> None:
    write_question(
        content_dir,
        "gamma",
        related=["alpha"],
        replace={"https://www.deeplearningbook.org/contents/mlp.html": f'"{url}"'},
    )

    result = run_import(app, content_dir)

    assert result.exit_code == 1
    assert "references.0.url: not a valid http(s) URL" in result.stderr
    assert row_counts(app) == (0, 0, 0)
