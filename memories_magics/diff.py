"""Word, line and character differences between two answers (difflib underneath)."""

from __future__ import annotations

import difflib
import re

from .vocabulary import DIFF_MODES

_WORD = re.compile(r"\s+|[^\s]+")


def tokens(text: str, mode: str) -> list[str]:
    """Split ``text`` into the units ``mode`` compares; joined, they give ``text`` back."""
    if mode == "word":
        return _WORD.findall(text)
    if mode == "line":
        return text.splitlines(keepends=True)
    if mode == "char":
        return list(text)
    raise ValueError(f"unknown diff mode {mode!r}; use one of: {', '.join(DIFF_MODES)}")


def diff_ops(a: str, b: str, mode: str = "word") -> list[tuple[str, str]]:
    """``[(op, text), ...]`` with op ``equal``, ``delete`` (only in a) or ``insert`` (only in b)."""
    left, right = tokens(a, mode), tokens(b, mode)
    ops: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(("equal", "".join(left[i1:i2])))
            continue
        if i2 > i1:
            ops.append(("delete", "".join(left[i1:i2])))
        if j2 > j1:
            ops.append(("insert", "".join(right[j1:j2])))
    return ops
