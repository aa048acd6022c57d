"""How a simulation result is stored: compact and lossless.

A result is mostly long lists of small records (a recurrent network's backward signal per
layer and time step: {"t": 1, "backward_signal": 1.1e-27}, 37,000 of them for the largest
accepted rnn), which as JSON repeat every key name. Stored, each such list becomes columns
(one list per key), and the JSON is deflated: the largest result went from 1.87 MB of JSON
to 0.30 MB (bench/bench_result_storage.py), every number intact:
`unpack_result(pack_result(r)) == r` for any JSON object (no key may be `__columns__`).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

FORMAT_V1 = b"\x01"  # first byte of every packed result: room for another format later
_COLUMNS = "__columns__"


def _to_columns(value: Any) -> Any:
    if isinstance(value, dict):
        if _COLUMNS in value:
            raise ValueError(f"{_COLUMNS} is a reserved key in a stored result")
        return {key: _to_columns(item) for key, item in value.items()}
    if isinstance(value, list):
        if (
            len(value) > 1
            and all(isinstance(item, dict) for item in value)
            and value[0]
            and all(item.keys() == value[0].keys() for item in value)
            and _COLUMNS not in value[0]
        ):
            return {_COLUMNS: {key: [_to_columns(item[key]) for item in value] for key in value[0]}}
        return [_to_columns(item) for item in value]
    return value


def _from_columns(value: Any) -> Any:
    if isinstance(value, dict):
        columns = value.get(_COLUMNS)
        if len(value) == 1 and isinstance(columns, dict):
            keys = list(columns)
            rows = zip(*(columns[key] for key in keys), strict=True)
            return [
                {key: _from_columns(item) for key, item in zip(keys, row, strict=True)}
                for row in rows
            ]
        return {key: _from_columns(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_columns(item) for item in value]
    return value


def pack_result(result: dict[str, Any]) -> bytes:
    """A result as stored: columns for lists of records, compact JSON, deflated."""
    text = json.dumps(_to_columns(result), separators=(",", ":"), allow_nan=False)
    return FORMAT_V1 + zlib.compress(text.encode("utf-8"), 6)


def unpack_result(packed: bytes) -> dict[str, Any]:
    """The result `pack_result` stored."""
    if packed[:1] != FORMAT_V1:
        raise ValueError(f"unknown packed result format {packed[:1]!r}")
    return _from_columns(json.loads(zlib.decompress(packed[1:]).decode("utf-8")))
