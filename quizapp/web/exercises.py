"""Exercise pages, the gradient lab and run results."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from quizapp.domain.exercises import METRICS, VERDICTS, choice_title, describe_goal
from quizapp.services import lab as lab_service
from quizapp.services import simulations as sim_service
from quizapp.services.errors import InvalidInput
from quizapp.services.exercise_cards import described_choices
from quizapp.web.lab import lab_config_from, render_lab_page, share_url
from quizapp.web.return_to import safe_local_url, with_query
from quizapp.web.run_charts import run_charts, shared_run_charts

exercises = Blueprint("exercises", __name__)
COMPARE_WAIT = 5.0


def _user():
    return current_user if current_user.is_authenticated else None


@exercises.get("/exercises")
def exercise_list():
    user = _user()
    solved = sim_service.solved_exercises(user) if user else set()
    return render_template(
        "exercises/list.html", exercises=sim_service.list_exercises(), solved=solved
    )


@exercises.get("/exercises/<slug>")
def exercise(slug: str):
    found = sim_service.get_exercise(slug)
    user = _user()
    return render_template(
        "exercises/exercise.html",
        exercise=found,
        goals=[describe_goal(goal) for goal in found.goals],
        questions=sim_service.linked_questions(found),
        verdicts=VERDICTS,
        runs=sim_service.recent_runs(user, found) if user else [],
    )


@exercises.post("/exercises/<slug>/runs")
def start_exercise_run(slug: str):
    exercise_found = sim_service.get_exercise(slug)
    selected = {name: request.form.get(name, "") for name in exercise_found.choices}
    run = sim_service.start_exercise_run(
        _user(), slug, selected, request.form.get("prediction") or None
    )
    # `next`: where the run was started from (the review card), for the result page's way back.
    back = safe_local_url(request.form.get("next"))
    return redirect(url_for("exercises.run", run_id=run.id, next=back))


@exercises.get("/lab")
def lab():
    values = request.args
    # The form's "shareable link" button submits by GET: keep the token and blanks out of URLs.
    if "csrf_token" in values or any(not value for value in values.values()):
        shared = {key: value for key, value in values.items() if value and key != "csrf_token"}
        return redirect(url_for("exercises.lab", **shared))
    return _render_lab(values)


def _render_lab(values, error: InvalidInput | None = None, status: int = 200):
    return render_lab_page(values, error=error, status=status)


@exercises.post("/lab/runs")
def start_lab_run():
    try:
        run = sim_service.start_lab_run(_user(), lab_config_from(request.form))
    except InvalidInput as error:
        # Back to the form with the learner's values and the reason, not to an error page.
        return _render_lab(request.form, error=error, status=400)
    return redirect(url_for("exercises.run", run_id=run.id))


@exercises.get("/runs/<run_id>")
def run(run_id: str):
    view = sim_service.get_run(run_id, _user())
    back = safe_local_url(request.args.get("next"))
    return render_template(
        "exercises/run.html",
        view=view,
        # The way back names the run, so the page it returns to can count what the run did.
        back=with_query(back, ran=view.run.id) if back else None,
        charts=run_charts(view.result) if view.result else None,
        metrics=METRICS,
        lab_query=_lab_query(view.run.config),
        share=share_url(view.run.config) if view.exercise is None else None,
    )


@exercises.get("/runs/compare")
def compare():
    ids = [request.args.get("a", ""), request.args.get("b", "")]
    if not all(ids):
        raise InvalidInput("Choose two runs to compare (a and b).", field="a")
    # Runs just finished in the lab may be a moment from being stored: wait for them briefly.
    views = [lab_service.wait_for_run(run_id, _user(), COMPARE_WAIT) for run_id in ids]
    return render_template(
        "exercises/compare.html",
        views=views,
        charts=shared_run_charts([v.result for v in views]),
    )


def _lab_query(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if value is not None}


def init_exercises(app) -> None:
    """Template helpers that the question page and the dashboard use to show exercises."""

    @app.context_processor
    def exercise_helpers():
        titles: dict[int, str] = {}

        def exercise_title(run) -> str:
            if run.exercise_id is None:
                return "Gradient lab"
            if not titles:
                titles.update({e.id: e.title for e in sim_service.list_exercises()})
            return titles.get(run.exercise_id, "Retired exercise")

        return {
            "question_exercises": sim_service.exercises_for_question,
            "intuition": sim_service.intuition,
            "recent_runs": sim_service.recent_runs,
            "exercise_title": exercise_title,
            "choice_title": choice_title,
            "described_choices": described_choices,
        }
