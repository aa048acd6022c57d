"""How each question and check performs, for authors: classical item analysis on attempts.

Facility is the mean score of each learner's *first* attempt on a check. Discrimination is
the corrected item-total correlation: across learners, the Pearson correlation between
their first-attempt score on this check and their mean first-attempt score on every *other*
check they answered (the item itself left out, so it cannot correlate with itself). Every
figure comes from a handful of aggregate queries, whatever the number of attempts.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal_column, select

from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.grading import variant_spec
from quizapp.domain.variants import format_value
from quizapp.extensions import db
from quizapp.models import Attempt, Exercise, Question, SimRun, StatSnapshot
from quizapp.models.base import utcnow

# Below these sample sizes a figure is shown but not flagged: noise, not a verdict.
MIN_LEARNERS_TO_FLAG = 10
MIN_ATTEMPTS_FOR_DISTRACTORS = 20
TOO_EASY_FACILITY = 0.9
TOO_HARD_FACILITY = 0.3
WEAK_DISCRIMINATION = 0.1
# Kinds whose attempts pick options by index (from the registry of check kinds).
CHOICE_KINDS = tuple(name for name, kind in CHECK_KINDS.items() if "options" in kind.shuffled)

FLAG_LABELS = {
    "too_easy": "Too easy",
    "too_hard": "Too hard",
    "negative_discrimination": "Negative discrimination",
    "weak_discrimination": "Near-zero discrimination",
    "unused_distractor": "A distractor nobody picks",
    "distractor_beats_key": "An option chosen more than the key",
    "variants_differ": "Some variants much harder",
}
# Variant groups: a param's values in at most this many buckets; a gap in facility this large
# between two groups of at least MIN_GROUP_LEARNERS learners each is flagged.
VARIANT_BUCKETS = 5
VARIANT_FACILITY_GAP = 0.3
MIN_GROUP_LEARNERS = 5


@dataclass
class OptionStat:
    index: int
    text: str
    correct: bool
    picks: int = 0


@dataclass
class VariantGroup:
    """First attempts of a check whose variant had `param` in one bucket of its values."""

    param: str
    bucket: str  # e.g. "3", "2–5" or "relu"
    learners: int = 0
    facility: float | None = None


@dataclass
class ItemStat:
    """One check of one question."""

    question_slug: str
    question_title: str
    check_index: int
    kind: str
    prompt: str
    attempts: int = 0
    learners: int = 0
    facility: float | None = None
    discrimination: float | None = None
    median_seconds: float | None = None
    first_score: float | None = None
    later_score: float | None = None
    later_attempts: int = 0
    options: list[OptionStat] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # Facility per variant group, for a question with params (per param, bucketed values).
    variants: list[VariantGroup] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question_slug,
            "title": self.question_title,
            "check": self.check_index,
            "kind": self.kind,
            "prompt": self.prompt,
            "attempts": self.attempts,
            "learners": self.learners,
            "facility": self.facility,
            "discrimination": self.discrimination,
            "median_seconds": self.median_seconds,
            "first_score": self.first_score,
            "later_score": self.later_score,
            "later_attempts": self.later_attempts,
            "options": [option.__dict__ for option in self.options],
            "flags": self.flags,
            "variants": [group.__dict__ for group in self.variants],
        }


def _question_attempts():
    return Attempt.exercise_slug.is_(None)


def _first_attempts():
    """Each learner's first attempt on each check: (question, check, user, score)."""
    firsts = (
        select(
            Attempt.question_id,
            Attempt.check_index,
            Attempt.user_id,
            func.min(Attempt.id).label("first_id"),
        )
        .where(_question_attempts())
        .group_by(Attempt.question_id, Attempt.check_index, Attempt.user_id)
        .subquery("firsts")
    )
    return (
        select(firsts.c.question_id, firsts.c.check_index, firsts.c.user_id, Attempt.score)
        .join(Attempt, Attempt.id == firsts.c.first_id)
        .cte("first_scores")
    )


def _first_attempt_figures() -> dict[tuple[int, int], dict[str, float]]:
    """Per item: learners, facility and the sums a corrected item-total correlation needs."""
    first = _first_attempts()
    totals = (
        select(
            first.c.user_id,
            func.sum(first.c.score).label("total"),
            func.count().label("answered"),
        )
        .group_by(first.c.user_id)
        .cte("totals")
    )
    rest = (totals.c.total - first.c.score) / func.nullif(totals.c.answered - 1, 0)
    paired = totals.c.answered > 1
    x = first.c.score
    rows = db.session.execute(
        select(
            first.c.question_id,
            first.c.check_index,
            func.count().label("learners"),
            func.avg(x).label("facility"),
            func.sum(case((paired, 1), else_=0)).label("n"),
            func.sum(case((paired, x), else_=0)).label("sx"),
            func.sum(case((paired, rest), else_=0)).label("sy"),
            func.sum(case((paired, x * x), else_=0)).label("sxx"),
            func.sum(case((paired, rest * rest), else_=0)).label("syy"),
            func.sum(case((paired, x * rest), else_=0)).label("sxy"),
        )
        .join(totals, totals.c.user_id == first.c.user_id)
        .group_by(first.c.question_id, first.c.check_index)
    )
    return {(row.question_id, row.check_index): row._asdict() for row in rows}


def _pearson(row: dict[str, float]) -> float | None:
    n = row["n"] or 0
    if n < 3:
        return None
    sx, sy, sxx, syy, sxy = (float(row[name] or 0) for name in ("sx", "sy", "sxx", "syy", "sxy"))
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    if var_x <= 1e-12 or var_y <= 1e-12:
        return None  # everyone scored alike on the item, or on the rest: nothing to correlate
    return (n * sxy - sx * sy) / math.sqrt(var_x * var_y)


def _attempt_totals() -> dict[tuple[int, int], tuple[int, float]]:
    rows = db.session.execute(
        select(Attempt.question_id, Attempt.check_index, func.count(), func.sum(Attempt.score))
        .where(_question_attempts())
        .group_by(Attempt.question_id, Attempt.check_index)
    )
    return {(q, c): (count, float(total or 0)) for q, c, count, total in rows}


def _median_seconds() -> dict[tuple[int, int], float]:
    ordered = (
        select(
            Attempt.question_id,
            Attempt.check_index,
            Attempt.elapsed_ms,
            func.row_number()
            .over(
                partition_by=(Attempt.question_id, Attempt.check_index),
                order_by=Attempt.elapsed_ms,
            )
            .label("position"),
            func.count()
            .over(partition_by=(Attempt.question_id, Attempt.check_index))
            .label("size"),
        )
        .where(_question_attempts(), Attempt.elapsed_ms.is_not(None))
        .subquery()
    )
    middle = ordered.c.position.in_(
        [cast((ordered.c.size + 1) / 2, Integer), cast((ordered.c.size + 2) / 2, Integer)]
    )
    rows = db.session.execute(
        select(ordered.c.question_id, ordered.c.check_index, func.avg(ordered.c.elapsed_ms))
        .where(middle)
        .group_by(ordered.c.question_id, ordered.c.check_index)
    )
    return {(q, c): float(ms) / 1000 for q, c, ms in rows}


def _option_picks() -> dict[tuple[int, int], Counter]:
    """How often each option was chosen, from responses grouped in the database."""
    response_text = cast(Attempt.response, String)
    rows = db.session.execute(
        select(Attempt.question_id, Attempt.check_index, response_text, func.count())
        .where(_question_attempts(), Attempt.kind.in_(CHOICE_KINDS))
        .group_by(Attempt.question_id, Attempt.check_index, response_text)
    )
    picks: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for question_id, check_index, text, count in rows:
        try:
            chosen = json.loads(text)
        except (TypeError, ValueError):
            continue
        for index in chosen if isinstance(chosen, list) else [chosen]:
            if isinstance(index, int):
                picks[(question_id, check_index)][index] += count
    return picks


def _variant_groups(spec: dict[str, Any], rows: list[tuple[Any, float]]) -> list[VariantGroup]:
    """Facility of first attempts per param and bucket of its values ((variant, score) rows)."""
    parsed = variant_spec(spec)
    if parsed is None:
        return []
    groups: list[VariantGroup] = []
    for param in parsed.params:
        buckets = _buckets(param)
        scores: dict[str, list[float]] = {label: [] for label, _ in buckets}
        for variant, score in rows:
            value = variant.get(param.name) if isinstance(variant, dict) else None
            label = next((label for label, test in buckets if test(value)), None)
            if label is not None:
                scores[label].append(float(score))
        for label, values in scores.items():
            facility = sum(values) / len(values) if values else None
            groups.append(VariantGroup(param.name, label, len(values), facility))
    return groups


def _buckets(param) -> list[tuple[str, Any]]:
    """(label, membership test) per bucket: each choice, each value of a short range, or
    VARIANT_BUCKETS equal runs of a long range's values."""
    if param.choices or param.size <= VARIANT_BUCKETS:
        return [(format_value(v), lambda x, v=v: x == v) for v in param.values()]
    size = param.size
    edges = [round(i * size / VARIANT_BUCKETS) for i in range(VARIANT_BUCKETS + 1)]
    buckets = []
    for start, end in zip(edges, edges[1:], strict=False):
        low, high = param.value(start), param.value(end - 1)
        label = format_value(low) if low == high else f"{format_value(low)}–{format_value(high)}"
        buckets.append(
            (label, lambda x, low=low, high=high: isinstance(x, int | float) and low <= x <= high)
        )
    return buckets


def _variant_first_attempts(
    question_ids: list[int],
) -> dict[tuple[int, int], list[tuple[Any, float]]]:
    """(variant, score) of each learner's first attempt on each check of the questions with
    params `question_ids`; only those questions' attempts are read."""
    if not question_ids:
        return {}
    first_ids = (
        select(func.min(Attempt.id).label("first_id"))
        .where(_question_attempts(), Attempt.question_id.in_(question_ids))
        .group_by(Attempt.question_id, Attempt.check_index, Attempt.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Attempt.question_id, Attempt.check_index, Attempt.variant, Attempt.score).where(
            Attempt.id.in_(select(first_ids.c.first_id))
        )
    )
    found: dict[tuple[int, int], list[tuple[Any, float]]] = defaultdict(list)
    for question_id, check_index, variant, score in rows:
        if variant:
            found[(question_id, check_index)].append((variant, score))
    return found


def _flags(item: ItemStat) -> list[str]:
    flags = []
    if item.learners >= MIN_LEARNERS_TO_FLAG and item.facility is not None:
        if item.facility >= TOO_EASY_FACILITY:
            flags.append("too_easy")
        elif item.facility <= TOO_HARD_FACILITY:
            flags.append("too_hard")
        if item.discrimination is not None:
            if item.discrimination < 0:
                flags.append("negative_discrimination")
            elif item.discrimination < WEAK_DISCRIMINATION:
                flags.append("weak_discrimination")
    if item.options and item.attempts >= MIN_ATTEMPTS_FOR_DISTRACTORS:
        wrong = [option for option in item.options if not option.correct]
        keys = [option for option in item.options if option.correct]
        if any(option.picks == 0 for option in wrong):
            flags.append("unused_distractor")
        if keys and any(option.picks > min(key.picks for key in keys) for option in wrong):
            flags.append("distractor_beats_key")
    for param in {group.param for group in item.variants}:
        facilities = [
            group.facility
            for group in item.variants
            if group.param == param and group.learners >= MIN_GROUP_LEARNERS
        ]
        if len(facilities) > 1 and max(facilities) - min(facilities) >= VARIANT_FACILITY_GAP:
            flags.append("variants_differ")
            break
    return flags


SORT_KEYS = {
    "question": lambda item: (item.question_slug, item.check_index),
    "attempts": lambda item: item.attempts,
    "learners": lambda item: item.learners,
    "facility": lambda item: -1 if item.facility is None else item.facility,
    "discrimination": lambda item: -2 if item.discrimination is None else item.discrimination,
    "median_seconds": lambda item: -1 if item.median_seconds is None else item.median_seconds,
    "flags": lambda item: len(item.flags),
}


def compute_item_statistics() -> list[ItemStat]:
    """Statistics for every check of every active question, from every attempt (slow)."""
    questions = db.session.execute(
        select(Question.id, Question.slug, Question.title, Question.checks, Question.variant_spec)
        .where(Question.retired_at.is_(None))
        .order_by(Question.slug)
    ).all()
    firsts = _first_attempt_figures()
    totals = _attempt_totals()
    medians = _median_seconds()
    picks = _option_picks()
    # (A JSON column stores None as JSON null, so the spec is tested here, not in SQL.)
    by_variant = _variant_first_attempts([row[0] for row in questions if row[4]])
    items = []
    for question_id, slug, title, checks, spec in questions:
        for index, check in enumerate(checks):
            key = (question_id, index)
            item = ItemStat(slug, title, index, check["kind"], check.get("prompt", ""))
            first = firsts.get(key)
            count, score_sum = totals.get(key, (0, 0.0))
            item.attempts = count
            if first:
                item.learners = first["learners"]
                item.facility = float(first["facility"])
                item.first_score = item.facility
                item.discrimination = _pearson(first)
                item.later_attempts = count - item.learners
                if item.later_attempts:
                    first_sum = item.facility * item.learners
                    item.later_score = (score_sum - first_sum) / item.later_attempts
            item.median_seconds = medians.get(key)
            if check["kind"] in CHOICE_KINDS:
                correct = check["correct"]
                correct_set = set(correct) if isinstance(correct, list) else {correct}
                chosen = picks.get(key, Counter())
                item.options = [
                    OptionStat(i, option["text"], i in correct_set, chosen.get(i, 0))
                    for i, option in enumerate(check.get("options", []))
                ]
            if spec and key in by_variant:
                item.variants = _variant_groups(spec, by_variant[key])
            item.flags = _flags(item)
            items.append(item)
    return items


SNAPSHOT_NAME = "items"
SNAPSHOT_MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True)
class SnapshotInfo:
    computed_at: datetime
    attempt_count: int
    fresh: bool  # recomputed for this request


def _item_from_dict(data: dict[str, Any]) -> ItemStat:
    item = ItemStat(data["question"], data["title"], data["check"], data["kind"], data["prompt"])
    for name in ("attempts", "learners", "facility", "discrimination", "median_seconds",
                 "first_score", "later_score", "later_attempts", "flags"):  # fmt: skip
        setattr(item, name, data[name])
    item.options = [OptionStat(**option) for option in data["options"]]
    item.variants = [VariantGroup(**group) for group in data.get("variants", ())]
    return item


def item_statistics(
    sort: str = "question",
    descending: bool = False,
    refresh: bool = False,
    now: datetime | None = None,
) -> tuple[list[ItemStat], SnapshotInfo]:
    """Item statistics sorted by `sort`, from the snapshot unless attempts have arrived since
    and it is older than SNAPSHOT_MAX_AGE (or `refresh`): then recomputed and stored."""
    now = now or utcnow()
    watermark = db.session.scalar(select(func.max(Attempt.id))) or 0
    snapshot = db.session.get(StatSnapshot, SNAPSHOT_NAME)
    stale = (
        snapshot is None
        or refresh
        or (
            snapshot.attempt_watermark != watermark
            and now - snapshot.computed_at > SNAPSHOT_MAX_AGE
        )
    )
    if stale:
        items = compute_item_statistics()
        count = db.session.scalar(select(func.count()).select_from(Attempt)) or 0
        if snapshot is None:
            snapshot = StatSnapshot(name=SNAPSHOT_NAME)
            db.session.add(snapshot)
        snapshot.attempt_watermark = watermark
        snapshot.attempt_count = count
        snapshot.payload = [item.as_dict() for item in items]
        snapshot.computed_at = now
        db.session.commit()
    else:
        items = [_item_from_dict(data) for data in snapshot.payload]
    if sort not in SORT_KEYS:
        sort = "question"
    items.sort(key=SORT_KEYS[sort], reverse=descending)
    return items, SnapshotInfo(snapshot.computed_at, snapshot.attempt_count, stale)


CSV_COLUMNS = (
    "question", "check", "kind", "attempts", "learners", "facility", "discrimination",
    "median_seconds", "first_score", "later_score", "later_attempts", "option_picks", "flags",
    "variant_facility",
)  # fmt: skip


def item_rows_for_csv(items: list[ItemStat]) -> list[list[Any]]:
    """One row per item in CSV_COLUMNS order (option picks as `index:picks` pairs)."""

    def figure(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    return [
        [
            item.question_slug,
            item.check_index,
            item.kind,
            item.attempts,
            item.learners,
            figure(item.facility),
            figure(item.discrimination),
            figure(item.median_seconds),
            figure(item.first_score),
            figure(item.later_score),
            item.later_attempts,
            " ".join(f"{o.index}:{o.picks}" for o in item.options),
            " ".join(item.flags),
            " ".join(
                f"{g.param}={g.bucket}:{figure(g.facility)}/{g.learners}" for g in item.variants
            ),
        ]  # fmt: skip
        for item in items
    ]


# ------------------------------------------------------------ simulation-choice analytics


@dataclass
class ChoiceStat:
    name: str
    value: Any
    label: str
    picks: int = 0
    predicted: int = 0
    predicted_right: int = 0
    failed: int = 0
    wrong_predictions: Counter = field(default_factory=Counter)

    @property
    def prediction_accuracy(self) -> float | None:
        return self.predicted_right / self.predicted if self.predicted else None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.picks if self.picks else None

    @property
    def common_wrong_prediction(self) -> str | None:
        return self.wrong_predictions.most_common(1)[0][0] if self.wrong_predictions else None


@dataclass
class ExerciseStat:
    slug: str
    title: str
    runs: int
    learners: int
    choices: list[ChoiceStat]


def exercise_choice_statistics() -> list[ExerciseStat]:
    """Per exercise and per offered choice value: picks, predictions right, failures."""
    exercises = db.session.scalars(
        select(Exercise).where(Exercise.retired_at.is_(None)).order_by(Exercise.slug)
    ).all()
    done = and_(SimRun.exercise_id.is_not(None), SimRun.status == "done")
    grouped = db.session.execute(
        select(
            SimRun.exercise_id,
            cast(SimRun.choices, String),
            SimRun.prediction,
            SimRun.prediction_correct,
            SimRun.passed,
            func.count(),
        )
        .where(done)
        .group_by(
            SimRun.exercise_id,
            cast(SimRun.choices, String),
            SimRun.prediction,
            SimRun.prediction_correct,
            SimRun.passed,
        )
    ).all()
    learners = dict(
        db.session.execute(
            select(SimRun.exercise_id, func.count(SimRun.user_id.distinct()))
            .where(done)
            .group_by(SimRun.exercise_id)
        ).all()
    )
    by_exercise: dict[int, list] = defaultdict(list)
    for row in grouped:
        by_exercise[row[0]].append(row[1:])
    stats = []
    for exercise in exercises:
        table: dict[tuple[str, str], ChoiceStat] = {}
        for name, values in exercise.choices.items():
            for option in values:
                key = (name, json.dumps(option["value"]))
                table[key] = ChoiceStat(name, option["value"], option["label"])
        runs = 0
        for choices_text, prediction, prediction_correct, passed, count in by_exercise.get(
            exercise.id, []
        ):
            runs += count
            try:
                choices = json.loads(choices_text) or {}
            except (TypeError, ValueError):
                continue
            for name, value in choices.items():
                stat = table.get((name, json.dumps(value)))
                if stat is None:
                    continue  # a value the exercise no longer offers
                stat.picks += count
                if prediction is not None:
                    stat.predicted += count
                    if prediction_correct:
                        stat.predicted_right += count
                    else:
                        stat.wrong_predictions[prediction] += count
                if passed is False:
                    stat.failed += count
        stats.append(
            ExerciseStat(
                exercise.slug,
                exercise.title,
                runs,
                learners.get(exercise.id, 0),
                list(table.values()),
            )  # fmt: skip
        )
    return stats


LAB_CONFIG_FIELDS = ("kind", "depth", "width", "activation", "init", "norm", "skip_every")


def popular_lab_configurations(limit: int = 15) -> list[dict[str, Any]]:
    """The lab configurations learners try most (by the simulator's normalised config)."""
    rows = db.session.execute(
        select(SimRun.cache_key, func.count().label("runs"), func.min(SimRun.id))
        .where(SimRun.exercise_id.is_(None))
        .group_by(SimRun.cache_key)
        .order_by(literal_column("runs").desc())
        .limit(limit)
    ).all()
    configs = dict(
        db.session.execute(
            select(SimRun.id, SimRun.config).where(SimRun.id.in_([row[2] for row in rows]))
        ).all()
    )
    return [
        {
            "runs": runs,
            "config": {
                name: configs[run_id].get(name)
                for name in LAB_CONFIG_FIELDS
                if name in configs[run_id]
            },
            "full_config": configs[run_id],
        }
        for _, runs, run_id in rows
    ]
