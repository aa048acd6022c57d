"""The variant evaluator and per-learner variants: safe, bounded, stable, and graded in the
variant the learner saw."""

from __future__ import annotations

import pytest

from quizapp.domain.grading import check_id, resolve_check, stored_check
from quizapp.domain.variants import (
    VariantError,
    evaluate,
    parse_param,
    parse_spec,
    sci,
    sig,
    substitute,
    variant_seed,
)


def test_arithmetic_functions_and_constants() -> None:
    values = {"n": 3, "w": 0.5}
    assert evaluate("n * (n + 1) // 2", values) == 6
    assert evaluate("sqrt(2 / 128)", values) == 0.125
    assert evaluate("round(log10(1000))", {}) == 3
    assert evaluate("max(n, 4) if w < 1 else 0", values) == 4
    assert evaluate("2 * pi", {}) == pytest.approx(6.283185307)


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(0.0883883, 3, "0.0884"), (73856, 2, "74000"), (1.0, 3, "1.00"), (0.000012345, 2, "0.000012")],
)
def test_sig_keeps_significant_digits(value, digits, text) -> None:
    assert sig(value, digits) == text


def test_sci_writes_latex() -> None:
    assert sci(0.000123, 2) == "1.2 \\times 10^{-4}"
    assert sci(5.0, 2) == "5.0"


@pytest.mark.parametrize(
    "source",
    [
        "9 ** 9 ** 9",  # would take forever and all memory as an integer
        "10.0 ** 400",
        "'a' * 10",
        "().__class__",
        "(lambda: 1)()",
        "[1, 2][0]",
        "__import__('os')",
        "open('x')",
        "x" * 301,
        "+".join(["1"] * 200),
    ],
)
def test_unsafe_or_unbounded_expressions_are_refused(source: str) -> None:
    with pytest.raises(VariantError):
        evaluate(source, {})


def test_ranges_are_inclusive_and_integer_when_written_so() -> None:
    assert list(parse_param("k", {"min": 3, "max": 7, "step": 2}).values()) == [3, 5, 7]
    values = list(parse_param("r", {"min": 0.1, "max": 0.3, "step": 0.1}).values())
    assert values == [0.1, 0.2, 0.3]  # no 0.30000000000000004
    with pytest.raises(VariantError, match="max and step"):
        parse_param("k", {"min": 3, "max": 7})


SPEC = {"params": {"n": {"min": 2, "max": 40, "step": 1}}, "derived": {"bound": "0.25 ** n"}}
CHECK = {
    "kind": "numeric",
    "prompt": "P",
    "answer": 0.0625,
    "tolerance": 0.0,
    "relative_tolerance": 0.001,
    "variant_spec": SPEC,
    "variant_template": {
        "kind": "numeric",
        "prompt": "What is $0.25^{ {{ n }} }$?",
        "answer": "bound",
        "tolerance": 0.0,
        "relative_tolerance": 0.001,
    },
}


def test_each_learner_gets_a_stable_variant_of_their_own() -> None:
    first = resolve_check(CHECK, "user:1", check_id("q", 0))
    assert resolve_check(CHECK, "user:1", check_id("q", 0)).variant == first.variant
    drawn = {resolve_check(CHECK, f"user:{n}", check_id("q", 0)).variant["n"] for n in range(30)}
    assert len(drawn) > 10
    n = first.variant["n"]
    assert first.check["prompt"] == f"What is $0.25^{{ {n} }}$?"
    assert "<math" in first.check["prompt_html"]
    assert first.check["answer"] == pytest.approx(0.25**n)


def test_a_new_epoch_draws_a_new_variant_for_every_check_of_the_question() -> None:
    epochs = {resolve_check(CHECK, "user:1", "q#0", epoch=e).variant["n"] for e in range(10)}
    assert len(epochs) > 3
    assert variant_seed("user:1", "q", 0) != variant_seed("user:1", "q", 1)
    # Two checks of one question share the learner's variant (the question text shows it).
    assert (
        resolve_check(CHECK, "user:1", "q#0").variant
        == resolve_check(CHECK, "user:1", "q#3").variant
    )


def test_grading_uses_the_variant_the_learner_saw() -> None:
    mine = resolve_check(CHECK, "user:1", "q#0")
    theirs = next(
        resolved
        for n in range(2, 50)
        if (resolved := resolve_check(CHECK, f"user:{n}", "q#0")).variant != mine.variant
    )
    my_answer = 0.25 ** mine.variant["n"]
    assert mine.grade(repr(my_answer)).correct
    assert not theirs.grade(repr(my_answer)).correct
    # Replayed from the recorded variant (feedback, review, export), the grade is the same.
    replayed = stored_check(CHECK, mine.layout, mine.variant)
    assert replayed.variant == mine.variant
    assert replayed.grade(repr(my_answer)).correct
    # A variant that no longer fits the params falls back to the stored reference variant.
    assert stored_check(CHECK, None, {"depth": 3}).check["answer"] == 0.0625


def test_spec_problems_name_their_key() -> None:
    spec, problems = parse_spec({"n": {"choices": [1]}}, {"m": "n +"})
    assert spec is None
    assert [(p.path, p.message) for p in problems] == [
        (("params", "n"), "choices must be a list of 2 to 50 values"),
        (("derived", "m"), "syntax error in 'n +': invalid syntax"),
    ]


def test_substitute_formats_numbers() -> None:
    assert substitute("{{ n }} layers, {{ 1/3 }}, {{ 2.0 }}", {"n": 17}) == (
        "17 layers, 0.333333333333, 2"
    )


def test_derived_values_are_evaluated_in_the_order_written() -> None:
    """A later name may sort before an earlier one: the stored spec keeps the written order."""
    spec = {"params": {"n": {"choices": [2, 3]}}, "derived": {"z": "n * 2", "a": "z + 1"}}
    check = {**CHECK, "variant_spec": spec}
    check["variant_template"] = {**CHECK["variant_template"], "answer": "a"}
    resolved = resolve_check(check, "user:1", "q#0")
    assert resolved.check["answer"] == resolved.variant["n"] * 2 + 1
