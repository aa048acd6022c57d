"""Turn a validated question document into the stored fields, markdown rendered to HTML."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from quizapp.content.loader import ContentError, SourceDocument, markdown_fields
from quizapp.content.markdown import MarkdownError, render_markdown
from quizapp.content.yaml_source import FieldPath


class RenderFailed(ValueError):
    def __init__(self, error: ContentError) -> None:
        super().__init__(str(error))
        self.error = error


def render_question(document: SourceDocument) -> dict[str, Any]:
    """The question's stored fields; raises RenderFailed naming file, line and field."""
    data = document.data

    def render(text: str, *path: str | int) -> str:
        try:
            return render_markdown(text)
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
            _store_html(checks, path[1:], render(text, *path))
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
        "source_path": document.path,
        "content_hash": document.content_hash,
    }


def _store_html(container: Any, path: tuple[str | int, ...], html: str) -> None:
    """Store `html` beside the text at `path`: `name_html` for a field, `list_html[i]` for
    the i-th text of a list (e.g. a hint)."""
    *parents, last = path
    if isinstance(last, int):
        *parents, list_name = parents
        for key in parents:
            container = container[key]
        rendered = container.setdefault(f"{list_name}_html", [""] * len(container[list_name]))
        rendered[last] = html
        return
    for key in parents:
        container = container[key]
    container[f"{last}_html"] = html


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
