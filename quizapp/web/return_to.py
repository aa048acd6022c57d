"""Where a page sends the learner back to (`next`): only paths on this site, never elsewhere."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def safe_local_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: an open redirect would let a link
    send the learner elsewhere."""
    # Control characters too: CR/LF would split the Location header, and browsers drop tab
    # and newline from URLs, so "/\t/evil.example" would leave the site as "//evil.example".
    if not target or not target.isprintable() or "\\" in target or not target.startswith("/"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set in its query string (replacing those already there)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))
