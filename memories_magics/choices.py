"""The fixed vocabularies of the options, importable without importing anything else (so that
``%load_ext`` can declare the magics' options without loading the engine)."""

FORMATS = ("markdown", "text", "code", "json", "html")
CACHE_MODES = ("use", "refresh", "off", "replay")
AGGREGATION_METHODS = ("consensus", "voting", "best_confidence")
DIFF_MODES = ("word", "line", "char")
