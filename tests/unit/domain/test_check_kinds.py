"""The registry of check kinds and the kinds added through it: ordering, short_text and
matching; layouts per learner; numbers as learners type them; tries and hints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, nodes
from werkzeug.datastructures import MultiDict

from quizapp.content.schemas import CHECK_SCHEMAS
from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.check_kinds.base import CheckBaseSchema
from quizapp.domain.check_kinds.numeric import parse_number
from quizapp.domain.check_kinds.ordering import kendall_tau
from quizapp.domain.check_kinds.short_text import edit_distance, normalise_text
from quizapp.domain.grading import InvalidResponse, grade_response, resolve_check, stored_check
from quizapp.domain.scheduling import rating_for_grade

TEMPLATES = Path(__file__).resolve().parents[3] / "quizapp" / "web" / "templates"

ORDERING = {
    "kind": "ordering",
    "prompt": "Order the steps of one training step.",
    "items": ["forward pass", "loss", "backward pass", "optimiser step"],
}
SHORT = {
    "kind": "short_text",
    "prompt": "Which activation has a derivative of at most 1/4?",
    "accepted": ["sigmoid", "logistic function"],
    "patterns": [r"logistic( sigmoid)?"],
    "max_edits": 1,
}
MATCHING = {
    "kind": "matching",
    "prompt": "Match each activation with its largest derivative.",
    "pairs": [
        {"left": "sigmoid", "right": "1/4"},
        {"left": "tanh", "right": "1"},
        {"left": "ReLU (x > 0)", "right": "exactly 1"},
    ],
    "distractors": ["2"],
}
SINGLE = {
    "kind": "single_choice",
    "prompt": "Which?",
    "options": [
        {"text": "a"},
        {"text": "b"},
        {"text": "c"},
        {"text": "None of the above", "fixed": True},
    ],
    "correct": 1,
}
NUMERIC = {
    "kind": "numeric",
    "prompt": "Largest derivative of the sigmoid?",
    "answer": 0.25,
    "tolerance": 0.001,
    "hints": ["Differentiate sigma.", "Evaluate at zero."],
    "hint_penalty": 0.2,
}


# The registry: every kind is complete, and every dispatch point knows it.


@pytest.mark.parametrize("name", sorted(CHECK_KINDS))
def test_every_kind_is_a_complete_unit(name: str) -> None:
    kind = CHECK_KINDS[name]
    assert kind.name == name
    assert issubclass(kind.schema, CheckBaseSchema)
    assert CHECK_SCHEMAS[name] is kind.schema  # the content loader validates with it
    assert kind.label and kind.format_hint
    source = (TEMPLATES / kind.template).read_text(encoding="utf-8")
    macros = {
        node.name for node in Environment().parse(source).find_all(nodes.Macro)
    }  # one partial per place the check is shown
    assert {"practice", "feedback", "print"} <= macros, (kind.template, macros)


def test_no_template_or_module_outside_the_kinds_names_a_kind() -> None:
    """Dispatch on kinds goes through the registry; no `kind == '...'` chains elsewhere."""
    root = TEMPLATES.parent.parent
    pattern = re.compile(r"kind\s*==\s*['\"](" + "|".join(CHECK_KINDS) + r")['\"]")
    offenders = [
        str(path.relative_to(root))
        for path in [*root.rglob("*.py"), *root.rglob("*.html")]
        if "check_kinds" not in path.parts and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_template_environment_finds_every_partial() -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES))
    for kind in CHECK_KINDS.values():
        env.get_template(kind.template)


# ordering


@pytest.mark.parametrize(
    ("order", "tau"),
    [([0, 1, 2, 3], 1.0), ([3, 2, 1, 0], -1.0), ([1, 0, 2, 3], 2 / 3), ([0], 1.0)],
)
def test_kendall_tau(order: list[int], tau: float) -> None:
    assert kendall_tau(order) == pytest.approx(tau)


def test_ordering_gives_partial_credit_and_says_which_items_are_in_place() -> None:
    assert grade_response(ORDERING, [0, 1, 2, 3]).score == 1.0
    one_swap = grade_response(ORDERING, [1, 0, 2, 3])
    assert one_swap.score == pytest.approx(2 / 3) and not one_swap.correct
    assert one_swap.verdicts == ("wrong", "wrong", "right", "right")
    assert grade_response(ORDERING, [3, 2, 1, 0]).score == 0.0


@pytest.mark.parametrize(
    ("response", "message"),
    [([0, 1, 2], "send the 4 items"), ([0, 0, 1, 2], "each item once"), ("0123", "list")],
)
def test_ordering_refuses_what_is_not_an_order(response, message) -> None:
    with pytest.raises(InvalidResponse, match=message):
        grade_response(ORDERING, response)


def test_ordering_items_are_shown_shuffled_and_the_shown_order_maps_back() -> None:
    resolved = resolve_check(ORDERING, "user:7", "q#0")
    shown = resolved.order("items")
    assert sorted(shown) == [0, 1, 2, 3] and shown != [0, 1, 2, 3]
    in_order = [shown.index(item) for item in range(4)]  # shown indexes, right order
    assert resolved.grade(in_order).score == 1.0
    texts = [item["text"] for item in resolved.public()["items_to_order"]]
    assert texts == [ORDERING["items"][i] for i in shown]


def test_ordering_form_takes_a_position_per_shown_item() -> None:
    kind = CHECK_KINDS["ordering"]
    form = MultiDict({"position-0": "3", "position-1": "1", "position-2": "4", "position-3": "2"})
    assert kind.parse_form(ORDERING, form) == [1, 3, 0, 2]
    with pytest.raises(InvalidResponse, match="Use each position from 1 to 4 once"):
        kind.parse_form(ORDERING, MultiDict({f"position-{i}": "1" for i in range(4)}))
    with pytest.raises(InvalidResponse, match="Give every item a position"):
        kind.parse_form(ORDERING, MultiDict({"position-0": "1"}))


# short_text


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("sigmoid", True),
        ("  SIGMOID. ", True),
        ("Sigmoïd", False),  # a different letter, with no typo allowed
        ("sigmoud", True),  # one typo
        ("sgmoud", False),  # two typos
        ("logistic   function", True),
        ("ｓｉｇｍｏｉｄ", True),  # full-width letters, NFKC-normalised
        ("Logistic Sigmoid", True),  # the pattern
        ("tanh", False),
    ],
)
def test_short_text_normalises_and_forgives_a_typo(answer: str, right: bool) -> None:
    check = SHORT if answer != "Sigmoïd" else {**SHORT, "max_edits": 0}
    assert grade_response(check, answer).correct is right


@pytest.mark.parametrize("max_edits", [1, 2])
def test_short_text_typos_are_not_forgiven_on_short_answers(max_edits: int) -> None:
    check = {"kind": "short_text", "prompt": "p", "accepted": ["ReLU"], "max_edits": max_edits}
    assert grade_response(check, "relu").correct
    assert not grade_response(check, "GELU").correct  # another activation, not a typo


def test_short_text_case_can_matter() -> None:
    check = {"kind": "short_text", "prompt": "p", "accepted": ["ReLU"], "case_sensitive": True}
    assert grade_response(check, "ReLU").correct and not grade_response(check, "relu").correct


def test_normalise_and_edit_distance() -> None:
    assert normalise_text("  “Batch   Norm”! ") == "batch norm"
    assert edit_distance("kitten", "sitting", 5) == 3
    assert edit_distance("kitten", "sitting", 1) == 2  # stops once over the limit


@pytest.mark.parametrize("answer", ["", "   ", None, 3, "x" * 201])
def test_short_text_refuses_empty_or_huge_answers(answer) -> None:
    with pytest.raises(InvalidResponse):
        grade_response(SHORT, answer)


# matching


def test_matching_scores_the_share_of_pairs_matched() -> None:
    assert grade_response(MATCHING, [0, 1, 2]).score == 1.0
    half = grade_response(MATCHING, [0, 2, 3])
    assert half.score == pytest.approx(1 / 3) and half.verdicts == ("right", "wrong", "wrong")


def test_matching_rights_are_shuffled_and_map_back() -> None:
    resolved = resolve_check(MATCHING, "visitor:abc", "q#2")
    rights = resolved.order("rights")
    assert sorted(rights) == [0, 1, 2, 3]
    shown_key = [rights.index(pair) for pair in range(3)]
    assert resolved.to_display([0, 1, 2]) == shown_key
    assert resolved.grade(shown_key).correct
    public = resolved.public()
    assert [r["text"] for r in public["rights"]] == [
        ([p["right"] for p in MATCHING["pairs"]] + MATCHING["distractors"])[i] for i in rights
    ]
    assert "pairs" not in public  # the key is never sent


def test_matching_form_needs_every_pair() -> None:
    kind = CHECK_KINDS["matching"]
    assert kind.parse_form(MATCHING, MultiDict({"match-0": "1", "match-1": "0", "match-2": "3"}))
    with pytest.raises(InvalidResponse, match="Choose a match for every item"):
        kind.parse_form(MATCHING, MultiDict({"match-0": "1"}))


# Layouts


def test_a_layout_is_stable_per_learner_and_differs_between_learners() -> None:
    first = resolve_check(SINGLE, "user:1", "q#0").layout
    assert resolve_check(SINGLE, "user:1", "q#0").layout == first
    layouts = {
        tuple(resolve_check(SINGLE, f"user:{n}", "q#0").layout["options"]) for n in range(40)
    }
    assert len(layouts) > 3
    assert all(layout[3] == 3 for layout in layouts)  # "None of the above" stays last


def test_grading_maps_shown_positions_back_to_authored_indexes() -> None:
    resolved = resolve_check(SINGLE, "user:1", "q#0")
    position = resolved.order("options").index(1)
    grade = resolved.grade(position)
    assert grade.correct and grade.normalized_response == 1 and grade.expected == 1
    assert resolved.to_display(grade.expected) == position
    verdicts = resolved.display_verdicts(grade)
    assert verdicts[position] == "picked_right" and verdicts.count("left_out") == 3
    # A stored attempt is shown again in the layout it was answered in.
    assert stored_check(SINGLE, resolved.layout).order("options") == resolved.order("options")
    assert stored_check(SINGLE, None).order("options") == [0, 1, 2, 3]


# Numbers as learners type them


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.25", 0.25),
        ("0,25", 0.25),
        ("1/4", 0.25),
        (" -3/4 ", -0.75),
        ("2.5e-3", 0.0025),
        ("2.5E-3", 0.0025),
        ("2.5×10^-3", 0.0025),
        ("2.5 x 10^-3", 0.0025),
        ("2.5*10^-3", 0.0025),
        ("2.5*10**-3", 0.0025),
        ("2.5·10⁻³", 0.0025),
        ("−0.5", -0.5),
        ("½", 0.5),
    ],
)
def test_numbers_are_read_as_people_write_them(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


def test_percent_and_units() -> None:
    assert parse_number("25%", percent=True) == 0.25
    assert parse_number("25 %", unit="%") == 25.0
    assert parse_number("3 ms", unit="ms") == 3.0
    with pytest.raises(InvalidResponse, match="not a percentage"):
        parse_number("25%")


@pytest.mark.parametrize("text", ["1/0", "a quarter", "1.2.3", "10^", "nan", "1e999"])
def test_what_is_not_a_number_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidResponse):
        parse_number(text)


# Tries and hints


def test_a_wrong_number_may_be_tried_again_before_the_answer_shows() -> None:
    resolved = resolve_check(NUMERIC, "user:1", "q#1")
    first = resolved.grade("0.5")
    assert (first.final, first.tries_left, first.expected) == (False, 1, None)
    last = resolved.grade("0.5", tries_used=2)
    assert (last.final, last.tries_left, last.expected) == (True, 0, 0.25)
    single = resolve_check({**NUMERIC, "tries": 1}, "user:1", "q#1").grade("0.5")
    assert single.final
    # Choices are answered once: a second try would be a guess among what is left.
    assert resolve_check(SINGLE, "user:1", "q#0").grade(0).final


def test_each_hint_takes_its_penalty_off_the_score() -> None:
    resolved = resolve_check(NUMERIC, "user:1", "q#1")
    grade = resolved.grade("1/4", hints_used=2)
    assert (grade.correct, grade.raw_score, grade.score, grade.hints_used) == (True, 1.0, 0.6, 2)
    assert resolved.grade("1/4", hints_used=9).hints_used == 2  # no more than there are
    assert rating_for_grade(grade, None) == "hard"
    assert rating_for_grade(resolved.grade("1/4"), None) == "good"
