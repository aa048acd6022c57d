"""Anki decks (.apkg, written with genanki): question on the front, answer and explanation back.

Note ids derive from the card's slug, so importing a newer deck updates the notes a learner
already has instead of duplicating them. Math is MathML (Anki's web views render it) and
mermaid diagrams are drawn by the same mermaid.js the site serves, shipped as deck media.
"""

from __future__ import annotations

import hashlib
import html
import shutil
import tempfile
from pathlib import Path
from typing import Any

import genanki

from quizapp.content.loader import Bank
from quizapp.content.markdown import render_markdown
from quizapp.content.rendering import reference_card

MERMAID_SOURCE = Path(__file__).resolve().parents[2] / "web/static/vendor/mermaid/mermaid.min.js"
# A leading underscore keeps Anki's "check media" from deleting a file no field names.
MERMAID_MEDIA_NAME = "_quizapp_mermaid.min.js"


def stable_id(name: str) -> int:
    """An Anki model/deck id that never changes for `name` (Anki wants a 31-bit-ish integer)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (1 << 30) + (1 << 30)


def note_guid(slug: str) -> str:
    """The note's identity in every deck we export: re-importing updates the same note."""
    return genanki.guid_for("quizapp", slug)


_DRAW_DIAGRAMS = f"""
<script src="{MERMAID_MEDIA_NAME}"></script>
<script>
  if (window.mermaid) {{
    mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
    mermaid.run({{querySelector: "pre.mermaid"}});
  }}
</script>"""

CARD_MODEL = genanki.Model(
    stable_id("quizapp card model v1"),
    "quizapp card",
    fields=[
        {"name": "Title"},
        {"name": "Question"},
        {"name": "Answer"},
        {"name": "Explanation"},
        {"name": "References"},
        {"name": "Slug"},
    ],
    templates=[
        {
            "name": "Question → answer",
            "qfmt": '<h2 class="title">{{Title}}</h2><div class="question">{{Question}}</div>'
            + _DRAW_DIAGRAMS,
            "afmt": '{{FrontSide}}<hr id="answer"><div class="answer">{{Answer}}</div>'
            "<details open><summary>Explanation</summary>{{Explanation}}</details>"
            '<div class="references">{{References}}</div>' + _DRAW_DIAGRAMS,
        }
    ],
    css="""
.card { font-family: system-ui, sans-serif; font-size: 18px; line-height: 1.5;
        text-align: left; max-width: 46em; margin: 0 auto; color: black; background: white; }
.nightMode.card, .night_mode .card { color: #eee; background: #1e1e1e; }
.title { font-size: 1.1em; }
pre.mermaid { background: transparent; }
math[display="block"] { margin: 0.6em 0; }
.references { font-size: 0.85em; margin-top: 1em; }
""",
    sort_field_index=0,
)


def _references_html(references: list[dict[str, Any]]) -> str:
    items = "".join(
        f'<li><a href="{html.escape(ref["url"])}">{html.escape(ref["title"])}</a></li>'
        for ref in references
    )
    return f"<p>References</p><ul>{items}</ul>" if items else ""


def build_note(card: dict[str, Any], topic_titles: dict[str, str]) -> genanki.Note:
    """One Anki note for one card; tags are its topics and its difficulty."""
    tags = [f"quizapp::{topic}" for topic in card["topics"]]
    tags.append(f"difficulty::{card['difficulty']}")
    return genanki.Note(
        model=CARD_MODEL,
        fields=[
            html.escape(card["title"]),
            render_markdown(card["question"]),
            render_markdown(card["answer"]),
            render_markdown(card["explanation"]),
            _references_html(card["references"]),
            card["slug"],
        ],
        tags=tags,
        guid=note_guid(card["slug"]),
    )


def export_apkg(bank: Bank, questions: list[dict[str, Any]], output: Path) -> int:
    """Write `questions` as one Anki deck to `output`; returns the number of notes."""
    topic_titles = {topic["slug"]: topic["title"] for topic in bank.topics}
    deck = genanki.Deck(stable_id("quizapp deck"), "quizapp — deep learning")
    for card in questions:
        deck.add_note(build_note(reference_card(card), topic_titles))
    with tempfile.TemporaryDirectory() as scratch:
        media = Path(scratch) / MERMAID_MEDIA_NAME
        shutil.copyfile(MERMAID_SOURCE, media)
        genanki.Package(deck, media_files=[str(media)]).write_to_file(str(output))
    return len(questions)
