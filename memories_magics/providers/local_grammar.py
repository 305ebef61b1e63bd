"""A local model's grammar for a ``--schema``: llama.cpp constrains sampling to it, so the
model can only write JSON of the schema's shape."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import MissingDependencyError, UsageError

INSTALL_HINT = "pip install 'memories_magics[local]'"


def llama_missing() -> MissingDependencyError:
    """The one line for a kernel without llama-cpp-python."""
    return MissingDependencyError(f"local models need llama-cpp-python; run: {INSTALL_HINT}")


#: llama-cpp-python's JSON-schema converter lets a string hold raw control characters (a line
#: break), which is not JSON; llama.cpp's own converter has since excluded them, as here.
_LOOSE_CHAR = r'char ::= [^"\\] |'
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


@lru_cache(maxsize=32)
def schema_grammar(schema: str) -> Any:
    """llama.cpp's grammar for a JSON schema (llama-cpp-python's converter, strings kept to
    JSON's characters), so a local model can only produce JSON of that shape; one line when
    the converter can't express the schema."""
    try:
        from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf
    except ImportError:
        raise llama_missing() from None
    try:
        rules = json_schema_to_gbnf(schema)
        return LlamaGrammar.from_string(rules.replace(_LOOSE_CHAR, _JSON_CHAR), verbose=False)
    except Exception as exc:  # noqa: BLE001 - the converter raises several kinds
        raise UsageError(f"llama.cpp can't turn this schema into a grammar ({type(exc).__name__}"
                         f": {exc}); simplify it (plain objects, lists, strings, numbers, "
                         "enums)") from None
