"""`content check` for questions with variants: every check over sampled variants.

For each question that declares `params:` (or writes `{{ }}` or a number expression
without them) about 50 variants are drawn; in each, every `{{ }}` must evaluate and the
text render, numeric answers must be finite numbers, and each check kind's own rules for a
drawn variant must hold (`CheckKind.variant_problems`: a sensible tolerance, no distractor
rendering equal to a key); distinct parameter values must really give different questions.
Each problem is reported once, as `path:line: field: message`, with the first variant it
showed in.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from quizapp.content.loader import ContentError, SourceDocument, markdown_fields
from quizapp.content.markdown import MarkdownError, render_markdown
from quizapp.content.rendering import stored_spec
from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.variants import (
    Values,
    VariantError,
    VariantSpec,
    distinct_draws,
    evaluate,
    has_template,
    parse_spec,
    store_text,
    substitute,
    template_expressions,
)

SAMPLES = 50
# `import` checks fewer variants (every learner's page must work, the full check is the
# author's `content check`): rendering each variant's texts is the cost.
IMPORT_SAMPLES = 12
_checked: dict[tuple[str, str, int], list[ContentError]] = {}


def sample_params(spec: VariantSpec, slug: str, count: int = SAMPLES) -> list[dict[str, Any]]:
    """Up to `count` distinct parameter combinations (all of them when there are fewer)."""
    return distinct_draws(spec, slug, count, "content-check")


def describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def variant_problems(document: SourceDocument, samples: int = SAMPLES) -> list[ContentError]:
    """Every variant problem of one valid question file (none for a plain question), over
    `samples` variants; remembered per file path and content hash within the process."""
    key = (document.path, document.content_hash, samples)
    if key not in _checked:
        if len(_checked) > 4096:
            _checked.clear()
        _checked[key] = _variant_problems(document, samples)
    return list(_checked[key])


def _variant_problems(document: SourceDocument, count: int) -> list[ContentError]:
    data = document.data
    texts = list(markdown_fields(data))
    spec_data = stored_spec(data)
    expressions = list(_number_expressions(data))
    has_expression = any(isinstance(source, str) for _, _, source in expressions)
    if spec_data is None and not has_expression and not any(has_template(t) for _, t in texts):
        return []
    spec = None
    if spec_data is not None:
        spec, _ = parse_spec(spec_data["params"], spec_data["derived"])
        if spec is None:  # the schema reports these
            return []
    checker = _Checker(document)
    samples = sample_params(spec, data["slug"], count) if spec else [{}]
    signatures: dict[tuple, dict[str, Any]] = {}
    answers: dict[tuple[int, str], set[float]] = {}
    for params in samples:
        values = checker.complete(spec, params) if spec else {}
        if values is None:
            continue
        instances = copy.deepcopy(data["checks"])
        signature: list[Any] = []
        for path, text in texts:
            shown, html = checker.render(path, text, values, params)
            if path[0] == "checks":
                store_text(instances, path[1:], shown, html)
            if path[-1] != "feedback":
                signature.append(html)
        broken: set[int] = set()
        for index, name, source in expressions:
            value = checker.number(index, name, source, values, params)
            if value is None:
                broken.add(index)
                continue
            instances[index][name] = value
            signature.append(value)
            if name == "answer" and isinstance(source, str):
                answers.setdefault((index, name), set()).add(value)
        where = f" (variant {describe(params)})" if params else ""
        for index, instance in enumerate(instances):
            if index in broken:
                continue
            for path, message in CHECK_KINDS[instance["kind"]].variant_problems(instance):
                checker.add(("checks", index, *path), message + where)
        other = signatures.setdefault(tuple(signature), params)
        if other is not params:
            checker.add(
                ("params",),
                f"the variants {describe(other)} and {describe(params)} show the same "
                "question and answers (does every param appear in a text or an answer?)",
            )
    for (index, name), seen in answers.items():
        if spec is not None and len(samples) > 1 and len(seen) == 1:
            checker.add(
                ("checks", index, name),
                f"is {next(iter(seen)):g} in every sampled variant: it should follow the params",
            )
    return checker.errors


def _number_expressions(data: dict[str, Any]) -> Iterator[tuple[int, str, object]]:
    for index, check in enumerate(data["checks"]):
        kind = CHECK_KINDS.get(check.get("kind"))
        for name in kind.number_fields if kind else ():
            if check.get(name) is not None:
                yield index, name, check[name]


class _Checker:
    def __init__(self, document: SourceDocument) -> None:
        self.document = document
        self.reported: set[tuple] = set()
        self.errors: list[ContentError] = []

    def add(self, path: tuple, message: str, line: int | None = None) -> None:
        if path in self.reported:
            return  # once per field: the first variant that shows it is enough
        self.reported.add(path)
        where = line if line is not None else self.document.line_of(*path)
        name = ".".join(str(part) for part in path)
        self.errors.append(ContentError(self.document.path, where, name, message))

    def text_line(self, path: tuple, offset: int = 0) -> int:
        start = self.document.parsed.text_starts.get(path, self.document.line_of(*path))
        return start + offset

    def complete(self, spec: VariantSpec, params: dict[str, Any]) -> Values | None:
        values: Values = dict(params)
        for name, expression in spec.derived:
            try:
                values[name] = evaluate(expression.source, values)
            except VariantError as error:
                self.add(("derived", name), f"for {describe(params)}: {error}")
                return None
        return values

    def render(self, path: tuple, text: str, values: Values, params: dict) -> tuple[str, str]:
        """The text of one variant and its HTML ("" when either fails, with the problem)."""
        where = f"for {describe(params)}: " if params else ""
        for offset, source in template_expressions(text):
            try:
                evaluate(source, values)
            except VariantError as error:
                line = self.text_line(path, offset)
                self.add(path, f"{{{{{source}}}}} {where}{error}", line)
                return text, ""
        shown = substitute(text, values)
        try:
            return shown, render_markdown(shown)
        except MarkdownError as error:
            line = self.text_line(path, error.line_offset)
            self.add(path, f"{where}{error.message}", line)
        except Exception as error:  # a converter bug must still name the file, not crash
            self.add(path, str(error))
        return shown, ""

    def number(
        self, index: int, name: str, source: object, values: Values, params: dict
    ) -> float | None:
        path = ("checks", index, name)
        try:
            result = evaluate(source, values) if isinstance(source, str) else source
        except VariantError as error:
            self.add(path, f"for {describe(params)}: {error}" if params else str(error))
            return None
        if isinstance(result, str | bool):
            self.add(path, f"gives text ({result!r}), not a number (sig/sci are for texts)")
            return None
        return float(result)
