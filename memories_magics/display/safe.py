"""Making untrusted model text inert in HTML and Markdown.

JupyterLab renders the Markdown and HTML outputs of a notebook you just ran as trusted, without
sanitising them, so every renderer here escapes model text itself: no raw HTML, no script or
data links, no remote images.
"""

from __future__ import annotations

import html
import re

# A link target, inline ``](...)`` or a reference definition ``]: ...``, that is not plainly
# a web address, an anchor or a relative path. Such targets are broken into plain text: an
# allow-list, so that escapes such as ``javascript\:`` cannot slip a scheme through.
_UNSAFE_LINK = re.compile(r"\](?=\(\s*<?(?!https?://|mailto:|#|\.{0,2}/(?!/)))")
_UNSAFE_REFERENCE = re.compile(r"\](?=:\s*<?(?!https?://|mailto:|#|\.{0,2}/(?!/)))")
_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})([^\n]*)")
_TRAILING_BACKTICKS = re.compile(r"`+")
_SURROGATE = re.compile("[\ud800-\udfff]")


#: Answers longer than this are cut in the display; the full text stays on the result object.
MAX_DISPLAY_CHARS = 20_000


def displayable(text: str, limit: int = MAX_DISPLAY_CHARS) -> tuple[str, bool]:
    """``text`` made safe to send to a front end: invalid UTF-8 (lone surrogates) replaced,
    and cut to ``limit`` characters. Returns the text and whether it was cut."""
    text = _SURROGATE.sub("\ufffd", text)
    return (text[:limit], True) if len(text) > limit else (text, False)


def escape_html(text: str) -> str:
    """HTML-escape text, quotes included."""
    return html.escape(text, quote=True)


def _fenced_parts(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into ``(is_code, text)`` parts: fenced code blocks opened at the start of
    a line, closed as CommonMark closes them (up to three spaces, same character, at least as
    long), or running to the end. Everything else is prose."""
    parts: list[tuple[bool, str]] = []
    lines = text.splitlines(keepends=True)
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opened = _FENCE_OPEN.fullmatch(lines[i].rstrip("\r\n"))
        if opened is None or (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            prose.append(lines[i])
            i += 1
            continue
        if prose:
            parts.append((False, "".join(prose)))
            prose = []
        fence = opened.group(1)
        closer = re.compile(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
        block = [lines[i]]
        i += 1
        while i < len(lines):
            block.append(lines[i])
            i += 1
            if closer.fullmatch(block[-1].rstrip("\r\n")):
                break
        parts.append((True, "".join(block)))
    if prose:
        parts.append((False, "".join(prose)))
    return parts


def _inert_prose(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _UNSAFE_LINK.sub(r"\\]", text)
    text = _UNSAFE_REFERENCE.sub(r"\\]", text)
    return text.replace("![", "!\\[")


def safe_markdown(text: str) -> str:
    """Markdown that keeps the model's formatting but cannot run script or load anything.

    Outside fenced code blocks (which Markdown shows verbatim anyway), raw HTML is escaped
    (``<script>`` shows as text), link targets that are not web addresses, anchors or relative
    paths are broken into plain text, and image syntax is broken so nothing is fetched.
    """
    return "".join(part if is_code else _inert_prose(part)
                   for is_code, part in _fenced_parts(text))


def code_fence(code: str, language: str = "") -> str:
    """``code`` in a Markdown fence longer than any backtick run inside it."""
    longest = max((len(m) for m in _TRAILING_BACKTICKS.findall(code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"


_FENCED_BLOCK = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+#.\-]*)[^\n]*\n(.*?)^\1[ \t]*$",
                           re.M | re.S)


def extract_code(text: str) -> tuple[str, str]:
    """The first fenced code block of an answer as ``(code, language)``, else the whole text."""
    match = _FENCED_BLOCK.search(text)
    if match is None:
        return text.strip(), ""
    return match.group(3).rstrip("\n"), match.group(2)


def sandboxed_html(fragment: str, height_px: int = 320) -> str:
    """Model-written HTML shown in an iframe that can run no script and fetch nothing."""
    policy = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'\">")
    return (f'<iframe sandbox="" referrerpolicy="no-referrer" style="width:100%;'
            f'height:{height_px}px;border:1px solid #ccc" '
            f'srcdoc="{escape_html(policy + fragment)}"></iframe>')
