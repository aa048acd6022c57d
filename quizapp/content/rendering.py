"""Turn a validated question document into the stored fields, markdown rendered to HTML."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from quizapp.content.loader import ContentError, SourceDocument, markdown_fields
from quizapp.content.markdown import MarkdownError, render_markdown
from quizapp.content.yaml_source import FieldPath
from quizapp.domain.grading import (
    ANONYMOUS_LEARNER,
    VARIANT_SPEC,
    VARIANT_TEMPLATE,
    check_kind,
    draw_variant,
    variant_values,
)
from quizapp.domain.variants import VariantError, evaluate_number, store_text, substitute


class RenderFailed(ValueError):
    def __init__(self, error: ContentError) -> None:
        super().__init__(str(error))
        self.error = error


def stored_spec(data: dict[str, Any]) -> dict[str, Any] | None:
    """A question's variant spec as stored ({"params", "derived"}); None without params."""
    if not data.get("params"):
        return None
    return {"params": data["params"], "derived": data.get("derived") or {}}


def reference_values(data: dict[str, Any]) -> dict[str, Any]:
    """The values of the variant stored with a question: the one visitors without a session
    see, so listings, exports and statistics show real numbers. {} without params."""
    spec = stored_spec(data)
    params = draw_variant(spec, ANONYMOUS_LEARNER, data["slug"]) if spec else None
    return variant_values(spec, params) if params else {}


def reference_card(card: dict[str, Any]) -> dict[str, Any]:
    """A card (validated question data) as its reference variant: every `{{ }}` put in, number
    expressions evaluated, `params`/`derived` left out: for formats without variants (Anki,
    Moodle XML). A card without them, or without checks (a deck built from the database,
    already in its reference variant), comes back unchanged."""
    if "checks" not in card:
        return card
    values = reference_values(card) if stored_spec(card) else {}
    texts = list(markdown_fields(card))
    numbers = [
        (index, name)
        for index, check in enumerate(card["checks"])
        for name in check_kind(check).number_fields
        if isinstance(check.get(name), str)
    ]
    if not values and not numbers and not any("{{" in text for _, text in texts):
        return card
    out = copy.deepcopy({key: value for key, value in card.items() if key not in VARIANT_KEYS})
    for path, text in texts:
        *parents, last = path
        container: Any = out
        for key in parents:
            container = container[key]
        container[last] = substitute(text, values)
    for index, name in numbers:
        out["checks"][index][name] = evaluate_number(card["checks"][index][name], values)
    return out


VARIANT_KEYS = ("params", "derived")


def render_question(document: SourceDocument) -> dict[str, Any]:
    """The question's stored fields; raises RenderFailed naming file, line and field.

    A question with params is stored as its reference variant, each check with its template
    and the spec, from which `resolve_check` builds every learner's own variant."""
    data = document.data
    spec = stored_spec(data)
    try:
        values = reference_values(data)
    except VariantError as error:
        raise RenderFailed(
            ContentError(document.path, document.line_of("derived"), "derived", str(error))
        ) from None

    def render(text: str, *path: str | int) -> str:
        try:
            return render_markdown(substitute(text, values) if spec else text)
        except MarkdownError as error:
            line = document.parsed.text_starts.get(path, document.line_of(*path))
            raise RenderFailed(
                ContentError(document.path, line + error.line_offset, _name(path), error.message)
            ) from None
        except Exception as error:  # a converter bug must still name the file, not crash
            raise RenderFailed(
                ContentError(document.path, document.line_of(*path), _name(path), str(error))
            ) from None

    checks = copy.deepcopy(data["checks"])
    for path, text in markdown_fields(data):
        if path[0] == "checks":
            shown = substitute(text, values) if spec else text
            store_text(checks, path[1:], shown, render(text, *path))
    checks = [
        _evaluated_check(document, index, check, template, values, spec)
        for index, (check, template) in enumerate(zip(checks, data["checks"], strict=True))
    ]
    return {
        "slug": data["slug"],
        "title": data["title"],
        "difficulty": data["difficulty"],
        "question_md": data["question"],
        "question_html": render(data["question"], "question"),
        "answer_md": data["answer"],
        "answer_html": render(data["answer"], "answer"),
        "explanation_md": data["explanation"],
        "explanation_html": render(data["explanation"], "explanation"),
        "references": data["references"],
        "aliases": data["aliases"],
        "related_slugs": data["related"],
        "exercise_slugs": data["exercises"],
        "checks": checks,
        "variant_spec": spec,
        "source_path": document.path,
        "content_hash": document.content_hash,
    }


def _evaluated_check(
    document: SourceDocument,
    index: int,
    check: dict[str, Any],
    template: dict[str, Any],
    values: dict[str, Any],
    spec: dict[str, Any] | None,
) -> dict[str, Any]:
    """Number expressions evaluated for the reference variant; a variant check also keeps
    its template and the spec."""
    for name in check_kind(check).number_fields:
        if isinstance(check.get(name), str):
            try:
                check[name] = evaluate_number(check[name], values)
            except VariantError as error:
                raise RenderFailed(
                    ContentError(
                        document.path,
                        document.line_of("checks", index, name),
                        f"checks.{index}.{name}",
                        str(error),
                    )
                ) from None
    if spec is None:
        return check
    return {**check, VARIANT_SPEC: spec, VARIANT_TEMPLATE: copy.deepcopy(template)}


def _name(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


def render_exercise(document: SourceDocument) -> dict[str, Any]:
    """The exercise's stored fields; raises RenderFailed naming file, line and field."""
    data = document.data

    def render(text: str, *path: str | int) -> str:
        try:
            return render_markdown(text)
        except Exception as error:  # a converter bug must still name the file, not crash
            raise RenderFailed(
                ContentError(document.path, document.line_of(*path), _name(path), str(error))
            ) from None

    return {
        "slug": data["slug"],
        "title": data["title"],
        "difficulty": data["difficulty"],
        "prompt_html": render(data["prompt"], "prompt"),
        "explanation_html": render(data["explanation"], "explanation"),
        "network": data["network"],
        "choices": data["choices"],
        "goals": data["goals"],
        "feedback_html": {
            key: render(text, "feedback", key) for key, text in data["feedback"].items()
        },
        "hints_html": [render(text, "hints", i) for i, text in enumerate(data["hints"])],
        "question_slugs": data["questions"],
        "aliases": data["aliases"],
        "source_path": document.path,
        "content_hash": document.content_hash,
    }


def render_problems(
    document: SourceDocument, texts: Callable[[dict[str, Any]], Iterator[tuple[FieldPath, str]]]
) -> list[ContentError]:
    """Every markdown text of `document` that would fail to render, not just the first one."""
    problems = []
    for path, text in texts(document.data):
        try:
            render_markdown(text)
        except MarkdownError as error:
            line = document.parsed.text_starts.get(path, document.line_of(*path))
            problems.append(
                ContentError(document.path, line + error.line_offset, _name(path), error.message)
            )
        except Exception as error:  # a converter bug must still name the file, not crash
            problems.append(
                ContentError(document.path, document.line_of(*path), _name(path), str(error))
            )
    return problems
