"""The image parts of a chat request, checked as each provider's API checks them.

`problem(provider, body, mistral)` is what the real API would answer with a 400 (None when
the request's images are well formed); `sent_images(body)` decodes the images a request
carried, in order, for tests to look at.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image

_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=]+)\Z")
_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
#: The most bytes one image may have (Anthropic's 5 MB; the others' 20 MB).
_MAX_BYTES = {"anthropic": 5_000_000, "mistral": 10_000_000}


def _decoded(media: str, data: str, provider: str) -> tuple[bytes | None, str | None]:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, "Invalid base64 image data"
    if len(raw) > _MAX_BYTES.get(provider, 20_000_000):
        return None, "image exceeds the maximum size"
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.verify()
            if image.format != _FORMATS.get(media):
                return None, f"Image does not match the provided media type image/{media}"
    except Exception:  # noqa: BLE001 - any unreadable image is refused
        return None, "Could not process image"
    return raw, None


def _image_of(part: dict, provider: str, mistral: bool) -> tuple[str, str] | str:
    """(media, base64) of one image part in `provider`'s shape, or the API's error."""
    kind = part.get("type")
    if provider == "anthropic":
        if kind != "image":
            return f"content.type: unexpected value {kind!r}"
        source = part.get("source") or {}
        media = str(source.get("media_type", "")).removeprefix("image/")
        if source.get("type") != "base64" or media not in _FORMATS or \
                not isinstance(source.get("data"), str):
            return "image.source: expected {type: base64, media_type, data}"
        return media, source["data"]
    if kind != "image_url":
        return f"Invalid content type {kind!r}"
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    elif not mistral:  # only Mistral takes the URL as a bare string
        return "image_url must be an object with a url"
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if match is None:
        return "image_url.url must be a base64 data URL (this server fetches nothing)"
    return match.group(1), match.group(2)


def _parts(body: dict) -> list[dict]:
    return [part for message in body.get("messages") or []
            if isinstance(message, dict) and isinstance(message.get("content"), list)
            for part in message["content"] if isinstance(part, dict)]


def problem(provider: str, body: dict, mistral: bool = False) -> str | None:
    """What the provider's API would say is wrong with the request's content parts."""
    for part in _parts(body):
        if part.get("type") == "text":
            if not isinstance(part.get("text"), str):
                return "text part without text"
            continue
        if provider == "anthropic" and part.get("type") in ("tool_use", "tool_result"):
            continue
        found = _image_of(part, provider, mistral)
        if isinstance(found, str):
            return found
        _, error = _decoded(*found, provider)
        if error:
            return error
    return None


def sent_images(body: dict, provider: str = "openai", mistral: bool = False) -> list[Image.Image]:
    """The images a (valid) request carried, decoded, in order."""
    images = []
    for part in _parts(body):
        found = _image_of(part, provider, mistral) if part.get("type") != "text" else None
        if isinstance(found, tuple):
            images.append(Image.open(io.BytesIO(base64.b64decode(found[1]))))
    return images
