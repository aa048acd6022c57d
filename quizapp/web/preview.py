"""The author's live preview: the whole site on a scratch database, fed by a content folder.

`flask content serve` builds an app with QUIZAPP_PREVIEW_DIR set. A file watcher re-imports
what is valid after every save (the last good version of a broken file stays on show), the
problems of each file are shown at the top of its page with file:line, and every open page
reloads itself through a server-sent event. The learners' database is never opened.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, stream_with_context

from quizapp.content.loader import ContentError

preview = Blueprint("preview", __name__)

# Editors write a file in several steps (truncate, write, rename): wait until they are done.
SETTLE_SECONDS = 0.1
HEARTBEAT_SECONDS = 15.0


@dataclass
class PreviewState:
    """What the preview shows about the folder: a version bumped by every import, and problems."""

    root: Path
    version: int = 0
    problems: list[ContentError] = field(default_factory=list)
    imported_at: float = 0.0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def problems_by_path(self) -> dict[str, list[ContentError]]:
        grouped: dict[str, list[ContentError]] = defaultdict(list)
        for problem in self.problems:
            grouped[str(Path(problem.path).resolve())].append(problem)
        return grouped

    def publish(self, problems: list[ContentError]) -> None:
        with self.changed:
            self.problems = problems
            self.version += 1
            self.imported_at = time.time()
            self.changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version


def preview_settings(root: Path, scratch: Path) -> dict[str, Any]:
    """Settings of a preview app: its own SQLite file in `scratch`, whatever DATABASE_URL says."""
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch / 'preview.sqlite'}",
        "QUIZAPP_CONTENT_DIR": str(root),
        "QUIZAPP_PREVIEW_DIR": str(root),
        "QUIZAPP_CONTENT_VERSION_TTL": 0.0,
        "QUIZAPP_JOBS": "local",
        "RATELIMIT_ENABLED": False,
    }


def reimport(app: Flask) -> None:
    """Import what is valid in the folder and publish every problem (never raises)."""
    from quizapp.services.content_import import ContentInvalid, import_what_is_valid

    state: PreviewState = app.extensions["quizapp_preview"]
    with app.app_context():
        try:
            bank = import_what_is_valid(state.root)
            problems = bank.errors
        except ContentInvalid as invalid:  # rendering failed on a file the checks passed
            problems = invalid.errors
        except Exception as error:  # the preview must survive any file an author saves
            problems = [ContentError(str(state.root), 1, "preview", f"import failed: {error}")]
    state.publish(sorted(problems))


def create_preview_app(root: Path, scratch: Path | None = None) -> Flask:
    """A full quizapp on a scratch SQLite file, showing `root`; imported once before return."""
    from quizapp import create_app
    from quizapp.extensions import db

    scratch = scratch or Path(tempfile.mkdtemp(prefix="quizapp-preview-"))
    scratch.mkdir(parents=True, exist_ok=True)
    app = create_app(preview_settings(root.resolve(), scratch))
    app.extensions["quizapp_preview"] = PreviewState(root.resolve())
    with app.app_context():
        db.create_all()
    reimport(app)
    return app


def watch(app: Flask):
    """Start a watchdog observer that re-imports after each settled change; returns it."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    state: PreviewState = app.extensions["quizapp_preview"]
    pending = threading.Event()

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if str(event.src_path).endswith((".yaml", ".yml")) or event.is_directory:
                pending.set()

    def debounce() -> None:
        while True:
            pending.wait()
            time.sleep(SETTLE_SECONDS)
            pending.clear()
            reimport(app)

    threading.Thread(target=debounce, name="preview-import", daemon=True).start()
    observer = Observer()
    observer.schedule(OnChange(), str(state.root), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def init_preview(app: Flask) -> None:
    """In preview mode: the banner's data on every page, and the preview routes."""
    if not app.config.get("QUIZAPP_PREVIEW_DIR"):
        return
    app.register_blueprint(preview)

    @app.context_processor
    def inject_preview():
        state: PreviewState | None = current_app.extensions.get("quizapp_preview")
        if state is None:
            return {}
        return {"preview": state, "preview_problems": state.problems_by_path()}


@preview.get("/preview/events")
def events():
    """Server-sent events: one `version` message now and one after every import."""
    state: PreviewState = current_app.extensions["quizapp_preview"]

    @stream_with_context
    def stream():
        seen = -1
        while True:
            version = state.wait_for_change(seen, HEARTBEAT_SECONDS)
            if version == seen:
                yield ": still here\n\n"  # keeps proxies and the browser from timing out
                continue
            seen = version
            yield f"data: {json.dumps({'version': version})}\n\n"

    return Response(stream(), mimetype="text/event-stream", headers={"Cache-Control": "no-store"})


@preview.get("/preview/problems")
def problems():
    state: PreviewState = current_app.extensions["quizapp_preview"]
    return render_template("preview_problems.html", problems=state.problems, root=state.root)
