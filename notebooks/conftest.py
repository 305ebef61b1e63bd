"""nbval support: run every notebook in replay mode against its own committed record.

Jupyter Server tells a kernel which notebook it runs (``JPY_SESSION_NAME``) so that
memories_magics finds ``.memories_cache/<notebook>/records.jsonl``; this does the same for
nbval's kernels, and sets ``MEMORIES_MAGICS_CACHE_MODE=replay`` so no model is called unless
a cell says ``--cache off``. Replaying only reads the record, so the committed files stay
byte for byte as they are (``tests/test_cache.py`` checks it).
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if str(item.fspath).endswith(".ipynb"):
        os.environ["JPY_SESSION_NAME"] = str(item.fspath)
        os.environ["MEMORIES_MAGICS_CACHE_MODE"] = "replay"
