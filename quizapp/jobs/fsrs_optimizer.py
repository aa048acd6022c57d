"""A batched FSRS-6 optimiser and desired-retention search (worker processes only: torch).

py-fsrs's `Optimizer.compute_optimal_parameters` replays one card and one review at a time
through its `Scheduler`, building a graph of scalar tensors (about 28 s for 5,000 reviews);
`compute_optimal_retention` replays 6,000 simulated cards one review at a time (about 19 s).
Here the same model runs on whole tensors:

- Fitting pads each card's history to the longest in the mini-batch and steps review `i` of
  every card in one tensor operation. The model, loss and training schedule are py-fsrs's
  6.3: the first 64 reviews of each card; binary cross-entropy of the retrievability predicted
  before every review made a whole day or more after the card's previous one; Adam at 4e-2 with
  a cosine schedule over ceil(scored / 512) steps per epoch for 5 epochs; parameters clamped to
  py-fsrs's bounds after every step; the cards reshuffled each epoch (seed 42); the epoch with
  the lowest loss over the whole history wins. One difference: a mini-batch holds whole cards
  (about 512 scored reviews each) where py-fsrs may cut a card's history between two steps.
- The retention search simulates a year of the same 1,000 cards per candidate retention all at
  once (numpy), with py-fsrs's scheduler rules (learning steps 1 and 10 minutes, relearning
  10 minutes, no fuzz) and the learner's own rating probabilities and review durations.

The recurrences below are py-fsrs's `Scheduler` formulas; the tests check the forward pass
against py-fsrs's own replay and the fit against its optimiser.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from random import Random

import numpy as np
import torch
from fsrs.scheduler import (
    DEFAULT_PARAMETERS,
    LOWER_BOUNDS_PARAMETERS,
    MAX_DIFFICULTY,
    MIN_DIFFICULTY,
    STABILITY_MIN,
    UPPER_BOUNDS_PARAMETERS,
)
from torch.nn.functional import binary_cross_entropy

EPOCHS = 5
MINI_BATCH = 512
LEARNING_RATE = 4e-2
MAX_SEQ_LEN = 64
SEED = 42
DAY_MS = 86_400_000
DESIRED_RETENTIONS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
CARDS_TO_SIMULATE = 1000

# (card, unix_ms, rating 1-4) or (card, unix_ms, rating, duration_ms)
Row = Sequence


@dataclass(frozen=True)
class Histories:
    """Each card's review history as padded [cards, reviews] tensors."""

    ratings: torch.Tensor  # float64, 1-4; padding is 3
    days: torch.Tensor  # float64, whole days since the card's previous review (0 at the first)
    valid: torch.Tensor  # bool, a real review (not padding)
    scored: torch.Tensor  # bool, predicted and scored: not the first, a day or more later
    recall: torch.Tensor  # float64, 1 unless rated Again

    @property
    def scored_count(self) -> int:
        return int(self.scored.sum())

    def select(self, cards: Sequence[int]) -> Histories:
        index = torch.tensor(cards, dtype=torch.long)
        length = max(1, int(self.valid[index].sum(dim=1).max()))
        return Histories(
            self.ratings[index, :length],
            self.days[index, :length],
            self.valid[index, :length],
            self.scored[index, :length],
            self.recall[index, :length],
        )


def histories(rows: Iterable[Row]) -> Histories:
    """Group reviews by card (cards in order of first appearance), each in time order, as
    py-fsrs's optimiser does (a stable sort, the first 64 reviews)."""
    by_card: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
    for row in rows:
        by_card[row[0]].append((int(row[1]), int(row[2])))
    cards = [
        sorted(reviews, key=lambda review: review[0])[:MAX_SEQ_LEN] for reviews in by_card.values()
    ]
    length = max((len(card) for card in cards), default=1)
    ratings = np.full((len(cards), length), 3.0)
    days = np.zeros((len(cards), length))
    valid = np.zeros((len(cards), length), dtype=bool)
    for number, card in enumerate(cards):
        ms = np.array([at for at, _ in card], dtype=np.int64)
        ratings[number, : len(card)] = [rating for _, rating in card]
        days[number, 1 : len(card)] = np.diff(ms) // DAY_MS
        valid[number, : len(card)] = True
    scored = valid & (days > 0)
    scored[:, 0] = False
    return Histories(
        torch.from_numpy(ratings),
        torch.from_numpy(days),
        torch.from_numpy(valid),
        torch.from_numpy(scored),
        torch.from_numpy((ratings != 1).astype(np.float64)),
    )


def predict(w: torch.Tensor, h: Histories) -> torch.Tensor:
    """Retrievability predicted before each review ([cards, reviews]; column 0 is unused), with
    stability and difficulty carried through each card's history by FSRS-6's recurrences."""
    decay = -w[20]
    factor = 0.9 ** (1 / decay) - 1
    first = h.ratings[:, 0].long()
    s = w[first - 1].clamp(min=STABILITY_MIN)
    d = (w[4] - torch.exp(w[5] * (h.ratings[:, 0] - 1)) + 1).clamp(MIN_DIFFICULTY, MAX_DIFFICULTY)
    easy_difficulty = w[4] - torch.exp(w[5] * 3) + 1  # the mean-reversion target
    predictions = [torch.zeros_like(s)]
    for i in range(1, h.ratings.shape[1]):
        rating, elapsed, valid = h.ratings[:, i], h.days[:, i], h.valid[:, i]
        again = rating == 1
        retrievability = (1 + factor * elapsed / s) ** decay
        predictions.append(retrievability)
        forget = torch.minimum(
            w[11]
            * d.pow(-w[12])
            * ((s + 1).pow(w[13]) - 1)
            * torch.exp((1 - retrievability) * w[14]),
            s / torch.exp(w[17] * w[18]),
        )
        hard_penalty = torch.where(rating == 2, w[15], 1.0)
        easy_bonus = torch.where(rating == 4, w[16], 1.0)
        recalled = s * (
            1
            + torch.exp(w[8])
            * (11 - d)
            * s.pow(-w[9])
            * (torch.exp((1 - retrievability) * w[10]) - 1)
            * hard_penalty
            * easy_bonus
        )
        increase = torch.exp(w[17] * (rating - 3 + w[18])) * s.pow(-w[19])
        increase = torch.where(again, increase, increase.clamp(min=1.0))
        new_s = torch.where(elapsed < 1, s * increase, torch.where(again, forget, recalled))
        new_d = w[7] * easy_difficulty + (1 - w[7]) * (d + (10 - d) * (-(w[6] * (rating - 3))) / 9)
        s = torch.where(valid, new_s.clamp(min=STABILITY_MIN), s)
        d = torch.where(valid, new_d.clamp(MIN_DIFFICULTY, MAX_DIFFICULTY), d)
    return torch.stack(predictions, dim=1)


def loss(w: torch.Tensor, h: Histories, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy of predicted retrievability against recall on the scored reviews."""
    return binary_cross_entropy(predict(w, h)[h.scored], h.recall[h.scored], reduction=reduction)


def compute_optimal_parameters(h: Histories) -> list[float]:
    """Fitted FSRS-6 weights (py-fsrs's defaults when fewer than 512 reviews are scored)."""
    scored = h.scored_count
    if scored < MINI_BATCH:
        return list(DEFAULT_PARAMETERS)
    lower = torch.tensor(LOWER_BOUNDS_PARAMETERS, dtype=torch.float64)
    upper = torch.tensor(UPPER_BOUNDS_PARAMETERS, dtype=torch.float64)
    params = torch.tensor(DEFAULT_PARAMETERS, dtype=torch.float64, requires_grad=True)
    steps_per_epoch = math.ceil(scored / MINI_BATCH)
    adam = _Adam(params, LEARNING_RATE, total_steps=steps_per_epoch * EPOCHS)
    per_card = h.scored.sum(dim=1).tolist()
    order = [card for card, count in enumerate(per_card) if count]
    rng = Random(SEED)
    best, best_loss = list(DEFAULT_PARAMETERS), math.inf
    for _ in range(EPOCHS):
        rng.shuffle(order)
        batches: list[list[int]] = [[] for _ in range(steps_per_epoch)]
        seen = 0
        for card in order:
            batches[min(steps_per_epoch - 1, seen // MINI_BATCH)].append(card)
            seen += per_card[card]
        for batch in batches:
            if batch:
                params.grad = None
                loss(params, h.select(batch), reduction="sum").backward()
                adam.step()
                with torch.no_grad():
                    params.clamp_(min=lower, max=upper)
            adam.anneal()
        with torch.no_grad():
            epoch_loss = float(loss(params, h))
        if epoch_loss < best_loss:
            best_loss, best = epoch_loss, [float(value) for value in params.detach()]
    return best


class _Adam:
    """torch.optim.Adam's update (betas 0.9/0.999, eps 1e-8, no weight decay) under
    CosineAnnealingLR (to 0 over `total_steps`), as py-fsrs uses them. Written out because
    constructing a torch.optim optimiser imports torch._dynamo: seconds in a fresh worker,
    more than the whole fit."""

    def __init__(self, params: torch.Tensor, lr: float, total_steps: int) -> None:
        self.params, self.base_lr, self.total_steps = params, lr, total_steps
        self.lr, self.steps, self.annealed = lr, 0, 0
        self.mean = torch.zeros_like(params)
        self.square = torch.zeros_like(params)

    @torch.no_grad()
    def step(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        grad = self.params.grad
        self.steps += 1
        self.mean.lerp_(grad, 1 - beta1)
        self.square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        denominator = (self.square.sqrt() / math.sqrt(1 - beta2**self.steps)).add_(eps)
        self.params.addcdiv_(self.mean, denominator, value=-step_size)

    def anneal(self) -> None:
        self.annealed += 1
        self.lr = self.base_lr * (1 + math.cos(math.pi * self.annealed / self.total_steps)) / 2


# ------------------------------------------------------------------------- desired retention


@dataclass(frozen=True)
class RatingHabits:
    """How the learner rates and how long a review takes, by rating (index 0 = Again)."""

    first_probs: tuple[float, float, float, float]
    first_costs: tuple[float, float, float, float]
    recall_probs: tuple[float, float, float]  # Hard, Good, Easy given recalled
    costs: tuple[float, float, float, float]


def rating_habits(rows: Iterable[Row]) -> RatingHabits | None:
    """py-fsrs's `_compute_probs_and_costs`: rating shares and mean durations (ms), first
    reviews apart. None when no later review was recalled (nothing to simulate with)."""
    by_card: dict[Hashable, list[tuple[int, int, float]]] = defaultdict(list)
    for card, ms, rating, duration in rows:
        by_card[card].append((int(ms), int(rating), float(duration)))
    first: list[list[float]] = [[], [], [], []]
    later: list[list[float]] = [[], [], [], []]
    for reviews in by_card.values():
        reviews.sort(key=lambda review: review[0])
        for number, (_, rating, duration) in enumerate(reviews):
            (first if number == 0 else later)[rating - 1].append(duration)
    recalled = sum(len(durations) for durations in later[1:])
    if not by_card or not recalled:
        return None

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return RatingHabits(
        tuple(len(durations) / len(by_card) for durations in first),
        tuple(mean(durations) for durations in first),
        tuple(len(durations) / recalled for durations in later[1:]),
        tuple(mean(durations) for durations in later),
    )


LEARNING, REVIEW, RELEARNING = 1, 2, 3
DAY_S = 86_400


def simulate_costs(
    parameters: Sequence[float],
    habits: RatingHabits,
    retentions: Sequence[float] = DESIRED_RETENTIONS,
    cards: int = CARDS_TO_SIMULATE,
    seed: int = SEED,
) -> list[float]:
    """py-fsrs's `_simulate_cost` for each retention: review time per remembered card over a
    year of `cards` new cards, recall drawn with the desired retention's probability."""
    w = [float(value) for value in parameters]
    decay = -w[20]
    factor = 0.9 ** (1 / decay) - 1
    rng = np.random.default_rng(seed)
    retention = np.repeat(np.asarray(retentions, dtype=np.float64), cards)
    lanes = retention.size
    interval_scale = retention ** (1 / decay) - 1
    now = np.zeros(lanes, dtype=np.int64)  # seconds since the start of the year
    last = np.zeros(lanes, dtype=np.int64)
    state = np.full(lanes, LEARNING)
    step = np.zeros(lanes, dtype=np.int64)
    s = np.zeros(lanes)
    d = np.zeros(lanes)
    cost = np.zeros(lanes)
    first_costs, costs = np.asarray(habits.first_costs), np.asarray(habits.costs)
    first_cumulative = np.cumsum(habits.first_probs)
    recall_cumulative = np.cumsum(habits.recall_probs)
    end = 365 * DAY_S
    new = np.ones(lanes, dtype=bool)
    active = np.ones(lanes, dtype=bool)
    while active.any():
        at = np.flatnonzero(active)
        is_new = new[at]
        draw = rng.random(at.size)
        recall = rng.random(at.size) < retention[at]
        later_rating = np.where(
            recall, 2 + np.searchsorted(recall_cumulative, draw * recall_cumulative[-1], "right"), 1
        )
        first_rating = 1 + np.searchsorted(first_cumulative, draw * first_cumulative[-1], "right")
        rating = np.minimum(np.where(is_new, first_rating, later_rating), 4)
        cost[at] += np.where(is_new, first_costs[rating - 1], costs[rating - 1])
        again = rating == 1

        # stability and difficulty (the first review sets them: no stability yet, hence errstate)
        ss, dd = s[at], d[at]
        elapsed = (now[at] - last[at]) // DAY_S
        with np.errstate(divide="ignore", invalid="ignore"):
            retrievability = (1 + factor * elapsed / ss) ** decay
            forget = np.minimum(
                w[11]
                * dd ** -w[12]
                * ((ss + 1) ** w[13] - 1)
                * np.exp((1 - retrievability) * w[14]),
                ss / math.exp(w[17] * w[18]),
            )
            bonus = np.where(rating == 2, w[15], 1.0) * np.where(rating == 4, w[16], 1.0)
            recalled = ss * (
                1
                + math.exp(w[8])
                * (11 - dd)
                * ss ** -w[9]
                * (np.exp((1 - retrievability) * w[10]) - 1)
                * bonus
            )
            increase = np.exp(w[17] * (rating - 3 + w[18])) * ss ** -w[19]
            increase = np.where(again, increase, np.maximum(increase, 1.0))
            later_s = np.where(elapsed < 1, ss * increase, np.where(again, forget, recalled))
        later_d = w[7] * (w[4] - math.exp(w[5] * 3) + 1) + (1 - w[7]) * (
            dd + (10 - dd) * (-(w[6] * (rating - 3))) / 9
        )
        first_s = np.asarray(w)[rating - 1]
        first_d = w[4] - np.exp(w[5] * (rating - 1)) + 1
        s[at] = np.maximum(np.where(is_new, first_s, later_s), STABILITY_MIN)
        d[at] = np.clip(np.where(is_new, first_d, later_d), MIN_DIFFICULTY, MAX_DIFFICULTY)

        # the next interval and state (learning steps 1, 10 min; relearning 10 min)
        days = np.clip(np.round((s[at] / factor) * interval_scale[at]), 1, 36500)
        days_s = days.astype(np.int64) * DAY_S
        st, sp = state[at], step[at]
        learning, reviewing = st == LEARNING, st == REVIEW
        learning_wait = np.select(
            [rating == 1, (rating == 2) & (sp == 0), rating == 2, (rating == 3) & (sp == 0)],
            [60, 330, 600, 600],
            default=0,
        )
        learning_graduates = (rating == 4) | ((rating == 3) & (sp == 1))
        relearning_wait = np.select([rating == 1, rating == 2], [600, 900], default=0)
        relearning_graduates = rating >= 3
        graduates = np.where(
            learning, learning_graduates, np.where(reviewing, ~again, relearning_graduates)
        )
        wait = np.where(
            graduates,
            days_s,
            np.where(learning, learning_wait, np.where(reviewing, 600, relearning_wait)),
        )
        state[at] = np.where(graduates, REVIEW, np.where(learning, LEARNING, RELEARNING))
        step[at] = np.where(
            learning & ~graduates, np.where(rating == 3, 1, np.where(again, 0, sp)), 0
        )
        last[at] = now[at]
        now[at] += wait
        new[at] = False
        active[at] = now[at] < end
    per_retention = cost.reshape(len(retentions), cards).sum(axis=1)
    return [
        float(total / (rate * cards)) for total, rate in zip(per_retention, retentions, strict=True)
    ]


def compute_optimal_retention(parameters: Sequence[float], rows: Iterable[Row]) -> float | None:
    """The desired retention (of 0.70, 0.75 … 0.95) with the least simulated review time per
    remembered card, as py-fsrs's `compute_optimal_retention`; None without a recalled review."""
    habits = rating_habits(rows)
    if habits is None:
        return None
    costs = simulate_costs(parameters, habits)
    return DESIRED_RETENTIONS[costs.index(min(costs))]
