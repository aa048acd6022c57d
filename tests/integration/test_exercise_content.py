"""Exercise files: schema errors with file and line, and the solvability lint.

Every exercise here is a tiny network (width 8, depth 4 to 12, batch 16), so each simulation
of the lint takes milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_question

from quizapp.services.content_import import check_content
from quizapp.services.exercise_lint import DiskCachedSimulator

EXERCISE = """\
slug: {slug}
title: Keep a small tanh stack alive
difficulty: easy
questions: [alpha]
prompt: |
  Pick the initialisation that keeps the backward signal alive.
network:
  kind: mlp
  depth: 12
  width: 8
  batch_size: 16
  activation: tanh
choices:
  init:
    - {{value: default, label: PyTorch default}}
    - {{value: xavier_normal, label: Xavier normal}}
    - {{value: normal, label: "Normal, std 0.01"}}
goals:
  - metric: verdict
    equals: healthy
feedback:
  vanishing: The signal died on its way back.
  pass: Xavier keeps $\\mathrm{{Var}}(W)\\,n \\approx 1$.
hints:
  - Think about the fan-in.
explanation: |
  Xavier initialisation preserves the variance of a tanh layer near zero.
reference_solution: {{init: xavier_normal}}
wrong_choice: {{init: default}}
"""


def write_exercise(root: Path, slug: str = "tanh-init", replace: dict[str, str] | None = None):
    """Write a valid, solvable exercise; `replace` swaps exact substrings to change it."""
    body = EXERCISE.format(slug=slug)
    for old, new in (replace or {}).items():
        assert old in body, f"the template has no {old!r}"
        body = body.replace(old, new)
    path = root / "exercises" / f"{slug}.yaml"
    path.write_text(body)
    return path


def line_of(path: Path, text: str) -> int:
    """1-based number of the first line of `path` that contains `text`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


def check(runner, root: Path, *options: str):
    result = runner.invoke(args=["content", "check", *options, str(root)])
    return result.exit_code, result.output


# Schema and consistency errors, reported by `flask content check --no-simulate`


def test_a_valid_exercise_passes_the_check(runner, content_dir):
    write_exercise(content_dir)
    code, output = check(runner, content_dir, "--no-simulate")
    assert code == 0, output
    assert "1 exercises" in output
    assert "no problems" in output


@pytest.mark.parametrize(
    ("replace", "line_text", "field", "message"),
    [
        pytest.param(
            {"metric: verdict": "metric: accuracy"},
            "metric: accuracy",
            "goals.0.metric",
            "unknown metric",
            id="unknown-metric",
        ),
        pytest.param(
            {"equals: healthy": "equals: fine"},
            "equals: fine",
            "goals.0.equals",
            "a verdict is one of vanishing, healthy, exploding",
            id="verdict-fine",
        ),
        pytest.param(
            {"reference_solution: {init: xavier_normal}": "reference_solution: {init: he_normal}"},
            "reference_solution:",
            "reference_solution.init",
            "'he_normal' is not among the offered init values",
            id="solution-not-offered",
        ),
        pytest.param(
            {
                "goals:\n": "  forget_bias: [0.0, 3.0]\ngoals:\n",
                "{init: xavier_normal}": "{init: xavier_normal, forget_bias: 3.0}",
                "{init: default}": "{init: default, forget_bias: 0.0}",
            },
            "forget_bias: [0.0, 3.0]",
            "choices.forget_bias",
            "forget_bias: does not apply to kind 'mlp'",
            id="choice-rejected-for-kind",
        ),
        pytest.param(
            {"  activation: tanh\n": "  activation: tanh\n  init: default\n"},
            "network:",
            "network",
            "fixes init, which the learner chooses",
            id="network-fixes-a-choice",
        ),
        pytest.param(
            {"questions: [alpha]": "questions: [alpha, gamma]"},
            "questions:",
            "questions.1",
            "unknown question 'gamma' (no file questions/gamma.yaml)",
            id="unknown-question",
        ),
        pytest.param(
            {"  pass: Xavier": "  victory: Well done.\n  pass: Xavier"},
            "victory:",
            "feedback.victory",
            "unknown outcome; use vanishing, healthy, exploding, pass, fail",
            id="unknown-feedback-key",
        ),
        pytest.param(
            {"  - Think about the fan-in.": '  - Think about the fan-in.\n  - ""'},
            '- ""',
            "hints.1",
            "must not be empty",
            id="empty-hint",
        ),
        pytest.param(
            {"  - metric: verdict\n    equals: healthy\n": "  - metric: verdict\n"},
            "- metric: verdict",
            "goals.0.metric",
            "needs one of equals, at_least, at_most",
            id="goal-without-operator",
        ),
        pytest.param(
            {"reference_solution: {init: xavier_normal}": "reference_solution: {depth: 4}"},
            "reference_solution:",
            "reference_solution",
            "must choose exactly: init",
            id="solution-chooses-something-else",
        ),
    ],
)
def test_an_exercise_error_names_file_line_and_field(
    runner, content_dir, replace, line_text, field, message
):
    path = write_exercise(content_dir, replace=replace)
    code, output = check(runner, content_dir, "--no-simulate")
    assert code == 1
    expected = f"{path}:{line_of(path, line_text)}: {field}: "
    lines = [line for line in output.splitlines() if line.startswith(expected)]
    assert lines, f"no {expected!r} in:\n{output}"
    assert any(message in line for line in lines), output
    assert "problem(s) in" in output


def test_a_slug_that_does_not_match_the_file_name_is_reported(runner, content_dir):
    path = content_dir / "exercises" / "renamed.yaml"
    write_exercise(content_dir).rename(path)
    code, output = check(runner, content_dir, "--no-simulate")
    assert code == 1
    assert f"{path}:1: slug: must match the file name" in output


def test_every_problem_of_every_exercise_is_reported_at_once(runner, content_dir):
    first = write_exercise(content_dir, "first-one", {"metric: verdict": "metric: accuracy"})
    second = write_exercise(content_dir, "second-one", {"questions: [alpha]": "questions: [nope]"})
    code, output = check(runner, content_dir, "--no-simulate")
    assert code == 1
    assert f"{first}:{line_of(first, 'metric: accuracy')}: goals.0.metric" in output
    assert f"{second}:{line_of(second, 'questions:')}: questions.0" in output


# Solvability lint: the simulator runs every choice (cached on disk)


@pytest.fixture
def simulator(tmp_path):
    return DiskCachedSimulator(tmp_path / "sim-cache")


def lint(root: Path, simulator) -> list[str]:
    return [str(error) for error in check_content(root, simulate=simulator).errors]


def test_a_solvable_exercise_passes_the_lint(content_dir, simulator):
    # Depth 12 tanh: default init and a tiny normal init vanish, Xavier stays healthy.
    write_exercise(content_dir)
    assert lint(content_dir, simulator) == []
    assert simulator.misses == 3


def test_an_exercise_no_choice_can_solve_is_unsolvable(content_dir, simulator):
    # Sigmoid at depth 12 vanishes whichever of these initialisations is chosen.
    path = write_exercise(
        content_dir,
        replace={
            "activation: tanh": "activation: sigmoid",
            '    - {value: normal, label: "Normal, std 0.01"}\n': "",
        },
    )
    errors = lint(content_dir, simulator)
    goals_line = line_of(path, "goals:")
    assert f"{path}:{goals_line}: goals: no choice meets the goals (tried 2): unsolvable" in errors
    solution_line = line_of(path, "reference_solution:")
    assert (
        f"{path}:{solution_line}: reference_solution: should meet the goals but the simulator "
        "says vanishing"
    ) in errors


def test_an_exercise_every_choice_solves_teaches_nothing(content_dir, simulator):
    # At depth 4 even the default initialisation keeps a tanh stack healthy.
    path = write_exercise(
        content_dir,
        replace={
            "depth: 12": "depth: 4",
            '    - {value: normal, label: "Normal, std 0.01"}\n': "",
        },
    )
    errors = lint(content_dir, simulator)
    assert (
        f"{path}:{line_of(path, 'goals:')}: goals: every choice meets the goals (tried 2): "
        "nothing to learn"
    ) in errors


def test_a_wrong_choice_that_actually_passes_is_reported(content_dir, simulator):
    path = write_exercise(content_dir, replace={"depth: 12": "depth: 4"})
    errors = lint(content_dir, simulator)
    assert errors == [
        f"{path}:{line_of(path, 'wrong_choice:')}: wrong_choice: should fail the goals but the "
        "simulator says healthy"
    ]


def test_a_large_choice_space_is_linted_through_its_declared_solutions(content_dir, simulator):
    # 4 × 4 × 3 = 48 combinations: more than the exhaustive check runs.
    path = write_exercise(
        content_dir,
        replace={
            "  depth: 12\n  width: 8\n": "",
            "goals:\n": ("  depth: [4, 6, 8, 12]\n  width: [8, 10, 12]\ngoals:\n"),
            '    - {value: normal, label: "Normal, std 0.01"}\n': (
                '    - {value: normal, label: "Normal, std 0.01"}\n'
                "    - {value: zeros, label: Zeros}\n"
            ),
            "{init: xavier_normal}": "{init: xavier_normal, depth: 12, width: 8}",
            "{init: default}": "{init: zeros, depth: 12, width: 8}",
        },
    )
    assert "depth: [4, 6, 8, 12]" in path.read_text()
    assert lint(content_dir, simulator) == []
    assert simulator.misses == 2  # the reference solution and the wrong choice only


def test_a_second_check_is_answered_from_the_disk_cache(content_dir, tmp_path):
    write_exercise(content_dir)
    write_exercise(content_dir, "tanh-shallow", replace={"depth: 12": "depth: 4"})
    first = DiskCachedSimulator(tmp_path / "cache")
    first_errors = lint(content_dir, first)
    assert (first.hits, first.misses) == (0, 6)
    second = DiskCachedSimulator(tmp_path / "cache")
    assert lint(content_dir, second) == first_errors
    assert (second.hits, second.misses) == (6, 0)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 6


def test_a_damaged_cache_file_is_recomputed(content_dir, tmp_path):
    write_exercise(content_dir)
    lint(content_dir, DiskCachedSimulator(tmp_path / "cache"))
    damaged = sorted((tmp_path / "cache").glob("*.json"))[0]
    damaged.write_text('{"verdict": ')
    again = DiskCachedSimulator(tmp_path / "cache")
    assert lint(content_dir, again) == []
    assert (again.hits, again.misses) == (2, 1)
    assert json.loads(damaged.read_text())["verdict"] in ("vanishing", "healthy", "exploding")


def test_the_cli_runs_the_lint_by_default(app, runner, content_dir, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    write_exercise(content_dir, replace={"depth: 12": "depth: 4"})
    code, output = check(runner, content_dir)
    assert code == 1
    assert "wrong_choice: should fail the goals but the simulator says healthy" in output
    assert len(list((tmp_path / "instance" / "sim-cache").glob("*.json"))) == 3
    # --no-simulate skips it: the same file is otherwise valid.
    code, output = check(runner, content_dir, "--no-simulate")
    assert code == 0, output


def test_the_lint_skips_an_exercise_with_its_own_errors(content_dir, simulator):
    write_exercise(content_dir, replace={"questions: [alpha]": "questions: [gamma]"})
    errors = lint(content_dir, simulator)
    assert any("unknown question 'gamma'" in error for error in errors)
    assert simulator.misses == 0


def test_one_check_reports_every_problem_of_every_file_at_once(content_dir, simulator):
    """Schema, markdown, rendering, links and the solvability lint in one pass, sorted.

    Before, these came out in rounds: schema errors hid a file's markdown and links, the
    first unrenderable text hid the others, and any error anywhere held the lint back."""
    broken = write_question(
        content_dir,
        "alpha",
        related=["beta", "gamma"],
        replace={
            "difficulty: medium": "difficulty: extreme",  # schema
            "It is $1/4$, reached": "It is $x^$, reached",  # cannot render
            "Give it as a decimal.": "Give it as $a^$ decimal.",  # cannot render either
            "the product is largest at": "the product $is largest at",  # unbalanced $
        },
    )
    lazy = write_exercise(content_dir, "tanh-shallow", replace={"depth: 12": "depth: 4"})
    problems = check_content(content_dir, simulate=simulator).errors
    places = [(problem.path, problem.line) for problem in problems]
    assert places == sorted(places)  # by file, then line
    errors = [str(problem) for problem in problems]
    expected = [
        f"{broken}:3: difficulty: must be one of easy, medium, hard",
        f"{broken}:{line_of(broken, 'It is $x^$')}: answer: cannot render math 'x^'",
        f"{broken}:{line_of(broken, 'Give it as')}: checks.1.prompt: cannot render math 'a^'",
        f"{broken}:{line_of(broken, 'the product $is')}: explanation: unbalanced $ math delimiter",
        f"{broken}:{line_of(broken, 'related:')}: related.1: unknown question 'gamma'",
        f"{lazy}:{line_of(lazy, 'wrong_choice:')}: wrong_choice: should fail the goals",
    ]
    for start in expected:
        assert any(error.startswith(start) for error in errors), (start, errors)
    assert not any("unknown question 'alpha'" in error for error in errors)
