"""Authors' pages: item statistics, simulation-choice analytics, and learners' problem reports."""

from __future__ import annotations

import csv
import io
from functools import wraps

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from quizapp.extensions import limiter
from quizapp.models import REPORT_CATEGORIES, REPORT_STATUSES
from quizapp.services import item_stats
from quizapp.services import reports as report_service
from quizapp.services.errors import InvalidInput

authoring = Blueprint("authoring", __name__)

# A learner files a few reports at most; more is a script or a flood.
REPORT_LIMIT = "10 per hour"


def reporter_key() -> str:
    return (
        f"report:{current_user.get_id() if current_user.is_authenticated else request.remote_addr}"
    )


def author_required(view):
    """Authors and admins only: 401 (sign-in page) when anonymous, 403 for learners."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.role not in report_service.REPORT_READERS:
            abort(403, "This page is for authors and admins.")
        return view(*args, **kwargs)

    return wrapper


def init_authoring(app: Flask) -> None:
    @app.context_processor
    def inject_report_choices():
        return {"report_categories": REPORT_CATEGORIES, "report_statuses": REPORT_STATUSES}


@authoring.route("/<any(questions, exercises):collection>/<slug>/report", methods=["GET", "POST"])
@login_required
@limiter.limit(REPORT_LIMIT, methods=["POST"], key_func=reporter_key)
def report(collection: str, slug: str):
    """The report form (also embedded at the foot of every card and exercise)."""
    target_kind = collection.removesuffix("s")
    load, _ = report_service.REPORT_TARGETS[target_kind]
    target = load(slug)
    back = url_for(
        "pages.question" if target_kind == "question" else "exercises.exercise", slug=slug
    )
    values = {"category": request.form.get("category", ""), "message": ""}
    error = None
    if request.method == "POST":
        values["message"] = request.form.get("message", "")
        try:
            report_service.report_problem(
                current_user, target_kind, slug, values["category"], values["message"]
            )
        except InvalidInput as problem:
            error = problem
        else:
            flash(
                "Thank you: an author will look at your report. "
                "Its outcome appears on your dashboard.",
                "success",
            )
            return redirect(back, 303)
    return render_template(
        "author/report_form.html",
        target=target,
        target_kind=target_kind,
        back=back,
        values=values,
        error=error,
    ), (422 if error else 200)


def _sort_arguments() -> tuple[str, bool]:
    sort = request.args.get("sort", "question")
    if sort not in item_stats.SORT_KEYS:
        sort = "question"
    return sort, request.args.get("order", "asc") == "desc"


@authoring.get("/author")
@author_required
def items():
    sort, descending = _sort_arguments()
    statistics, snapshot = item_stats.item_statistics(sort, descending)
    flagged_only = request.args.get("flagged") == "1"
    shown = [item for item in statistics if item.flags] if flagged_only else statistics
    return render_template(
        "author/items.html",
        items=shown,
        total=len(statistics),
        flagged=sum(1 for item in statistics if item.flags),
        flagged_only=flagged_only,
        sort=sort,
        descending=descending,
        snapshot=snapshot,
        flag_labels=item_stats.FLAG_LABELS,
        counts=report_service.report_counts(current_user),
        thresholds=item_stats,
    )


@authoring.get("/author/items.csv")
@author_required
def items_csv():
    sort, descending = _sort_arguments()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(item_stats.CSV_COLUMNS)
    items, _ = item_stats.item_statistics(sort, descending)
    writer.writerows(item_stats.item_rows_for_csv(items))
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="quizapp-item-statistics.csv"'},
    )


@authoring.post("/author/recompute")
@author_required
def recompute():
    """Recalculate the item statistics now instead of waiting for the snapshot to age."""
    item_stats.item_statistics(refresh=True)
    flash("Item statistics recalculated from every attempt.", "success")
    return redirect(url_for("authoring.items"), 303)


@authoring.get("/author/exercises")
@author_required
def exercise_analytics():
    return render_template(
        "author/exercises.html",
        exercises=item_stats.exercise_choice_statistics(),
        lab=item_stats.popular_lab_configurations(),
        counts=report_service.report_counts(current_user),
    )


@authoring.get("/author/reports")
@author_required
def reports():
    status = request.args.get("status") or None
    if status not in (None, *REPORT_STATUSES):
        status = None
    return render_template(
        "author/reports.html",
        reports=report_service.list_reports(current_user, status),
        status=status,
        counts=report_service.report_counts(current_user),
    )


@authoring.post("/author/reports/<int(max=2147483647):report_id>")
@author_required
def answer_report(report_id: int):
    report_service.answer_report(
        current_user, report_id, request.form.get("status"), request.form.get("reply", "")
    )
    flash(f"Report {report_id} saved: the learner sees it on their dashboard.", "success")
    return redirect(url_for("authoring.reports", status=request.args.get("status")), 303)
