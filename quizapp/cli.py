"""Command line: `flask content ...`, `flask sim ...`, `flask users ...`, `flask runs ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

content_cli = AppGroup("content", help="Check and import the question bank.")
sim_cli = AppGroup("sim", help="Run gradient-flow simulations.")
users_cli = AppGroup(
    "users", help="Create accounts, change roles, list users, sign them out everywhere."
)
runs_cli = AppGroup("runs", help="Look after stored simulation runs.")
review_cli = AppGroup("review", help="Spaced-repetition upkeep: monthly schedule fits.")

PROGRESS_THRESHOLD = 20  # files; fewer finish before a bar would be worth drawing


def _content_dir(directory: str | None) -> Path:
    return Path(directory or current_app.config["QUIZAPP_CONTENT_DIR"])


def _sim_cache_dir() -> Path:
    return Path(current_app.instance_path) / "sim-cache"


@content_cli.command("check")
@click.argument("directory", required=False)
@click.option(
    "--simulate/--no-simulate",
    default=True,
    help="Run each exercise's choices through the simulator (cached) to check solvability.",
)
def check_command(directory: str | None, simulate: bool) -> None:
    """Report every problem in every content file as path:line: field: message."""
    from quizapp.services.content_import import check_content
    from quizapp.services.exercise_lint import DiskCachedSimulator

    simulator = DiskCachedSimulator(_sim_cache_dir()) if simulate else None
    bank = check_content(_content_dir(directory), simulate=simulator)
    for error in bank.errors:
        click.echo(str(error), err=True)
    for warning in bank.warnings:
        click.echo(f"warning: {warning}", err=True)
    if bank.errors:
        click.echo(f"{len(bank.errors)} problem(s) in {bank.files_read} file(s).", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {len(bank.questions)} questions, {len(bank.exercises)} exercises, "
        f"{len(bank.topics)} topics, no problems"
        + (f" ({len(bank.warnings)} warning(s))." if bank.warnings else ".")
    )


@content_cli.command("import")
@click.argument("directory", required=False)
def import_command(directory: str | None) -> None:
    """Validate, then bring the database in line with the content folder in one transaction."""
    from sqlalchemy.exc import SQLAlchemyError

    from quizapp.services.content_import import ContentInvalid, import_content

    def with_progress(items: list):
        if len(items) < PROGRESS_THRESHOLD:
            yield from items
            return
        with click.progressbar(items, label="Rendering questions", file=sys.stderr) as bar:
            yield from bar

    try:
        report = import_content(_content_dir(directory), progress=with_progress)
    except ContentInvalid as invalid:
        for error in invalid.errors:
            click.echo(str(error), err=True)
        click.echo(f"Nothing imported: {len(invalid.errors)} problem(s).", err=True)
        sys.exit(1)
    except SQLAlchemyError as error:  # the transaction was rolled back: say why, not a traceback
        reason = getattr(error, "orig", None) or error
        click.echo(f"Nothing imported: the database refused the import: {reason}", err=True)
        sys.exit(1)
    for renamed in report.renamed:  # authors should see that old URLs now redirect
        click.echo(f"renamed {renamed} (the old address redirects)", err=True)
    click.echo(report.summary())


@content_cli.command("new")
@click.argument("kind", type=click.Choice(["question", "exercise"]))
@click.argument("slug")
@click.option("--dir", "directory", help="Content folder (default: the app's content/).")
def new_command(kind: str, slug: str, directory: str | None) -> None:
    """Write a valid, commented starting file for a new question or exercise."""
    from quizapp.content.starters import StarterRefused, write_starter

    try:
        path = write_starter(kind, slug, _content_dir(directory))
    except StarterRefused as refused:
        click.echo(f"Error: {refused}", err=True)
        sys.exit(1)
    click.echo(f"Wrote {path}. Edit it, then run `flask content check`.")


def _valid_bank_or_exit(directory: str | None):
    from quizapp.content.loader import load_bank

    bank = load_bank(_content_dir(directory))
    for error in bank.errors:
        click.echo(str(error), err=True)
    if bank.errors:
        click.echo(f"Nothing exported: {len(bank.errors)} problem(s); fix them first.", err=True)
        sys.exit(1)
    return bank


@content_cli.command("variants")
@click.argument("slug")
@click.option("-n", "count", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--dir", "directory", default=None, help="Content folder (default: content/).")
def variants_command(slug: str, count: int, directory: str | None) -> None:
    """Print sample variants of a question with params, each with every check's key."""
    from quizapp.content.loader import load_bank
    from quizapp.content.rendering import RenderFailed, render_question
    from quizapp.services.variants import describe_variant, sample_variants

    bank = load_bank(_content_dir(directory))
    document = bank.documents.get(slug)
    if document is None:
        mine = [error for error in bank.errors if Path(error.path).stem == slug]
        for error in mine:
            click.echo(str(error), err=True)
        if not mine:
            click.echo(f"Error: no question '{slug}' (questions/{slug}.yaml)", err=True)
        sys.exit(1)
    try:
        stored = render_question(document)
    except RenderFailed as failure:
        click.echo(str(failure.error), err=True)
        sys.exit(1)
    samples = sample_variants(slug, stored["checks"], stored["variant_spec"], count)
    if not samples:
        click.echo(f"{slug} has no params: every learner sees the same question.")
        return
    for number, sample in enumerate(samples, start=1):
        click.echo(f"{number}. {describe_variant(sample['params'])}")
        if sample["derived"]:
            click.echo(f"   derived: {describe_variant(sample['derived'])}")
        for check in sample["checks"]:
            prompt = " ".join(check["prompt"].split())
            click.echo(f"   checks.{check['index']} {check['kind']}: {prompt}")
            if check["key"]:
                click.echo(f"      key: {check['key']}")


@content_cli.command("serve")
@click.argument("directory", required=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
def serve_command(directory: str | None, host: str, port: int) -> None:
    """Preview a content folder: the site on a scratch database, reloading on every save."""
    from quizapp.web.preview import create_preview_app, watch

    root = _content_dir(directory)
    if not root.is_dir():
        raise click.BadParameter(f"{root} is not a folder", param_hint="DIRECTORY")
    app = create_preview_app(root)
    watch(app)
    state = app.extensions["quizapp_preview"]
    click.echo(
        f"Previewing {root.resolve()} on http://{host}:{port}/ "
        f"({len(state.problems)} problem(s) now; the learners' database is not used). Ctrl+C stops."
    )
    # app.run() refuses to block inside the `flask` command; the server it would start, directly:
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)


@content_cli.command("export")
@click.option("--format", "format_name", required=True, type=click.Choice(["apkg", "moodle-xml"]))
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--topic", help="Only the questions of this topic (slug).")
@click.option("--dir", "directory", help="Content folder (default: the app's content/).")
def export_command(format_name: str, output: str, topic: str | None, directory: str | None) -> None:
    """Export the bank (or one topic) as an Anki deck or a Moodle XML quiz."""
    from quizapp.content.interchange import EXPORTERS

    bank = _valid_bank_or_exit(directory)
    questions = sorted(bank.questions, key=lambda card: (card["topics"][0], card["slug"]))
    if topic is not None:
        if topic not in {declared["slug"] for declared in bank.topics}:
            raise click.BadParameter(f"unknown topic '{topic}'", param_hint="--topic")
        questions = [card for card in questions if topic in card["topics"]]
    written = EXPORTERS[format_name](bank, questions, Path(output))
    click.echo(f"Wrote {written} {'notes' if format_name == 'apkg' else 'questions'} to {output}.")


@content_cli.command("convert")
@click.argument("format_name", metavar="FORMAT", type=click.Choice(["moodle-xml", "gift"]))
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", required=True, type=click.Path(file_okay=False), help="Content folder.")
def convert_command(format_name: str, source: str, into: str) -> None:
    """Convert a Moodle XML or GIFT file into question files for an author to review."""
    from quizapp.content.interchange import CONVERTERS, ConversionRefused, write_cards

    try:
        text = Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        click.echo(f"{source}:1: file is not valid UTF-8", err=True)
        sys.exit(1)
    conversion = CONVERTERS[format_name](text)
    for problem in sorted(conversion.problems):
        click.echo(problem.located(source), err=True)
    if not conversion.cards:
        click.echo("Nothing converted.", err=True)
        sys.exit(1)
    try:
        written = write_cards(conversion, Path(into), source)
    except ConversionRefused as refused:
        for reason in refused.reasons:
            click.echo(f"Error: {reason}", err=True)
        click.echo("Nothing written.", err=True)
        sys.exit(1)
    click.echo(
        f"Wrote {len(written)} question file(s) into {Path(into) / 'questions'}"
        f" ({len(conversion.problems)} construct(s) not carried, listed above). "
        "Review them, add references, then run `flask content check`."
    )


@sim_cli.command("run")
@click.option("--config", "config_json", required=True, help="Simulation config as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sim_run_command(config_json: str, as_json: bool) -> None:
    """Run one gradient-flow simulation and print its per-layer report."""
    from quizapp.sim import SimConfigError, format_result_table, simulate

    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as error:
        raise click.UsageError(f"--config is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise click.UsageError("--config must be a JSON object")
    try:
        result = simulate(config)
    except SimConfigError as error:
        raise click.UsageError(f"{error.field}: {error.message}") from None
    click.echo(json.dumps(result, indent=2) if as_json else format_result_table(result))


@users_cli.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["learner", "author", "admin"]),
    default="learner",
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create_command(username: str, role: str, password_stdin: bool) -> None:
    """Create an account (asks for the password twice unless --password-stdin)."""
    from quizapp.services.accounts import register_user
    from quizapp.services.errors import ServiceError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = register_user(username, password, role=role)
    except ServiceError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    click.echo(f"Created {user.role} '{user.username}'.")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role")
def users_set_role_command(username: str, role: str) -> None:
    """Give USERNAME the role learner, author or admin."""
    from quizapp.services.accounts import set_role
    from quizapp.services.errors import ServiceError

    try:
        user = set_role(username, role)
    except ServiceError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    click.echo(f"'{user.username}' is now {user.role}.")


@users_cli.command("list")
def users_list_command() -> None:
    """Print every account: username, role and creation date."""
    from quizapp.services.accounts import list_users

    users = list_users()
    if not users:
        click.echo("No users.")
        return
    width = max(len("username"), *(len(user.username) for user in users))
    click.echo(f"{'username':<{width}}  {'role':<7}  created")
    for user in users:
        created = user.created_at.strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{user.username:<{width}}  {user.role:<7}  {created}")


@users_cli.command("sign-out")
@click.argument("username")
@click.option("--revoke-tokens", is_flag=True, help="Also revoke every API token of the account.")
def users_sign_out_command(username: str, revoke_tokens: bool) -> None:
    """End every session of USERNAME on every device (a lost laptop, a shared computer)."""
    from quizapp.services.accounts import end_all_sessions, find_user, revoke_all_api_tokens
    from quizapp.services.errors import ServiceError

    try:
        user = find_user(username)
    except ServiceError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    end_all_sessions(user)
    message = f"'{user.username}' is signed out everywhere."
    if revoke_tokens:
        revoked = revoke_all_api_tokens(user)
        message += f" {revoked} API token{'' if revoked == 1 else 's'} revoked."
    click.echo(message)


@sim_cli.command("warm")
def sim_warm_command() -> None:
    """Precompute every exercise's choice space into the result cache, with a progress bar."""
    from quizapp.services.simulations import exercise_configs, warm_cache

    plan = exercise_configs()
    with click.progressbar(plan, label="Simulating exercise choices", file=sys.stderr) as bar:
        computed = warm_cache(bar)
    click.echo(f"{computed} computed, {len(plan) - computed} already cached.")


@review_cli.command("optimise-due")
def review_optimise_due_command() -> None:
    """Fit again every learner whose schedule is a month old (run it daily from cron or beat).

    With QUIZAPP_JOBS=celery the fits are queued for the workers; with the local backend they
    run here, one after the other, with a progress bar.
    """
    from flask import current_app

    from quizapp.services.schedule_fits import start_fit, users_due_for_refit

    users = users_due_for_refit()
    inline = current_app.config["QUIZAPP_JOBS"] != "celery"
    failed = 0
    with click.progressbar(users, label="Fitting schedules", file=sys.stderr) as bar:
        for user in bar:
            fit = start_fit(user, trigger="monthly", inline=inline)
            failed += fit.status == "failed"
    verb = "fitted" if inline else "queued"
    click.echo(f"{len(users) - failed} schedule(s) {verb}, {failed} failed.")
    if failed:
        raise SystemExit(1)


@runs_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep anonymous runs this many days (default QUIZAPP_RUN_RETENTION_DAYS, 30).",
)
def runs_prune_command(days: int | None) -> None:
    """Delete anonymous runs past the retention period and results nothing uses any more."""
    from datetime import timedelta

    from quizapp.services.run_retention import prune_runs

    if days is None:
        days = current_app.config["QUIZAPP_RUN_RETENTION_DAYS"]
    report = prune_runs(timedelta(days=days))
    click.echo(
        f"Deleted {report.runs_deleted} anonymous run(s) older than {days} day(s) and "
        f"{report.results_deleted} stored result(s) no run or exercise uses."
    )


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's `flask` CLI."""
    app.cli.add_command(content_cli)
    app.cli.add_command(sim_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(review_cli)
    app.cli.add_command(runs_cli)
