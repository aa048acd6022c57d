"""Markdown rendered once at import: math as MathML, mermaid diagrams, code highlighted, no XSS."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from quizapp.content.markdown import MarkdownError, lint_markdown, render_markdown


class Elements(HTMLParser):
    """Every start tag with its attributes, and the visible text, of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_harmless(html: str) -> None:
    """No element that runs script, no event handler, no script URL."""
    elements = Elements(html)
    for tag, attrs in elements.tags:
        assert tag not in {"script", "iframe", "object", "embed", "style", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name in {"href", "src", "xlink:href", "action"}:
                assert (value or "").strip().lower().startswith(("http:", "https:", "mailto:")), (
                    html
                )


# ---------------------------------------------------------------- rendering


def test_inline_math_becomes_an_inline_math_element() -> None:
    html = render_markdown(r"The derivative is at most $\frac{1}{4}$ for the sigmoid.")

    elements = Elements(html)
    assert elements.named("math") == [{"display": "inline"}]
    assert elements.named("mfrac"), html
    assert "$" not in elements.text


def test_display_math_becomes_a_block_math_element() -> None:
    html = render_markdown("Chain rule:\n\n$$\\prod_{k=1}^{L} \\sigma'(z^{(k)})$$\n")

    elements = Elements(html)
    assert elements.named("math") == [{"display": "block"}]
    assert elements.named("munderover") or elements.named("msubsup"), html
    assert "$$" not in elements.text


def test_display_math_over_several_lines_is_one_block() -> None:
    html = render_markdown("$$\n\\frac{\\partial L}{\\partial W}\n= 0\n$$\n")

    assert [attrs["display"] for attrs in Elements(html).named("math")] == ["block"]


def test_escaped_dollars_stay_dollars() -> None:
    html = render_markdown(r"A GPU hour costs \$2, a TPU hour \$3.")

    elements = Elements(html)
    assert elements.named("math") == []
    assert "costs $2, a TPU hour $3." in elements.text


def test_mermaid_block_becomes_a_mermaid_pre_with_its_text() -> None:
    html = render_markdown("```mermaid\ngraph LR\n  A[Input] --> B[Conv Layer 1]\n```\n")

    elements = Elements(html)
    assert elements.named("pre") == [{"class": "mermaid"}]
    assert elements.named("code") == []  # drawn by mermaid.js, not shown as code
    assert "A[Input] --> B[Conv Layer 1]" in elements.text


def test_python_code_is_highlighted() -> None:
    html = render_markdown("```python\ndef grad(x):\n    return 2 * x\n```\n")

    elements = Elements(html)
    classes = {attrs.get("class") for _, attrs in elements.tags}
    assert "highlight" in classes
    assert {"k", "nf"} <= classes  # keyword `def`, function name `grad`
    assert "def grad(x):" in elements.text


def test_unknown_language_is_plain_escaped_code() -> None:
    html = render_markdown("```nosuchlanguage\nx <b>bold?</b>\n```\n")

    elements = Elements(html)
    assert [tag for tag, _ in elements.tags] == ["pre", "code"]
    assert "x <b>bold?</b>" in elements.text


def test_links_to_http_sites_are_kept_with_safe_rel() -> None:
    html = render_markdown("See [the paper](https://arxiv.org/abs/1512.03385).")

    (link,) = Elements(html).named("a")
    assert link["href"] == "https://arxiv.org/abs/1512.03385"
    assert "noopener" in (link["rel"] or "")


def test_tables_and_emphasis_render() -> None:
    html = render_markdown("| a | b |\n|---|---|\n| **1** | ~~2~~ |\n")

    tags = [tag for tag, _ in Elements(html).tags]
    assert {"table", "th", "td", "strong", "s"} <= set(tags)


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>click</a>",
    "<iframe src='https://evil.example'></iframe>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "![pic](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<javascript:alert(1)>",
    r"$\href{javascript:alert(1)}{x}$",
    r"$\text{<script>alert(1)</script>}$",
    r"$\text{<img src=x onerror=alert(1)>}$",
    "```mermaid\ngraph LR\n  A[<script>alert(1)</script>] --> B\n```",
    "```python\nx = 1  # </code></pre><script>alert(1)</script>\n```",
    "<style>body { display: none }</style>",
    "<form action='https://evil.example'><input></form>",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_raw_html_and_script_urls_never_survive(payload: str) -> None:
    html = render_markdown(f"Before\n\n{payload}\n\nAfter")

    assert_harmless(html)
    assert "Before" in html and "After" in html


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown("Use <b>bold</b> sparingly.")

    elements = Elements(html)
    assert elements.named("b") == []
    assert "Use <b>bold</b> sparingly." in elements.text


def test_empty_text_renders_to_nothing() -> None:
    assert render_markdown("") == ""


@pytest.mark.parametrize(
    ("text", "line_offset", "latex"),
    [
        pytest.param("First line\n\nthen $x^$ breaks", 2, "x^", id="inline"),
        pytest.param("Intro\n\n$$\n\\left( x\n$$\n", 3, "\\left( x", id="display"),
    ],
)
def test_math_the_converter_rejects_is_a_markdown_error_with_its_line(
    text: str, line_offset: int, latex: str
) -> None:
    with pytest.raises(MarkdownError) as raised:
        render_markdown(text)

    assert raised.value.line_offset == line_offset
    assert raised.value.message.startswith(f"cannot render math '{latex}': ")
    assert raised.value.message != f"cannot render math '{latex}': "


# ---------------------------------------------------------------- lint


def problems(text: str) -> list[tuple[int, str]]:
    return [(problem.line_offset, problem.message) for problem in lint_markdown(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Plain text with no math at all.",
        "Inline $a$ and $b^2$ on one line.",
        "$$\\frac{1}{2}$$",
        "$$\n\\frac{1}{2}\n$$",
        "Set notation $\\{x\\}$ uses escaped braces.",
        "A price of \\$5 is not math.",
        "Shell: `echo $HOME` is code.",
        "```bash\necho $HOME {\n```",
        "```mermaid\ngraph LR\n  A --> B\n```",
        "~~~python\nprint('$')\n~~~",
    ],
)
def test_well_formed_markdown_has_no_problems(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("one $a$\ntwo $b\nthree", [(1, "unbalanced $ math delimiter")], id="dollar"),
        pytest.param(
            "start\n$$\\frac{1}{2}\nmore text", [(1, "unbalanced $$ math delimiter")], id="dbl"
        ),
        pytest.param("x\n\n$\\frac{1}{2$", [(2, "unbalanced braces { } in math")], id="brace-open"),
        pytest.param("$a}{b$", [(0, "unbalanced braces { } in math")], id="brace-order"),
        pytest.param(
            "$$\n\\frac{1}{2\n$$", [(1, "unbalanced braces { } in math")], id="brace-display"
        ),
        pytest.param(
            "Diagram:\n\n```mermaid\n\n```\n", [(2, "empty mermaid block")], id="empty-mermaid"
        ),
        pytest.param(
            "Code:\n```python\nx = 1\n",
            [(1, "code block is never closed (missing ```)")],
            id="unclosed-fence",
        ),
        pytest.param(
            "$a\n$$b\n```mermaid\n```",
            [
                (0, "unbalanced $ math delimiter"),
                (2, "empty mermaid block"),
                (1, "unbalanced $$ math delimiter"),
            ],
            id="several",
        ),
    ],
)
def test_broken_markdown_is_found_with_its_line(text: str, expected: list[tuple[int, str]]) -> None:
    assert problems(text) == expected
