"""Every answer checker, fed any response a client could send (JSON values and form text),
returns a Grade with a score in [0, 1] or refuses with InvalidResponse; nothing else."""

from __future__ import annotations

import math

from conftest import CONTENT_DIR
from fuzz_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from quizapp.content.loader import load_bank
from quizapp.content.rendering import render_question
from quizapp.domain.check_kinds.short_text import normalise_text
from quizapp.domain.grading import (
    CHECK_KINDS,
    SELF_RATINGS,
    Grade,
    InvalidResponse,
    grade_response,
    resolve_check,
)

_BANK = load_bank(CONTENT_DIR)
# The checks as the importer stores them: a variant card's number expressions evaluated for
# its reference variant, with its spec and template kept for resolve_check to draw from.
REAL_CHECKS = [
    check
    for slug, document in sorted(_BANK.documents.items())
    if slug in {question["slug"] for question in _BANK.questions}
    for check in render_question(document)["checks"]
]

texts = st.text(max_size=60)
options = st.lists(
    st.fixed_dictionaries({"text": texts}, optional={"feedback": texts}), min_size=2, max_size=10
)


@st.composite
def single_choice(draw):
    chosen = draw(options)
    return {
        "kind": "single_choice",
        "prompt": draw(texts),
        "options": chosen,
        "correct": draw(st.integers(0, len(chosen) - 1)),
    }


@st.composite
def multiple_choice(draw):
    chosen = draw(options)
    correct = draw(st.lists(st.integers(0, len(chosen) - 1), min_size=1, unique=True))
    check = {"kind": "multiple_choice", "prompt": draw(texts), "options": chosen}
    check["correct"] = correct
    if draw(st.booleans()):
        check["scoring"] = draw(st.sampled_from(["exact", "partial"]))
    return check


finite = st.floats(allow_nan=False, allow_infinity=False)
numeric = st.fixed_dictionaries(
    {"kind": st.just("numeric"), "prompt": texts, "answer": finite},
    optional={
        "tolerance": st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        "relative_tolerance": st.floats(min_value=0, max_value=1),
        "unit": texts,
        "feedback": texts,
        "percent": st.booleans(),
        "tries": st.integers(1, 10),
        "hints": st.lists(texts, max_size=5),
        "hint_penalty": st.floats(0, 1),
    },
)
self_rated = st.fixed_dictionaries(
    {"kind": st.just("self_rated"), "prompt": texts}, optional={"model_answer": texts}
)
answers = texts.filter(lambda text: normalise_text(text))
short_text = st.fixed_dictionaries(
    {"kind": st.just("short_text"), "prompt": texts, "accepted": st.lists(answers, min_size=1)},
    optional={
        "patterns": st.lists(st.sampled_from([r"relu", r"leaky ?relu", r"\d+", r"(a|b)+"])),
        "max_edits": st.integers(0, 3),
        "case_sensitive": st.booleans(),
        "tries": st.integers(1, 5),
    },
)
ordering = st.fixed_dictionaries(
    {
        "kind": st.just("ordering"),
        "prompt": texts,
        "items": st.lists(texts, min_size=2, max_size=10, unique=True),
    }
)
matching = st.fixed_dictionaries(
    {
        "kind": st.just("matching"),
        "prompt": texts,
        "pairs": st.lists(
            st.fixed_dictionaries({"left": texts, "right": texts}), min_size=2, max_size=10
        ),
    },
    optional={"distractors": st.lists(texts, max_size=5)},
)
# One strategy per registered kind: the guard below fails when a kind is added without one.
STRATEGIES = {
    "single_choice": single_choice(),
    "multiple_choice": multiple_choice(),
    "numeric": numeric,
    "self_rated": self_rated,
    "short_text": short_text,
    "ordering": ordering,
    "matching": matching,
}
checks = st.one_of(st.sampled_from(REAL_CHECKS), *STRATEGIES.values())

# What arrives from JSON (any value) or a form (text, lists of text).
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(),
        st.text(max_size=30),
        st.from_regex(r"\s*[+-]?\d{1,30}(\.\d*)?([eE][+-]?\d{1,4})?\s*", fullmatch=True),
        st.sampled_from(["nan", "inf", "-inf", "1e999", "0x10", "½", "٣", "1_000", " 0 ", ""]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=12), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=20,
)
responses = st.one_of(
    json_values,
    st.text(max_size=12_000).filter(lambda t: len(t) < 200 or t.strip()),
    st.lists(st.integers(-3, 12), max_size=120),
)
ratings = st.one_of(st.none(), st.sampled_from(SELF_RATINGS), st.text(max_size=8), json_values)


def test_every_kind_is_fuzzed():
    assert set(STRATEGIES) == set(CHECK_KINDS)
    kinds = {check["kind"] for check in REAL_CHECKS}
    assert kinds <= set(CHECK_KINDS), kinds


@settings(max_examples=examples(4.0))
@given(check=checks, response=responses, rating=ratings)
def test_any_response_is_graded_in_range_or_refused(check, response, rating):
    try:
        grade = grade_response(check, response, rating)
    except InvalidResponse as error:
        assert str(error), "a refusal must say why"
        return
    assert isinstance(grade, Grade)
    assert isinstance(grade.score, float) and math.isfinite(grade.score)
    assert 0.0 <= grade.score <= 1.0
    assert isinstance(grade.correct, bool)
    assert grade.correct == (grade.score == 1.0)
    assert all(isinstance(line, str) for line in grade.feedback)


@settings(max_examples=examples(1.0))
@given(check=checks, learner=st.text(max_size=12), data=st.data())
def test_the_key_in_the_learners_order_scores_full_marks(check, learner, data):
    """A property that fails on a broken grader or layout (not only on a crash): the key,
    translated into the positions this learner was shown, scores 1."""
    resolved = resolve_check(check, learner, "fuzz#0")
    key = resolved.kind.key_response(resolved.check)  # in the learner's variant
    rating = None
    if not resolved.kind.automatic:
        key = data.draw(texts.filter(str.strip))
        rating = data.draw(st.sampled_from(["good", "easy"]))
    elif key is None:
        return  # a short_text with patterns only: no literal key to type
    grade = resolved.grade(resolved.to_display(key), rating)
    assert grade.score == 1.0 and grade.correct, (resolved.layout, key)


@settings(max_examples=examples(1.0))
@given(check=checks, learner=st.text(max_size=12), response=responses, hints=st.integers(0, 9))
def test_any_displayed_response_is_graded_in_range_or_refused(check, learner, response, hints):
    resolved = resolve_check(check, learner, "fuzz#0")
    try:
        grade = resolved.grade(response, None, hints_used=hints, tries_used=1)
    except InvalidResponse as error:
        assert str(error)
        return
    assert 0.0 <= grade.score <= 1.0
    assert grade.final or (not grade.correct and grade.expected is None and grade.tries_left)
