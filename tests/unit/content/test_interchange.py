"""Anki, Moodle XML and GIFT: the bank leaves and comes back without losing what both hold."""

from __future__ import annotations

import sqlite3
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import CONTENT_DIR

from quizapp.content.interchange import CONVERTERS, EXPORTERS, ConversionRefused, write_cards
from quizapp.content.interchange.anki import MERMAID_MEDIA_NAME, note_guid
from quizapp.content.interchange.cards import math_from_mathjax, math_to_mathjax
from quizapp.content.interchange.moodle_xml import MOODLE_WRITERS
from quizapp.content.loader import load_bank
from quizapp.content.rendering import reference_card


@pytest.fixture(scope="module")
def bank():
    loaded = load_bank(CONTENT_DIR)
    assert loaded.ok, loaded.errors[:3]
    return loaded


def _carried_check(check: dict) -> dict:
    """The fields of a check that Moodle XML holds too."""
    kept = {"kind": check["kind"], "prompt": check["prompt"].strip()}
    if "options" in check:
        kept["options"] = [
            {"text": option["text"].strip(), "feedback": option["feedback"].strip()}
            for option in check["options"]
        ]
        kept["correct"] = check["correct"]
    if check["kind"] == "multiple_choice":
        kept["scoring"] = check.get("scoring", "exact")
    if check["kind"] == "numeric":
        kept["answer"] = check["answer"]
        kept["unit"] = check.get("unit")
        # Moodle holds one absolute tolerance: the wider of the two ours may have.
        relative = (check.get("relative_tolerance") or 0.0) * abs(check["answer"])
        kept["tolerance"] = max(check.get("tolerance", 0.0), relative)
    if check["kind"] == "self_rated":
        kept["model_answer"] = (check.get("model_answer") or "").strip()
    if check["kind"] == "ordering":
        kept["items"] = [item.strip() for item in check["items"]]
    if check["kind"] == "matching":
        kept["pairs"] = [{side: pair[side].strip() for side in ("left", "right")}
                         for pair in check["pairs"]]  # fmt: skip
        kept["distractors"] = check.get("distractors", [])
    if check["kind"] in ("ordering", "matching"):
        kept["feedback"] = (check.get("feedback") or "").strip()
    return kept


def test_math_delimiters_round_trip():
    text = r"Slope $\sigma'(0) = 1/4$ and $$\prod_{k} W_k$$ but not \$5 or $$"
    assert "\\(" in math_to_mathjax(text)
    assert math_from_mathjax(math_to_mathjax(text)) == text


def test_moodle_xml_round_trip_keeps_every_field_both_formats_hold(bank, tmp_path):
    output = tmp_path / "bank.xml"
    written = EXPORTERS["moodle-xml"](bank, bank.questions, output)
    # Every kind has a writer: ordering as the Ordering plugin's question, matching as Moodle's.
    assert written == sum(len(card["checks"]) for card in bank.questions)
    kinds = {check["kind"] for card in bank.questions for check in card["checks"]}
    assert kinds == set(MOODLE_WRITERS)

    conversion = CONVERTERS["moodle-xml"](output.read_text(encoding="utf-8"))
    assert conversion.problems == []
    back = {card["slug"]: card for card in conversion.cards}
    assert set(back) == {card["slug"] for card in bank.questions}
    for original in map(reference_card, bank.questions):  # variants: the reference one
        card = back[original["slug"]]
        for name in ("title", "difficulty", "topics"):
            assert card[name] == original[name], (original["slug"], name)
        for name in ("question", "answer", "explanation"):
            assert card[name].strip() == original[name].strip(), (original["slug"], name)
        assert [_carried_check(check) for check in card["checks"]] == [
            _carried_check(check) for check in original["checks"] if check["kind"] in MOODLE_WRITERS
        ], original["slug"]


def test_converted_cards_are_valid_content_once_references_are_added(bank, tmp_path):
    output = tmp_path / "bank.xml"
    topic = bank.questions[0]["topics"][0]
    chosen = [card for card in bank.questions if card["topics"][0] == topic][:3]
    chosen += [card for card in bank.questions if card not in chosen and any(
        check["kind"] in ("ordering", "matching") for check in card["checks"])]  # fmt: skip
    EXPORTERS["moodle-xml"](bank, chosen, output)
    conversion = CONVERTERS["moodle-xml"](output.read_text(encoding="utf-8"))
    for card in conversion.cards:
        card["references"] = [{"title": "Source", "url": "https://example.org/"}]
    into = tmp_path / "content"
    written = write_cards(conversion, into, "bank.xml")
    assert len(written) == len(chosen) >= 4
    assert written[0].read_text().startswith("# Converted from bank.xml")
    reloaded = load_bank(into)
    assert reloaded.errors == [], reloaded.errors[:3]
    assert len(reloaded.questions) == len(chosen)


def test_write_cards_refuses_to_overwrite_and_writes_nothing(tmp_path):
    conversion = CONVERTERS["gift"]("::A:: One? {=yes ~no}\n\n::B:: Two? {=yes ~no}\n")
    into = tmp_path / "content"
    (into / "questions").mkdir(parents=True)
    (into / "questions" / "b.yaml").write_text("mine")
    with pytest.raises(ConversionRefused) as refused:
        write_cards(conversion, into, "x.gift")
    assert "b.yaml exists already" in refused.value.reasons[0]
    assert sorted(path.name for path in (into / "questions").iterdir()) == ["b.yaml"]
    assert not (into / "topics.yaml").exists()


def test_apkg_holds_one_note_per_card_with_stable_ids(bank, tmp_path):
    first, second = tmp_path / "one.apkg", tmp_path / "two.apkg"
    assert EXPORTERS["apkg"](bank, bank.questions, first) == len(bank.questions)
    EXPORTERS["apkg"](bank, bank.questions, second)

    def notes(path: Path) -> dict[str, tuple[str, str]]:
        with zipfile.ZipFile(path) as archive:
            assert MERMAID_MEDIA_NAME in archive.read("media").decode()
            (tmp_path / "collection.anki2").write_bytes(archive.read("collection.anki2"))
        with sqlite3.connect(tmp_path / "collection.anki2") as connection:
            rows = connection.execute("SELECT guid, flds, tags FROM notes").fetchall()
        return {guid: (fields, tags) for guid, fields, tags in rows}

    one, two = notes(first), notes(second)
    assert set(one) == set(two) == {note_guid(card["slug"]) for card in bank.questions}
    seed = one[note_guid("vanishing-gradient-problem")]
    fields = seed[0].split("\x1f")
    assert fields[0] == "Explain the vanishing gradient problem"
    assert "<math" in fields[3]  # the explanation's chain rule, as MathML
    assert '<pre class="mermaid">' in fields[3]  # drawn by the shipped mermaid.js
    assert "deeplearningbook.org" in fields[4]
    assert fields[5] == "vanishing-gradient-problem"
    assert "quizapp::gradient-flow" in seed[1] and "difficulty::medium" in seed[1]


GIFT_SAMPLE = textwrap.dedent(
    r"""
    // A comment line is ignored.
    $CATEGORY: $course$/top/Gradient flow

    ::Sigmoid slope::What is the largest slope of the sigmoid, $\sigma'(z)$? {
      ~1 #That is tanh's.
      =1/4 #Right, at $z \= 0$.
      ~0 #Only far from zero.
    }

    ::Saturating::Which activations saturate? {
      ~%50%sigmoid #Yes.
      ~%50%tanh #Yes.
      ~%-100%ReLU #Not for positive inputs.
    }

    ::ReLU dies::A ReLU unit whose input is always negative gets no gradient. {T #It is stuck at 0.}

    ::Derivative::What is tanh'(0)? {#1:0.01}

    ::Range::Give a value between 0.2 and 0.3. {#0.2..0.3}

    ::Name::Who proposed the LSTM (surname of the first author)? {=Hochreiter =hochreiter}

    ::Essay::Explain the vanishing gradient problem. {}

    ::Pairs::Match. {=sigmoid -> (0, 1) =tanh -> (-1, 1)}

    A text with no answer block at all.
    """
)


def test_gift_converts_each_supported_kind_and_reports_the_rest_by_line():
    conversion = CONVERTERS["gift"](GIFT_SAMPLE)
    by_title = {card["title"]: card for card in conversion.cards}
    assert set(by_title) == {
        "Sigmoid slope", "Saturating", "ReLU dies", "Derivative", "Range", "Name", "Essay",
    }  # fmt: skip
    single = by_title["Sigmoid slope"]["checks"][0]
    assert single["kind"] == "single_choice" and single["correct"] == 1
    assert single["options"][1] == {"text": "1/4", "feedback": "Right, at $z = 0$."}
    assert by_title["Sigmoid slope"]["topics"] == ["gradient-flow"]
    multiple = by_title["Saturating"]["checks"][0]
    assert multiple["kind"] == "multiple_choice"
    assert multiple["correct"] == [0, 1] and multiple["scoring"] == "exact"
    true_false = by_title["ReLU dies"]["checks"][0]
    assert [o["text"] for o in true_false["options"]] == ["True", "False"]
    assert true_false["correct"] == 0
    derivative = by_title["Derivative"]["checks"][0]
    assert (derivative["answer"], derivative["tolerance"]) == (1.0, 0.01)
    assert by_title["Range"]["checks"][0]["answer"] == pytest.approx(0.25)
    assert by_title["Range"]["checks"][0]["tolerance"] == pytest.approx(0.05)
    assert by_title["Name"]["checks"][0]["accepted"] == ["Hochreiter", "hochreiter"]
    assert by_title["Essay"]["checks"][0]["kind"] == "self_rated"
    lines = GIFT_SAMPLE.splitlines()

    def line_of(text: str) -> int:
        return next(number for number, line in enumerate(lines, 1) if text in line)

    problems = {problem.line: problem.message for problem in conversion.problems}
    assert "matching questions are not supported" in problems[line_of("::Pairs")]
    assert "no answer block" in problems[line_of("A text with no answer")]
    assert len(problems) == 2


MOODLE_ORDERING_AND_MATCHING = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
<question type="ordering">
  <name><text>Training step</text></name>
  <questiontext format="html"><text><![CDATA[<p>Order the steps.</p>]]></text></questiontext>
  <selecttype>RANDOM</selecttype>
  <correctfeedback format="html"><text>Well done.</text></correctfeedback>
  <incorrectfeedback format="html"><text>Read the chain rule again.</text></incorrectfeedback>
  <answer fraction="3" format="html"><text><![CDATA[<p>Backward pass</p>]]></text></answer>
  <answer fraction="1" format="html"><text>Forward pass</text></answer>
  <answer fraction="2" format="html"><text>Loss</text></answer>
</question>
<question type="matching">
  <name><text>Derivatives</text></name>
  <questiontext format="html"><text>Match them.</text></questiontext>
  <subquestion format="html"><text>Sigmoid</text>
    <answer><text>\\(1/4\\)</text></answer></subquestion>
  <subquestion format="html"><text>Tanh</text><answer><text>1</text></answer></subquestion>
  <subquestion format="html"><text></text><answer><text>2</text></answer></subquestion>
</question>
</quiz>
"""


def test_moodle_ordering_and_matching_questions_convert_with_what_they_cannot_carry_reported():
    conversion = CONVERTERS["moodle-xml"](MOODLE_ORDERING_AND_MATCHING)
    ordering, matching = (card["checks"][0] for card in conversion.cards)
    assert ordering == {"kind": "ordering", "prompt": "Order the steps.",
                        "items": ["Forward pass", "Loss", "Backward pass"],
                        "feedback": "Well done."}  # fmt: skip
    assert matching == {"kind": "matching", "prompt": "Match them.",
                        "pairs": [{"left": "Sigmoid", "right": "$1/4$"},
                                  {"left": "Tanh", "right": "1"}],
                        "distractors": ["2"]}  # fmt: skip
    assert sorted((p.line, p.message) for p in conversion.problems) == [
        (3, "Moodle asks a subset of the items; all 3 are asked"),
        (3, "feedback differs for right and wrong answers: kept the first"),
    ]


@pytest.mark.parametrize(
    ("xml", "line", "message"),
    [
        ("<quiz>\n<question type='multichoice'>\n</quiz>", 3, "not well-formed"),
        (
            "<?xml version='1.0'?>\n<!DOCTYPE quiz [<!ENTITY a 'aaaa'>]>\n<quiz>&a;</quiz>",
            1,
            "DTDs and entity declarations are refused",
        ),
        (
            "<quiz>\n\n<question type='cloze'><name><text>X</text></name></question>\n</quiz>",
            3,
            "'cloze' is not supported",
        ),
        ("<exam/>", 1, "not <quiz>"),
    ],
)
def test_moodle_xml_problems_name_their_line(xml, line, message):
    conversion = CONVERTERS["moodle-xml"](xml)
    assert conversion.cards == []
    assert [(p.line, message in p.message) for p in conversion.problems] == [(line, True)]
