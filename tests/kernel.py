"""A real IPython kernel driven over the Jupyter protocol, for magic tests.

>>> with Kernel(env) as kernel:
...     reply = kernel.run("%load_ext memories_magics")
...     reply.outputs, reply.updates, reply.error
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

RESULT_MIME = "application/vnd.memories-magics.result+json"
COMPARE_MIME = "application/vnd.memories-magics.compare+json"


@dataclass
class CellRun:
    """What one execution sent on iopub, grouped the way a front end shows it."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The shell channel's execute_reply content (its payload carries ``?`` help pages).
    reply: dict[str, Any] = field(default_factory=dict)

    def of_type(self, *kinds: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] in kinds]

    @property
    def updates(self) -> int:
        """How many times the output was repainted in place while streaming."""
        return len(self.of_type("update_display_data"))

    @property
    def result(self) -> dict[str, Any] | None:
        """The cell's answer: the last bundle carrying a memories_magics payload (``%%llm`` and
        ``%%compare`` turn their live view into the answer in place), else the
        execute_result's bundle (the cell's value), if any."""
        answers = [data for data in self.displayed if RESULT_MIME in data or COMPARE_MIME in data]
        if answers:
            return answers[-1]
        results = self.of_type("execute_result")
        return results[-1]["data"] if results else None

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of_type("error")
        return errors[-1] if errors else None

    def one_line_error(self) -> str:
        """The error the user sees, checked to be one line with no traceback: its message."""
        error = self.error
        assert error is not None, self.result
        assert len(error["traceback"]) == 1 and "\n" not in error["traceback"][0], error
        return str(error["evalue"])

    @property
    def stdout(self) -> str:
        return "".join(c["text"] for c in self.of_type("stream") if c["name"] == "stdout")

    @property
    def displayed(self) -> list[dict[str, Any]]:
        """Every display_data / update bundle, in order."""
        return [c["data"] for c in self.of_type("display_data", "update_display_data")]


class Kernel:
    """Start a python3 kernel with ``env`` added to this process's environment in ``cwd``."""

    def __init__(self, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.client: Any = None

    def __enter__(self) -> Kernel:
        self.manager.start_kernel(env=self.env, cwd=str(self.cwd or Path.cwd()))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def frame(self, var: str = "out") -> list[dict[str, Any]]:
        """The DataFrame ``var`` in the kernel as records, its index under "index"."""
        run = self.run(f"print({var}.reset_index().to_json(orient='records'))")
        assert run.error is None, run.error
        records: list[dict[str, Any]] = json.loads(run.stdout)
        return records

    def run(self, code: str, timeout: float = 120, interrupt_after: float | None = None,
            cell_id: object = None) -> CellRun:
        """Execute ``code`` and collect its iopub messages until the kernel is idle.

        ``interrupt_after`` sends SIGINT (Ctrl-C, the notebook's stop button) that many
        seconds after the first streamed update. ``cell_id`` goes in the request's metadata
        as ``cellId``, as JupyterLab, Notebook 7 and VS Code send it (any JSON value, as a
        careless front end might).
        """
        if cell_id is None:
            msg_id = self.client.execute(code)
        else:
            content = {"code": code, "silent": False, "store_history": True,
                       "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
            request = self.client.session.msg("execute_request", content,
                                              metadata={"cellId": cell_id})
            self.client.shell_channel.send(request)
            msg_id = request["header"]["msg_id"]
        run = CellRun()
        timer: threading.Timer | None = None
        while True:
            message = self.client.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "status" and message["content"]["execution_state"] == "idle":
                break
            run.messages.append(message)
            if interrupt_after is not None and timer is None and kind == "update_display_data":
                timer = threading.Timer(interrupt_after, self.manager.interrupt_kernel)
                timer.start()
        while True:  # skip replies to earlier requests (e.g. wait_for_ready's kernel_info)
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        run.reply = reply["content"]
        return run
