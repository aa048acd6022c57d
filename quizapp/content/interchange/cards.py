"""What every converter returns, and how converted cards become YAML files an author reviews."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Our markdown writes math as $…$ / $$…$$; Moodle's MathJax filter reads \(…\) / \[…\].
_DISPLAY_DOLLARS = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_DOLLARS = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$(?!\$)")
_DISPLAY_BRACKETS = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
_INLINE_PARENS = re.compile(r"\\\((.+?)\\\)", re.DOTALL)


def math_to_mathjax(markdown: str) -> str:
    """$x$ → \\(x\\) and $$x$$ → \\[x\\], the delimiters Moodle's MathJax filter knows."""
    text = _DISPLAY_DOLLARS.sub(lambda m: f"\\[{m.group(1)}\\]", markdown)
    return _INLINE_DOLLARS.sub(lambda m: f"\\({m.group(1)}\\)", text)


def math_from_mathjax(markdown: str) -> str:
    """The inverse of `math_to_mathjax`."""
    text = _DISPLAY_BRACKETS.sub(lambda m: f"$${m.group(1)}$$", markdown)
    return _INLINE_PARENS.sub(lambda m: f"${m.group(1)}$", text)


@dataclass(frozen=True, order=True)
class ConversionProblem:
    """A construct of the source file that the conversion could not carry, and where it is."""

    line: int
    message: str

    def located(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}"


@dataclass
class Conversion:
    """Cards in the YAML shape of content/questions, the topics they use, and what was left out."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)  # slug -> title
    problems: list[ConversionProblem] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(ConversionProblem(line, message))


class ConversionRefused(Exception):
    """Nothing was written: `reasons` says why (e.g. a card would overwrite a file)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def slugify(text: str, fallback: str = "question") -> str:
    """A content slug (lowercase ASCII words joined by single dashes) made from any title."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or fallback


def unique_slug(base: str, taken: set[str]) -> str:
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


# The order in which a card's fields are written, as in the files authors write by hand.
CARD_FIELD_ORDER = (
    "slug", "aliases", "title", "difficulty", "topics", "question", "answer", "explanation",
    "references", "related", "exercises", "checks",
)  # fmt: skip


class _CardDumper(yaml.SafeDumper):
    """Multi-line text as `|` blocks, so the files read like the ones written by hand."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_CardDumper.add_representer(str, _represent_text)


def card_to_yaml(card: dict[str, Any], note: str = "") -> str:
    """One card as YAML text, fields in the usual order, with an optional comment on top."""
    ordered = {name: card[name] for name in CARD_FIELD_ORDER if name in card}
    ordered |= {name: value for name, value in card.items() if name not in ordered}
    body = yaml.dump(
        _block_ready(ordered),
        Dumper=_CardDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    header = "".join(f"# {line}\n" for line in note.splitlines()) if note else ""
    return header + body


def _block_ready(value: Any) -> Any:
    """Block scalars cannot keep trailing spaces on a line; drop them so `|` is always usable."""
    if isinstance(value, str):
        return "\n".join(line.rstrip() for line in value.split("\n"))
    if isinstance(value, dict):
        return {key: _block_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_block_ready(item) for item in value]
    return value


def write_cards(conversion: Conversion, into: Path, source: str) -> list[Path]:
    """Write each card to `into/questions/<slug>.yaml` and declare new topics; all or nothing."""
    questions_dir = into / "questions"
    targets = [questions_dir / f"{card['slug']}.yaml" for card in conversion.cards]
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise ConversionRefused(
            [f"{path} exists already (rename or remove it)" for path in existing]
        )
    questions_dir.mkdir(parents=True, exist_ok=True)
    note = (
        f"Converted from {source}: review every field, add references, then run "
        "`flask content check`."
    )
    written: list[Path] = []
    try:
        for card, path in zip(conversion.cards, targets, strict=True):
            path.write_text(card_to_yaml(card, note), encoding="utf-8")
            written.append(path)
        _declare_topics(into / "topics.yaml", conversion.topics)
    except OSError:
        for path in written:  # leave the folder as it was
            path.unlink(missing_ok=True)
        raise
    return written


def _declare_topics(topics_file: Path, topics: dict[str, str]) -> None:
    """Append the converted cards' topics that topics.yaml does not declare yet."""
    declared: set[str] = set()
    if topics_file.exists():
        loaded = yaml.safe_load(topics_file.read_text(encoding="utf-8")) or []
        declared = {item.get("slug") for item in loaded if isinstance(item, dict)}
    missing = {slug: title for slug, title in topics.items() if slug not in declared}
    if not missing:
        return
    entries = [
        {"slug": slug, "title": title, "description": f"{title} (converted; describe it)."}
        for slug, title in sorted(missing.items())
    ]
    text = yaml.dump(entries, Dumper=_CardDumper, sort_keys=False, allow_unicode=True)
    existing = topics_file.read_text(encoding="utf-8") if topics_file.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    topics_file.write_text(existing + text, encoding="utf-8")
