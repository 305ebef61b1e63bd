"""Model text rendered safely: every bundle's HTML parsed and checked element by element (no
script, no event handlers, no loaded resources, links only to http/https/mailto), hostile text
shown as written, ordinary Markdown still formatted, text/plain free of terminal escapes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

from memories_magics.config import Config
from memories_magics.display.render import result_bundle, streaming_bundle, table_bundle
from memories_magics.display.safe import MAX_DISPLAY_CHARS, markdown_html, strip_controls
from memories_magics.display.stream import ColumnsView, StreamView
from memories_magics.engine import Engine
from memories_magics.result import LLMResult
from memories_magics.types import Response

FENCE = "```"
#: Texts a model (or a server pretending to be one) may send; each must render inert.
HOSTILE = [
    "a<b and b>c",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<start_of_image> then <end_of_turn>",
    *(f"intro{sep}{FENCE}\n<img src=x onerror=alert(1)>\n{FENCE}\n<script>alert(2)</script>"
      for sep in ("\u2028", "\u0085", "\v", "\f", "\r", "\u2029")),
    f"{FENCE}\ncode\n{FENCE}~\n<img src=x onerror=alert(3)>",
    f"````\n{FENCE}\n<script>alert(4)</script>\n{FENCE}\n````\n<img onerror=alert(5) src=x>",
    f"{FENCE}js\n<script>alert(6)</script>\n<img src=x onerror=alert(7)>",
    f"   {FENCE}\n<svg onload=alert(8)>\n    {FENCE}\n<iframe src=https://evil.example>",
    "&lt;script&gt;alert(9)&lt;/script&gt; &#60;img src=x onerror=alert(10)&#62; &amp;",
    "[d](data:text/html;base64,PHNjcmlwdD4=) ![i](data:image/svg+xml,<svg onload=alert(11)>)",
    "<javascript:alert(12)> <https://ok.example> <mailto:a@b.example> <vbscript:msgbox(1)>",
    "[a][r]\n\n[r]: javascript:alert(13)\n\n[b][s]\n\n[s]: <java&#x73;cript:alert(14)>",
    "[x](jav&#x61;script:alert(15)) [y](JaVaScRiPt:alert(16)) [z](//evil.example/p)",
    "[rel](/api/contents) [up](../secret) [file](file:///etc/passwd)",
    '<a href="javascript:alert(17)">x</a> <b onmouseover=alert(18)>b</b>',
    '[t](https://ok.example "a\\" onmouseover=alert(19) x=\\"")',
    "![tracker](https://evil.example/t.png) <style>*{display:none}</style>",
    "\x1b[31mred\x1b[0m \x1b]8;;javascript:alert(20)\x07link\x1b]8;;\x07 \x1b]0;title\x07",
    "lone \ud800 surrogate <img src=x onerror=alert(21)>",
    "| a | <img src=x onerror=alert(22)> |\n|---|---|\n| `<b>` | [c](javascript:alert(23)) |",
    "<!-- comment --><details open ontoggle=alert(24)>",
]
SCRIPT_TAGS = {"script", "img", "iframe", "svg", "math", "style", "object", "embed", "link",
               "meta", "form", "input", "base", "video", "audio", "source"}
LINK_SCHEMES = {"http", "https", "mailto"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Page(HTMLParser):
    """Every element with its attributes, and the text a reader sees."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, str]] = []  # (innermost open element, text)
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in ("br", "hr", "img", "input", "meta", "link"):
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        self.texts.append((self._open[-1] if self._open else "", data))

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.texts)

    def text_in(self, tag: str) -> list[str]:
        return [text for inside, text in self.texts if inside == tag]


def assert_inert(html: str, *, sandbox: bool = False, own_styles: bool = False) -> Page:
    """No element that runs or loads anything, no handler, no link outside the allow-list;
    styles only table alignment (``own_styles``: the compare columns' fixed layout)."""
    page = Page(html)
    for tag, attrs in page.elements:
        if sandbox and tag == "iframe":  # -f html: script-less, fetch-less sandbox
            assert attrs["sandbox"] == "" and "allow" not in attrs and "src" not in attrs
            assert "default-src 'none'" in (attrs["srcdoc"] or "")
            continue
        assert tag not in SCRIPT_TAGS, (tag, html)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs and "srcset" not in attrs and "formaction" not in attrs
        if "href" in attrs:
            assert urlsplit(attrs["href"] or "").scheme in LINK_SCHEMES, attrs
            assert "noopener" in (attrs.get("rel") or ""), attrs
        assert set(attrs) <= {"href", "title", "rel", "class", "style", "start"}, attrs
        if "style" in attrs and not own_styles:
            assert re.fullmatch(r"text-align:(left|right|center)", attrs["style"] or ""), attrs
    return page


def _result(text: str, fmt: str = "markdown") -> LLMResult:
    engine = Engine(Config.load())
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "q")
    return LLMResult(Response(text, spec.name, "openai", "stop"), spec, request, fmt)


def _bundles(text: str) -> list[tuple[str, dict[str, Any]]]:
    columns = ColumnsView(["a <b>", "b"], display=_Display())
    columns.feed(0, text)
    return [*((fmt, result_bundle(_result(text, fmt)))
              for fmt in ("markdown", "text", "code", "json", "html")),
            ("stream", streaming_bundle(text, f"model {text}")),
            ("table", table_bundle(["h", text], [[text, "x"]], title=text)),
            ("columns", columns.bundle())]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_inert_in_every_bundle(text: str) -> None:
    for name, bundle in _bundles(text):
        assert "text/markdown" not in bundle, f"{name}: a front end would parse it with HTML on"
        assert not CONTROL.search(bundle["text/plain"]), (name, bundle["text/plain"])
        assert "\x1b" not in bundle.get("text/html", "")
        if "text/html" in bundle:
            assert_inert(bundle["text/html"], sandbox=name == "html",
                         own_styles=name == "columns")


@pytest.mark.parametrize("text", ["a<b and b>c", "<script>alert(1)</script>",
                                  '<img src=x onerror="alert(1)">', "<start_of_image>"])
def test_hostile_text_shows_as_written(text: str) -> None:
    for name in ("markdown", "stream"):
        bundle = dict(_bundles(text))[name]
        assert text in Page(bundle["text/html"]).text, name
        assert text in bundle["text/plain"]


def test_text_after_a_line_separator_and_a_fence_stays_text() -> None:
    page = assert_inert(markdown_html(HOSTILE[4]))
    assert "<img src=x onerror=alert(1)>" in page.text and "<script>alert(2)</script>" in page.text


def test_inline_code_shows_as_written() -> None:
    for name in ("markdown", "stream"):
        page = Page(dict(_bundles("Use `a < b && c` here."))[name]["text/html"])
        assert page.text_in("code") == ["a < b && c"], name
        assert "&lt;" not in page.text and "&amp;" not in page.text


def test_ordinary_markdown_is_formatted() -> None:
    text = ("# Title\n\n- one\n- **two**\n\n3. three\n\n*em* ~~gone~~ [docs](https://example.org)"
            " <mailto:a@b.example>\n\n| n | v |\n|---|--:|\n| a | 1 |\n\n"
            f"{FENCE}python\nif a < b:\n    print('x')\n{FENCE}\n")
    page = assert_inert(result_bundle(_result(text))["text/html"])
    tags = [tag for tag, _ in page.elements]
    for tag in ("h1", "ul", "li", "strong", "em", "s", "ol", "table", "th", "td", "pre", "code"):
        assert tag in tags, tag
    links = [attrs["href"] for tag, attrs in page.elements if tag == "a"]
    assert links == ["https://example.org", "mailto:a@b.example"]
    assert ("ol", {"start": "3"}) in page.elements
    assert ("pre", {"class": "highlight"}) in page.elements, "code highlighted by pygments"
    assert ("span", {"class": "k"}) in page.elements and "if a < b:" in page.text
    assert page.text_in("h1") == ["Title"] and page.text_in("strong") == ["two"]


def test_images_become_links_and_unsafe_links_plain_text() -> None:
    page = assert_inert(markdown_html("![chart](https://ok.example/c.png) [bad](javascript:x)"))
    assert ("a", {"href": "https://ok.example/c.png",
                  "rel": "noopener noreferrer nofollow"}) in page.elements
    assert "image: chart" in page.text and "bad" in page.text


def test_code_and_json_formats_show_code_blocks() -> None:
    code = result_bundle(_result(f"Here:\n{FENCE}python\nx = 1 < 2\n{FENCE}\n", "code"))
    assert code["text/plain"].startswith("x = 1 < 2")
    assert "x = 1 < 2" in assert_inert(code["text/html"]).text
    data = result_bundle(_result('{"a": "<script>"}', "json"))
    assert data["application/json"] == {"a": "<script>"}
    assert '"a": "<script>"' in assert_inert(data["text/html"]).text
    broken = result_bundle(_result("not json <img src=x onerror=1>", "json"))
    assert "The answer is not valid JSON." in assert_inert(broken["text/html"]).text


def test_plain_text_is_stripped_of_terminal_escapes() -> None:
    bundle = result_bundle(_result("\x1b[2J\x1b]0;owned\x07red\x1b[31m!\x1b[0m a\rb\r\nc\x9b1m"))
    assert bundle["text/plain"].startswith("red! ab\nc\n")


def test_every_control_character_is_stripped_wherever_it_stands() -> None:
    """Text with no control character passes untouched (a quick check); each C0 and C1
    control but tab and newline goes, at the start, inside and at the end."""
    assert strip_controls("plain ✓ text\twith\nlines") == "plain ✓ text\twith\nlines"
    for code in [*range(0x20), *range(0x7f, 0xa0)]:
        if chr(code) in "\t\n":
            continue
        for text in (f"{chr(code)}ab", f"a{chr(code)}b", f"ab{chr(code)}"):
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", strip_controls(text)), \
                hex(code)


def test_huge_answers_are_cut_for_display() -> None:
    text = "word <b> " * 20_000
    bundle = result_bundle(_result(text))
    assert len(bundle["text/html"]) < 3 * MAX_DISPLAY_CHARS
    assert f"showing {MAX_DISPLAY_CHARS:,} of {len(text):,} characters" in bundle["text/plain"]
    assert f"showing {MAX_DISPLAY_CHARS:,}" in Page(bundle["text/html"]).text
    assert len(streaming_bundle(text, "m")["text/plain"]) == MAX_DISPLAY_CHARS


class _Handle:
    def __init__(self, outputs: list[Any], index: int) -> None:
        self.outputs, self.index = outputs, index

    def update(self, obj: Any, raw: bool = False) -> None:
        self.outputs[self.index] = obj


class _Display:
    """A cell's output area: display appends, handles update in place."""

    def __init__(self) -> None:
        self.outputs: list[Any] = []

    def __call__(self, obj: Any, raw: bool = False, display_id: bool = False) -> _Handle:
        self.outputs.append(obj)
        return _Handle(self.outputs, len(self.outputs) - 1)


def test_final_result_replaces_the_live_view_and_keeps_other_output() -> None:
    cell = _Display()
    view = StreamView("m", display=cell, max_updates_per_s=1e9)
    view.feed("partial <b>")
    cell.outputs.append("the user's own print")
    view.show_final({"text/plain": "final result"})
    assert cell.outputs == [{"text/plain": "final result"}, "the user's own print"]
    view.feed(" late piece")  # an abandoned stream can't paint over the result
    view.status("late status")
    assert cell.outputs == [{"text/plain": "final result"}, "the user's own print"]


def test_final_result_without_a_live_view_is_one_new_output() -> None:
    cell = _Display()
    StreamView("m", display=cell).show_final({"text/plain": "cached result"})
    assert cell.outputs == [{"text/plain": "cached result"}]


def test_tool_results_show_as_text_under_the_answer() -> None:
    from memories_magics.types import ToolCall, ToolStep

    result = _result("Done.")
    hostile = "<img src=x onerror=alert(1)>\x1b[31m"
    result.response.tool_steps = (ToolStep(ToolCall("c1", "lookup", {"q": "<script>"}), hostile),)
    bundle = result_bundle(result)
    page = assert_inert(bundle["text/html"])
    assert ("details", {}) in page.elements
    assert 'lookup({"q": "<script>"}) → <img src=x onerror=alert(1)>' in page.text
    assert "\x1b" not in bundle["text/plain"] and "tool calls:\nlookup(" in bundle["text/plain"]
