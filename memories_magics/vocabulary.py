"""The vocabularies in vocabulary.json, for Python (the JupyterLab extension imports the same
file). Importing this loads nothing but that small JSON file, so ``%load_ext`` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The parsed vocabulary.json, read beside this module: the package is always installed as
#: files, and ``importlib.resources`` would import ``tempfile``, ``shutil`` and ``zipfile``
#: into every ``%load_ext`` (about 2.5 ms of its 11, bench/profile.py load).
VOCABULARY: dict[str, Any] = json.loads(
    Path(__file__).with_name("vocabulary.json").read_text("utf-8"))

FORMATS: tuple[str, ...] = tuple(VOCABULARY["formats"])
CACHE_MODES: tuple[str, ...] = tuple(VOCABULARY["cache_modes"])
AGGREGATION_METHODS: tuple[str, ...] = tuple(VOCABULARY["aggregation_methods"])
DIFF_MODES: tuple[str, ...] = tuple(VOCABULARY["diff_modes"])
FINISH_REASONS: tuple[str, ...] = tuple(VOCABULARY["finish_reasons"])
RESULT_MIME: str = VOCABULARY["mime"]["result"]
COMPARE_MIME: str = VOCABULARY["mime"]["compare"]
ROW_STATES: tuple[str, ...] = tuple(VOCABULARY["row_states"])
INSERT_CELL_COMM: str = VOCABULARY["comms"]["insert_cell"]
#: How much of a ``--schema`` value its tables show: rows per table, nesting levels (deeper
#: parts as compact JSON) and characters per leaf (the kernel's HTML and the extension alike).
VALUE_TABLE: dict[str, int] = VOCABULARY["value_table"]
#: The longest side of the thumbnail of a sent image, in pixels.
THUMBNAIL_SIDE: int = VOCABULARY["thumbnail_side"]
