"""Problem reports (learners file, authors answer) and item statistics, as JSON."""

from __future__ import annotations

from flask import abort
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.extensions import limiter
from quizapp.models import REPORT_CATEGORIES, REPORT_STATUSES
from quizapp.services import item_stats
from quizapp.services import reports as report_service
from quizapp.services.questions import get_question
from quizapp.services.variants import sample_variants
from quizapp.web.api.documented import (
    NOT_AN_AUTHOR,
    bad_request,
    documented_errors,
    no_such,
    signed_in,
)
from quizapp.web.authoring import REPORT_LIMIT, reporter_key
from quizapp.web.decks import APKG_MIMETYPE, send_deck

blp = Blueprint(
    "api_authoring", __name__, description="Problem reports, item statistics and Anki decks"
)


class ReportIn(Schema):
    category = fields.String(required=True, validate=validate.OneOf(list(REPORT_CATEGORIES)))
    message = fields.String(
        required=True,
        validate=validate.Length(min=1, max=report_service.MAX_MESSAGE_CHARS),
    )


class FieldErrorOut(Schema):
    """A refused request that names the field at fault."""

    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    field = fields.String()
    errors = fields.Dict()


class ReportAnswerIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(list(REPORT_STATUSES)))
    reply = fields.String(
        load_default="", validate=validate.Length(max=report_service.MAX_REPLY_CHARS)
    )


class ReportOut(Schema):
    id = fields.Integer()
    target_kind = fields.String()
    target_slug = fields.String()
    target_title = fields.String()
    category = fields.String()
    message = fields.String()
    status = fields.String()
    reply = fields.String(allow_none=True)
    reporter = fields.String()
    replied_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    replied_at = fields.DateTime(allow_none=True)


class ReportFilter(Schema):
    status = fields.String(validate=validate.OneOf(list(REPORT_STATUSES)))


class ItemFilter(Schema):
    sort = fields.String(
        load_default="question", validate=validate.OneOf(list(item_stats.SORT_KEYS))
    )
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    flagged = fields.Boolean(load_default=False)


class OptionStatOut(Schema):
    index = fields.Integer()
    text = fields.String()
    correct = fields.Boolean()
    picks = fields.Integer()


class VariantGroupOut(Schema):
    param = fields.String()
    bucket = fields.String(metadata={"description": "A value, or a run of values, of the param"})
    learners = fields.Integer()
    facility = fields.Float(allow_none=True)


class ItemStatOut(Schema):
    question = fields.String()
    title = fields.String()
    check = fields.Integer()
    kind = fields.String()
    prompt = fields.String()
    attempts = fields.Integer()
    learners = fields.Integer()
    facility = fields.Float(allow_none=True)
    discrimination = fields.Float(allow_none=True)
    median_seconds = fields.Float(allow_none=True)
    first_score = fields.Float(allow_none=True)
    later_score = fields.Float(allow_none=True)
    later_attempts = fields.Integer()
    options = fields.List(fields.Nested(OptionStatOut))
    flags = fields.List(fields.String())
    variants = fields.List(
        fields.Nested(VariantGroupOut),
        metadata={"description": "Facility of first attempts per param value (params only)"},
    )


class ChoiceStatOut(Schema):
    name = fields.String()
    value = fields.Raw()
    label = fields.String()
    picks = fields.Integer()
    predicted = fields.Integer()
    prediction_accuracy = fields.Float(allow_none=True)
    failure_rate = fields.Float(allow_none=True)
    common_wrong_prediction = fields.String(allow_none=True)


class ExerciseStatOut(Schema):
    slug = fields.String()
    title = fields.String()
    runs = fields.Integer()
    learners = fields.Integer()
    choices = fields.List(fields.Nested(ChoiceStatOut))


def _require_author() -> None:
    if current_user.role not in report_service.REPORT_READERS:
        abort(403, "Only authors and admins can read this.")


def _file_report(target_kind: str, slug: str, body: dict):
    report = report_service.report_problem(
        current_user, target_kind, slug, body["category"], body["message"]
    )
    return next(view for view in report_service.my_reports(current_user) if view.id == report.id)


def _register_report_endpoint(target_kind: str) -> None:
    """POST /<target>s/<slug>/reports for one kind of report target (see REPORT_TARGETS)."""

    def file_report(body: dict, slug: str):
        return _file_report(target_kind, slug, body)

    file_report.__name__ = f"report_{target_kind}"
    file_report.__doc__ = (
        f"Report a problem with a {target_kind} (wrong answer, unclear, typo, other)."
    )
    decorators = [
        blp.post(f"/{target_kind}s/<slug>/reports"),
        signed_in(
            blp,
            bad_request("No category or no message", FieldErrorOut),
            no_such(target_kind),
            (429, "Too many reports"),
        ),
        blp.arguments(ReportIn),
        blp.response(201, ReportOut),
        login_required,
        limiter.limit(REPORT_LIMIT, key_func=reporter_key),
    ]
    view = file_report
    for decorator in reversed(decorators):
        view = decorator(view)


for _target_kind in report_service.REPORT_TARGETS:
    _register_report_endpoint(_target_kind)


@blp.get("/me/reports")
@signed_in(blp)
@blp.response(200, ReportOut(many=True))
@login_required
def my_reports():
    """Your reports and the authors' answers, newest first."""
    return report_service.my_reports(current_user, limit=100)


@blp.get("/author/reports")
@signed_in(blp, NOT_AN_AUTHOR)
@blp.arguments(ReportFilter, location="query")
@blp.response(200, ReportOut(many=True))
@login_required
def author_reports(query: dict):
    """Every learner's report (authors and admins), open ones first."""
    _require_author()
    return report_service.list_reports(current_user, query.get("status"))


@blp.patch("/author/reports/<int(max=2147483647):report_id>")
@signed_in(blp, bad_request("Bad status or reply", FieldErrorOut), NOT_AN_AUTHOR, no_such("report"))
@blp.arguments(ReportAnswerIn)
@blp.response(200, ReportOut)
@login_required
def answer_report(body: dict, report_id: int):
    """Set a report's status and reply (the learner sees both on their dashboard)."""
    _require_author()
    return report_service.answer_report(current_user, report_id, body["status"], body["reply"])


@blp.get("/author/items")
@signed_in(blp, NOT_AN_AUTHOR)
@blp.arguments(ItemFilter, location="query")
@blp.response(200, ItemStatOut(many=True))
@login_required
def author_items(query: dict):
    """Item statistics per question and check: facility, discrimination, option picks, flags."""
    _require_author()
    items, _ = item_stats.item_statistics(query["sort"], query["order"] == "desc")
    if query["flagged"]:
        items = [item for item in items if item.flags]
    return [item.as_dict() for item in items]


class VariantArgs(Schema):
    n = fields.Integer(load_default=5, validate=validate.Range(min=1, max=100))


class VariantCheckOut(Schema):
    index = fields.Integer()
    kind = fields.String()
    prompt = fields.String()
    key = fields.String(metadata={"description": "The key in words (options, answer ± tolerance)"})


class VariantOut(Schema):
    params = fields.Dict()
    derived = fields.Dict()
    checks = fields.List(fields.Nested(VariantCheckOut))


@blp.get("/author/questions/<slug>/variants")
@signed_in(blp, NOT_AN_AUTHOR, no_such("question"))
@blp.arguments(VariantArgs, location="query")
@blp.response(200, VariantOut(many=True))
@login_required
def author_variants(query: dict, slug: str):
    """Sample variants of a question with params, with every check's key (empty without)."""
    _require_author()
    question = get_question(slug)
    return sample_variants(slug, question.checks, question.variant_spec, query["n"])


@blp.get("/author/exercises")
@signed_in(blp, NOT_AN_AUTHOR)
@blp.response(200, ExerciseStatOut(many=True))
@login_required
def author_exercises():
    """Per exercise and choice: picks, predictions right, failure rate, common wrong guess."""
    _require_author()
    return item_stats.exercise_choice_statistics()


@blp.get("/topics/<slug>/deck")
@blp.response(200, description="The topic's cards as an Anki deck", content_type=APKG_MIMETYPE)
@documented_errors(blp, no_such("topic"))
def topic_deck(slug: str):
    """A topic's cards as an Anki deck (.apkg); stable note ids, so a newer deck updates."""
    return send_deck(slug)


@blp.get("/deck")
@blp.response(200, description="Every card as an Anki deck", content_type=APKG_MIMETYPE)
def bank_deck():
    """The whole bank as an Anki deck (.apkg)."""
    return send_deck(None)
