""""Copy as cell": the panel asks the JupyterLab extension to insert the cell for it.

ipywidgets can neither add cells nor reach the clipboard, so the panel opens a one-off comm
(target :data:`~memories_magics.vocabulary.INSERT_CELL_COMM`) carrying the cell's source and
the panel's DOM class; the extension inserts a code cell below the panel's cell, in edit mode,
and answers ``{"inserted": true}``. Without the extension nobody answers (or JupyterLab closes
the unknown comm at once): after :data:`REPLY_TIMEOUT_S` the panel falls back to showing the
text to copy. The reply arrives as a comm message, handled on the kernel's main thread after
the click's handler has returned, so nothing here blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ...vocabulary import INSERT_CELL_COMM

#: How long the panel waits for the extension's reply before showing the text instead.
REPLY_TIMEOUT_S = 1.0


def ask_to_insert(source: str, panel_class: str, done: Callable[[bool], None],
                  timeout: float = REPLY_TIMEOUT_S) -> None:
    """Ask the front end to insert ``source`` below the panel with DOM class ``panel_class``;
    ``done(inserted)`` is called exactly once: True on the extension's reply, False when the
    comm is closed unanswered or after ``timeout`` seconds."""
    from comm import create_comm

    lock = threading.Lock()
    finished = False

    def finish(inserted: bool) -> None:
        nonlocal finished
        with lock:
            if finished:
                return
            finished = True
        timer.cancel()
        if not inserted:
            comm.close()  # a late reply finds no comm; the text is shown instead
        done(inserted)

    def replied(msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
        finish(isinstance(data, dict) and data.get("inserted") is True)

    timer = threading.Timer(timeout, finish, (False,))
    timer.daemon = True
    comm = create_comm(target_name=INSERT_CELL_COMM,
                       data={"source": source, "panel": panel_class})
    comm.on_msg(replied)
    comm.on_close(lambda _msg: finish(False))
    timer.start()
