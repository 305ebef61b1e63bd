"""``%llm cache …``: a notebook's recorded answers, seen, checked, moved and pruned from a cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError
from ..vocabulary import CACHE_MODES

if TYPE_CHECKING:
    from ..engine import Engine


def cache_command(engine: Engine, rest: list[str]) -> None:
    """``%llm cache info | clear | dir PATH | verify [--sample N] | prune [--yes] | export PATH
    | import PATH | mode [MODE]``."""
    from ..cache import check_mode, shown_path

    action = rest[0] if rest else "info"
    if action == "info":
        info = engine.cache().info()
        print(f"{info['entries']} cached answers, {info['size_bytes'] / 1024:.0f} KiB in "
              f"{shown_path(info['directory'])} (mode: {engine.cache_mode})")
        if info["also_read"]:
            print("also reading the records of: "
                  + ", ".join(shown_path(p) for p in info["also_read"]))
        for problem in info["problems"]:
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
        removed = engine.cache().clear()
        shown = shown_path(engine.cache().directory)
        print(f"Cleared {removed} cached answers from {shown}")
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
    """Drop the records no cell of this kernel asked for (``--yes``), or list them."""
    from ..cache import shown_path

    cache = engine.cache()
    if not cache.asked:
        raise UsageError("no cell has asked a model in this kernel yet: Run All first, "
                         "then %llm cache prune drops the records no cell asked for")
    unasked = [r for r in cache.records() if r["key"] not in cache.asked]
    where = shown_path(cache.directory)
    if not unasked:
        print(f"Nothing to prune: every record in {where} was asked for in this kernel")
        return
    shown = [f"  {r['request'].get('provider')}:{r['request'].get('model')} "
             f"{str(r.get('text'))[:60]!r}" for r in unasked]
    if not confirmed:
        print(f"{len(unasked)} records in {where} were not asked for in this kernel; "
              "%llm cache prune --yes drops them:\n" + "\n".join(shown))
        return
    removed = cache.prune(frozenset(r["key"] for r in unasked))
    print(f"Pruned {removed} records from {where}:\n" + "\n".join(shown))


def _sample(words: list[str]) -> int | None:
    """``--sample N`` of ``%llm cache verify`` (None: every record)."""
    if not words:
        return None
    if len(words) == 2 and words[0] == "--sample" and words[1].isdigit() and int(words[1]) > 0:
        return int(words[1])
    raise UsageError("usage: %llm cache verify [--sample N], N a whole number of at least 1 "
                     "(e.g. %llm cache verify --sample 5)")
