"""Helpers of the security tests: signing in through the real forms, CSRF tokens, and an HTML
scan for anything a browser would execute."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

PASSWORD = "a long and private passphrase"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')  # fmt: skip


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a form on `path` carries for this client's session."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def sign_up(client, username: str, password: str = PASSWORD, csrf: bool = False):
    data = {"username": username, "password": password, "confirm": password}
    if csrf:
        data["csrf_token"] = csrf_token(client, "/register")
    return client.post("/register", data=data)


def log_in(client, username: str, password: str = PASSWORD, csrf: bool = False):
    data = {"username": username, "password": password}
    if csrf:
        data["csrf_token"] = csrf_token(client, "/login")
    return client.post("/login", data=data)


class ExecutableScan(HTMLParser):
    """Collects everything in a page that would run script: inline scripts, scripts from
    elsewhere than /static/, event-handler attributes and javascript:/data: URLs."""

    URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "srcdoc", "data")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            source = attributes.get("src") or ""
            if not source.startswith("/static/"):
                self.problems.append(f"<script src={source!r}>")
        if tag in ("iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in self.URL_ATTRIBUTES and value:
                scheme = urlsplit(value.strip().replace("\t", "").replace("\n", "")).scheme
                if scheme.lower() in ("javascript", "data", "vbscript"):
                    self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]!r}")


def executable_parts(html: str) -> list[str]:
    scan = ExecutableScan()
    scan.feed(html)
    scan.close()
    return scan.problems
