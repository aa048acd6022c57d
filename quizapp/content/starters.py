"""Commented starting files for `flask content new question|exercise SLUG`.

Each starter is valid as written (so `content check` passes at once) and says, field by
field, what to replace; the author edits it instead of copying another card.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from quizapp.content.schemas import SLUG_PATTERN

QUESTION_STARTER = """\
# A new question. Replace every text below, then run `flask content check`.
# Every field is documented in content/README.md.
slug: {slug}                      # must equal the file name
title: {title}                    # sentence case, like "Explain the vanishing gradient problem"
difficulty: medium                # easy | medium | hard
topics: [{topic}]                 # 1 to 5 topic slugs declared in topics.yaml
# Optional: each learner gets their own numbers ("Variants" in content/README.md), e.g.
# params:
#   n: {{min: 2, max: 30, step: 1}}
# derived:
#   bound: 0.25 ** n
# and write {{{{ n }}}} in any text, `answer: bound` in a numeric check.
question: |
  What do you want the learner to explain? (markdown; $x^2$ for math)
answer: |
  The concise model answer, two to five sentences.
explanation: |
  The full explanation, with the reasoning a learner needs.

  $$\\frac{{\\partial L}}{{\\partial W}} = \\delta\\, a^\\top$$

  ```mermaid
  graph LR
    A[Input] --> B[Layer] --> C[Loss]
  ```
references:                       # at least one source a learner can open
  - title: Deep Learning (Goodfellow, Bengio, Courville)
    url: https://www.deeplearningbook.org/
related: []                       # slugs of related questions (link both ways)
checks:                           # how an answer is graded; kinds in content/README.md
  - kind: single_choice
    prompt: Which statement is right?
    options:
      - text: A wrong but plausible statement.
        feedback: Why it is wrong.
      - text: The right statement.
        feedback: Why it is right.
    correct: 1
  - kind: self_rated
    prompt: Explain it in your own words, then compare with the model answer.
"""

EXERCISE_STARTER = """\
# A new exercise. Replace every text below, then run `flask content check` (it runs the
# simulator over every choice to prove the exercise can be solved and failed).
slug: {slug}
title: {title}
difficulty: medium
questions: [{question}]            # 1 to 5 questions this exercise illustrates
prompt: |
  Describe the network and what the learner must choose (markdown).
network:                          # fixed parts of the simulation (see docs/simulator.md)
  kind: mlp
  depth: 20
  width: 64
  activation: tanh
choices:                          # what the learner picks: 2 or more values each
  init:
    - {{value: normal_1.0, label: "Normal, std 1"}}
    - {{value: xavier_normal, label: Xavier (Glorot) normal}}
goals:
  - metric: verdict
    equals: healthy
feedback:                         # per verdict: vanishing | exploding | healthy
  exploding: |
    Why this choice explodes.
  healthy: |
    Why this choice keeps the gradient alive.
explanation: |
  What the learner should take away.
reference_solution: {{init: xavier_normal}}
wrong_choice: {{init: normal_1.0}}
"""


class StarterRefused(ValueError):
    """The starter was not written; the message says why."""


def _title_from(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def write_starter(kind: str, slug: str, content_dir: Path) -> Path:
    """Write a valid, commented starting file for a question or exercise; never overwrites."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise StarterRefused(f"'{slug}' is not a slug: lowercase letters, digits, single dashes")
    folder = content_dir / ("questions" if kind == "question" else "exercises")
    path = folder / f"{slug}.yaml"
    if path.exists():
        raise StarterRefused(f"{path} exists already")
    if kind == "question":
        topic = _first_topic(content_dir)
        text = QUESTION_STARTER.format(slug=slug, title=_title_from(slug), topic=topic)
    else:
        existing = sorted((content_dir / "questions").glob("*.yaml"))
        if not existing:
            raise StarterRefused("an exercise links to a question: write a question first")
        text = EXERCISE_STARTER.format(
            slug=slug, title=_title_from(slug), question=existing[0].stem
        )
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _first_topic(content_dir: Path) -> str:
    topics_file = content_dir / "topics.yaml"
    if topics_file.exists():
        topics = yaml.safe_load(topics_file.read_text(encoding="utf-8")) or []
        for topic in topics:
            if isinstance(topic, dict) and isinstance(topic.get("slug"), str):
                return topic["slug"]
    raise StarterRefused(f"declare a topic in {topics_file} first")


STARTER_KINDS = ("question", "exercise")
