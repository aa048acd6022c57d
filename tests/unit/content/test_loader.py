"""`flask content check`: every problem in every file, each as `path:line: field: message`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import QUESTION_TEMPLATE, make_app, write_question

from quizapp.content.loader import load_bank
from quizapp.content.rendering import render_question
from quizapp.domain.check_kinds import CHECK_KINDS

# A case writes one broken file into a valid content folder and says where the problem is:
# (file, marker) where the marker is a text whose first line in that file is the expected line.
Builder = Callable[[Path], tuple[Path, str | int]]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """`check` never touches the database: one app serves every test of this module."""
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('check') / 'check.sqlite'}")
    return app.test_cli_runner()


def run_check(runner, root: Path):
    return runner.invoke(args=["content", "check", str(root)])


def line_of(path: Path, marker: str | int) -> int:
    """The 1-based line of the first occurrence of `marker` in the file (or `marker` itself)."""
    if isinstance(marker, int):
        return marker
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"marker {marker!r} not in {path}")


def broken(replace: dict[str, str], marker: str, slug: str = "broken") -> Builder:
    """A question file `slug`.yaml, valid except for the replaced text."""

    def build(root: Path) -> tuple[Path, str | int]:
        path = write_question(root, slug, related=["alpha"], replace=replace)
        return path, marker

    return build


def raw_file(name: str, data: bytes, line: int) -> Builder:
    def build(root: Path) -> tuple[Path, str | int]:
        path = root / "questions" / name
        path.write_bytes(data)
        return path, line

    return build


def valid_text(slug: str) -> str:
    """The text write_question would write, for files written byte by byte."""
    return QUESTION_TEMPLATE.format(slug=slug, difficulty="medium", related="alpha")


MULTIPLE_CHOICE = {"kind: single_choice": "kind: multiple_choice"}

# (id, builder, field, exact message)
CASES = [
    (
        "yaml-mapping-in-value",
        broken({"title: Question broken": "title: Sigmoid: why: it saturates"}, "title:"),
        "yaml",
        "YAML syntax error: mapping values are not allowed here",
    ),
    (
        "yaml-tab-indentation",
        broken({"\n  What is the maximum": "\n\tWhat is the maximum"}, "\tWhat is"),
        "yaml",
        "YAML syntax error: found character '\\t' that cannot start any token",
    ),
    (
        "yaml-undefined-alias",
        broken({"title: Question broken": "title: *missing"}, "title:"),
        "yaml",
        "YAML syntax error: found undefined alias 'missing'",
    ),
    (
        "unknown-key-typo",
        broken({"explanation: |": "explaination: |"}, "explaination:"),
        "explaination",
        "unknown field",
    ),
    (
        "title-is-a-list",
        broken({"title: Question broken": "title: [Vanishing, gradients]"}, "title:"),
        "title",
        "must be text",
    ),
    (
        "correct-is-a-string",
        broken({"correct: 1": 'correct: "1"'}, 'correct: "1"'),
        "checks.0.correct",
        "must be a whole number",
    ),
    (
        "bad-difficulty",
        broken({"difficulty: medium": "difficulty: extreme"}, "difficulty:"),
        "difficulty",
        "must be one of easy, medium, hard",
    ),
    (
        "missing-difficulty",
        broken({"difficulty: medium\n": ""}, 1),
        "difficulty",
        "required field is missing",
    ),
    (
        "missing-reference-url",
        broken(
            {"    url: https://www.deeplearningbook.org/contents/mlp.html\n": ""},
            "- title: Deep Learning, chapter 6",
        ),
        "references.0.url",
        "required field is missing",
    ),
    (
        "slug-does-not-match-file-name",
        broken({"slug: broken": "slug: something-else"}, "slug:"),
        "slug",
        "must match the file name (something-else.yaml)",
    ),
    (
        "bad-slug-characters",
        broken({"slug: broken": "slug: Broken_Slug"}, "slug:"),
        "slug",
        "must be lowercase letters, digits and single dashes (e.g. my-question)",
    ),
    (
        "related-does-not-exist",
        broken({"related: [alpha]": "related: [alpha, no-such-card]"}, "related:"),
        "related.1",
        "unknown question 'no-such-card' (no file questions/no-such-card.yaml)",
    ),
    (
        "related-to-itself",
        broken({"related: [alpha]": "related: [alpha, broken]"}, "related:"),
        "related.1",
        "a question cannot be related to itself",
    ),
    (
        "alias-is-its-own-slug",
        broken({"related: [alpha]": "related: [alpha]\naliases: [broken]"}, "aliases:"),
        "aliases.0",
        "'broken' is this question's own slug",
    ),
    (
        "alias-is-another-question",
        broken({"related: [alpha]": "related: [alpha]\naliases: [old-name, alpha]"}, "aliases:"),
        "aliases.1",
        "'alpha' is the slug of another question (questions/alpha.yaml)",
    ),
    (
        "alias-is-not-a-slug",
        broken({"related: [alpha]": "related: [alpha]\naliases: [Old Name]"}, "aliases:"),
        "aliases.0",
        "must be lowercase letters, digits and single dashes (e.g. my-question)",
    ),
    (
        "related-listed-twice",
        broken({"related: [alpha]": "related:\n  - alpha\n  - alpha  # again"}, "# again"),
        "related.1",
        "'alpha' is listed twice",
    ),
    (
        "url-with-ftp-scheme",
        broken(
            {"https://www.deeplearningbook.org/contents/mlp.html": "ftp://example.org/book.pdf"},
            "url:",
        ),
        "references.0.url",
        "not a valid http(s) URL",
    ),
    (
        "url-that-is-not-a-url",
        broken({"https://www.deeplearningbook.org/contents/mlp.html": "not a url"}, "url:"),
        "references.0.url",
        "not a valid http(s) URL",
    ),
    (
        "url-with-javascript-scheme",
        broken(
            {"https://www.deeplearningbook.org/contents/mlp.html": "javascript:alert(1)"}, "url:"
        ),
        "references.0.url",
        "not a valid http(s) URL",
    ),
    (
        "empty-mermaid-block",
        broken({"  graph LR\n    A[z] --> B[sigma]\n": ""}, "```mermaid"),
        "explanation",
        "empty mermaid block",
    ),
    (
        "unbalanced-inline-math",
        broken({"It is $1/4$, reached": "It is $1/4, reached"}, "It is $1/4, reached"),
        "answer",
        "unbalanced $ math delimiter",
    ),
    (
        "unbalanced-display-math",
        broken({"\\tfrac{1}{4}$$": "\\tfrac{1}{4}"}, "$$\\sigma'(0)"),
        "explanation",
        "unbalanced $$ math delimiter",
    ),
    (
        "unbalanced-braces-in-math",
        broken({"\\tfrac{1}{4}": "\\tfrac{1}{4"}, "$$\\sigma'(0)"),
        "explanation",
        "unbalanced braces { } in math",
    ),
    (
        "unbalanced-math-in-option-feedback",
        broken({"Right, at $z = 0$.": "Right, at $z = 0."}, "Right, at $z = 0."),
        "checks.0.options.1.feedback",
        "unbalanced $ math delimiter",
    ),
    (
        "math-that-cannot-render",
        broken({"It is $1/4$, reached": "It is $x^$, reached"}, "It is $x^$"),
        "answer",
        "cannot render math 'x^': missing super script or subscript",
    ),
    (
        "unknown-topic",
        broken({"topics: [gradient-flow]": "topics: [gradient-flow, optimisers]"}, "topics:"),
        "topics.1",
        "unknown topic 'optimisers' (declare it in topics.yaml)",
    ),
    (
        "unknown-exercise",
        broken({"related: [alpha]": "related: [alpha]\nexercises: [deep-mlp]"}, "exercises:"),
        "exercises.0",
        "unknown exercise 'deep-mlp' (no file exercises/deep-mlp.yaml)",
    ),
    (
        "duplicate-key",
        broken(
            {"difficulty: medium\n": "difficulty: medium\ntitle: A second title\n"},
            "title: A second title",
        ),
        "title",
        "key is given twice",
    ),
    (
        "correct-index-out-of-range",
        broken({"correct: 1": "correct: 2"}, "correct: 2"),
        "checks.0.correct",
        "must be an option index from 0 to 1",
    ),
    (
        "multiple-choice-duplicate-correct",
        broken({**MULTIPLE_CHOICE, "correct: 1": "correct: [1, 1]"}, "correct: [1, 1]"),
        "checks.0.correct",
        "an option is listed twice",
    ),
    (
        "multiple-choice-index-out-of-range",
        broken({**MULTIPLE_CHOICE, "correct: 1": "correct: [0, 3]"}, "correct: [0, 3]"),
        "checks.0.correct",
        "option indices must be from 0 to 1",
    ),
    (
        "multiple-choice-nothing-correct",
        broken({**MULTIPLE_CHOICE, "correct: 1": "correct: []"}, "correct: []"),
        "checks.0.correct",
        "needs at least one correct option",
    ),
    (
        "numeric-negative-tolerance",
        broken({"tolerance: 0.01": "tolerance: -0.01"}, "tolerance: -0.01"),
        "checks.1.tolerance",
        "must be zero or more",
    ),
    (
        "unknown-check-kind",
        broken({"kind: self_rated": "kind: essay"}, "kind: essay"),
        "checks.2.kind",
        f"must be one of {', '.join(CHECK_KINDS)} (got 'essay')",
    ),
    (
        "no-references",
        broken(
            {
                "  - title: Deep Learning, chapter 6\n"
                "    url: https://www.deeplearningbook.org/contents/mlp.html\n": "",
                "references:\n": "references: []\n",
            },
            "references:",
        ),
        "references",
        "needs at least one reference",
    ),
    (
        "non-utf8-file",
        raw_file(
            "broken.yaml",
            valid_text("broken").replace("train slowly", "train slowly é").encode("latin-1"),
            valid_text("broken").count("\n"),
        ),
        "file",
        "is not valid UTF-8",
    ),
    (
        "document-is-a-list",
        raw_file("broken.yaml", b"- slug: broken\n- title: A list, not a mapping\n", 1),
        "document",
        "must be a mapping of fields",
    ),
    (
        "empty-file",
        raw_file("broken.yaml", b"", 1),
        "document",
        "must be a mapping of fields",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [pytest.param(build, field, message, id=case_id) for case_id, build, field, message in CASES],
)
def test_check_reports_the_problem_with_file_line_and_field(
    runner, content_dir: Path, build: Builder, field: str, message: str
) -> None:
    path, marker = build(content_dir)
    expected = f"{path}:{line_of(path, marker)}: {field}: {message}"

    result = run_check(runner, content_dir)

    assert result.exit_code == 1, result.output
    problems = result.stderr.splitlines()
    assert expected in problems, "\n".join(problems)
    # Only the broken file is blamed: the valid files around it stay quiet.
    blamed = {line.split(":", 1)[0] for line in problems if line.startswith(str(content_dir))}
    assert blamed == {str(path)}, "\n".join(problems)
    assert "Traceback" not in result.output


def test_clean_content_passes_with_exit_code_zero(runner, content_dir: Path) -> None:
    result = run_check(runner, content_dir)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("OK: 2 questions, ")
    assert result.stdout.rstrip().endswith("2 topics, no problems.")


def test_check_defaults_to_the_configured_content_folder(app, content_dir: Path) -> None:
    write_question(content_dir, "gamma", replace={"difficulty: medium": "difficulty: hardest"})
    app.config["QUIZAPP_CONTENT_DIR"] = str(content_dir)

    result = app.test_cli_runner().invoke(args=["content", "check"])

    assert result.exit_code == 1
    assert f"{content_dir / 'questions' / 'gamma.yaml'}:3: difficulty:" in result.stderr


def test_every_problem_in_every_file_is_reported_in_one_run(runner, content_dir: Path) -> None:
    first = write_question(
        content_dir,
        "first",
        replace={"difficulty: medium": "difficulty: extreme", "correct: 1": "correct: 9"},
    )
    second = write_question(
        content_dir,
        "second",
        replace={"related: []": "related: [ghost]", "It is $1/4$": "It is $1/4"},
    )
    third = content_dir / "questions" / "third.yaml"
    third.write_text("slug: third\ntitle: [unclosed\n")

    result = run_check(runner, content_dir)

    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    expected = [
        f"{first}:3: difficulty: must be one of easy, medium, hard",
        f"{first}:{line_of(first, 'correct: 9')}: checks.0.correct: "
        "must be an option index from 0 to 1",
        f"{second}:8: answer: unbalanced $ math delimiter",
        f"{second}:{line_of(second, 'related:')}: related.0: "
        "unknown question 'ghost' (no file questions/ghost.yaml)",
    ]
    for line in expected:
        assert line in problems, "\n".join(problems)
    assert any(line.startswith(f"{third}:") and ": yaml: " in line for line in problems)
    assert problems[-1] == "5 problem(s) in 6 file(s)."


def test_two_files_with_the_same_slug_are_reported_with_both_locations(
    runner, content_dir: Path
) -> None:
    copy = content_dir / "questions" / "alpha-copy.yaml"
    copy.write_text((content_dir / "questions" / "alpha.yaml").read_text())
    original = content_dir / "questions" / "alpha.yaml"

    result = run_check(runner, content_dir)

    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    duplicates = [line for line in problems if "duplicate slug" in line]
    assert len(duplicates) == 1, "\n".join(problems)
    # One file is blamed, and the message points at the other one, both with their line.
    assert duplicates[0] in (
        f"{original}:1: slug: duplicate slug, also defined in {copy}:1",
        f"{copy}:1: slug: duplicate slug, also defined in {original}:1",
    )
    assert f"{copy}:1: slug: must match the file name (alpha.yaml)" in problems


def test_missing_topics_file_is_reported(runner, content_dir: Path) -> None:
    topics = content_dir / "topics.yaml"
    topics.unlink()

    result = run_check(runner, content_dir)

    assert result.exit_code == 1
    assert f"{topics}:1: topics: file is missing" in result.stderr.splitlines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "- slug: gradient-flow\n  title: Gradient flow\n"
            "- slug: gradient-flow\n  title: Again\n",
            "3: 1.slug: duplicate topic, also on line 1",
            id="duplicate-topic",
        ),
        pytest.param(
            "- slug: gradient-flow\n  title: Gradient flow\n- slug: activation-functions\n",
            "3: 1.title: required field is missing",
            id="topic-without-title",
        ),
        pytest.param(
            "- slug: gradient-flow\n  title: Gradient flow\n  colour: red\n",
            "3: 0.colour: unknown field",
            id="topic-unknown-key",
        ),
        pytest.param(
            "- slug: gradient-flow\n  title: Gradient flow\n- just-a-slug\n",
            "3: 1: must be a mapping of fields",
            id="topic-not-a-mapping",
        ),
        pytest.param(
            "gradient-flow: Gradient flow\n", "1: topics: must be a list of topics", id="not-a-list"
        ),
    ],
)
def test_problems_in_topics_file_are_reported(
    runner, content_dir: Path, text: str, expected: str
) -> None:
    topics = content_dir / "topics.yaml"
    topics.write_text(text)

    result = run_check(runner, content_dir)

    assert result.exit_code == 1
    assert f"{topics}:{expected}" in result.stderr.splitlines(), result.stderr


def test_missing_content_folder_is_reported(runner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = run_check(runner, missing)

    assert result.exit_code == 1
    assert f"{missing}:1: content: folder does not exist" in result.stderr.splitlines()


def test_lines_inside_a_block_scalar_point_at_the_broken_line(content_dir: Path) -> None:
    explanation = textwrap.indent(
        "First paragraph with $a$.\n\nSecond paragraph.\n\nThird with $b and no end.\n", "  "
    )
    path = write_question(
        content_dir,
        "gamma",
        replace={"explanation: |\n": "explanation: |\n" + explanation + "\n"},
    )

    bank = load_bank(content_dir)

    assert [str(error) for error in bank.errors] == [
        f"{path}:{line_of(path, 'Third with $b')}: explanation: unbalanced $ math delimiter"
    ]


def test_math_inside_code_and_escaped_dollars_are_not_errors(content_dir: Path) -> None:
    write_question(
        content_dir,
        "gamma",
        replace={
            "It is $1/4$, reached at $z = 0$.": (
                "It costs \\$5, the shell says `echo $HOME` and $x$ is math."
            )
        },
    )

    bank = load_bank(content_dir)

    assert bank.errors == []
    assert {question["slug"] for question in bank.questions} == {"alpha", "beta", "gamma"}


def test_valid_files_are_loaded_beside_broken_ones(content_dir: Path) -> None:
    write_question(content_dir, "gamma", replace={"difficulty: medium": "difficulty: nope"})

    bank = load_bank(content_dir)

    assert not bank.ok
    assert sorted(bank.documents) == ["alpha", "beta"]
    assert bank.files_read == 4  # topics.yaml and three questions


def test_two_files_cannot_claim_the_same_alias(content_dir: Path) -> None:
    write_question(
        content_dir, "alpha", related=["beta"], replace={"related:": "aliases: [old]\nrelated:"}
    )
    path = write_question(
        content_dir, "beta", related=["alpha"], replace={"related:": "aliases: [old]\nrelated:"}
    )

    bank = load_bank(content_dir)

    first = content_dir / "questions" / "alpha.yaml"
    assert [str(error) for error in bank.errors] == [
        f"{path}:{line_of(path, 'aliases:')}: aliases.0: "
        f"'old' is already an alias in {first}:{line_of(first, 'aliases:')}"
    ]


def test_an_option_without_feedback_is_linted_and_rendered(runner, content_dir: Path) -> None:
    """Regression: the linter and the renderer walked two lists of markdown fields, and the
    renderer's crashed on an option with no feedback; both now share one walk."""
    write_question(
        content_dir,
        "plain",
        related=["alpha"],
        replace={"        feedback: Right, at $z = 0$.\n": ""},
    )
    result = run_check(runner, content_dir)
    assert result.exit_code == 0, result.output
    rendered = render_question(load_bank(content_dir).documents["plain"])
    option = rendered["checks"][0]["options"][1]
    assert option["text_html"].strip() == "<p>1/4</p>"
    assert "feedback" not in option and "feedback_html" not in option
