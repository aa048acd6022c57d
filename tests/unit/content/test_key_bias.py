"""`content check` warns when right options crowd into one position or are the longest."""

from __future__ import annotations

from conftest import make_app, write_question

from quizapp.content.key_bias import (
    bank_key_warnings,
    key_position_bias,
    longest_option_bias,
    longest_option_count,
)


def single(correct: int, texts=("short", "a much longer option", "mid one", "tiny")) -> dict:
    return {"options": [{"text": text} for text in texts], "correct": correct}


def test_keys_all_in_one_position_are_reported_with_the_numbers():
    warning = key_position_bias([single(0) for _ in range(12)])
    assert warning == (
        "key-position bias: 12 of 12 right options are written as option 0 (about 3 if "
        "spread evenly); vary where the right option stands"
    )


def test_keys_spread_over_the_positions_are_fine():
    assert key_position_bias([single(n % 4) for n in range(12)]) is None
    assert key_position_bias([single(0) for _ in range(5)]) is None  # too few to tell


def test_multiple_choice_keys_count_per_right_option():
    checks = [{"options": [{"text": t} for t in "abcd"], "correct": [0, 1]} for _ in range(10)]
    assert key_position_bias(checks).startswith(
        "key-position bias: 10 of 20 right options are written as option 0 (about 5 if"
    )


def test_the_longest_option_being_right_too_often_is_reported():
    biased = [single(1) for _ in range(10)]  # option 1 is the longest
    assert longest_option_bias(biased).startswith(
        "longest-option bias: in 10 of 10 single-choice checks the right option is the longest"
    )
    assert longest_option_bias([single(n % 4) for n in range(12)]) is None


def test_bank_warnings_leave_out_other_kinds():
    questions = [{"checks": [{"kind": "numeric", "answer": 1.0}, single(n % 4)]} for n in range(12)]
    assert bank_key_warnings(questions) == []


def test_content_check_prints_the_warnings_and_still_passes(tmp_path, content_dir):
    # Eight more copies of a card whose right option is always option 1 and the longest.
    for number in range(8):
        write_question(content_dir, f"copy-{number}", related=[])
    runner = make_app(f"sqlite:///{tmp_path / 'check.sqlite'}").test_cli_runner()
    result = runner.invoke(args=["content", "check", "--no-simulate", str(content_dir)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, result.stderr
    assert f"{content_dir / 'questions'}:1: checks: key-position bias: 10 of 10" in warnings[0]
    assert "longest-option bias: in 10 of 10" in warnings[1]
    assert result.stdout.rstrip().endswith("no problems (2 warning(s)).")


def test_the_longest_option_count_leaves_out_ties_and_gives_the_share():
    tie = {"options": [{"text": "ab"}, {"text": "cd"}], "correct": 0}
    count = longest_option_count([single(1), single(0), tie])
    assert (count.longest, count.checks, count.chance) == (1, 3, 1.0)
    assert count.share == 1 / 3
