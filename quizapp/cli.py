"""Command line: `flask content ...`, `flask sim ...`, `flask users ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

content_cli = AppGroup("content", help="Check and import the question bank.")
sim_cli = AppGroup("sim", help="Run gradient-flow simulations.")

PROGRESS_THRESHOLD = 20  # files; fewer finish before a bar would be worth drawing


def _content_dir(directory: str | None) -> Path:
    return Path(directory or current_app.config["QUIZAPP_CONTENT_DIR"])


@content_cli.command("check")
@click.argument("directory", required=False)
def check_command(directory: str | None) -> None:
    """Report every problem in every content file as path:line: field: message."""
    from quizapp.services.content_import import check_content

    bank = check_content(_content_dir(directory))
    for error in bank.errors:
        click.echo(str(error), err=True)
    if bank.errors:
        click.echo(f"{len(bank.errors)} problem(s) in {bank.files_read} file(s).", err=True)
        sys.exit(1)
    click.echo(f"OK: {len(bank.questions)} questions, {len(bank.topics)} topics, no problems.")


@content_cli.command("import")
@click.argument("directory", required=False)
def import_command(directory: str | None) -> None:
    """Validate, then bring the database in line with the content folder in one transaction."""
    from quizapp.services.content_import import ContentInvalid, import_content

    def progress(items: list):
        if len(items) < PROGRESS_THRESHOLD:
            return items
        return click.progressbar(items, label="Rendering questions", file=sys.stderr)

    def with_progress(items: list):
        bar = progress(items)
        if bar is items:
            yield from items
            return
        with bar as iterator:
            yield from iterator

    try:
        report = import_content(_content_dir(directory), progress=with_progress)
    except ContentInvalid as invalid:
        for error in invalid.errors:
            click.echo(str(error), err=True)
        click.echo(f"Nothing imported: {len(invalid.errors)} problem(s).", err=True)
        sys.exit(1)
    click.echo(report.summary())


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


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's `flask` CLI."""
    app.cli.add_command(content_cli)
    app.cli.add_command(sim_cli)
