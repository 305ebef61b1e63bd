"""``%llm cache …``: a notebook's recorded answers and vectors, seen, checked, moved, pruned and
cleared from a cell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..vocabulary import CACHE_MODES

if TYPE_CHECKING:
    from ..engine import Engine


def cache_command(engine: Engine, rest: list[str]) -> None:
    """``%llm cache info | clear | dir PATH | verify [--sample N] | prune [--yes] | export PATH
    | import PATH | mode [MODE]``."""
    from ..cache import check_mode
    from ..cache_folder import shown_path

    action = rest[0] if rest else "info"
    if action == "info":
        from ..embed_cache import embeddings_beside

        info = engine.cache().info()
        vectors = embeddings_beside(engine.cache()).info()
        print(f"{info['entries']} cached answers ({info['size_bytes'] / 1024:.0f} KiB) and "
              f"{vectors['entries']} cached vectors ({vectors['size_bytes'] / 1024:.0f} KiB) in "
              f"{shown_path(info['directory'])} (mode: {engine.cache_mode})")
        if info["also_read"]:
            print("also reading the records of: "
                  + ", ".join(shown_path(p) for p in info["also_read"]))
        for problem in info["problems"] + vectors["problems"]:
            print(f"unreadable: {problem}")
    elif action == "verify":
        from ..verify import report, verify

        sample = _sample(rest[1:])
        cache = engine.cache()
        print(report(verify(engine, cache, sample), shown_path(cache.directory)))
    elif action == "prune" and rest[1:] in ([], ["--yes"]):
        _prune(engine, confirmed=rest[1:] == ["--yes"])
    elif action in ("export", "import") and len(rest) == 2:
        from pathlib import Path

        cache, path = engine.cache(), Path(rest[1]).expanduser()
        if action == "export":
            print(f"Exported {cache.export(path)} records to {shown_path(path)}")
        else:
            added, refused = cache.import_records(path)
            print(f"Imported {added} records from {shown_path(path)} into "
                  f"{shown_path(cache.directory)}" + _refusals(refused))
    elif action == "clear":
        answers, vectors_gone = engine.cache().clear()
        shown = shown_path(engine.cache().directory)
        print(f"Cleared {answers} cached answers and {vectors_gone} cached vectors from {shown}")
    elif action == "dir" and len(rest) == 2:
        print(f"Cache directory: {shown_path(engine.set_cache_dir(rest[1]).directory)}")
    elif action == "mode" and len(rest) == 1:
        print(f"Cache mode: {engine.cache_mode}")
    elif action == "mode" and len(rest) == 2:
        engine.cache_mode = check_mode(rest[1])
        print(f"Cache mode: {rest[1]}")
    else:
        raise UsageError("usage: %llm cache info | clear | dir PATH | verify [--sample N] "
                         "| prune [--yes] | export PATH | import PATH | mode ["
                         + "|".join(CACHE_MODES) + "]")

#: How many reasons ``%llm cache import`` lists before it only counts the rest.
SHOWN_REFUSALS = 5


def _refusals(refused: list[str]) -> str:
    """Why records were not imported: the first few reasons, then a count of the rest (a
    file that is not a record at all would otherwise print a line per line)."""
    shown = "".join(f"\nnot imported: {why}" for why in refused[:SHOWN_REFUSALS])
    if len(refused) > SHOWN_REFUSALS:
        shown += (f"\n… and {len(refused) - SHOWN_REFUSALS:,} more lines not imported "
                  "(is it a records.jsonl or a %llm cache export?)")
    return shown


def _prune(engine: Engine, confirmed: bool) -> None:
    """Drop the answers and the vectors no cell of this kernel asked for (``--yes``), or list
    them."""
    from ..cache_folder import refuse_unreadable, shown_path
    from ..embed_cache import embeddings_beside

    cache = engine.cache()
    store = embeddings_beside(cache)
    if not cache.asked and not store.asked:
        raise UsageError("no cell has asked a model in this kernel yet: Run All first, "
                         "then %llm cache prune drops the records no cell asked for")
    answers = [r for r in cache.records() if r["key"] not in cache.asked]
    vectors = [r for r in store.records() if r["key"] not in store.asked]
    where = shown_path(cache.directory)
    if not answers and not vectors:
        print(f"Nothing to prune: every answer and vector in {where} was asked for in this "
              "kernel")
        return
    shown = [f"  {_model_of(r)} {str(r.get('text'))[:60]!r}" for r in answers] + \
            [f"  {_model_of(r)} vector of {str(r.get('text'))[:60]!r}" for r in vectors]
    if not confirmed:
        print(f"{len(answers)} answers and {len(vectors)} vectors in {where} were not asked for "
              "in this kernel; %llm cache prune --yes drops them:\n" + "\n".join(shown))
        return
    # Neither file changes while either has a line that is not a record.
    refuse_unreadable(cache.directory, cache.info()["problems"] + store.info()["problems"])
    removed = (cache.prune(frozenset(r["key"] for r in answers)),
               store.prune(frozenset(r["key"] for r in vectors)))
    print(f"Pruned {removed[0]} answers and {removed[1]} vectors from {where}:\n"
          + "\n".join(shown))


def _model_of(record: dict[str, Any]) -> str:
    """``provider:model`` of a record's request, as a prune lists it."""
    return f"{record['request'].get('provider')}:{record['request'].get('model')}"


def _sample(words: list[str]) -> int | None:
    """``--sample N`` of ``%llm cache verify`` (None: every record)."""
    if not words:
        return None
    if len(words) == 2 and words[0] == "--sample" and words[1].isdigit() and int(words[1]) > 0:
        return int(words[1])
    raise UsageError("usage: %llm cache verify [--sample N], N a whole number of at least 1 "
                     "(e.g. %llm cache verify --sample 5)")
