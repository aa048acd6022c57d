"""Starting a server for a benchmark or a test: a free port, and waiting until it answers."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class ServerDidNotStart(RuntimeError):
    """The server exited, or did not answer in time; the message holds its log if known."""


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    url: str,
    seconds: float = 60.0,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Return once `url` answers 200. ServerDidNotStart if `process` (the server) exits first
    or nothing answers within `seconds` (a bound on start-up, never a measurement)."""

    def failure(what: str) -> ServerDidNotStart:
        text = log.read_text(errors="replace") if log is not None and log.exists() else ""
        return ServerDidNotStart(f"the server at {url} {what}" + (f":\n{text}" if text else ""))

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise failure(f"exited early (status {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):  # not listening yet, or mid-start
            pass
        time.sleep(0.2)
    raise failure(f"did not answer within {seconds:g} s")
