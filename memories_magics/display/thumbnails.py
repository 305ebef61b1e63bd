"""Small thumbnails of the images a request sent, shown above its answer.

Each is an ``<img>`` of a ``data:`` URL built here from the request's own attachment bytes
(never a URL from model text, which :mod:`.safe` renders as a link and never loads), so it
fetches nothing and runs nothing. Pillow loads only when a request carried images.
:func:`sent_items` are what the kernel's HTML and the extension's payload (``sent``) show.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from ..vocabulary import THUMBNAIL_SIDE
from .safe import displayable, escape_html


def thumbnail_url(png: bytes, side: int = THUMBNAIL_SIDE) -> str:
    """A PNG thumbnail of ``png`` at most ``side`` pixels wide and high, as a data URL."""
    from PIL import Image

    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        small = image.copy()
    small.thumbnail((side, side))
    small.info.pop("icc_profile", None)  # a colour profile can outweigh a small image
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sent_line(sent: list[dict[str, Any]]) -> str:
    """``sent 2 images: fig (640×480), {after} (32×32)`` for :func:`sent_items` ("" when
    none was sent)."""
    if not sent:
        return ""
    names = ", ".join(f"{i['name']} ({i['width']}×{i['height']})" for i in sent)
    return f"sent {len(sent)} image{'s' if len(sent) > 1 else ''}: {names}"


def sent_items(request: Any) -> list[dict[str, Any]]:
    """What ``request`` sent, for display: each image's name, size as sent and thumbnail
    (the payload's ``sent``; [] when none was sent)."""
    return [{"name": displayable(a.name or "image")[0], "width": a.width, "height": a.height,
             "url": thumbnail_url(a.png)} for a in getattr(request, "attachments", ())]


def thumbnails_html(sent: list[dict[str, Any]]) -> str:
    """The thumbnails of :func:`sent_items` in one row, each titled with its name and size
    ("" when none was sent)."""
    if not sent:
        return ""
    tags = "".join(
        f'<img src="{i["url"]}" alt="{escape_html(i["name"])}" '
        f'title="{escape_html(i["name"])} ({i["width"]}×{i["height"]})" '
        f'style="max-height:{THUMBNAIL_SIDE}px;margin-right:6px;border:1px solid #ccc">'
        for i in sent)
    return f'<div class="memories-magics-sent">{tags}</div>'
