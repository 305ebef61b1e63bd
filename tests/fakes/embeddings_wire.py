"""Embeddings wire formats: OpenAI's and Mistral's `POST /v1/embeddings`, Cohere's v2
`POST /v2/embed`.

Each text gets a deterministic vector of `Reply.dimension` numbers made from its sha256 (the
same text, the same vector), so a test can tell which text a vector belongs to
(:func:`vector_for`). `Reply.vectors` replaces the vectors sent, verbatim (a wrong count,
dimension, NaN or strings). The request is checked as the APIs check it: a 400 for a missing
or empty input, or more inputs than the API takes in one request (OpenAI 2,048, Mistral 256,
Cohere 96), or a Cohere request without `input_type`.
"""

from __future__ import annotations

import hashlib
import struct

from .reply import Exchange, new_id

PROVIDER = "openai"
MAX_INPUTS = {"openai": 2048, "mistral": 256, "cohere": 96}


def vector_for(text: str, dimension: int = 8) -> list[float]:
    """The fake server's vector for `text`: numbers in [-1, 1) from its sha256, repeated."""
    digest = b""
    while len(digest) < 2 * dimension:
        digest += hashlib.sha256(text.encode("utf-8") + len(digest).to_bytes(4, "big")).digest()
    return [v / 32768 for v in struct.unpack(f">{dimension}h", digest[:2 * dimension])]


def _is_mistral(x: Exchange) -> bool:
    return "mistral" in x.headers.get("user-agent", "").lower()


def texts_of(body: dict) -> list | None:
    texts = body.get("texts", body.get("inputs", body.get("input")))
    return [texts] if isinstance(texts, str) else texts


def refuse(x: Exchange, api: str) -> str | None:
    """The API's 400 message for a malformed embeddings request, else None."""
    texts = texts_of(x.body)
    if not isinstance(texts, list) or not texts:
        return "input is required and must be a non-empty list of strings"
    if any(not isinstance(t, str) or not t for t in texts):
        return "'$.input' is invalid: empty strings are not allowed"
    if len(texts) > MAX_INPUTS[api]:
        return (f"too many inputs in request ({len(texts)} > {MAX_INPUTS[api]}), split into "
                "more batches")
    if api == "cohere" and x.body.get("input_type") is None:
        return "invalid request: input_type is required for embed models v3 and higher"
    return None


def _vectors(x: Exchange, texts: list) -> list:
    if x.reply.vectors is not None:
        return x.reply.vectors
    return [vector_for(t, x.reply.dimension) for t in texts]


def _tokens(texts: list) -> int:
    return sum(len(t.split()) or 1 for t in texts)


class OpenAI:
    """`/v1/embeddings`, as OpenAI and (with its own errors and ids) Mistral answer it."""

    PROVIDER = "openai"

    @staticmethod
    def response_headers(x: Exchange) -> dict:
        return {"x-request-id": new_id("req_")}

    @staticmethod
    def error_body(x: Exchange) -> dict:
        from . import openai_wire

        return openai_wire.error_body(x)

    @staticmethod
    def refuse(x: Exchange) -> str | None:
        return refuse(x, "mistral" if _is_mistral(x) else "openai")

    @staticmethod
    def completion(x: Exchange) -> dict:
        texts = texts_of(x.body)
        data = [{"object": "embedding", "index": i, "embedding": v}
                for i, v in enumerate(_vectors(x, texts))]
        tokens = _tokens(texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        if _is_mistral(x):
            usage["completion_tokens"] = 0
        return {"id": new_id("emb-"), "object": "list", "data": data, "model": x.model,
                "usage": usage}


class Cohere:
    """`/v2/embed` with `embedding_types: ["float"]`."""

    PROVIDER = "cohere"

    @staticmethod
    def response_headers(x: Exchange) -> dict:
        return {}

    @staticmethod
    def error_body(x: Exchange) -> dict:
        return {"id": new_id(""), "message": x.reply.error_message}

    @staticmethod
    def refuse(x: Exchange) -> str | None:
        return refuse(x, "cohere")

    @staticmethod
    def completion(x: Exchange) -> dict:
        texts = texts_of(x.body)
        return {"id": new_id(""), "response_type": "embeddings_by_type", "texts": texts,
                "embeddings": {"float": _vectors(x, texts)},
                "meta": {"api_version": {"version": "2"},
                         "billed_units": {"input_tokens": _tokens(texts)}}}
