"""GIFT (Moodle's plain-text question format) converted into cards.

Supported: multiple choice (`~wrong =right`, `~%50%` weights), true/false, short answer
(only `=` answers), numerical (`#value:tolerance`, `#low..high`) and essay (`{}`), with
`::title::`, `$CATEGORY:`, `[markdown]` and per-answer `#feedback`. Everything else is
reported by line and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from quizapp.content.interchange.cards import (
    Conversion,
    math_from_mathjax,
    slugify,
    unique_slug,
)

_ESCAPED = {"\\~": "~", "\\=": "=", "\\#": "#", "\\{": "{", "\\}": "}", "\\:": ":", "\\n": "\n"}
_PLACEHOLDER = "\x00{}\x00"


@dataclass
class _Block:
    line: int
    text: str


def _blocks(text: str) -> list[_Block]:
    """Questions are separated by blank lines, except inside an answer block `{…}`."""
    blocks: list[_Block] = []
    current: list[str] = []
    start, depth = 1, 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if depth == 0 and line.lstrip().startswith("//"):
            continue
        if not line.strip() and depth == 0:
            if current:
                blocks.append(_Block(start, "\n".join(current)))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
        unescaped = re.sub(r"\\.", "", line)
        depth = max(0, depth + unescaped.count("{") - unescaped.count("}"))
    if current:
        blocks.append(_Block(start, "\n".join(current)))
    return blocks


def _unescape(text: str) -> str:
    for escaped, plain in _ESCAPED.items():
        text = text.replace(escaped, plain)
    return text.strip()


def _split_unescaped(text: str, separators: str) -> list[tuple[str, str]]:
    """Split at unescaped separator characters, keeping which one started each piece."""
    pieces: list[tuple[str, str]] = []
    current, marker, index = [], "", 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char in separators:
            if current or marker:
                pieces.append((marker, "".join(current)))
            current, marker = [], char
        else:
            current.append(char)
        index += 1
    if current or marker:
        pieces.append((marker, "".join(current)))
    return pieces


def _answer_and_feedback(body: str) -> tuple[str, str]:
    parts = _split_unescaped(body, "#")
    answer = parts[0][1] if parts and parts[0][0] == "" else ""
    feedback = "".join(piece for marker, piece in parts[1:] if marker == "#")
    return _unescape(answer), _unescape(feedback)


_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


def _choices(entries: list[tuple[str, str]], conversion: Conversion, line: int) -> dict[str, Any]:
    options, weights = [], []
    for marker, body in entries:
        body = body.strip()
        weight_match = _WEIGHT.match(body)
        weight = float(weight_match.group(1)) if weight_match else (100.0 if marker == "=" else 0.0)
        if weight_match:
            body = body[weight_match.end() :]
        text, feedback = _answer_and_feedback(body)
        options.append(
            {"text": math_from_mathjax(text), "feedback": feedback or "No feedback given."}
        )
        weights.append(weight)
    correct = [index for index, weight in enumerate(weights) if weight > 0]
    if not correct:
        raise ValueError("no answer is marked right (= or a positive %weight%)")
    if len(correct) == 1 and max(weights) >= 100:
        return {"kind": "single_choice", "options": options, "correct": correct[0]}
    wrong = [weight for weight in weights if weight <= 0]
    exact = not wrong or min(wrong) <= -100
    return {
        "kind": "multiple_choice",
        "options": options,
        "correct": correct,
        "scoring": "exact" if exact else "partial",
    }


_RANGE = re.compile(r"^(-?[\d.eE+-]+)\.\.(-?[\d.eE+-]+)$")


def _numerical(body: str, conversion: Conversion, line: int) -> dict[str, Any]:
    entries = [piece for marker, piece in _split_unescaped(body, "=") if piece.strip()]
    if len(entries) > 1:
        conversion.problem(line, f"{len(entries) - 1} further numerical answer(s) not kept")
    value_text, feedback = _answer_and_feedback(_WEIGHT.sub("", entries[0].strip()))
    range_match = _RANGE.match(value_text)
    if range_match:
        low, high = float(range_match.group(1)), float(range_match.group(2))
        check = {"kind": "numeric", "answer": (low + high) / 2, "tolerance": (high - low) / 2}
    else:
        value, _, tolerance = value_text.partition(":")
        check = {"kind": "numeric", "answer": float(value), "tolerance": float(tolerance or 0)}
    if feedback:
        check["feedback"] = feedback
    return check


def _answer_block(answers: str, conversion: Conversion, line: int) -> dict[str, Any]:
    stripped = answers.strip()
    general = ""
    if "####" in stripped:
        stripped, general = stripped.split("####", 1)
        stripped = stripped.strip()
    if not stripped:
        check: dict[str, Any] = {"kind": "self_rated"}
    elif stripped.upper() in {"T", "TRUE", "F", "FALSE"} or re.match(
        r"^(T|F|TRUE|FALSE)\s*#", stripped, re.IGNORECASE
    ):
        value, feedback = _answer_and_feedback(stripped)
        is_true = value.upper() in {"T", "TRUE"}
        check = {
            "kind": "single_choice",
            "options": [
                {"text": "True", "feedback": feedback or "No feedback given."},
                {"text": "False", "feedback": feedback or "No feedback given."},
            ],
            "correct": 0 if is_true else 1,
        }
    elif stripped.startswith("#"):
        check = _numerical(stripped[1:], conversion, line)
    else:
        entries = [(m, b) for m, b in _split_unescaped(stripped, "=~") if m or b.strip()]
        if any("->" in body for _, body in entries):
            raise ValueError("matching questions are not supported")
        if any(marker == "~" for marker, _ in entries):
            check = _choices(entries, conversion, line)
        else:
            accepted = [
                _answer_and_feedback(_WEIGHT.sub("", body.strip()))[0] for _, body in entries
            ]
            check = {"kind": "short_text", "accepted": [a for a in accepted if a]}
    if general.strip():
        check["feedback"] = _unescape(general)
    return check


_TITLE = re.compile(r"^::(.*?)::", re.DOTALL)
_FORMAT = re.compile(r"^\[(markdown|html|plain|moodle)\]")


def _find_answer_block(text: str) -> tuple[int, int] | None:
    depth, start = 0, -1
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                return start, index
        index += 1
    return None


def read_gift(text: str) -> Conversion:
    """Cards from a GIFT file; unsupported constructs are reported with their line."""
    conversion = Conversion()
    taken: set[str] = set()
    topic = "imported"
    for block in _blocks(text):
        body = block.text.strip()
        if body.startswith("$CATEGORY:"):
            path = body.removeprefix("$CATEGORY:").strip()
            leaf = path.rstrip("/").rsplit("/", 1)[-1] or "imported"
            topic = slugify(leaf, "imported")
            conversion.topics.setdefault(topic, leaf)
            continue
        title = ""
        title_match = _TITLE.match(body)
        if title_match:
            title = _unescape(title_match.group(1))
            body = body[title_match.end() :].strip()
        format_match = _FORMAT.match(body)
        if format_match:
            if format_match.group(1) == "html":
                conversion.problem(block.line, "HTML question text kept as written; review it")
            body = body[format_match.end() :].strip()
        span = _find_answer_block(body)
        if span is None:
            conversion.problem(block.line, "no answer block {…}: a description, skipped")
            continue
        start, end = span
        after = body[end + 1 :].strip()
        question_text = body[:start].strip()
        if after:
            question_text = f"{question_text} _____ {after}"
        try:
            check = _answer_block(body[start + 1 : end], conversion, block.line)
        except ValueError as problem:
            conversion.problem(block.line, f"{problem}; skipped")
            continue
        question_text = math_from_mathjax(_unescape(question_text))
        title = title or (question_text.split("\n", 1)[0][:80] or f"Question on line {block.line}")
        conversion.topics.setdefault(topic, topic.replace("-", " ").capitalize())
        conversion.cards.append(
            {
                "slug": unique_slug(slugify(title), taken),
                "title": title,
                "difficulty": "medium",
                "topics": [topic],
                "question": question_text or title,
                "answer": "(write the model answer)",
                "explanation": check.get("feedback") or "(write the explanation)",
                "references": [],
                "related": [],
                "checks": [{"kind": check.pop("kind"), "prompt": question_text or title, **check}],
            }
        )
    return conversion
