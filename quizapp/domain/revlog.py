"""The review log as CSV in the FSRS optimizer / benchmark layout, out and back in.

Columns (FSRS-Optimizer's review-log schema, plus the benchmark's elapsed_days):
card_id, review_time (Unix milliseconds), review_rating (1 Again .. 4 Easy),
review_state (state before the review: 0 New, 1 Learning, 2 Review, 3 Relearning),
review_duration (milliseconds, empty when unknown), elapsed_days (days since the card's
previous review, -1 for its first). Pure: no database, no clock.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

COLUMNS = (
    "card_id",
    "review_time",
    "review_rating",
    "review_state",
    "review_duration",
    "elapsed_days",
)
REQUIRED = ("card_id", "review_time", "review_rating")
MAX_ROWS = 200_000
# 2000-01-01 .. 2100-01-01 in ms: anything outside is a unit mistake (seconds, not ms).
EARLIEST_MS, LATEST_MS = 946_684_800_000, 4_102_444_800_000
MAX_DURATION_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class RevlogRow:
    card_id: str
    review_time: datetime
    rating: int
    state: int | None
    duration_ms: int | None
    elapsed_days: float | None
    line: int = 0


class RevlogError(ValueError):
    """A CSV that cannot be imported; `problems` are "line N: column: message" strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = problems


def format_revlog_csv(rows: Iterable[RevlogRow]) -> str:
    """The rows as CSV text with a header line, in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.card_id,
                int(row.review_time.timestamp() * 1000),
                row.rating,
                "" if row.state is None else row.state,
                "" if row.duration_ms is None else row.duration_ms,
                "" if row.elapsed_days is None else _number(row.elapsed_days),
            ]
        )
    return out.getvalue()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def parse_revlog_csv(text: str, max_rows: int = MAX_ROWS) -> list[RevlogRow]:
    """Every row of a revlog CSV, or RevlogError listing every bad line (nothing half-read)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise RevlogError(["line 1: the file is empty; expected a header line"]) from None
    except csv.Error as error:
        raise RevlogError([f"line 1: {error}"]) from None
    names = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        expected = ",".join(COLUMNS)
        raise RevlogError(
            [f"line 1: header: missing column(s) {', '.join(missing)}; expected {expected}"]
        )
    index = {name: names.index(name) for name in COLUMNS if name in names}
    rows: list[RevlogRow] = []
    problems: list[str] = []
    try:
        for record in reader:
            line = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(rows) >= max_rows:
                problems.append(f"line {line}: more than {max_rows:,} reviews in one file")
                break
            row = _parse_row(record, index, line, problems)
            if row is not None:
                rows.append(row)
            if len(problems) >= 50:
                problems.append("… stopped after 50 problems")
                break
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: {error}")
    if problems:
        raise RevlogError(problems)
    if not rows:
        raise RevlogError(["line 2: no reviews after the header"])
    return rows


def _cell(record: list[str], index: dict[str, int], name: str) -> str:
    position = index.get(name)
    if position is None or position >= len(record):
        return ""
    return record[position].strip()


def _parse_row(record, index, line, problems) -> RevlogRow | None:
    before = len(problems)
    card_id = _cell(record, index, "card_id")
    if not card_id:
        problems.append(f"line {line}: card_id: missing")
    elif len(card_id) > 200:
        problems.append(f"line {line}: card_id: longer than 200 characters")
    time_ms = _integer(_cell(record, index, "review_time"), "review_time", line, problems)
    if time_ms is not None and not EARLIEST_MS <= time_ms <= LATEST_MS:
        problems.append(
            f"line {line}: review_time: {time_ms} is not a Unix time in milliseconds "
            "between 2000 and 2100"
        )
    rating = _integer(_cell(record, index, "review_rating"), "review_rating", line, problems)
    if rating is not None and rating not in (1, 2, 3, 4):
        problems.append(f"line {line}: review_rating: must be 1, 2, 3 or 4, not {rating}")
    state = _optional_integer(_cell(record, index, "review_state"), "review_state", line, problems)
    if state is not None and state not in (0, 1, 2, 3):
        problems.append(f"line {line}: review_state: must be 0, 1, 2 or 3, not {state}")
    duration = _optional_integer(
        _cell(record, index, "review_duration"), "review_duration", line, problems
    )
    if duration is not None and not 0 <= duration <= MAX_DURATION_MS:
        problems.append(f"line {line}: review_duration: must be 0 to {MAX_DURATION_MS} ms")
    elapsed_text = _cell(record, index, "elapsed_days")
    elapsed: float | None = None
    if elapsed_text:
        try:
            elapsed = float(elapsed_text)
            if not math.isfinite(elapsed):
                raise ValueError
        except ValueError:
            problems.append(f"line {line}: elapsed_days: {elapsed_text!r} is not a number")
    if len(problems) > before:
        return None
    return RevlogRow(
        card_id=card_id,
        review_time=datetime.fromtimestamp(time_ms / 1000, UTC),
        rating=rating,
        state=state,
        duration_ms=duration,
        elapsed_days=elapsed,
        line=line,
    )


def _integer(text: str, name: str, line: int, problems: list[str]) -> int | None:
    if not text:
        problems.append(f"line {line}: {name}: missing")
        return None
    return _optional_integer(text, name, line, problems)


def _optional_integer(text: str, name: str, line: int, problems: list[str]) -> int | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"line {line}: {name}: {text!r} is not a whole number")
        return None
    if not math.isfinite(value) or not value.is_integer():
        problems.append(f"line {line}: {name}: {text!r} is not a whole number")
        return None
    return int(value)
