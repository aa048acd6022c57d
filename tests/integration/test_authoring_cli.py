"""`flask content new|export|convert`: what an author types, end to end through the CLI."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

from conftest import write_question


def _check(runner, root: Path):
    return runner.invoke(args=["content", "check", "--no-simulate", str(root)])


def test_new_question_is_valid_at_once_and_never_overwrites(runner, content_dir: Path):
    result = runner.invoke(
        args=["content", "new", "question", "my-card", "--dir", str(content_dir)]
    )
    assert result.exit_code == 0, result.output
    path = content_dir / "questions" / "my-card.yaml"
    assert path.read_text().startswith("# A new question.")
    checked = _check(runner, content_dir)
    assert checked.exit_code == 0, checked.output
    assert "3 questions" in checked.output

    again = runner.invoke(args=["content", "new", "question", "my-card", "--dir", str(content_dir)])
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_new_exercise_is_valid_and_solvable_as_written(runner, content_dir: Path):
    result = runner.invoke(args=["content", "new", "exercise", "my-lab", "--dir", str(content_dir)])
    assert result.exit_code == 0, result.output
    checked = runner.invoke(args=["content", "check", str(content_dir)])  # simulates every choice
    assert checked.exit_code == 0, checked.output
    assert "1 exercises" in checked.output


def test_new_refuses_a_bad_slug(runner, content_dir: Path):
    result = runner.invoke(
        args=["content", "new", "question", "Not A Slug", "--dir", str(content_dir)]
    )
    assert result.exit_code == 1
    assert "is not a slug" in result.output
    assert not list((content_dir / "questions").glob("Not*"))


def test_export_apkg_of_one_topic(runner, content_dir: Path, tmp_path: Path):
    output = tmp_path / "deck.apkg"
    result = runner.invoke(
        args=["content", "export", "--format", "apkg", "--output", str(output),
              "--topic", "gradient-flow", "--dir", str(content_dir)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 2 notes" in result.output
    with zipfile.ZipFile(output) as archive:
        (tmp_path / "c.anki2").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "c.anki2") as connection:
        assert connection.execute("SELECT count(*) FROM notes").fetchone() == (2,)


def test_export_refuses_an_invalid_bank_with_file_and_line(runner, content_dir: Path, tmp_path):
    broken = write_question(
        content_dir,
        "alpha",
        related=["beta"],
        replace={"difficulty: medium": "difficulty: extreme"},
    )
    output = tmp_path / "bank.xml"
    result = runner.invoke(
        args=["content", "export", "--format", "moodle-xml", "--output", str(output),
              "--dir", str(content_dir)]
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"{broken}:3: difficulty:" in result.output
    assert "Nothing exported" in result.output
    assert not output.exists()


def test_export_refuses_an_unknown_topic(runner, content_dir: Path, tmp_path: Path):
    result = runner.invoke(
        args=["content", "export", "--format", "apkg", "--output", str(tmp_path / "x.apkg"),
              "--topic", "nope", "--dir", str(content_dir)]
    )  # fmt: skip
    assert result.exit_code == 2
    assert "unknown topic 'nope'" in result.output


def test_convert_gift_then_check_names_what_the_author_must_add(
    runner, tmp_path: Path, content_dir
):
    source = tmp_path / "quiz.gift"
    source.write_text("::Slope::Largest slope of tanh? {#1:0.01}\n\n::Pairs::Match {=a -> b}\n")
    result = runner.invoke(
        args=["content", "convert", "gift", str(source), "--into", str(content_dir)]
    )
    assert result.exit_code == 0, result.output
    assert f"{source}:3: matching questions are not supported" in result.output
    card = content_dir / "questions" / "slope.yaml"
    assert "answer: 1.0" in card.read_text()
    checked = _check(runner, content_dir)
    assert checked.exit_code == 1
    assert (
        f"{card}:" in checked.output
        and "references: needs at least one reference" in checked.output
    )

    again = runner.invoke(
        args=["content", "convert", "gift", str(source), "--into", str(content_dir)]
    )
    assert again.exit_code == 1
    assert "exists already" in again.output and "Nothing written" in again.output


def test_convert_reports_a_broken_file_and_writes_nothing(runner, tmp_path: Path):
    source = tmp_path / "quiz.xml"
    source.write_text("<quiz>\n<question type='numerical'>\n")
    into = tmp_path / "out"
    result = runner.invoke(
        args=["content", "convert", "moodle-xml", str(source), "--into", str(into)]
    )
    assert result.exit_code == 1
    assert f"{source}:3: not well-formed XML" in result.output
    assert not into.exists()
