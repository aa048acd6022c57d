"""Load and validate the content folder, collecting every problem as `path:line: field: message`.

Nothing here raises for bad content: a `Bank` carries the valid documents and the
errors, so `flask content check` can report every problem in every file at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from quizapp.content.key_bias import bank_key_warnings
from quizapp.content.markdown import RENDERER_VERSION, lint_markdown
from quizapp.content.schemas import ExerciseSchema, QuestionSchema, TopicSchema, shared_schema
from quizapp.content.yaml_source import FieldPath, ParsedYaml, YamlSyntaxError, parse_yaml
from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.exercises import METRICS, VERDICTS, all_selections, choice_values
from quizapp.domain.variants import (
    VariantError,
    check_names,
    has_template,
    parse_expression,
    template_expressions,
)
from quizapp.sim import SimConfigError, validate_config

MAX_FILE_BYTES = 512 * 1024

# marshmallow's messages, reworded to read well after `field:`.
_MESSAGE_WORDING = {
    "Unknown field.": "unknown field",
    "Missing data for required field.": "required field is missing",
    "Not a valid string.": "must be text",
    "Not a valid integer.": "must be a whole number",
    "Not a valid number.": "must be a number",
    "Not a valid list.": "must be a list",
    "Invalid input type.": "must be a mapping of fields",
    "Field may not be null.": "must not be empty",
}


@dataclass(frozen=True, order=True)
class ContentError:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


@dataclass
class SourceDocument:
    """One valid content file: its data, where it came from and a hash of its bytes."""

    path: str
    data: dict[str, Any]
    parsed: ParsedYaml
    content_hash: str

    def line_of(self, *path: str | int) -> int:
        return self.parsed.line_of(tuple(path))


@dataclass
class Bank:
    root: Path
    topics: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, SourceDocument] = field(default_factory=dict)  # by question slug
    exercises: list[dict[str, Any]] = field(default_factory=list)
    exercise_documents: dict[str, SourceDocument] = field(default_factory=dict)
    # Files that parsed but failed validation, by file stem: still checked for links and
    # markdown so that one `content check` reports every problem, and still link targets.
    invalid_documents: dict[str, SourceDocument] = field(default_factory=dict)
    invalid_exercises: dict[str, SourceDocument] = field(default_factory=dict)
    errors: list[ContentError] = field(default_factory=list)
    # Problems that do not stop an import (bank-wide answer-key bias), same format.
    warnings: list[ContentError] = field(default_factory=list)
    files_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exercise_slugs(self) -> set[str]:
        return set(self.exercise_documents)


def hash_source(raw: bytes) -> str:
    """Identify a file's content and the renderer that will turn it into HTML."""
    return hashlib.sha256(RENDERER_VERSION.encode() + b"\0" + raw).hexdigest()


def load_bank(root: Path) -> Bank:
    """Read `root/topics.yaml` and `root/questions/*.yaml`; never raises for bad content."""
    root = Path(root)
    bank = Bank(root=root)
    if not root.is_dir():
        bank.errors.append(ContentError(str(root), 1, "content", "folder does not exist"))
        return bank
    _load_topics(root / "topics.yaml", bank)
    for path in sorted((root / "exercises").glob("*.yaml")):
        _load_exercise(path, bank)
    for path in sorted((root / "questions").glob("*.yaml")):
        _load_question(path, bank)
    _check_links(bank)
    _check_exercise_links(bank)
    _check_aliases(bank.documents, "question", bank)
    _check_aliases(bank.exercise_documents, "exercise", bank)
    bank.errors.sort()
    questions_dir = str(root / "questions")
    bank.warnings = [
        ContentError(questions_dir, 1, "checks", message)
        for message in bank_key_warnings(bank.questions)
    ]
    return bank


def _read_yaml(path: Path, bank: Bank) -> tuple[bytes, ParsedYaml] | None:
    bank.files_read += 1
    display = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        bank.errors.append(ContentError(display, 1, "file", f"cannot be read: {error.strerror}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        bank.errors.append(
            ContentError(display, 1, "file", f"is larger than {MAX_FILE_BYTES // 1024} KiB")
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        bank.errors.append(ContentError(display, line, "file", "is not valid UTF-8"))
        return None
    try:
        parsed = parse_yaml(text)
    except YamlSyntaxError as error:
        bank.errors.append(ContentError(display, error.line, "yaml", error.message))
        return None
    for key_path, line in parsed.duplicate_keys:
        bank.errors.append(ContentError(display, line, _field_name(key_path), "key is given twice"))
    return raw, parsed


def _validate(
    schema: Schema,
    data: Any,
    parsed: ParsedYaml,
    display: str,
    bank: Bank,
    prefix: FieldPath = (),
) -> dict[str, Any] | None:
    """Load `data` (found at `prefix` in the file) with `schema`, recording every error."""
    if not isinstance(data, dict):
        bank.errors.append(
            ContentError(
                display, parsed.line_of(prefix), _field_name(prefix), "must be a mapping of fields"
            )
        )
        return None
    try:
        return schema.load(data)
    except ValidationError as error:
        for path, message in _flatten(error.messages, prefix):
            bank.errors.append(
                ContentError(display, parsed.line_of(path), _field_name(path), message)
            )
        return None


def _load_topics(path: Path, bank: Bank) -> None:
    display = str(path)
    if not path.exists():
        bank.errors.append(ContentError(display, 1, "topics", "file is missing"))
        return
    loaded = _read_yaml(path, bank)
    if loaded is None:
        return
    _, parsed = loaded
    if not isinstance(parsed.data, list):
        bank.errors.append(ContentError(display, 1, "topics", "must be a list of topics"))
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(parsed.data):
        topic = _validate(TopicSchema(), item, parsed, display, bank, prefix=(index,))
        if topic is None:
            continue
        if topic["slug"] in seen:
            bank.errors.append(
                ContentError(
                    display,
                    parsed.line_of((index, "slug")),
                    f"{index}.slug",
                    f"duplicate topic, also on line {seen[topic['slug']]}",
                )
            )
            continue
        seen[topic["slug"]] = parsed.line_of((index, "slug"))
        bank.topics.append(topic)


def _read_document(
    path: Path,
    schema: Schema,
    bank: Bank,
    invalid: dict[str, SourceDocument],
    texts: Callable[[dict[str, Any]], Iterator[tuple[FieldPath, str]]],
) -> tuple[str, bytes, ParsedYaml, dict[str, Any]] | None:
    """Read, parse and validate one content file; None (with its errors in the bank) if bad.

    A file that parses but fails validation is kept in `invalid` and its markdown is linted
    all the same, so its later problems are not hidden behind its schema errors."""
    loaded = _read_yaml(path, bank)
    if loaded is None:
        return None
    raw, parsed = loaded
    data = _validate(schema, parsed.data, parsed, str(path), bank)
    if data is None:
        if isinstance(parsed.data, dict):
            invalid[path.stem] = SourceDocument(str(path), parsed.data, parsed, hash_source(raw))
            _lint_texts(str(path), parsed, texts_that_parse(texts, parsed.data), bank)
        return None
    return (str(path), raw, parsed, data)


def texts_that_parse(
    texts: Callable[[dict[str, Any]], Iterator[tuple[FieldPath, str]]], data: dict[str, Any]
) -> Iterator[tuple[FieldPath, str]]:
    """The markdown texts of a file that failed validation, as far as its shape allows."""
    yield from (
        (path, text)
        for path, text in _tolerant_walk(texts, _Lenient(data))
        if isinstance(text, str)
    )


class _Lenient(dict):
    """A raw mapping that answers "nothing here" for missing or ill-typed parts."""

    def __getitem__(self, key: Any) -> Any:
        return _lenient(super().get(key))

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)
        return _lenient(value)


def _lenient(value: Any) -> Any:
    if isinstance(value, dict):
        return _Lenient(value)
    if isinstance(value, list):
        return [_lenient(item) for item in value]
    return value


def _tolerant_walk(
    texts: Callable[[dict[str, Any]], Iterator[tuple[FieldPath, str]]], data: dict[str, Any]
) -> Iterator[tuple[FieldPath, Any]]:
    try:
        yield from texts(data)
    except (TypeError, AttributeError, KeyError):
        return  # the rest of the shape is too broken to walk; its schema errors say why


def _load_question(path: Path, bank: Bank) -> None:
    document = _read_document(
        path, shared_schema(QuestionSchema), bank, bank.invalid_documents, markdown_fields
    )
    if document is None:
        return
    display, raw, parsed, data = document
    slug = data["slug"]
    if slug != path.stem:
        bank.errors.append(
            ContentError(
                display,
                parsed.line_of(("slug",)),
                "slug",
                f"must match the file name ({slug}.yaml)",
            )
        )
    _lint_texts(display, parsed, markdown_fields(data), bank)
    _lint_templates(display, parsed, data, bank)
    if slug in bank.documents:
        other = bank.documents[slug]
        bank.errors.append(
            ContentError(
                display,
                parsed.line_of(("slug",)),
                "slug",
                f"duplicate slug, also defined in {other.path}:{other.line_of('slug')}",
            )
        )
        return
    bank.documents[slug] = SourceDocument(display, data, parsed, hash_source(raw))
    bank.questions.append({**data, "source_path": display})


def _lint_texts(
    display: str, parsed: ParsedYaml, texts: Iterator[tuple[FieldPath, str]], bank: Bank
) -> None:
    """Markdown problems of each text, on the file line where the problem stands."""
    for field_path, text in texts:
        start = parsed.text_starts.get(field_path, parsed.line_of(field_path))
        for problem in lint_markdown(text):
            bank.errors.append(
                ContentError(
                    display, start + problem.line_offset, _field_name(field_path), problem.message
                )
            )


def _lint_templates(display: str, parsed: ParsedYaml, data: dict[str, Any], bank: Bank) -> None:
    """Every `{{ expr }}` of every text must parse and name only declared params and derived
    values, reported on its own line (their values are checked by `content check`)."""
    names = {*(data.get("params") or {}), *(data.get("derived") or {})}
    for field_path, text in markdown_fields(data):
        if not has_template(text):
            continue
        start = parsed.text_starts.get(field_path, parsed.line_of(field_path))
        for offset, source in template_expressions(text):
            try:
                check_names(parse_expression(source), names)
            except VariantError as error:
                bank.errors.append(
                    ContentError(
                        display,
                        start + offset,
                        _field_name(field_path),
                        f"{{{{{source}}}}}: {error}",
                    )
                )


def markdown_fields(data: dict[str, Any]) -> Iterator[tuple[FieldPath, str]]:
    """Every markdown text of a question, with its field path: the one walk shared by the
    linter and the renderer, each check's texts named by its kind."""
    for name in ("question", "answer", "explanation"):
        yield (name,), data[name]
    for check_index, check in enumerate(data["checks"]):
        name = check.get("kind") if isinstance(check, dict) else None
        kind = CHECK_KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            continue  # an unknown kind: the schema reports it, there is nothing to walk
        for path, text in kind.markdown_fields(check):
            yield ("checks", check_index, *path), text


def _string_list(data: dict[str, Any], name: str) -> list[tuple[int, str]]:
    """The text items of a list field with their indexes; [] when the field is not a list."""
    values = data.get(name)
    if not isinstance(values, list):
        return []
    return [(index, value) for index, value in enumerate(values) if isinstance(value, str)]


def _check_links(bank: Bank) -> None:
    """Links between files, checked for invalid files too (their schema errors are separate)."""
    topic_slugs = {topic["slug"] for topic in bank.topics}
    question_slugs = set(bank.documents) | set(bank.invalid_documents)
    exercise_slugs = bank.exercise_slugs | set(bank.invalid_exercises)
    for slug, document in {**bank.invalid_documents, **bank.documents}.items():
        data = document.data
        seen_related: set[str] = set()
        for index, related in _string_list(data, "related"):
            line = document.line_of("related", index)
            if related == slug:
                message = "a question cannot be related to itself"
            elif related in seen_related:
                message = f"'{related}' is listed twice"
            elif related not in question_slugs:
                message = f"unknown question '{related}' (no file questions/{related}.yaml)"
            else:
                message = ""
            seen_related.add(related)
            if message:
                bank.errors.append(ContentError(document.path, line, f"related.{index}", message))
        for index, topic in _string_list(data, "topics"):
            if topic_slugs and topic not in topic_slugs:
                bank.errors.append(
                    ContentError(
                        document.path,
                        document.line_of("topics", index),
                        f"topics.{index}",
                        f"unknown topic '{topic}' (declare it in topics.yaml)",
                    )
                )
        for index, exercise in _string_list(data, "exercises"):
            if exercise not in exercise_slugs:
                bank.errors.append(
                    ContentError(
                        document.path,
                        document.line_of("exercises", index),
                        f"exercises.{index}",
                        f"unknown exercise '{exercise}' (no file exercises/{exercise}.yaml)",
                    )
                )


def _flatten(messages: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict | list):
                yield from _flatten(message, path)
            else:
                yield path, _reword(str(message))
    else:
        yield path, _reword(str(messages))


def _reword(message: str) -> str:
    return _MESSAGE_WORDING.get(message, message.rstrip("."))


def _field_name(path: FieldPath) -> str:
    return ".".join(str(part) for part in path) or "document"


FEEDBACK_KEYS = (*VERDICTS, "pass", "fail")
# Checked one by one against the simulator's rules; beyond this the space is sampled.
MAX_VALIDATED_SELECTIONS = 200


def _load_exercise(path: Path, bank: Bank) -> None:
    document = _read_document(
        path, shared_schema(ExerciseSchema), bank, bank.invalid_exercises, exercise_markdown_fields
    )
    if document is None:
        return
    display, raw, parsed, data = document
    errors_before = len(bank.errors)

    def error(path_: tuple, message: str) -> None:
        bank.errors.append(
            ContentError(display, parsed.line_of(path_), _field_name(path_), message)
        )

    slug = data["slug"]
    if slug != path.stem:
        error(("slug",), f"must match the file name ({slug}.yaml)")
    for index, goal in enumerate(data["goals"]):
        if goal["metric"] not in METRICS:
            error(("goals", index, "metric"), f"unknown metric; use one of {', '.join(METRICS)}")
        elif goal["metric"] == "verdict" and goal.get("equals") not in VERDICTS:
            error(("goals", index, "equals"), f"a verdict is one of {', '.join(VERDICTS)}")
    for key in data["feedback"]:
        if key not in FEEDBACK_KEYS:
            error(("feedback", key), f"unknown outcome; use {', '.join(FEEDBACK_KEYS)}")
    allowed = choice_values(data["choices"])
    for name in ("reference_solution", "wrong_choice"):
        selection = data.get(name)
        if selection is None:
            continue
        if set(selection) != set(allowed):
            error((name,), f"must choose exactly: {', '.join(allowed)}")
            continue
        for choice, value in selection.items():
            if value not in allowed[choice]:
                error((name, choice), f"{value!r} is not among the offered {choice} values")
    overlap = set(allowed) & set(data["network"])
    if overlap:
        error(("network",), f"fixes {', '.join(sorted(overlap))}, which the learner chooses")
    try:
        validate_config(data["network"] | {name: values[0] for name, values in allowed.items()})
    except SimConfigError as problem:
        where = ("choices", problem.field) if problem.field in allowed else ("network",)
        error(where, f"{problem.field}: {problem.message}")
    else:
        for selection in all_selections(data["choices"])[:MAX_VALIDATED_SELECTIONS]:
            try:
                validate_config(data["network"] | selection)
            except SimConfigError as problem:
                error(("choices",), f"choosing {selection} is invalid: {problem}")
                break
    _lint_texts(display, parsed, exercise_markdown_fields(data), bank)
    if len(bank.errors) > errors_before:
        bank.invalid_exercises[path.stem] = SourceDocument(display, data, parsed, hash_source(raw))
        return
    if slug in bank.exercise_documents:
        other = bank.exercise_documents[slug]
        error(("slug",), f"duplicate slug, also defined in {other.path}:{other.line_of('slug')}")
        return
    bank.exercise_documents[slug] = SourceDocument(display, data, parsed, hash_source(raw))
    bank.exercises.append({**data, "source_path": display})


def exercise_markdown_fields(data: dict[str, Any]) -> Iterator[tuple[FieldPath, str]]:
    """Every markdown text of an exercise, with its field path."""
    yield ("prompt",), data["prompt"]
    yield ("explanation",), data["explanation"]
    for index, hint in enumerate(data["hints"]):
        yield ("hints", index), hint
    for key, text in data["feedback"].items():
        yield ("feedback", key), text


def _check_exercise_links(bank: Bank) -> None:
    question_slugs = set(bank.documents) | set(bank.invalid_documents)
    for document in {**bank.invalid_exercises, **bank.exercise_documents}.values():
        for index, slug in _string_list(document.data, "questions"):
            if slug not in question_slugs:
                bank.errors.append(
                    ContentError(
                        document.path,
                        document.line_of("questions", index),
                        f"questions.{index}",
                        f"unknown question '{slug}' (no file questions/{slug}.yaml)",
                    )
                )


def _check_aliases(documents: dict[str, SourceDocument], kind: str, bank: Bank) -> None:
    """A former slug redirects to exactly one live file, so it may name no other file."""
    claimed: dict[str, tuple[str, int]] = {}
    for slug, document in documents.items():
        for index, alias in enumerate(document.data["aliases"]):
            line = document.line_of("aliases", index)
            if alias == slug:
                message = f"'{alias}' is this {kind}'s own slug"
            elif alias in documents:
                message = f"'{alias}' is the slug of another {kind} ({kind}s/{alias}.yaml)"
            elif alias in claimed:
                message = (
                    f"'{alias}' is already an alias in {claimed[alias][0]}:{claimed[alias][1]}"
                )
            else:
                claimed[alias] = (document.path, line)
                continue
            bank.errors.append(ContentError(document.path, line, f"aliases.{index}", message))
