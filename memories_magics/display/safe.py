"""Making untrusted model text inert in HTML and Markdown.

JupyterLab renders the Markdown and HTML outputs of a notebook you just ran as trusted, without
sanitising them, so every renderer here escapes model text itself: no raw HTML, no script or
data links, no remote images.
"""

from __future__ import annotations

import html
import re

# A link or image target whose scheme is not plainly safe: ](javascript:...), ](data:...).
_UNSAFE_LINK = re.compile(r"\]\(\s*(?!(?:https?|mailto):|#|/|\.)([a-z][a-z0-9+.\-]*:)", re.I)
# Reference-style link definitions: [x]: javascript:...
_UNSAFE_REFERENCE = re.compile(r"^(\s*\[[^\]]*)\]:(\s*(?!(?:https?|mailto):)[a-z][a-z0-9+.\-]*:)",
                               re.I | re.M)
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


def safe_markdown(text: str) -> str:
    """Markdown that keeps the model's formatting but cannot run script or load anything.

    Raw HTML is escaped (``<script>`` shows as text), links with a non-web scheme
    (``javascript:``, ``data:``) are broken into plain text, and images become links so that
    nothing is fetched when the output is shown.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _UNSAFE_LINK.sub(r"\]\\(\1", text)
    text = _UNSAFE_REFERENCE.sub(r"\1\\]:\2", text)
    return text.replace("![", "!\\[")


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
