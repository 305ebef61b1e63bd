"""Images in prompts: ``--attach a,b`` and ``{img}`` read notebook values as images, and
each request sends them as PNGs sized for its provider (see ``image_limits`` on each provider).

A cell's prompt with images in it is a :class:`Prompt` (text and :class:`Picture` parts in
order); :func:`place_images` turns it, for one provider, into neutral message parts that name
each image by its digest plus the :class:`~memories_magics.types.Attachment` bytes the
provider sends. Everything is read with Pillow (loaded on first use), with its decompression
bomb guard raised to an error and the source bytes bounded before decoding.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .interpolate import Placed, evaluate, interpolate_values
from .types import Attachment, ImageLimits, Message

#: What --attach accepts, for the one-line error that names it.
ACCEPTED = ("a PIL image, a matplotlib Figure, a numpy array (H×W, H×W×3 or H×W×4), PNG/JPEG/"
            "GIF/WebP bytes, an IPython.display.Image, or a path to such a file")
#: Bytes (or a file) larger than this are refused before anything is decoded.
MAX_SOURCE_BYTES = 50_000_000
#: Images with more pixels than this are refused (Pillow's own bomb threshold, there a warning).
MAX_SOURCE_PIXELS = 89_478_485
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
               (b"GIF89a", "GIF"))


@dataclass(frozen=True)
class Picture:
    """A notebook value read as an image (an RGB or RGBA ``PIL.Image``), not yet sized."""

    name: str
    image: Any


@dataclass(frozen=True)
class Prompt:
    """A prompt with images in it: text and pictures, in the order the model sees them."""

    parts: tuple[str | Picture, ...]

    @property
    def text(self) -> str:
        """The prompt's text, each image shown as ``[image: name]``."""
        return "".join(p if isinstance(p, str) else f"[image: {p.name}]" for p in self.parts)

    @property
    def pictures(self) -> tuple[Picture, ...]:
        """The images, in order."""
        return tuple(p for p in self.parts if isinstance(p, Picture))

    def __str__(self) -> str:
        return self.text


def is_image(value: Any) -> bool:
    """Whether a ``{expr}`` value is placed as an image: a PIL image, a matplotlib Figure or an
    IPython.display.Image (arrays, bytes and paths only with ``--attach``: ``{arr}`` in a
    prompt has always been the array's text). Imports nothing."""
    kinds = [getattr(sys.modules.get(module), name, None) for module, name in
             (("PIL.Image", "Image"), ("matplotlib.figure", "Figure"),
              ("IPython.core.display", "Image"))]
    return any(isinstance(kind, type) and isinstance(value, kind) for kind in kinds)


def prompt_with_images(text: str, namespace: dict[str, Any], attach: str | None = None,
                       local: Mapping[str, Any] | None = None, missing: str = "",
                       first: Sequence[Picture] = ()) -> str | Prompt:
    """The cell's prompt: ``text`` interpolated, with each ``{expr}`` whose value is an image
    placed as one, after the images ``attach`` names (``"a,b"``). Plain text when there are
    none. With ``--over``, ``local`` is the row: its columns win over the notebook's names, in
    ``attach`` as in ``{expr}`` (so ``--attach photo`` sends each row's ``photo``). ``first``
    are pictures already read (the Python API's ``attach=[img]``), sent before all of them."""
    names = [n.strip() for n in (attach or "").split(",")]
    if attach is not None and not all(names):
        raise UsageError(f"--attach {attach!r}: name notebook variables, e.g. --attach fig,photo")
    attached = [picture(local[n] if local is not None and n in local else
                        evaluate(n, namespace, f"--attach {n}"), n) for n in names if n]
    parts: list[str | Picture] = [*first, *attached]
    for piece in interpolate_values(text, namespace, local, missing, keep=is_image):
        if isinstance(piece, Placed):
            parts.append(picture(piece.value, f"{{{piece.expression}}}"))
        elif parts and isinstance(parts[-1], str):
            parts[-1] += piece
        else:
            parts.append(piece)
    if not any(isinstance(p, Picture) for p in parts):
        return "".join(p for p in parts if isinstance(p, str))
    return Prompt(tuple(parts))


def with_images(text: str, images: Any) -> str | Prompt:
    """The Python API's prompt: ``text`` after ``images`` (a list of what ``--attach``
    accepts, each named ``images[i]``), or the text alone when the list is empty."""
    if images is None or isinstance(images, (str, bytes, Path)) or is_image(images) or \
            not isinstance(images, Sequence):
        raise UsageError(f"images= takes a list of images, e.g. images=[fig], not a "
                         f"{type(images).__name__}")
    return Prompt((*pictures(images, "images"), text)) if images else text


def pictures(values: Sequence[Any], label: str) -> tuple[Picture, ...]:
    """Each of ``values`` read as an image named ``label[i]`` (``images[0]``, ``attach[1]``);
    the first that is none is one line naming it."""
    return tuple(picture(value, f"{label}[{i}]") for i, value in enumerate(values))


def _where(name: str) -> str:
    """How an error names an image: ``--attach fig``, ``{fig}``, ``images[0]`` or
    ``attach[0]`` (the Python API's keywords)."""
    return name if name.startswith(("{", "images[", "attach[")) else f"--attach {name}"


def picture(value: Any, name: str) -> Picture:
    """``value`` read as an image; anything else is one line naming it and what is accepted."""
    from PIL import Image

    where = _where(name)
    if isinstance(value, Image.Image):
        return Picture(name, _normalised(_checked_size(value, where), where))
    if type(value).__module__.startswith("matplotlib") and hasattr(value, "savefig"):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png")
        return _from_bytes(buffer.getvalue(), name, where)
    if type(value).__name__ == "Image" and type(value).__module__.startswith("IPython"):
        data = getattr(value, "data", None)
        if not isinstance(data, bytes):
            raise UsageError(f"{where}: an IPython Image without its bytes (a URL is never "
                             "fetched); use Image(filename=...) or Image(data=...)")
        return _from_bytes(data, name, where)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value), name, where)
    if isinstance(value, (str, Path)):
        return _from_bytes(_read(value, where), name, where)
    if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
        return Picture(name, _from_array(value, where))
    raise UsageError(f"{where} is a {type(value).__name__}, not an image; attach {ACCEPTED}")


def _read(path: str | Path, where: str) -> bytes:
    shown = str(path) if len(str(path)) <= 80 else str(path)[:77] + "..."
    try:
        is_file = os.path.isfile(path)
    except (ValueError, OSError):  # a NUL byte, a name too long
        is_file = False
    if not is_file:
        raise UsageError(f"{where}: {shown!r} is text, not an image file (no such file); "
                         f"attach {ACCEPTED}")
    if os.path.getsize(path) > MAX_SOURCE_BYTES:
        raise UsageError(f"{where}: {shown} is over {MAX_SOURCE_BYTES // 1_000_000} MB; "
                         "attach a smaller image")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{where}: can't read {shown} ({exc.strerror})") from None


def _from_bytes(data: bytes, name: str, where: str) -> Picture:
    from PIL import Image

    if len(data) > MAX_SOURCE_BYTES:
        raise UsageError(f"{where}: the image is over {MAX_SOURCE_BYTES // 1_000_000} MB; "
                         "attach a smaller one")
    kind = next((k for s, k in _SIGNATURES if data.startswith(s)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WEBP"
    if kind is None:
        raise UsageError(f"{where} is not a PNG, JPEG, GIF or WebP image; attach {ACCEPTED}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            _checked_size(image, where)
            image.load()
    except UsageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UsageError(f"{where}: the image claims more than {MAX_SOURCE_PIXELS:,} pixels "
                         "(a decompression bomb?); attach a smaller one") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        raise UsageError(f"{where}: the {kind} image can't be read ({exc}); is the file "
                         "complete?") from None
    return Picture(name, _normalised(image, where))


def _checked_size(image: Any, where: str) -> Any:
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_SOURCE_PIXELS:
        raise UsageError(f"{where}: a {width}×{height} image is too big to send (over "
                         f"{MAX_SOURCE_PIXELS:,} pixels); attach a smaller one")
    return image


def _from_array(array: Any, where: str) -> Any:
    import numpy as np
    from PIL import Image

    shape = tuple(array.shape)
    if not (array.ndim == 2 or (array.ndim == 3 and shape[2] in (3, 4))):
        raise UsageError(f"{where}: an array of shape {shape} is not an image; use H×W, "
                         "H×W×3 (RGB) or H×W×4 (RGBA)")
    if shape[0] * shape[1] > MAX_SOURCE_PIXELS or 0 in shape:
        raise UsageError(f"{where}: a {shape[1]}×{shape[0]} array is too big to send (over "
                         f"{MAX_SOURCE_PIXELS:,} pixels); attach a smaller one")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":  # floats are 0..1, as matplotlib's imshow takes them
        array = (np.nan_to_num(array).clip(0.0, 1.0) * 255).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        if array.dtype.kind not in "iu":
            raise UsageError(f"{where}: an array of {array.dtype} is not an image; use uint8 "
                             "(0..255) or floats (0..1)")
        array = array.clip(0, 255).astype(np.uint8)
    return _normalised(Image.fromarray(np.ascontiguousarray(array)), where)


def _normalised(image: Any, where: str) -> Any:
    """RGBA when the image has transparency, else RGB (a GIF's first frame)."""
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    try:
        return image.convert("RGBA" if transparent else "RGB")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{where}: the image can't be read ({exc})") from None


def encode(picture: Picture, limits: ImageLimits, provider: str) -> Attachment:
    """``picture`` as the PNG ``provider`` is sent: sized down to ``limits.max_side``; one line
    when the PNG is still over ``limits.max_bytes``."""
    from PIL import Image

    image = picture.image
    if max(image.size) > limits.max_side:
        image = image.copy()
        image.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = buffer.getvalue()
    where = _where(picture.name)
    if len(png) > limits.max_bytes:
        raise UsageError(f"{where}: {len(png) / 1e6:.1f} MB as a PNG of {image.width}×"
                         f"{image.height}, over {provider}'s {limits.max_bytes / 1e6:g} MB per "
                         "image; crop it or attach a simpler one")
    digest = hashlib.sha256(f"{image.mode} {image.width}x{image.height}\n".encode()
                            + image.tobytes()).hexdigest()
    return Attachment(digest, png, image.width, image.height, picture.name)


def place_images(messages: Sequence[Message], limits: ImageLimits, provider: str
                 ) -> tuple[list[Message], tuple[Attachment, ...]]:
    """``messages`` with each :class:`Prompt` content as neutral parts (``text`` and ``image``
    by digest) for ``provider``, and the attachments they name (each image once)."""
    from .providers.call import valid_text

    out: list[Message] = []
    sent: dict[str, Attachment] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, Prompt):
            out.append(message)
            continue
        parts: list[Message] = []
        for part in content.parts:
            if isinstance(part, str):
                if part:
                    parts.append({"type": "text", "text": valid_text(part)})
                continue
            image = encode(part, limits, provider)
            sent.setdefault(image.sha256, image)
            parts.append(image.part())
        out.append({**message, "content": parts})
    if len(sent) > limits.max_images:
        raise UsageError(f"{len(sent)} images in one request; {provider} takes at most "
                         f"{limits.max_images}")
    return out, tuple(sent.values())
