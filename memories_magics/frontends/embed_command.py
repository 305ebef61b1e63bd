"""``%llm embed VAR -o VEC [-m MODEL] [--input-type T]``: a notebook list or Series of texts
into an n × d float32 array, through the cache (see :mod:`memories_magics.embedder`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..embedder import embed_texts, embedding_model, texts_of
from ..embedding import INPUT_TYPES
from ..errors import UsageError

if TYPE_CHECKING:
    from ..engine import Engine

USAGE = "usage: %llm embed VAR -o VEC [-m MODEL] [--input-type TYPE] [--cache MODE]"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, never SystemExit in a kernel
        raise UsageError(f"{message}; {USAGE}")


def _parser() -> _Parser:
    parser = _Parser(prog="%llm embed", add_help=False)
    parser.add_argument("var")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-m", "--model")
    parser.add_argument("--input-type", choices=INPUT_TYPES)
    parser.add_argument("--cache")
    return parser


def embed_command(engine: Engine, namespace: dict[str, Any], words: list[str]) -> str:
    """Embed the texts in ``namespace[VAR]`` into ``namespace[VEC]``; returns the line to show."""
    args = _parser().parse_args(words)
    for name in (args.var, args.output):
        if not name.isidentifier():
            raise UsageError(f"{name!r} is not a variable name; assign the texts first "
                             f"(texts = df['text']), then {USAGE}")
    if args.var not in namespace:
        raise UsageError(f"no variable {args.var!r} in the notebook; assign a list or Series "
                         "of texts to it first")
    spec = embedding_model(engine, args.model)
    texts, _ = texts_of(namespace[args.var], args.var)
    before = engine.usage.get(spec.model_id)
    hits_before = before.cache_hits if before else 0
    vectors = embed_texts(engine, spec, texts, input_type=args.input_type, cache=args.cache)
    namespace[args.output] = vectors
    cached = engine.usage[spec.model_id].cache_hits - hits_before
    return (f"{args.output}: {vectors.shape[0]} × {vectors.shape[1]} float32 embeddings of "
            f"{args.var} from {spec.label} ({cached} of {len(texts)} from the cache)")
