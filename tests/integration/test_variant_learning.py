"""Per-learner variants end to end: drawn per learner and per session, shown on the page and
by the API, graded and recorded in the variant seen, redrawn when a review is rated, in the
export, in the author's statistics and in `flask content variants`."""

from __future__ import annotations

import pytest
from conftest import add_user, sign_in, write_variant_question
from flask_login import login_user
from sqlalchemy import select

from quizapp.content.markdown import render_markdown
from quizapp.domain.grading import ANONYMOUS_LEARNER, account_key, draw_variant
from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services import item_stats
from quizapp.services.content_import import import_content
from quizapp.services.learning import submit_answer
from quizapp.services.personal_data import export_user_data
from quizapp.services.review import rate_card, reveal_card, undo_rating
from quizapp.services.variants import question_for_user
from quizapp.web.check_views import card_check_view

SLUG = "varied"
NUMERIC = 1  # the numeric check of the variant question: answer (w / 4) ** n


def with_variant_question(app, content_dir):
    write_variant_question(content_dir)
    with app.app_context():
        import_content(content_dir)
    return app


@pytest.fixture
def variant_app(app, content_dir):
    return with_variant_question(app, content_dir)


@pytest.fixture
def variant_any_db_app(any_db_app, content_dir):
    """On SQLite and PostgreSQL: the spec's order and the recorded variant survive both."""
    return with_variant_question(any_db_app, content_dir)


def stored_spec(app) -> dict:
    with app.app_context():
        return db.session.scalar(select(Question.variant_spec).where(Question.slug == SLUG))


def answer_of(params: dict) -> float:
    """The numeric check's key, recomputed from the params: (w / 4) ** n."""
    return (params["w"] / 4) ** params["n"]


def learners(app, count: int) -> list[tuple[int, dict]]:
    """`count` learners whose variants (and answers) all differ, with each one's variant."""
    spec = stored_spec(app)
    found: dict[float, tuple[int, dict]] = {}
    while len(found) < count:
        user_id = add_user(app)
        params = draw_variant(spec, account_key(user_id), SLUG)
        found.setdefault(answer_of(params), (user_id, params))
    return list(found.values())


def shown_text(params: dict) -> str:
    return f"With {params['n']} layers and weights up to {params['w']:g}"


def test_each_learner_is_graded_and_recorded_in_their_own_variant(variant_any_db_app) -> None:
    variant_app = variant_any_db_app
    (mine, my_params), (theirs, _) = learners(variant_app, 2)
    with variant_app.app_context():
        me, them = db.session.get(User, mine), db.session.get(User, theirs)
        right = submit_answer(me, SLUG, NUMERIC, repr(answer_of(my_params)))
        wrong = submit_answer(them, SLUG, NUMERIC, repr(answer_of(my_params)), tries_used=2)
        assert right.grade.correct and right.resolved.variant == my_params
        assert not wrong.grade.correct and wrong.grade.final
        recorded = db.session.get(Attempt, right.attempt_id)
        assert recorded.variant == my_params
        # The export carries the variant each answer was given in.
        exported = export_user_data(me)["attempts"]
        assert [row["variant"] for row in exported] == [my_params]
        # A plain question's attempts record no variant.
        plain = submit_answer(me, "alpha", NUMERIC, "0.25")
        assert db.session.get(Attempt, plain.attempt_id).variant is None


def test_the_page_shows_each_learner_their_numbers_across_reloads(variant_app) -> None:
    (first, first_params), (second, second_params) = learners(variant_app, 2)
    pages = {}
    for user_id, params in ((first, first_params), (second, second_params)):
        client = variant_app.test_client()
        sign_in(client, user_id)
        page = client.get(f"/questions/{SLUG}").get_data(as_text=True)
        assert shown_text(params) in page
        assert shown_text(params) in client.get(f"/questions/{SLUG}").get_data(as_text=True)
        pages[user_id] = page
    assert shown_text(second_params) not in pages[first]


def test_visitors_get_one_variant_per_session_and_cookieless_visitors_the_reference(
    variant_app,
) -> None:
    spec = stored_spec(variant_app)
    reference = draw_variant(spec, ANONYMOUS_LEARNER, SLUG)
    cookieless = variant_app.test_client().get(f"/questions/{SLUG}").get_data(as_text=True)
    assert shown_text(reference) in cookieless
    assert "{{" not in cookieless  # no template, not even in the page's description
    # The checks show the numbers the question shows.
    prompt = f"Give $({reference['w'] / 4:g})^{{ {reference['n']} }}$ as a decimal."
    assert render_markdown(prompt) in cookieless
    visitor = next(
        key
        for key in (f"visitor:{n:016x}" for n in range(100))
        if draw_variant(spec, key, SLUG)["n"] != reference["n"]
    )
    client = variant_app.test_client()
    with client.session_transaction() as session:
        session["learner_key"] = visitor
    page = client.get(f"/questions/{SLUG}").get_data(as_text=True)
    assert shown_text(draw_variant(spec, visitor, SLUG)) in page
    # The API gives the same visitor the same numbers, with the variant named.
    api = client.get(f"/api/v1/questions/{SLUG}").get_json()
    assert api["variant"] == draw_variant(spec, visitor, SLUG)
    assert shown_text(api["variant"]) in api["question"]
    assert f"{api['variant']['n']}" in api["checks"][NUMERIC]["prompt"]
    assert "answer" not in api["checks"][NUMERIC] and "variant_template" not in str(api)


def test_rating_a_review_draws_new_numbers_and_undo_brings_them_back(variant_app) -> None:
    ((user_id, params),) = learners(variant_app, 1)
    spec = stored_spec(variant_app)
    with variant_app.app_context():
        user = db.session.get(User, user_id)
        result = rate_card(
            user, SLUG, "good", check_index=NUMERIC, response=repr(answer_of(params))
        )
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user_id))
        assert attempt.correct and attempt.variant == params
        assert result.card.variant_epoch == 1
        question = db.session.scalar(select(Question).where(Question.slug == SLUG))
        shown = question_for_user(question, user_id)
        assert shown.variant == draw_variant(spec, account_key(user_id), SLUG, 1)
        assert shown_text(shown.variant) in shown.question_html
        # Turned over through the API, the card's answer is in the same numbers.
        revealed = reveal_card(user, SLUG, NUMERIC, repr(answer_of(shown.variant)))
        assert revealed.grade.correct
        assert revealed.question.answer_html == shown.answer_html
        # Undone, the rating gives the old numbers back; rated again, the new ones.
        undo_rating(user)
        # (the first rating created the card: undone, there is none, so epoch 0)
        assert db.session.scalar(select(ReviewCard).where(ReviewCard.user_id == user_id)) is None
        assert question_for_user(question, user_id).variant == params
        rate_card(user, SLUG, "good")
        after = submit_answer(user, SLUG, NUMERIC, repr(answer_of(shown.variant)))
        assert after.grade.correct and after.resolved.variant == shown.variant


def test_the_review_screen_grades_the_variant_it_shows(variant_app) -> None:
    ((user_id, params),) = learners(variant_app, 1)
    client = variant_app.test_client()
    sign_in(client, user_id)
    with variant_app.app_context():
        rate_card(db.session.get(User, user_id), SLUG, "again")  # due again in minutes
    page = client.get(f"/review?card={SLUG}").get_data(as_text=True)
    spec = stored_spec(variant_app)
    now = draw_variant(spec, account_key(user_id), SLUG, 1)
    assert shown_text(now) in page


def test_the_review_cards_check_is_drawn_in_the_variant_its_question_shows(variant_app) -> None:
    """After a rating the card is at epoch 1: its check (options, prompt) must be drawn at
    epoch 1 too, as its question text is and as the review grades it, not at epoch 0."""
    spec = stored_spec(variant_app)
    user_id = next(
        uid
        for uid, params in learners(variant_app, 6)
        if draw_variant(spec, account_key(uid), SLUG, 1) != params
    )
    with variant_app.app_context():
        user = db.session.get(User, user_id)
        rate_card(user, SLUG, "again")
        question = db.session.scalar(select(Question).where(Question.slug == SLUG))
        shown = question_for_user(question, user_id)
        with variant_app.test_request_context():
            login_user(user)
            view = card_check_view(shown, NUMERIC)
    assert shown.variant_epoch == 1
    assert (
        view.resolved.variant == shown.variant == draw_variant(spec, account_key(user_id), SLUG, 1)
    )


def test_authors_see_facility_per_variant_group_and_sample_variants(variant_app) -> None:
    pairs = learners(variant_app, 4)
    with variant_app.app_context():
        for number, (user_id, params) in enumerate(pairs):
            user = db.session.get(User, user_id)
            response = answer_of(params) if number % 2 == 0 else 123.0
            submit_answer(user, SLUG, NUMERIC, repr(response), tries_used=2)
        items, _ = item_stats.item_statistics(refresh=True)
    item = next(i for i in items if i.question_slug == SLUG and i.check_index == NUMERIC)
    by_param = {}
    for group in item.variants:
        by_param.setdefault(group.param, []).append(group)
    assert set(by_param) == {"n", "w"}
    assert [g.bucket for g in by_param["w"]] == ["0.5", "1", "2"]
    assert sum(g.learners for g in by_param["n"]) == 4 == sum(g.learners for g in by_param["w"])
    answered = [g for g in by_param["n"] if g.learners]
    assert sum(g.facility * g.learners for g in answered) == pytest.approx(2)
    plain = next(i for i in items if i.question_slug == "alpha")
    assert plain.variants == []
    # The same figures come out of the JSON API, and samples of the question's variants.
    author = variant_app.test_client()
    author_id = add_user(variant_app)
    with variant_app.app_context():
        db.session.get(User, author_id).role = "author"
        db.session.commit()
    sign_in(author, author_id)
    listed = author.get("/api/v1/author/items").get_json()
    mine = next(i for i in listed if i["question"] == SLUG and i["check"] == NUMERIC)
    assert {g["param"] for g in mine["variants"]} == {"n", "w"}
    samples = author.get(f"/api/v1/author/questions/{SLUG}/variants?n=3").get_json()
    assert len(samples) == 3
    for sample in samples:
        key = sample["checks"][NUMERIC]["key"]
        assert key.startswith(f"{answer_of(sample['params']):.10g} ")
        assert sample["derived"] == {"bound": sample["params"]["w"] / 4}
    assert author.get(f"/api/v1/author/questions/{SLUG}/variants?n=0").status_code == 400
    learner = variant_app.test_client()
    sign_in(learner, pairs[0][0])
    assert learner.get(f"/api/v1/author/questions/{SLUG}/variants").status_code == 403


def test_content_variants_prints_samples_with_their_answers(app, content_dir) -> None:
    write_variant_question(content_dir)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "variants", SLUG, "-n", "3", "--dir", str(content_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(".")[0] for line in lines if not line.startswith(" ")] == ["1", "2", "3"]
    assert sum("checks.1 numeric: Give $(" in line for line in lines) == 3
    assert result.output.count("key: ") == 6  # the choice and the numeric check, three times
    plain = runner.invoke(args=["content", "variants", "alpha", "--dir", str(content_dir)])
    assert plain.exit_code == 0 and "has no params" in plain.output
    missing = runner.invoke(args=["content", "variants", "nope", "--dir", str(content_dir)])
    assert missing.exit_code == 1 and "no question 'nope'" in missing.output
