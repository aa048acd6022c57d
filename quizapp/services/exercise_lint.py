"""Solvability lint: run the simulator over an exercise's choices and check the goals can be met.

An exercise no choice can solve is unfair; one every choice solves teaches nothing. Results
are cached on disk by (config, simulator version), so a second `content check` is fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from quizapp.content.loader import ContentError, SourceDocument
from quizapp.domain.exercises import (
    MAX_EXHAUSTIVE_COMBINATIONS,
    all_selections,
    evaluate_goals,
    goals_met,
)
from quizapp.jobs import cache_key
from quizapp.sim import SIMULATOR_VERSION, validate_config

Simulate = Callable[[dict[str, Any]], dict[str, Any]]


class DiskCachedSimulator:
    """`simulate` with results kept as JSON files named by their cache key."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        normalised = validate_config(config)
        path = self.directory / f"{cache_key(normalised, SIMULATOR_VERSION)}.json"
        if path.exists():
            try:
                result = json.loads(path.read_text())
                self.hits += 1
                return result
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed
        from quizapp.sim import simulate

        result = simulate(normalised)
        self.misses += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(result))
        temporary.replace(path)  # atomic: a concurrent check never reads half a file
        return result


def selections_to_try(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole choice space when small, else the declared solution and wrong choice."""
    every = all_selections(data["choices"])
    if len(every) <= MAX_EXHAUSTIVE_COMBINATIONS:
        return every
    declared = [data["reference_solution"]]
    if data.get("wrong_choice"):
        declared.append(data["wrong_choice"])
    return declared


def lint_exercise(document: SourceDocument, simulate: Simulate) -> list[ContentError]:
    """Problems with an exercise's solvability, each naming the file and line."""
    data = document.data
    outcomes: list[tuple[dict[str, Any], bool, str]] = []
    for selection in selections_to_try(data):
        result = simulate(data["network"] | selection)
        outcomes.append((selection, goals_met(evaluate_goals(data["goals"], result)),
                         str(result.get("verdict"))))  # fmt: skip
    errors: list[ContentError] = []

    def error(field: str, message: str) -> None:
        errors.append(ContentError(document.path, document.line_of(field), field, message))

    passing = [selection for selection, passed, _ in outcomes if passed]
    if not passing:
        error("goals", f"no choice meets the goals (tried {len(outcomes)}): unsolvable")
    elif len(passing) == len(outcomes):
        error("goals", f"every choice meets the goals (tried {len(outcomes)}): nothing to learn")
    by_selection = {json.dumps(s, sort_keys=True): (p, v) for s, p, v in outcomes}
    for field, should_pass in (("reference_solution", True), ("wrong_choice", False)):
        selection = data.get(field)
        if not selection:
            continue
        key = json.dumps(selection, sort_keys=True)
        if key not in by_selection:
            result = simulate(data["network"] | selection)
            by_selection[key] = (
                goals_met(evaluate_goals(data["goals"], result)),
                str(result.get("verdict")),
            )
        passed, verdict = by_selection[key]
        if passed != should_pass:
            expectation = "meet" if should_pass else "fail"
            error(field, f"should {expectation} the goals but the simulator says {verdict}")
    return errors


def lint_exercises(documents: Iterable[SourceDocument], simulate: Simulate) -> list[ContentError]:
    errors: list[ContentError] = []
    for document in documents:
        errors.extend(lint_exercise(document, simulate))
    return errors
