"""Local GGUF models on llama.cpp through ``llama-cpp-python``; no key, no network.

Models are loaded and driven by :mod:`.local_runtime`. A cell's answer is generated on the
kernel's main thread, which runs the cell anyway, so its first piece reaches the cell with no
hand-over between threads; every other caller (%%compare's columns, --over's rows, the panel,
the Python API, whose streams may be left half-read) has it generated on the one kept llama
thread and streamed through a queue. Ctrl-C stops generation at the next token either way. A
seeded call passes its seed and evaluates the prompt afresh, which is what makes seeded runs
repeat exactly, in one kernel and across kernels. A model with a ``clip_model_path`` sees
images: its messages carry them as OpenAI-style ``image_url`` parts with data URLs, as the
llava-style chat handlers read them.

Everything from the model or the user is checked at this boundary: the file must be a GGUF,
the prompt must fit the context, ``max_tokens`` must be positive, marker tokens such as
Gemma's ``<start_of_image>`` are never sampled, text is valid UTF-8, and the finish reason is
``stop`` or ``length``.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from ..config import ModelSpec
from ..embedding import Embedded, EmbedLimits
from ..errors import ContextFullError, ProviderError, UsageError
from ..types import Chunk, Request, Response, Usage, finish_reason
from . import local_runtime as runtime
from .base import Provider, sdk_version
from .call import valid_text
from .chat_format import chat_messages
from .local_grammar import INSTALL_HINT, schema_grammar

#: ``max_tokens`` when neither the call nor model_config.json's global settings give one.
DEFAULT_MAX_TOKENS = 256
_END = object()
_FIRST_SHOW_WAIT_S = 0.05  # at most this long, should the consumer be slow to ask again
#: llama-cpp-python's prompt-too-long errors: a text prompt's, a vision handler's.
_CONTEXT_FULL = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)"
                           r"|Prompt exceeds n_ctx: (\d+) > (\d+)")


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
    tokens, n_ctx = (group for group in found.groups() if group is not None)
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
        """A model file (and clip model file) given by path must exist and be a GGUF
        (packaged ones are found when first loaded)."""
        source = spec.gguf or spec.name
        if source.partition(":")[0] not in ("package", "assemble"):
            runtime.gguf_path(spec)
        if (spec.clip_model_path or "").partition(":")[0] not in ("package", "assemble"):
            runtime.clip_path(spec)

    def _spec(self, request: Request) -> ModelSpec:
        return self.config.resolve(f"local:{request.model}")

    def provenance(self, request: Request) -> dict[str, str]:
        """llama-cpp-python's version, the GGUF's file name and its sha256."""
        out = {"sdk": sdk_version(self.sdk)}
        spec = self._spec(request)
        runtime.gguf_sha256(spec)  # resolves the path once (a request from a record did not)
        out["served_model"] = Path(runtime.gguf_path(spec)).name
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
        if bias := runtime.marker_bias(spec.model_id):
            params["logit_bias"] = bias
        if spec.chat:
            return model.create_chat_completion(messages=chat_messages(request), **params)
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
        model = runtime.load_model(spec)
        pieces = (self._here if runtime.generates_here() else self._on_thread)(
            request, spec, model, grammar)
        produced, in_context = 0, 0
        try:
            for raw, in_context in pieces:
                choice = raw["choices"][0]
                text = valid_text(choice.get("text") if "text" in choice else
                                   (choice.get("delta") or {}).get("content") or "")
                produced += bool(text)
                finish = finish_reason(choice.get("finish_reason"))
                if finish:
                    yield self._last(text, finish, in_context, produced)
                    return
                yield Chunk(text=text)
            # llama-cpp-python always ends with a finish reason; if one ever did not, the
            # generation still ended by itself: an end of turn.
            yield self._last("", "stop", in_context, produced)
        finally:
            pieces.close()

    def _prepared(self, request: Request, spec: ModelSpec, model: Any, grammar: Any) -> Any:
        """The raw pieces of llama-cpp-python's answer (callers hold ``runtime.generating``)."""
        if request.seed is not None or spec.model_id in runtime.unsettled:
            # Re-evaluate the whole prompt: reusing the previous call's evaluated prefix
            # changes the last logits slightly, and a seeded sample with them. Unseeded calls
            # reuse it, as llama-cpp-python does, unless a Ctrl-C cut a call inside it.
            model.reset()
            runtime.unsettled.discard(spec.model_id)
        return self._generate(request, spec, model, grammar)

    def _here(self, request: Request, spec: ModelSpec, model: Any, grammar: Any
              ) -> Generator[tuple[Any, int], None, None]:
        """Generate on the calling thread: the kernel's main thread running a cell, which
        drives llama.cpp (and owns its OpenMP pool) for every cell, so the first piece
        reaches the cell with no hand-over between threads (bench/local_model.py). Ctrl-C
        lands between two Python steps of llama-cpp-python, so the model re-reads its prompt
        next time."""
        with runtime.generating:
            try:
                for raw in self._prepared(request, spec, model, grammar):
                    # Tokens in the context when this piece was made: at the end, the prompt
                    # (chat template included) plus the answer's evaluated tokens.
                    yield raw, model.n_tokens
            except ValueError as exc:  # llama-cpp-python's checks, e.g. a too-long prompt
                raise _context_error(exc, spec) from None
            except GeneratorExit:
                raise  # the consumer stopped between two pieces: nothing was cut
            except BaseException:
                runtime.unsettled.add(spec.model_id)
                raise

    def _on_thread(self, request: Request, spec: ModelSpec, model: Any, grammar: Any
                   ) -> Generator[tuple[Any, int], None, None]:
        """Generate on the llama thread (for callers other than a cell on the main thread:
        %%compare's columns, --over's rows, the panel, the Python API), handing each piece
        over through a queue; Ctrl-C on the caller stops generation at the next token."""
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        stop, shown = threading.Event(), threading.Event()

        def produce() -> None:
            try:
                with runtime.generating:
                    if stop.is_set():  # the consumer left before this job's turn came
                        return
                    for raw in self._prepared(request, spec, model, grammar):
                        if stop.is_set():
                            break
                        items.put((raw, model.n_tokens))
                        if not shown.is_set() and _has_text(raw):
                            # The first piece is shown before the next is computed: the
                            # caller's render then has a core of its own instead of
                            # contending with llama.cpp's threads for one.
                            shown.wait(_FIRST_SHOW_WAIT_S)
                            shown.set()
            except ValueError as exc:
                items.put(_context_error(exc, spec))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                items.put(exc)
            finally:
                items.put(_END)

        runtime.on_llama_thread(produce)
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
                if _has_text(item[0]):  # the consumer asks for more: the text it had is shown
                    shown.set()
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
