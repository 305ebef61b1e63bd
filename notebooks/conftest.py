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

_NOTEBOOK_ENV = ("JPY_SESSION_NAME", "MEMORIES_MAGICS_CACHE_MODE")
_saved: dict[str, str | None] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if str(item.fspath).endswith(".ipynb"):
        for name in _NOTEBOOK_ENV:
            _saved.setdefault(name, os.environ.get(name))
        os.environ["JPY_SESSION_NAME"] = str(item.fspath)
        os.environ["MEMORIES_MAGICS_CACHE_MODE"] = "replay"


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # Tests that run after a notebook in the same process must not inherit its replay mode
    # or its notebook name: what was there before the notebook comes back.
    if str(item.fspath).endswith(".ipynb"):
        for name in _NOTEBOOK_ENV:
            if _saved.get(name) is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(_saved[name])
