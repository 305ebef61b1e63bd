"""nbval support: tell each notebook's kernel which notebook it runs, as Jupyter Server does
(``JPY_SESSION_NAME``), so memories_magics finds the notebook's own cache, and run every
notebook in replay mode: no model is called unless a cell says ``--cache off``."""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if str(item.fspath).endswith(".ipynb"):
        os.environ["JPY_SESSION_NAME"] = str(item.fspath)
        os.environ["MEMORIES_MAGICS_CACHE_MODE"] = "replay"
