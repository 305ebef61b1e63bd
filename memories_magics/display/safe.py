"""Making untrusted model text safe to show.

JupyterLab renders the HTML outputs of a notebook you just ran as trusted, without sanitising
them. So model Markdown is never handed to a front end as Markdown: it is rendered here by one
CommonMark parser with raw HTML off (markdown-it-py, code highlighted by pygments), and the
HTML is then cleaned by an allow-list sanitiser (nh3): no script, no event handlers, no
images, links only to http, https and mailto. ``text/plain`` is stripped of terminal control
sequences, and known secrets are masked in everything shown. markdown-it-py, nh3 and pygments
load on first use, not at ``%load_ext``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ..providers.call import valid_text
from ..secrets import mask_known

#: Answers longer than this are cut in the display; the full text stays on the result object.
MAX_DISPLAY_CHARS = 20_000

# Terminal escapes: CSI (ESC [ or 8-bit \x9b) ... final byte; OSC, DCS, SOS, PM, APC strings up
# to their terminator (BEL or ST) or the end; any other two-byte ESC sequence; then every
# remaining C0/C1 control but tab and newline (a carriage return can overwrite a line).
_TERMINAL_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")

#: Every character a sequence of ``_TERMINAL_ESCAPE`` starts with, or is.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_TAGS = {"a", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3",
         "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
         "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
_LINK_SCHEMES = {"http", "https", "mailto"}


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences (colours, titles, hyperlinks, cursor moves)
    or other control characters; tabs and newlines stay, ``\\r\\n`` becomes ``\\n``."""
    if not _CONTROL.search(text):  # the usual case, and ten times quicker to tell
        return text
    return _TERMINAL_ESCAPE.sub("", text.replace("\r\n", "\n"))


def displayable(text: str, limit: int = MAX_DISPLAY_CHARS) -> tuple[str, bool]:
    """``text`` made safe to send to a front end: invalid UTF-8 (lone surrogates) replaced,
    control sequences and known secrets (a server may echo the key) removed, cut to ``limit``
    characters. Returns the text and whether it was cut."""
    text = mask_known(strip_controls(valid_text(text)))
    return (text[:limit], True) if len(text) > limit else (text, False)


def escape_html(text: str) -> str:
    """HTML-escape text, quotes included."""
    return html.escape(text, quote=True)


def _highlight(code: str, language: str, _attrs: Any = None) -> str:
    """``code`` as pygments' highlighted HTML (classes styled by JupyterLab's and nbconvert's
    pygments CSS), or "" for an unknown language (markdown-it then escapes it plainly)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language.strip()) if language.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""
    spans = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{spans}</code></pre>\n'


def _image_as_link(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Images are not loaded (they would tell a server who reads the notebook): a link."""
    token = tokens[idx]
    alt = self.renderInline(token.children or [], options, env)
    return f'<a href="{escape_html(str(token.attrGet("src") or ""))}">image: {alt}</a>'


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    parser.enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_link)
    return parser


def _safe_link(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href" and urlsplit(value).scheme.lower() not in _LINK_SCHEMES:
        return None  # the link's text stays, as text
    return value


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    import nh3
    from pygments.token import STANDARD_TYPES

    return nh3.Cleaner(tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=_safe_link,
                       url_schemes=_LINK_SCHEMES, link_rel="noopener noreferrer nofollow",
                       filter_style_properties={"text-align"},
                       allowed_classes={"pre": {"highlight"},
                                        "span": {c for c in STANDARD_TYPES.values() if c}})


def clean_html(fragment: str) -> str:
    """``fragment`` with everything outside the allow-list removed (see the module docstring)."""
    return str(_cleaner().clean(fragment))


def markdown_html(text: str, shown: bool = False) -> str:
    """Model Markdown as clean HTML: formatting kept, raw HTML shown as text (``shown``:
    ``text`` is already what :func:`displayable` gives, so it is not cleaned again)."""
    return clean_html(_markdown().render(text if shown else displayable(text, len(text))[0]))


def code_html(code: str, language: str = "") -> str:
    """``code`` as a highlighted (or plain) HTML code block."""
    code = displayable(code, len(code))[0]
    block = _highlight(code, language) or f"<pre><code>{escape_html(code)}</code></pre>"
    return clean_html(block)


def sandboxed_html(fragment: str, height_px: int = 320) -> str:
    """Model-written HTML shown in an iframe that can run no script and fetch nothing."""
    policy = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'\">")
    return (f'<iframe sandbox="" referrerpolicy="no-referrer" style="width:100%;'
            f'height:{height_px}px;border:1px solid #ccc" '
            f'srcdoc="{escape_html(policy + fragment)}"></iframe>')
