"""Moodle XML: export the bank's checks as Moodle questions, and convert Moodle XML into cards.

One check is one Moodle question. Its `idnumber` is `<slug>/<check index>` so a file we
exported converts back into the same cards; the card's question and the check's prompt
share the question text, split by a marker, and the answer and explanation share the
general feedback. Text is written in Moodle's markdown format with MathJax delimiters.

`ordering` checks become questions of the Ordering plugin (qtype_ordering, in Moodle since
4.x and a plugin before): the items in the right order, each answer's `fraction` its place
(1, 2, ...), as the plugin writes them. `matching` checks become Moodle's `matching`: one
`subquestion` per pair, and a distractor as a subquestion with no text, only an answer. A
check's own feedback travels as the combined feedback (the same text for a right, partly
right and wrong answer).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from quizapp.content.interchange.cards import (
    Conversion,
    math_from_mathjax,
    math_to_mathjax,
    slugify,
    unique_slug,
)
from quizapp.content.loader import Bank
from quizapp.content.rendering import reference_card

PROMPT_MARKER = "<!-- quizapp:prompt -->"
EXPLANATION_MARKER = "<!-- quizapp:explanation -->"
CATEGORY_ROOT = "$course$/top/quizapp"
SCORING_EXACT_WRONG_FRACTION = -100.0
ORDERING_GRADING = "RELATIVE_ALL_PREVIOUS_AND_NEXT"
AUTO_FORMAT_RIGHT = {"fraction": "100", "format": "moodle_auto_format"}


# ----------------------------------------------------------------------------- export


def _text_element(parent: ET.Element, tag: str, text: str, markdown: bool = True) -> ET.Element:
    element = ET.SubElement(parent, tag, {"format": "markdown"} if markdown else {})
    ET.SubElement(element, "text").text = math_to_mathjax(text) if markdown else text
    return element


def _fraction(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _add_choices(question: ET.Element, check: dict[str, Any], correct: set[int], wrong: float):
    share = 100.0 / len(correct)
    for index, option in enumerate(check["options"]):
        fraction = share if index in correct else wrong
        answer = _text_element(question, "answer", option["text"])
        answer.set("fraction", _fraction(fraction))
        _text_element(answer, "feedback", option.get("feedback", ""))


def _single_choice(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "single").text = "true"
    ET.SubElement(question, "shuffleanswers").text = "true"
    ET.SubElement(question, "answernumbering").text = "abc"
    _add_choices(question, check, {check["correct"]}, 0.0)
    return "multichoice"


def _multiple_choice(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "single").text = "false"
    ET.SubElement(question, "shuffleanswers").text = "true"
    ET.SubElement(question, "answernumbering").text = "abc"
    correct = set(check["correct"])
    # Moodle has no "all or nothing": a wrong pick costing everything is the closest;
    # partial credit (hits - misses) / k is exactly a wrong pick costing 1/k.
    exact = check.get("scoring", "exact") == "exact"
    wrong = SCORING_EXACT_WRONG_FRACTION if exact else -100.0 / len(correct)
    _add_choices(question, check, correct, wrong)
    return "multichoice"


def _numeric(question: ET.Element, check: dict[str, Any]) -> str:
    tolerance = check.get("tolerance", 0.0)
    if check.get("relative_tolerance"):
        tolerance = max(tolerance, check["relative_tolerance"] * abs(check["answer"]))
    answer = ET.SubElement(question, "answer", AUTO_FORMAT_RIGHT)
    ET.SubElement(answer, "text").text = repr(float(check["answer"]))
    ET.SubElement(answer, "tolerance").text = repr(float(tolerance))
    _text_element(answer, "feedback", check.get("feedback", ""))
    if check.get("unit"):
        units = ET.SubElement(question, "units")
        unit = ET.SubElement(units, "unit")
        ET.SubElement(unit, "multiplier").text = "1"
        ET.SubElement(unit, "unit_name").text = check["unit"]
    return "numerical"


def _self_rated(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "responseformat").text = "editor"
    ET.SubElement(question, "responsefieldlines").text = "10"
    _text_element(question, "graderinfo", check.get("model_answer", ""))
    return "essay"


def _combined_feedback(question: ET.Element, check: dict[str, Any]) -> None:
    for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback"):
        _text_element(question, tag, check.get("feedback", ""))


def _ordering(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "layouttype").text = "VERTICAL"
    ET.SubElement(question, "selecttype").text = "ALL"
    ET.SubElement(question, "selectcount").text = "0"
    # Kendall's tau floored at 0 has no twin there; the share of item pairs in the right
    # relative order is the nearest ((tau + 1) / 2).
    ET.SubElement(question, "gradingtype").text = ORDERING_GRADING
    ET.SubElement(question, "showgrading").text = "SHOW"
    ET.SubElement(question, "numberingstyle").text = "none"
    _combined_feedback(question, check)
    for place, item in enumerate(check["items"], start=1):
        _text_element(question, "answer", item).set("fraction", str(place))
    return "ordering"


def _matching(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "shuffleanswers").text = "true"
    _combined_feedback(question, check)
    sides = [(pair["left"], pair["right"]) for pair in check["pairs"]]
    for left, right in sides + [("", text) for text in check.get("distractors", [])]:
        subquestion = _text_element(question, "subquestion", left)
        # A right item is plain text in Moodle (it is shown in a drop-down).
        ET.SubElement(ET.SubElement(subquestion, "answer"), "text").text = math_to_mathjax(right)
    return "matching"


def _short_text(question: ET.Element, check: dict[str, Any]) -> str:
    ET.SubElement(question, "usecase").text = "1" if check.get("case_sensitive") else "0"
    for accepted in check.get("accepted", []):
        answer = ET.SubElement(
            question, "answer", {"fraction": "100", "format": "moodle_auto_format"}
        )
        ET.SubElement(answer, "text").text = accepted
    return "shortanswer"


# One writer per check kind that Moodle can hold; a kind without one is left out.
MOODLE_WRITERS = {
    "single_choice": _single_choice,
    "multiple_choice": _multiple_choice,
    "numeric": _numeric,
    "self_rated": _self_rated,
    "short_text": _short_text,
    "ordering": _ordering,
    "matching": _matching,
}


def export_moodle_xml(bank: Bank, questions: list[dict[str, Any]], output: Path) -> int:
    """Write `questions` (cards of `bank`) as a Moodle XML quiz; returns the questions written."""
    quiz = ET.Element("quiz")
    titles = {topic["slug"]: topic["title"] for topic in bank.topics}
    written = 0
    current_category = None
    for card in map(reference_card, questions):
        category = f"{CATEGORY_ROOT}/{card['topics'][0]}"
        if category != current_category:
            holder = ET.SubElement(quiz, "question", {"type": "category"})
            _text_element(holder, "category", category, markdown=False)
            _text_element(holder, "info", titles.get(card["topics"][0], ""), markdown=False)
            current_category = category
        for index, check in enumerate(card["checks"]):
            writer = MOODLE_WRITERS.get(check["kind"])
            if writer is None:
                continue
            question = ET.Element("question")
            name = card["title"] if len(card["checks"]) == 1 else f"{card['title']} ({index + 1})"
            _text_element(question, "name", name, markdown=False)
            _text_element(
                question,
                "questiontext",
                f"{card['question']}\n\n{PROMPT_MARKER}\n\n{check['prompt']}",
            )
            _text_element(
                question,
                "generalfeedback",
                f"{card['answer']}\n\n{EXPLANATION_MARKER}\n\n{card['explanation']}",
            )
            ET.SubElement(question, "defaultgrade").text = "1"
            ET.SubElement(question, "penalty").text = "0.3333333"
            ET.SubElement(question, "hidden").text = "0"
            ET.SubElement(question, "idnumber").text = f"{card['slug']}/{index}"
            question.set("type", writer(question, check))
            tags = ET.SubElement(question, "tags")
            for tag in [
                f"difficulty:{card['difficulty']}",
                *(f"topic:{t}" for t in card["topics"]),
            ]:
                ET.SubElement(ET.SubElement(tags, "tag"), "text").text = tag
            quiz.append(question)
            written += 1
    ET.indent(quiz)
    output.write_bytes(ET.tostring(quiz, encoding="UTF-8", xml_declaration=True) + b"\n")
    return written


# ----------------------------------------------------------------------------- import


class _LineTreeBuilder(ET.TreeBuilder):
    """Records the source line of every element (ElementTree does not keep it)."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: DefusedXMLParser | None = None
        self.lines: dict[int, int] = {}

    def start(self, tag, attrs):
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.parser.parser.CurrentLineNumber if self.parser else 0
        return element


def _parse(text: str, conversion: Conversion) -> tuple[ET.Element, dict[int, int]] | None:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.parser = parser
    try:
        parser.feed(text)
        root = parser.close()
    except ET.ParseError as error:
        conversion.problem(error.position[0], f"not well-formed XML: {error.msg}")
        return None
    except DefusedXmlException:
        conversion.problem(1, "DTDs and entity declarations are refused")
        return None
    return root, builder.lines


def _text_of(element: ET.Element | None, tag: str = "text") -> str:
    if element is None:
        return ""
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else (element.text or "").strip()


_HTML_TAG = re.compile(r"<[^>]+>")


def _markdown_of(element: ET.Element | None) -> str:
    """A Moodle text field as our markdown: markdown stays, HTML is reduced to its text."""
    if element is None:
        return ""
    text = _text_of(element)
    if element.get("format", "html") == "html" and _HTML_TAG.search(text):
        text = re.sub(r"<br\s*/?>|</p>\s*<p[^>]*>", "\n\n", text)
        text = html.unescape(_HTML_TAG.sub("", text)).strip()
    return math_from_mathjax(text)


def _read_choices(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    single = _text_of(question, "single").lower() in {"true", "1"}
    options, fractions = [], []
    for answer in question.findall("answer"):
        options.append(
            {
                "text": _markdown_of(answer) or "(empty option)",
                "feedback": _markdown_of(answer.find("feedback")) or "No feedback given.",
            }
        )
        fractions.append(float(answer.get("fraction", "0")))
    correct = [index for index, fraction in enumerate(fractions) if fraction > 0]
    if not correct:
        conversion.problem(line, "no answer has a positive fraction: marked the first correct")
        correct = [0]
    if single:
        if sorted(fractions)[-1] < 100:
            conversion.problem(line, "partial credit on a single-choice answer is not kept")
        return {
            "kind": "single_choice",
            "options": options,
            "correct": max(range(len(fractions)), key=fractions.__getitem__),
        }
    wrong = [fraction for fraction in fractions if fraction <= 0]
    exact = not wrong or min(wrong) <= SCORING_EXACT_WRONG_FRACTION
    return {
        "kind": "multiple_choice",
        "options": options,
        "correct": correct,
        "scoring": "exact" if exact else "partial",
    }


def _read_truefalse(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    options, correct = [], 0
    for index, answer in enumerate(question.findall("answer")):
        label = _text_of(answer).lower()
        options.append(
            {
                "text": "True" if label == "true" else "False",
                "feedback": _markdown_of(answer.find("feedback")) or "No feedback given.",
            }
        )
        if float(answer.get("fraction", "0")) > 0:
            correct = index
    return {"kind": "single_choice", "options": options, "correct": correct}


def _read_numerical(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    answers = question.findall("answer")
    best = max(answers, key=lambda a: float(a.get("fraction", "0")), default=None)
    if best is None:
        raise _Unsupported("a numerical question without an answer")
    if len(answers) > 1:
        conversion.problem(line, f"{len(answers) - 1} further numerical answer(s) not kept")
    check: dict[str, Any] = {
        "kind": "numeric",
        "answer": float(_text_of(best)),
        "tolerance": float(_text_of(best, "tolerance") or 0),
    }
    feedback = _markdown_of(best.find("feedback"))
    if feedback:
        check["feedback"] = feedback
    unit = question.find("units/unit/unit_name")
    if unit is not None and unit.text:
        check["unit"] = unit.text.strip()
    return check


def _read_shortanswer(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    accepted = [
        _text_of(answer)
        for answer in question.findall("answer")
        if float(answer.get("fraction", "0")) >= 100
    ]
    if not accepted:
        raise _Unsupported("a short-answer question without a fully correct answer")
    return {
        "kind": "short_text",
        "accepted": accepted,
        "case_sensitive": _text_of(question, "usecase") == "1",
    }


def _read_essay(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    check: dict[str, Any] = {"kind": "self_rated"}
    model_answer = _markdown_of(question.find("graderinfo"))
    if model_answer:
        check["model_answer"] = model_answer
    return check


def _read_combined_feedback(
    question: ET.Element, check: dict[str, Any], conversion: Conversion, line: int
) -> None:
    texts = [
        _markdown_of(question.find(tag))
        for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback")
    ]
    given = [text for text in texts if text]
    if given:
        check["feedback"] = given[0]
    if len(set(given)) > 1:
        conversion.problem(line, "feedback differs for right and wrong answers: kept the first")


def _read_ordering(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    answers = question.findall("answer")
    # Each answer's fraction is its place in the right order (the plugin's own export).
    places = []
    for written, answer in enumerate(answers, start=1):
        try:
            place = float(answer.get("fraction", written))
        except ValueError:
            place = written
        places.append((place, written, _markdown_of(answer)))
    items = [text for _, _, text in sorted(places)]
    if len(items) < 2:
        raise _Unsupported("an ordering question needs at least 2 items")
    if _text_of(question, "selecttype").upper() not in ("", "ALL"):
        conversion.problem(line, f"Moodle asks a subset of the items; all {len(items)} are asked")
    check: dict[str, Any] = {"kind": "ordering", "items": items}
    _read_combined_feedback(question, check, conversion, line)
    return check


def _read_matching(question: ET.Element, conversion: Conversion, line: int) -> dict[str, Any]:
    pairs, distractors = [], []
    for subquestion in question.findall("subquestion"):
        right = math_from_mathjax(_text_of(subquestion.find("answer")))
        if not right:
            continue
        left = _markdown_of(subquestion)
        if left:
            pairs.append({"left": left, "right": right})
        else:  # an answer with no question: it matches nothing
            distractors.append(right)
    if len(pairs) < 2:
        raise _Unsupported("a matching question needs at least 2 pairs")
    rights = [pair["right"] for pair in pairs] + distractors
    if len(set(rights)) < len(rights):
        conversion.problem(line, "two items share one answer: give each its own before checking")
    check: dict[str, Any] = {"kind": "matching", "pairs": pairs}
    if distractors:
        check["distractors"] = distractors
    _read_combined_feedback(question, check, conversion, line)
    return check


class _Unsupported(Exception):
    pass


MOODLE_READERS = {
    "multichoice": _read_choices,
    "truefalse": _read_truefalse,
    "numerical": _read_numerical,
    "shortanswer": _read_shortanswer,
    "essay": _read_essay,
    "ordering": _read_ordering,
    "matching": _read_matching,
}


def _tag_values(question: ET.Element, prefix: str) -> list[str]:
    values = []
    for tag in question.findall("tags/tag"):
        text = _text_of(tag)
        if text.startswith(prefix):
            values.append(text.removeprefix(prefix))
    return values


def read_moodle_xml(text: str) -> Conversion:
    """Cards from a Moodle XML quiz; every question type we cannot carry is reported by line."""
    conversion = Conversion()
    parsed = _parse(text, conversion)
    if parsed is None:
        return conversion
    root, lines = parsed
    if root.tag != "quiz":
        conversion.problem(lines.get(id(root), 1), f"the root element is <{root.tag}>, not <quiz>")
        return conversion
    cards: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    topic = "imported"
    for question in root.findall("question"):
        line = lines.get(id(question), 1)
        kind = question.get("type", "")
        if kind == "category":
            path = _text_of(question.find("category"))
            leaf = path.rstrip("/").rsplit("/", 1)[-1] or "imported"
            topic = slugify(leaf, "imported")
            conversion.topics.setdefault(topic, _text_of(question.find("info")) or leaf)
            continue
        reader = MOODLE_READERS.get(kind)
        if reader is None:
            conversion.problem(line, f"question type '{kind}' is not supported; skipped")
            continue
        try:
            check = reader(question, conversion, line)
        except (_Unsupported, ValueError) as problem:
            conversion.problem(line, f"{kind}: {problem}; skipped")
            continue
        name = _text_of(question.find("name")) or f"Question on line {line}"
        question_text = _markdown_of(question.find("questiontext"))
        card_question, _, prompt = question_text.partition(PROMPT_MARKER)
        prompt = prompt.strip() or card_question.strip()
        check = {"kind": check.pop("kind"), "prompt": prompt or name, **check}
        idnumber = _text_of(question, "idnumber")
        slug_part = idnumber.split("/", 1)[0] if "/" in idnumber else ""
        key = slug_part or f"line-{line}"
        if key in cards:
            cards[key]["checks"].append(check)
            continue
        feedback = _markdown_of(question.find("generalfeedback"))
        answer, marker, explanation = feedback.partition(EXPLANATION_MARKER)
        if not marker:
            answer, explanation = feedback, feedback
        topics = _tag_values(question, "topic:") or [topic]
        for slug in topics:
            conversion.topics.setdefault(slug, slug.replace("-", " ").capitalize())
        difficulty = (_tag_values(question, "difficulty:") or ["medium"])[0]
        base_title = re.sub(r"\s\(\d+\)$", "", name) if slug_part else name
        cards[key] = {
            "slug": unique_slug(slug_part or slugify(base_title), taken),
            "title": base_title,
            "difficulty": difficulty if difficulty in {"easy", "medium", "hard"} else "medium",
            "topics": topics[:5],
            "question": card_question.strip() or prompt or name,
            "answer": answer.strip() or "(write the model answer)",
            "explanation": explanation.strip() or "(write the explanation)",
            "references": [],
            "related": [],
            "checks": [check],
        }
    conversion.cards = list(cards.values())
    return conversion
