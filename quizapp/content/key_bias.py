"""Bank-wide answer-key bias: where the right options sit, and whether they are the longest.

Shuffling hides the written order from learners, but a bank whose keys are all option 0, or
whose right option is nearly always the longest, still teaches a guessing rule (on paper,
on print-outs, or through the length cue, which shuffling does not remove). These are
warnings for authors, not errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LongestOptionCount:
    """How often a single-choice key is the one longest option, against chance."""

    longest: int  # checks whose right option is longer than every other option
    checks: int  # single-choice checks counted
    chance: float  # expected `longest` if the right option were any option at random

    @property
    def share(self) -> float:
        return self.longest / self.checks if self.checks else 0.0


def longest_option_count(checks: Iterable[Mapping[str, Any]]) -> LongestOptionCount:
    """Count the single-choice checks whose right option is the (unique) longest one."""
    singles = [
        check
        for check in checks
        if isinstance(check.get("options"), list)
        and check["options"]
        and isinstance(check.get("correct"), int)
    ]
    longest = 0
    for check in singles:
        lengths = [len(str(option.get("text", ""))) for option in check["options"]]
        if lengths.count(max(lengths)) == 1 and lengths.index(max(lengths)) == check["correct"]:
            longest += 1
    chance = sum(1 / len(check["options"]) for check in singles)
    return LongestOptionCount(longest=longest, checks=len(singles), chance=chance)


def longest_option_bias(checks: Iterable[Mapping[str, Any]]) -> str | None:
    """A warning when the right option is the longest one far more often than chance."""
    count = longest_option_count(checks)
    if count.checks < MIN_CHECKS or count.longest < BIAS_RATIO * count.chance:
        return None
    return (
        f"longest-option bias: in {count.longest} of {count.checks} single-choice checks the "
        f"right option is the longest (about {round(count.chance)} by chance); make wrong "
        "options as complete as the right one"
    )


def bank_key_warnings(questions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every bank-wide key bias found in the questions' checks."""
    checks = [check for question in questions for check in question.get("checks", [])]
    found = [key_position_bias(checks), longest_option_bias(checks)]
    return [warning for warning in found if warning]
