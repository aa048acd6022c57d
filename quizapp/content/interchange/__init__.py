"""Moving the bank to and from other formats: Anki decks, Moodle XML and GIFT.

Exporters read a validated `Bank` and write one file; converters read a foreign file and
return cards in our YAML shape with every construct they could not carry, by line. Each
format is one entry in `EXPORTERS` or `CONVERTERS`; the CLI and the docs loop over them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quizapp.content.interchange.anki import export_apkg
from quizapp.content.interchange.cards import (
    Conversion,
    ConversionProblem,
    ConversionRefused,
    write_cards,
)
from quizapp.content.interchange.gift import read_gift
from quizapp.content.interchange.moodle_xml import export_moodle_xml, read_moodle_xml
from quizapp.content.loader import Bank

Exporter = Callable[[Bank, list[dict], Path], int]
Converter = Callable[[str], Conversion]

EXPORTERS: dict[str, Exporter] = {
    "apkg": export_apkg,
    "moodle-xml": export_moodle_xml,
}

CONVERTERS: dict[str, Converter] = {
    "moodle-xml": read_moodle_xml,
    "gift": read_gift,
}

__all__ = [
    "CONVERTERS",
    "EXPORTERS",
    "Conversion",
    "ConversionProblem",
    "ConversionRefused",
    "write_cards",
]
