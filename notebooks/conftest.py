"""nbval support: run every notebook in replay mode against its own committed cache.

Jupyter Server tells a kernel which notebook it runs (``JPY_SESSION_NAME``) so that
memories_magics finds ``.memories_cache/<notebook>/``; this does the same for nbval's kernels,
and sets ``MEMORIES_MAGICS_CACHE_MODE=replay`` so no model is called unless a cell says
``--cache off``. SQLite may write to its database when it opens it, so the committed cache
files are restored byte for byte when the session ends.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CACHES = Path(__file__).parent / ".memories_cache"
_recorded = {path: path.read_bytes() for path in CACHES.rglob("*") if path.is_file()}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if str(item.fspath).endswith(".ipynb"):
        os.environ["JPY_SESSION_NAME"] = str(item.fspath)
        os.environ["MEMORIES_MAGICS_CACHE_MODE"] = "replay"


def pytest_sessionfinish(session: pytest.Session) -> None:
    for path in CACHES.glob("*/memories_magics.sqlite-*"):  # sqlite's WAL files left by the replays
        if path not in _recorded:
            path.unlink()
    for path, content in _recorded.items():
        path.write_bytes(content)
