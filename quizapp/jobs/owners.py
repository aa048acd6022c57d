"""Who will finish a queued simulation run: a web process's own pool, or Celery.

A run handed to the local pool lives only in that process's memory; if the process dies
(a restart, a crash, gunicorn recycling a worker) the run would wait forever. Each such run
records its owner as "host/pid/start time", so another process can tell that the owner is
gone (not merely busy: pids are reused, start times are not) and run it again.
"""

from __future__ import annotations

import os
import socket

CELERY = "celery"  # Celery redelivers a lost task itself (acks_late): never requeued here


# States (field 3 of /proc/<pid>/stat) of a process that has ended: a zombie keeps its pid
# and start time until its parent reaps it, and an orphan's parent may be a subreaper (a
# supervisor, a test runner, a container's init) that never does.
_ENDED = (b"Z", b"X", b"x")


def _start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if there is no
    such process or it has ended (a zombie). Without /proc, "?" for any live process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name (field 2) may hold spaces, so count after its ")": the state
            # (field 3) comes first, the start time is field 22.
            fields = stat.read().rsplit(b")", 1)[1].split()
            return None if fields[0] in _ENDED else fields[19].decode()
    except FileNotFoundError:
        if os.path.isdir("/proc"):
            return None
    except (OSError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"


def this_process() -> str:
    """The owner token of the calling process."""
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def owner_is_gone(owner: str | None) -> bool:
    """True when the process that owned a run has certainly ended (same host, and its pid is
    gone or now names a later process); False for Celery, another host, an unknown owner
    (runs queued before owners were recorded) or a live process."""
    if owner is None or owner == CELERY:
        return False
    host, _, rest = owner.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    now = _start_time(int(pid))
    return now is None or (started != "?" and now != "?" and now != started)
