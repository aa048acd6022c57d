"""Bank-wide answer-key bias: where the right options sit, and whether they are the longest.

Shuffling hides the written order from learners, but a bank whose keys are all option 0, or
whose right option is nearly always the longest, still teaches a guessing rule (on paper,
on print-outs, or through the length cue, which shuffling does not remove). These are
warnings for authors, not errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# A cue is reported when it picks the key this many times more often than chance would...
BIAS_RATIO = 1.5
# ...over at least this many choice checks (fewer say nothing either way).
MIN_CHECKS = 8


def _choice_checks(checks: Iterable[Mapping[str, Any]]) -> list[tuple[int, set[int]]]:
    """(option count, set of right indexes) of every choice check."""
    found = []
    for check in checks:
        options, correct = check.get("options"), check.get("correct")
        if not isinstance(options, list) or correct is None:
            continue
        keys = set(correct) if isinstance(correct, list) else {correct}
        found.append((len(options), keys))
    return found


def key_position_bias(checks: Iterable[Mapping[str, Any]]) -> str | None:
    """A warning when right options crowd into one written position."""
    found = _choice_checks(checks)
    if len(found) < MIN_CHECKS:
        return None
    observed: Counter[int] = Counter()
    expected: Counter[int] = Counter()
    total_keys = 0
    for count, keys in found:
        total_keys += len(keys)
        observed.update(keys)
        for position in range(count):
            expected[position] += len(keys) / count
    position, hits = max(observed.items(), key=lambda item: item[1] / expected[item[0]])
    if hits < BIAS_RATIO * expected[position]:
        return None
    return (
        f"key-position bias: {hits} of {total_keys} right options are written as option "
        f"{position} (about {round(expected[position])} if spread evenly); vary where the "
        "right option stands"
    )


def longest_option_bias(checks: Iterable[Mapping[str, Any]]) -> str | None:
    """A warning when the right option is the longest one far more often than chance."""
    singles = [
        check
        for check in checks
        if isinstance(check.get("options"), list) and isinstance(check.get("correct"), int)
    ]
    if len(singles) < MIN_CHECKS:
        return None
    longest = 0
    for check in singles:
        lengths = [len(str(option.get("text", ""))) for option in check["options"]]
        if lengths.count(max(lengths)) == 1 and lengths.index(max(lengths)) == check["correct"]:
            longest += 1
    chance = sum(1 / len(check["options"]) for check in singles)
    if longest < BIAS_RATIO * chance:
        return None
    return (
        f"longest-option bias: in {longest} of {len(singles)} single-choice checks the right "
        f"option is the longest (about {round(chance)} by chance); make wrong options as "
        "complete as the right one"
    )


def bank_key_warnings(questions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every bank-wide key bias found in the questions' checks."""
    checks = [check for question in questions for check in question.get("checks", [])]
    found = [key_position_bias(checks), longest_option_bias(checks)]
    return [warning for warning in found if warning]
