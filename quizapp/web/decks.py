"""Anki deck downloads: a topic's cards, or the whole bank."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_file

from quizapp.services.decks import deck_file

decks = Blueprint("decks", __name__)

APKG_MIMETYPE = "application/apkg"


def send_deck(topic_slug: str | None):
    cache = Path(current_app.instance_path) / "decks"
    path, name = deck_file(topic_slug, cache)
    return send_file(path, mimetype=APKG_MIMETYPE, as_attachment=True, download_name=name)


@decks.get("/topics/<slug>/deck.apkg")
def topic_deck(slug: str):
    return send_deck(slug)


@decks.get("/deck.apkg")
def bank_deck():
    return send_deck(None)
