"""Markdown to sanitised HTML, once, at import: math as MathML, mermaid diagrams, code highlighted.

Raw HTML in the source is escaped by the parser (``html=False``) and the final HTML
passes an allowlist sanitiser, so nothing an author writes can run script on a page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# Bump when the HTML produced for the same source changes, so an import re-renders.
# "2": questions with params store their reference variant, template and spec.
RENDERER_VERSION = "2"

MATHML_TAGS = {
    "math", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mtable", "mtr", "mtd", "munder", "mover", "munderover",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation", "merror",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "columnalign", "rowspacing", "columnspacing", "accent", "accentunder", "movablelimits",
    "width", "height", "depth", "linethickness", "displaystyle", "scriptlevel", "minsize",
    "maxsize", "symmetric", "largeop", "form", "notation", "encoding", "columnlines",
    "rowlines", "frame",
}  # fmt: skip
HTML_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    "span", "div", "del", "s", "sup", "sub",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}


class MarkdownError(ValueError):
    """A problem in an author's markdown, `line_offset` lines into the text (0-based)."""

    def __init__(self, line_offset: int, message: str) -> None:
        super().__init__(message)
        self.line_offset = line_offset
        self.message = message


@dataclass(frozen=True)
class MarkdownProblem:
    line_offset: int
    message: str


class _MathFailed(Exception):
    """latex2mathml rejected one formula; `render_markdown` turns it into a MarkdownError."""

    def __init__(self, latex: str, reason: str) -> None:
        super().__init__(reason)
        self.latex = latex
        self.reason = reason


def _render_math(content: str, options: dict) -> str:
    display = "block" if options.get("display_mode") else "inline"
    try:
        return latex_to_mathml(content.strip(), display=display)
    except Exception as error:
        # latex2mathml's exceptions often have no message: name the problem from the class.
        reason = str(error) or re.sub(r"(?<!^)(?=[A-Z])", " ", type(error).__name__).lower()
        raise _MathFailed(content.strip(), reason.removesuffix(" error")) from None


def _render_fence(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0].lower() if token.info.strip() else ""
    if language == "mermaid":
        # Drawn in the browser by the vendored mermaid.js; escaped text until then.
        return f'<pre class="mermaid">{html.escape(token.content)}</pre>\n'
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return f"<pre><code>{html.escape(token.content)}</code></pre>\n"
    return highlight(token.content, lexer, HtmlFormatter(nowrap=False, cssclass="highlight"))


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    dollarmath_plugin(md, allow_digits=False, double_inline=True, renderer=_render_math)
    md.add_render_rule("fence", _render_fence)
    return md


@lru_cache(maxsize=16_384)
def render_markdown(text: str) -> str:
    """Render author markdown to sanitised HTML (math as MathML, mermaid left for the browser).

    Cached: `content check`, the import and the preview render every text of the bank again
    and again, and almost all of them are unchanged (a failure raises and is not cached)."""
    if not text:
        return ""
    try:
        raw = _parser().render(text)
    except _MathFailed as failure:
        position = text.find(failure.latex)
        line_offset = text.count("\n", 0, position) if position >= 0 else 0
        raise MarkdownError(
            line_offset, f"cannot render math '{failure.latex}': {failure.reason}"
        ) from None
    return _cleaner().clean(raw)


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    # Built once: nh3.clean() rebuilds its allowlists on every call, most of its cost on a card.
    return nh3.Cleaner(
        tags=HTML_TAGS | MATHML_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w-]*)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")


def lint_markdown(text: str) -> list[MarkdownProblem]:
    """Find what would render wrong: unbalanced math delimiters or braces, empty mermaid blocks."""
    problems: list[MarkdownProblem] = []
    lines = text.split("\n")
    fence: tuple[str, str, int] | None = None  # (marker, language, opening line)
    fence_body: list[str] = []
    open_display: int | None = None
    for number, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is not None:
            if (
                match
                and match.group(1).startswith(fence[0][0])
                and len(match.group(1)) >= len(fence[0])
            ):
                if fence[1] == "mermaid" and not "".join(fence_body).strip():
                    problems.append(MarkdownProblem(fence[2], "empty mermaid block"))
                fence, fence_body = None, []
            else:
                fence_body.append(line)
            continue
        if match:
            fence, fence_body = (match.group(1), match.group(2).lower(), number), []
            continue
        open_display = _scan_math_line(line, number, open_display, problems)
    if fence is not None:
        problems.append(MarkdownProblem(fence[2], "code block is never closed (missing ```)"))
    if open_display is not None:
        problems.append(MarkdownProblem(open_display, "unbalanced $$ math delimiter"))
    return problems


def _scan_math_line(
    line: str, number: int, open_display: int | None, problems: list[MarkdownProblem]
) -> int | None:
    """Track $$ blocks across lines and check inline $ pairs within the line."""
    stripped = _INLINE_CODE.sub("", line).replace("\\$", "")
    pieces = stripped.split("$$")
    for position, piece in enumerate(pieces):
        inside_display = open_display is not None
        if not inside_display:
            if piece.count("$") % 2:
                problems.append(MarkdownProblem(number, "unbalanced $ math delimiter"))
            else:
                for inline in piece.split("$")[1::2]:
                    _check_braces(inline, number, problems)
        else:
            _check_braces(piece, number, problems)
        if position < len(pieces) - 1:
            open_display = None if inside_display else number
    return open_display


def _check_braces(math: str, number: int, problems: list[MarkdownProblem]) -> None:
    depth = 0
    for char_index, char in enumerate(math):
        if char == "{" and (char_index == 0 or math[char_index - 1] != "\\"):
            depth += 1
        elif char == "}" and (char_index == 0 or math[char_index - 1] != "\\"):
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        problems.append(MarkdownProblem(number, "unbalanced braces { } in math"))
