"""Rules the whole question bank must keep, so it cannot silently degrade."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from quizapp.content.key_bias import longest_option_count
from quizapp.content.loader import Bank, load_bank
from quizapp.domain.check_kinds import AUTOMATIC_KINDS as REGISTERED_AUTOMATIC_KINDS
from quizapp.domain.check_kinds import CHECK_KINDS

REPO_ROOT = Path(__file__).parents[3]
CONTENT_DIR = REPO_ROOT / "content"

MIN_QUESTIONS = 80
MIN_TOPICS_USED = 16
MIN_QUESTIONS_PER_TOPIC = 5
MIN_PER_DIFFICULTY = {"easy": 15, "medium": 30, "hard": 15}
RELATED_RANGE = (2, 5)
MIN_DIAGRAM_CARDS = 20
# Cards whose numbers differ per learner (`params:`), where a number is the point.
MIN_VARIANT_CARDS = 20
# A quiz whose key is nearly always the first option teaches guessing, not the material.
# (Pages may shuffle options too; the files themselves should not lean on that.)
MAX_SHARE_OF_KEYS_IN_ONE_POSITION = 0.75
# Shuffling does not hide length: "always pick the longest option" must score about chance
# (1/3 to 1/4), and no other length rule ("pick the second longest") may do much better.
MAX_LONGEST_OPTION_SHARE = 0.30
MAX_SHARE_OF_ANY_LENGTH_RANK = 0.40
AUTOMATIC_KINDS = set(REGISTERED_AUTOMATIC_KINDS)
CHOICE_KINDS = {name for name, kind in CHECK_KINDS.items() if "options" in kind.shuffled}

SEED_SLUG = "vanishing-gradient-problem"
SEED_RELATED = [
    "attention-mechanisms",
    "backpropagation-explained",
    "cnn-architecture-components",
    "activation-functions-compared",
]


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(CONTENT_DIR)


@pytest.fixture(scope="module")
def questions(bank: Bank) -> list[dict[str, Any]]:
    return sorted(bank.questions, key=lambda question: question["slug"])


def file_of(question: dict[str, Any]) -> str:
    """The question's file relative to the repository, as an author would look for it."""
    path = Path(question["source_path"])
    return str(path.relative_to(REPO_ROOT)) if path.is_absolute() else str(path)


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_bank_loads_without_errors(bank: Bank) -> None:
    problems = [f"{e.path}:{e.line}: {e.field}: {e.message}" for e in bank.errors]
    assert not problems, report(problems)


def test_bank_has_enough_questions(questions: list[dict[str, Any]]) -> None:
    assert len(questions) >= MIN_QUESTIONS, (
        f"the bank has {len(questions)} valid questions in {CONTENT_DIR}, "
        f"at least {MIN_QUESTIONS} are required"
    )


def test_questions_cover_enough_topics(bank: Bank, questions: list[dict[str, Any]]) -> None:
    used = {topic for question in questions for topic in question["topics"]}
    declared = {topic["slug"] for topic in bank.topics}
    assert len(used) >= MIN_TOPICS_USED, (
        f"questions use {len(used)} topics ({', '.join(sorted(used))}), "
        f"at least {MIN_TOPICS_USED} are required; unused: {', '.join(sorted(declared - used))}"
    )


def test_every_declared_topic_has_enough_questions(
    bank: Bank, questions: list[dict[str, Any]]
) -> None:
    counts = Counter(topic for question in questions for topic in question["topics"])
    thin = [
        f"content/topics.yaml: topic '{topic['slug']}' has {counts[topic['slug']]} question(s), "
        f"at least {MIN_QUESTIONS_PER_TOPIC} are required"
        for topic in bank.topics
        if counts[topic["slug"]] < MIN_QUESTIONS_PER_TOPIC
    ]
    assert not thin, report(thin)


def test_single_choice_keys_are_not_all_in_one_position(
    questions: list[dict[str, Any]],
) -> None:
    keys = Counter(
        check["correct"]
        for question in questions
        for check in question["checks"]
        if check["kind"] == "single_choice"
    )
    position, count = keys.most_common(1)[0]
    share = count / sum(keys.values())
    assert share <= MAX_SHARE_OF_KEYS_IN_ONE_POSITION, (
        f"{share:.0%} of single-choice keys are option {position} "
        f"({dict(sorted(keys.items()))}); vary the key's position in new cards"
    )


def test_the_longest_option_is_right_about_as_often_as_chance(
    questions: list[dict[str, Any]],
) -> None:
    """The figure `content check` warns about (content/key_bias.py), with a tighter bound."""
    count = longest_option_count(check for question in questions for check in question["checks"])
    assert count.checks >= 8, f"only {count.checks} single-choice checks in the bank"
    assert count.share <= MAX_LONGEST_OPTION_SHARE, (
        f"in {count.longest} of {count.checks} single-choice checks ({count.share:.0%}) the right "
        f"option is the longest (chance: about {count.chance:.0f}); a learner who always picks "
        f"the longest option would pass; write the wrong options out as fully as the right one"
    )


def test_no_length_rank_picks_the_key(questions: list[dict[str, Any]]) -> None:
    """Lengthening one distractor per check just makes "pick the second longest" the rule."""
    ranks: Counter[int] = Counter()
    for question in questions:
        for check in question["checks"]:
            if check["kind"] != "single_choice":
                continue
            lengths = [len(option["text"]) for option in check["options"]]
            ranks[sum(length > lengths[check["correct"]] for length in lengths)] += 1
    rank, count = ranks.most_common(1)[0]
    share = count / sum(ranks.values())
    assert share <= MAX_SHARE_OF_ANY_LENGTH_RANK, (
        f"{share:.0%} of single-choice keys have exactly {rank} longer option(s) "
        f"({dict(sorted(ranks.items()))}); vary which option is the longest"
    )


DECIMALS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def test_a_numeric_answer_rounded_as_asked_is_accepted(questions: list[dict[str, Any]]) -> None:
    """ "Give three decimals" must not ask for a rounding that the tolerance then rejects."""
    problems = []
    for question in questions:
        for index, check in enumerate(question["checks"]):
            asked = re.search(r"\b(one|two|three|four|five) decimals?\b", check["prompt"])
            if check["kind"] != "numeric" or not asked:
                continue
            answer = check["answer"]
            allowed = max(
                check.get("tolerance", 0.0), check.get("relative_tolerance", 0.0) * abs(answer)
            )
            rounded = round(answer, DECIMALS[asked.group(1)])
            if abs(rounded - answer) > allowed + 1e-12:
                problems.append(
                    f"{file_of(question)}: checks.{index}: the answer rounded as asked, {rounded}, "
                    f"is outside the tolerance ±{allowed} around {answer}"
                )
    assert not problems, report(problems)


def test_difficulty_spread(questions: list[dict[str, Any]]) -> None:
    counts = Counter(question["difficulty"] for question in questions)
    short = [
        f"{difficulty}: {counts[difficulty]} question(s), at least {minimum} required"
        for difficulty, minimum in MIN_PER_DIFFICULTY.items()
        if counts[difficulty] < minimum
    ]
    assert not short, report(short)


def test_every_question_cites_a_reference_with_a_url(questions: list[dict[str, Any]]) -> None:
    problems = [
        f"{file_of(question)}: references: needs at least one reference with an http(s) URL"
        for question in questions
        if not any(
            str(reference.get("url", "")).startswith(("https://", "http://"))
            for reference in question["references"]
        )
    ]
    assert not problems, report(problems)


def test_every_question_has_two_to_five_related(questions: list[dict[str, Any]]) -> None:
    low, high = RELATED_RANGE
    problems = [
        f"{file_of(question)}: related: has {len(question['related'])}, needs {low} to {high}"
        for question in questions
        if not low <= len(question["related"]) <= high
    ]
    assert not problems, report(problems)


def test_related_links_are_symmetric(questions: list[dict[str, Any]]) -> None:
    by_slug = {question["slug"]: question for question in questions}
    problems = [
        f"{file_of(question)}: related lists '{other}', "
        f"but {file_of(by_slug[other])} does not list '{question['slug']}'"
        for question in questions
        for other in question["related"]
        if other in by_slug and question["slug"] not in by_slug[other]["related"]
    ]
    assert not problems, report(problems)


def test_every_question_can_be_graded_and_self_rated(questions: list[dict[str, Any]]) -> None:
    problems = []
    for question in questions:
        kinds = {check["kind"] for check in question["checks"]}
        if not kinds & AUTOMATIC_KINDS:
            problems.append(
                f"{file_of(question)}: checks: needs an automatic check "
                f"({', '.join(sorted(AUTOMATIC_KINDS))})"
            )
        if "self_rated" not in kinds:
            problems.append(f"{file_of(question)}: checks: needs a self_rated check")
    assert not problems, report(problems)


def test_every_choice_option_explains_itself(questions: list[dict[str, Any]]) -> None:
    problems = [
        f"{file_of(question)}: checks.{check_index}.options.{option_index}: "
        "feedback must be one non-empty line"
        for question in questions
        for check_index, check in enumerate(question["checks"])
        if check["kind"] in CHOICE_KINDS
        for option_index, option in enumerate(check["options"])
        if not option.get("feedback", "").strip() or "\n" in option["feedback"].strip()
    ]
    assert not problems, report(problems)


def test_enough_questions_have_diagrams(questions: list[dict[str, Any]]) -> None:
    with_diagram = [q["slug"] for q in questions if "```mermaid" in q["explanation"]]
    assert len(with_diagram) >= MIN_DIAGRAM_CARDS, (
        f"{len(with_diagram)} question(s) have a mermaid diagram in their explanation "
        f"({', '.join(with_diagram) or 'none'}), at least {MIN_DIAGRAM_CARDS} are required"
    )


def test_seed_question_links_its_four_related_questions_in_order(
    questions: list[dict[str, Any]],
) -> None:
    seed = next((question for question in questions if question["slug"] == SEED_SLUG), None)
    assert seed is not None, f"the seed card content/questions/{SEED_SLUG}.yaml is missing"
    assert seed["related"] == SEED_RELATED, (
        f"{file_of(seed)}: related is {seed['related']}, the seed card shows {SEED_RELATED}"
    )
    assert "```mermaid" in seed["explanation"], f"{file_of(seed)}: the ResNet diagram is missing"
    assert len(seed["references"]) >= 3, f"{file_of(seed)}: the three seed references are missing"


def test_enough_questions_have_variants(questions: list[dict[str, Any]]) -> None:
    with_variants = [q["slug"] for q in questions if q.get("params")]
    assert len(with_variants) >= MIN_VARIANT_CARDS, (
        f"{len(with_variants)} question(s) declare params ({', '.join(with_variants) or 'none'}), "
        f"at least {MIN_VARIANT_CARDS} are required"
    )
