"""Exercises, gradient-lab runs and their results."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.domain.exercises import VERDICTS, describe_goal
from quizapp.services import exercise_cards
from quizapp.services import lab as lab_service
from quizapp.services import simulations as sim_service
from quizapp.web.api.documented import (
    CONFIG_REFUSED,
    MOVED,
    MOVED_REPEAT,
    QUEUE_FULL,
    TOO_MANY_RUNS,
    bad_request,
    documented_errors,
    no_such,
)

blp = Blueprint("api_exercises", __name__, description="Gradient exercises and the lab")


class ChoiceOut(Schema):
    value = fields.Raw()
    label = fields.String()


class ExerciseOut(Schema):
    slug = fields.String()
    title = fields.String()
    difficulty = fields.String()
    prompt_html = fields.String()
    network = fields.Dict()
    choices = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(ChoiceOut)))
    goals = fields.Method("goal_texts")
    questions = fields.List(fields.String(), attribute="question_slugs")
    aliases = fields.List(
        fields.String(), metadata={"description": "Former slugs; their URLs redirect here."}
    )

    def goal_texts(self, exercise) -> list[str]:
        return [describe_goal(goal) for goal in exercise.goals]


class ExerciseRunIn(Schema):
    choices = fields.Dict(required=True, keys=fields.String(), values=fields.Raw())
    prediction = fields.String(validate=validate.OneOf(VERDICTS), allow_none=True)


class LabRunIn(Schema):
    # None is "the default", so a run's normalised config can be posted back as it is.
    config = fields.Dict(required=True, keys=fields.String(), values=fields.Raw(allow_none=True))


class WaitArgs(Schema):
    wait = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=25),
        metadata={"description": "Seconds to hold the answer until the run finishes (long-poll)"},
    )


class GoalOut(Schema):
    metric = fields.String()
    description = fields.String()
    value = fields.Raw()
    passed = fields.Boolean()


class RunOut(Schema):
    id = fields.String()
    status = fields.String()
    error = fields.String(allow_none=True)
    exercise = fields.String(allow_none=True)
    choices = fields.Dict(allow_none=True)
    config = fields.Dict()
    prediction = fields.String(allow_none=True)
    prediction_correct = fields.Boolean(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    from_cache = fields.Boolean()
    goals = fields.List(fields.Nested(GoalOut))
    result = fields.Dict(allow_none=True)
    url = fields.String()
    review_id = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Your exercise run's rating of the exercise's review card: it is "
            "that card's review (undo it with POST /api/v1/me/review/undo); null until the "
            "run is recorded, and for lab or anonymous runs"
        },
    )


def _user():
    return current_user if current_user.is_authenticated else None


def _run_body(run_id: str, wait: float = 0.0) -> dict:
    user = _user()
    view = lab_service.wait_for_run(run_id, user, wait)
    run = view.run
    rating = exercise_cards.rating_by_run(user, run) if user is not None else None
    return {
        "id": run.id,
        "status": run.status,
        "error": run.error,
        "exercise": view.exercise.slug if view.exercise else None,
        "choices": run.choices,
        "config": run.config,
        "prediction": run.prediction,
        "prediction_correct": run.prediction_correct,
        "passed": run.passed,
        "from_cache": run.from_cache,
        "goals": [goal.__dict__ for goal in view.goals],
        "result": view.result,
        "url": url_for("exercises.run", run_id=run.id),
        "review_id": rating.id if rating is not None else None,
    }


@blp.get("/exercises")
@blp.response(200, ExerciseOut(many=True))
def list_exercises():
    """Every active exercise."""
    return sim_service.list_exercises()


@blp.get("/exercises/<slug>")
@blp.response(200, ExerciseOut)
@documented_errors(blp, MOVED, no_such("exercise"))
def get_exercise(slug: str):
    """One exercise: its fixed network, the choices and the goals."""
    return sim_service.get_exercise(slug)


@blp.post("/exercises/<slug>/runs")
@blp.arguments(ExerciseRunIn)
@blp.response(202, RunOut)
@documented_errors(
    blp,
    MOVED_REPEAT,
    bad_request("A choice outside the exercise's choice space"),
    no_such("exercise"),
    TOO_MANY_RUNS,
    QUEUE_FULL,
)
def start_exercise_run(body: dict, slug: str):
    """Run the learner's choices; poll GET /runs/<id> until status is done or failed."""
    run = sim_service.start_exercise_run(_user(), slug, body["choices"], body.get("prediction"))
    return _run_body(run.id)


@blp.post("/lab/runs")
@blp.arguments(LabRunIn)
@blp.arguments(WaitArgs, location="query", as_kwargs=True)
@blp.response(202, RunOut)
@documented_errors(blp, CONFIG_REFUSED, TOO_MANY_RUNS, QUEUE_FULL)
def start_lab_run(body: dict, wait: float):
    """Run any configuration within the simulator's limits; `?wait=` answers once it is done."""
    run = sim_service.start_lab_run(_user(), body["config"])
    return _run_body(run.id, wait)


class SchemaFieldOut(Schema):
    name = fields.String()
    label = fields.String()
    help = fields.String()
    type = fields.String(metadata={"description": "choice, int or float"})
    kinds = fields.List(fields.String(), metadata={"description": "kinds it applies to"})
    default = fields.Dict(metadata={"description": "default value per kind"})
    minimum = fields.Float(allow_none=True)
    maximum = fields.Float(allow_none=True)
    choices = fields.Dict(metadata={"description": "allowed values per kind (choice fields)"})


class KindOut(Schema):
    name = fields.String()
    label = fields.String()
    depth_means = fields.String()
    recurrent = fields.Boolean()


class SimSchemaOut(Schema):
    simulator_version = fields.String()
    kinds = fields.List(fields.Nested(KindOut))
    fields_ = fields.List(fields.Nested(SchemaFieldOut), data_key="fields", attribute="fields")
    limits = fields.Dict(keys=fields.String(), values=fields.Integer())


@blp.get("/lab/schema")
@blp.response(200, SimSchemaOut)
def lab_schema():
    """Every simulator config field: label, help, type, range, choices and default per kind."""
    from quizapp.sim.schema import config_schema

    return config_schema()


@blp.get("/runs/<run_id>")
@blp.arguments(WaitArgs, location="query", as_kwargs=True)
@blp.response(200, RunOut)
@documented_errors(blp, no_such("run (or not yours)"))
def get_run(run_id: str, wait: float):
    """A run's status and, when done, its result and goals; `?wait=` long-polls for the end."""
    return _run_body(run_id, wait)
