"""Fingerprinted static files: `url_for('static', ...)` adds `?v=<content hash>`, and a
request carrying the current hash is cached for a year as immutable.

A changed file gets a new hash, hence a new URL, so browsers never keep a stale copy; a
request without the hash (or with an old one) is revalidated as before. Files the CSS
points at (the math font) cannot carry the hash: they carry their version in their name
instead (e.g. `stix-two-math-5.3.0-subset.woff2`) and are cached the same way.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask, request

YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
# The math font, named by its version; app.css points at it with a relative URL.
MATH_FONT = "vendor/stix-two-math/stix-two-math-5.3.0-subset.woff2"
VERSIONED_NAME = re.compile(r"^vendor/.+-\d+\.\d+\.\d+[-.][^/]*$")


def init_static_assets(app: Flask) -> None:
    """Hash static files on first use (once per process) and mark fingerprinted hits."""
    folder = Path(app.static_folder or "")
    # The preload must name the very URL the stylesheet asks for, without a hash.
    app.jinja_env.globals["math_font_url"] = f"{app.static_url_path}/{MATH_FONT}"
    hashes: dict[str, str | None] = {}

    def fingerprint(filename: str) -> str | None:
        if filename not in hashes:
            path = (folder / filename).resolve()
            if path.is_relative_to(folder.resolve()) and path.is_file():
                hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            else:
                hashes[filename] = None
        return hashes[filename]

    @app.url_defaults
    def add_fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = fingerprint(values["filename"])
            if digest:
                values["v"] = digest

    @app.after_request
    def cache_fingerprinted(response):
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        version = request.args.get("v")
        if (version and version == fingerprint(filename)) or VERSIONED_NAME.match(filename):
            response.headers["Cache-Control"] = IMMUTABLE
        return response
