"""Variants in `flask content check`: every error a variant question can have, each as
`path:line: field: message`, from the schema, the loader and the sampling of variants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_app, write_variant_question


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('variants') / 'check.sqlite'}")
    return app.test_cli_runner()


def line_of(path: Path, marker: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(marker)


def test_a_valid_variant_question_passes(runner, content_dir: Path) -> None:
    write_variant_question(content_dir, extra={})
    result = runner.invoke(args=["content", "check", str(content_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 3 questions, ")


# (id, replacements, line marker, field, message as a regular expression)
CASES = [
    (
        "derived-unknown-name",
        {"bound: w / 4": "bound: v / 4"},
        "bound: v / 4",
        "derived.bound",
        re.escape("unknown name 'v' (params and derived: n, w)"),
    ),
    (
        "range-upside-down",
        {"n: {min: 2, max: 9, step: 1}": "n: {min: 9, max: 2, step: 1}"},
        "n: {min: 9",
        "params.n",
        re.escape("max (2) must be greater than min (9)"),
    ),
    (
        "range-step-misses-max",
        {"n: {min: 2, max: 9, step: 1}": "n: {min: 2, max: 9, step: 2}"},
        "n: {min: 2",
        "params.n",
        re.escape("max (9) is not min plus a whole number of steps of 2"),
    ),
    (
        "range-missing-step",
        {"n: {min: 2, max: 9, step: 1}": "n: {min: 2, max: 9}"},
        "n: {min: 2",
        "params.n",
        re.escape("needs min, max and step (missing step)"),
    ),
    (
        "choices-twice",
        {"w: {choices: [0.5, 1, 2]}": "w: {choices: [0.5, 1, 1]}"},
        "w: {choices",
        "params.w",
        re.escape("a choice is listed twice"),
    ),
    (
        "param-named-like-a-function",
        {"  w: {choices: [0.5, 1, 2]}": "  w: {choices: [0.5, 1, 2]}\n  sqrt: {choices: [1, 2]}"},
        "sqrt: {choices",
        "params.sqrt",
        re.escape("'sqrt' is a function or constant name; choose another"),
    ),
    (
        "answer-syntax-error",
        {"answer: bound ** n": "answer: bound **"},
        "answer: bound **",
        "checks.1.answer",
        re.escape("syntax error in 'bound **': invalid syntax"),
    ),
    (
        "answer-unknown-name",
        {"answer: bound ** n": "answer: bound ** depth"},
        "answer: bound ** depth",
        "checks.1.answer",
        re.escape("unknown name 'depth' (params and derived: bound, n, w)"),
    ),
    (
        "template-unknown-name",
        {"weights up to {{ w }}": "weights up to {{ width }}"},
        "weights up to",
        "question",
        re.escape("{{ width }}: unknown name 'width' (params and derived: bound, n, w)"),
    ),
    (
        "template-unknown-function",
        {"weights up to {{ w }}": "weights up to {{ open(w) }}"},
        "weights up to",
        "question",
        re.escape("{{ open(w) }}: unknown function 'open'; available: ") + ".*",
    ),
    (
        "template-attribute",
        {"weights up to {{ w }}": "weights up to {{ w.__class__ }}"},
        "weights up to",
        "question",
        re.escape("{{ w.__class__ }}: attribute is not allowed in 'w.__class__'"),
    ),
    (
        "derived-fails-for-some-variant",
        {"bound: w / 4": "bound: w / (n - 5)"},
        "bound: w / (n - 5)",
        "derived.bound",
        r"for n=5, w=[0-9.]+: division by zero",
    ),
    (
        "template-fails-for-some-variant",
        {"weights up to {{ w }}": "weights up to {{ log(n - 2) }}"},
        "weights up to",
        "question",
        re.escape("{{ log(n - 2) }} for n=2, w=") + r"[0-9.]+: log\(0\): math domain error",
    ),
    (
        "answer-too-large",
        {"answer: bound ** n": "answer: 10 ** (50 * n)"},
        "answer: 10 **",
        "checks.1.answer",
        r"for n=\d, w=[0-9.]+: 10 \*\* \d+ is too large",
    ),
    (
        "answer-gives-text",
        {"answer: bound ** n": "answer: sig(bound ** n, 2)"},
        "answer: sig(",
        "checks.1.answer",
        re.escape("gives text (") + ".*" + re.escape("), not a number (sig/sci are for texts)"),
    ),
    (
        "answer-ignores-the-params",
        {"answer: bound ** n": "answer: 1 / 4 + 0"},
        "answer: 1 / 4",
        "checks.1.answer",
        re.escape("is 0.25 in every sampled variant: it should follow the params"),
    ),
    (
        "tolerance-too-loose",
        {"relative_tolerance: 0.01": "relative_tolerance: 0.5"},
        "relative_tolerance: 0.5",
        "checks.1.relative_tolerance",
        r"accepts ±[0-9.e-]+, 50% of the answer [0-9.e-]+: at most 10% \(variant n=\d, w=.*\)",
    ),
    (
        "tolerance-too-tight",
        {"relative_tolerance: 0.01": "tolerance: 0"},
        "tolerance: 0",
        "checks.1.tolerance",
        r"accepts ±0 around [0-9.e-]+: learners round, so allow at least 1e-06 of the answer .*",
    ),
    (
        "distractor-renders-as-the-key",
        {'      - text: "1"\n': "      - text: $0.25 \\cdot {{ 4 * w }}$\n",
         '      - text: "1/4"\n': "      - text: $0.25 \\cdot {{ w * 4 }}$\n"},
        "0.25 \\cdot {{ 4 * w }}",
        "checks.0.options.0.text",
        r"shows the same as the key \(option 1\) \(variant n=\d, w=.*\)",
    ),
    (
        "param-used-nowhere",
        {"  w: {choices: [0.5, 1, 2]}": "  w: {choices: [0.5, 1, 2]}\n  unused: {choices: [1, 2]}"},
        "params:",
        "params",
        r"the variants .* and .* show the same question and answers \(does every param .*",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("replace", "marker", "field", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_check_reports_each_variant_problem_where_it_is(
    runner, content_dir: Path, replace, marker, field, message
) -> None:
    path = write_variant_question(content_dir, extra=replace)
    result = runner.invoke(args=["content", "check", str(content_dir)])
    assert result.exit_code == 1, result.output
    problems = result.stderr.splitlines()
    prefix = f"{path}:{line_of(path, marker)}: {field}: "
    matching = [line for line in problems if line.startswith(prefix)]
    assert any(re.fullmatch(message, line[len(prefix) :]) for line in matching), "\n".join(problems)
    assert "Traceback" not in result.output


def test_import_refuses_a_variant_that_fails_for_some_learner(runner, content_dir: Path) -> None:
    write_variant_question(content_dir, extra={"bound: w / 4": "bound: w / (n - 5)"})
    result = runner.invoke(args=["content", "import", str(content_dir)])
    assert result.exit_code == 1
    assert "derived.bound" in result.output + (result.stderr or "")
