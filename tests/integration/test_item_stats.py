"""Item statistics on real attempts: facility, discrimination, option picks, times and flags.

Seven "strong" and five "weak" learners answer two cards built so that every figure is
known in advance; the same queries run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from conftest import add_user, submit_authored, write_question

from quizapp.extensions import db
from quizapp.models import User
from quizapp.services.content_import import import_content
from quizapp.services.item_stats import item_rows_for_csv, item_statistics

STRONG, WEAK = 7, 5
# Answers are given by authored option index (the helper maps them to what each learner sees)
# and as the last try, so every one is final and stored.
RIGHT_OPTION, WRONG_OPTION = 1, 0  # the template's single choice: "1/4" (index 1) is right


@pytest.fixture
def answered(any_db_app, tmp_path):
    """alpha: strong learners right on both checks, weak ones wrong (discriminates well).
    beta: its single choice is the other way round (strong wrong, weak right), answered twice."""

    root = tmp_path / "content"
    (root / "questions").mkdir(parents=True)
    (root / "exercises").mkdir()
    (root / "topics.yaml").write_text("- slug: gradient-flow\n  title: Gradient flow\n")
    write_question(root, "alpha", related=["beta"])
    write_question(root, "beta", related=["alpha"])
    with any_db_app.app_context():
        import_content(root)
    users = [add_user(any_db_app, f"strong-{n}") for n in range(STRONG)]
    users += [add_user(any_db_app, f"weak-{n}") for n in range(WEAK)]
    with any_db_app.app_context():
        for number, user_id in enumerate(users):
            user = db.session.get(User, user_id)
            strong = number < STRONG
            seconds = 10_000 if strong else 20_000
            submit_authored(user, "alpha", 0, RIGHT_OPTION if strong else WRONG_OPTION,
                          elapsed_ms=seconds)  # fmt: skip
            submit_authored(user, "alpha", 1, 0.25 if strong else 3.0, elapsed_ms=seconds)
            for _ in range(2):
                submit_authored(user, "beta", 0, WRONG_OPTION if strong else RIGHT_OPTION,
                              elapsed_ms=seconds)  # fmt: skip
            submit_authored(user, "beta", 1, 0.25 if strong else 3.0, elapsed_ms=seconds)
    return any_db_app


def _by_item(app) -> dict[tuple[str, int], object]:
    with app.app_context():
        items, _ = item_statistics()
        return {(item.question_slug, item.check_index): item for item in items}


def test_facility_is_the_mean_of_first_attempts_and_later_ones_are_apart(answered):
    items = _by_item(answered)
    assert items[("alpha", 0)].facility == pytest.approx(STRONG / (STRONG + WEAK))
    assert items[("alpha", 0)].learners == STRONG + WEAK
    beta = items[("beta", 0)]
    assert beta.attempts == 2 * (STRONG + WEAK)
    assert beta.later_attempts == STRONG + WEAK
    assert beta.facility == pytest.approx(WEAK / (STRONG + WEAK))
    assert beta.later_score == pytest.approx(WEAK / (STRONG + WEAK))
    assert items[("alpha", 2)].attempts == 0 and items[("alpha", 2)].facility is None


def test_discrimination_separates_good_items_from_inverted_ones(answered):
    items = _by_item(answered)
    assert items[("alpha", 0)].discrimination == pytest.approx(1.0)
    assert items[("alpha", 1)].discrimination == pytest.approx(1.0)
    assert items[("beta", 0)].discrimination == pytest.approx(-1.0)
    assert "negative_discrimination" in items[("beta", 0)].flags
    assert "negative_discrimination" not in items[("alpha", 0)].flags


def test_option_picks_median_time_and_distractor_flags(answered):
    items = _by_item(answered)
    alpha = items[("alpha", 0)]
    assert [(o.index, o.picks, o.correct) for o in alpha.options] == [
        (0, WEAK, False),
        (1, STRONG, True),
    ]
    assert alpha.median_seconds == pytest.approx(10.0)  # 7 answers of 10 s, 5 of 20 s
    beta = items[("beta", 0)]
    assert [o.picks for o in beta.options] == [2 * STRONG, 2 * WEAK]
    assert "distractor_beats_key" in beta.flags  # 24 attempts: enough to flag
    assert "distractor_beats_key" not in alpha.flags  # only 12 attempts, and the key leads


def test_sorting_and_csv_rows(answered):
    with answered.app_context():
        items, _ = item_statistics("discrimination", descending=False)
        rows = item_rows_for_csv(items)
    known = [item for item in items if item.discrimination is not None]
    assert known[0].question_slug == "beta" and known[0].check_index == 0
    row = next(r for r in rows if r[0] == "alpha" and r[1] == 0)
    assert row[3:6] == [STRONG + WEAK, STRONG + WEAK, f"{STRONG / 12:.4f}"]
    assert row[11] == f"0:{WEAK} 1:{STRONG}"


def test_the_snapshot_is_reused_until_answers_arrive_and_a_minute_passes(answered):
    from datetime import timedelta

    from quizapp.models.base import utcnow

    with answered.app_context():
        first, info = item_statistics()
        assert info.fresh and info.attempt_count == 5 * (STRONG + WEAK)
        again, info = item_statistics()
        assert not info.fresh  # nothing new: the snapshot serves

        late = add_user(answered, "late")
        submit_authored(db.session.get(User, late), "alpha", 0, RIGHT_OPTION)
        now = utcnow()
        _, info = item_statistics(now=now + timedelta(seconds=30))
        assert not info.fresh and info.attempt_count == 5 * (STRONG + WEAK)
        items, info = item_statistics(now=now + timedelta(seconds=61))
        assert info.fresh and info.attempt_count == 5 * (STRONG + WEAK) + 1
        alpha = next(i for i in items if (i.question_slug, i.check_index) == ("alpha", 0))
        assert alpha.learners == STRONG + WEAK + 1
        _, info = item_statistics(refresh=True, now=now + timedelta(seconds=62))
        assert info.fresh
