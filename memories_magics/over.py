"""Prompts over data (``--over VAR``): the rows of a list, pandas Series or DataFrame, the
prompt each row renders to, and what asking them all would cost.

The cell body is a template: ``{item}`` is the element (a Series' value; a DataFrame's row as
a dict), ``{index}`` the row's index, a DataFrame's columns are bound by name (``{city}``),
and every other ``{expr}`` still comes from the notebook. ``--attach photo`` sends each row's
``photo`` (a column of images; else the notebook's one image for every row), and a ``{col}``
whose value is an image is placed as one. Every prompt is rendered before anything is sent,
so a template naming a missing column (or a cell that is no image) fails at once, in one line.
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from .config import ModelSpec
    from .engine import Engine
    from .images import Picture, Prompt
    from .providers.base import Provider
    from .types import Request, Response

#: At most this many rows in one run (a bigger input is refused in one line: slice it).
MAX_ROWS = 100_000
#: Characters per token when estimating a prompt's tokens before it is sent.
CHARS_PER_TOKEN = 4
#: Rendered prompts shown by ``--dry-run``, and the characters shown of each.
DRY_RUN_SHOWN = 3
DRY_RUN_CHARS = 1_000


@dataclass(frozen=True)
class Rows:
    """The input as a DataFrame (``frame``; a list or Series becomes one ``item`` column) and
    how its rows bind into the template."""

    name: str
    frame: pd.DataFrame
    kind: str  # "items" (a list, iterable or Series) or "frame" (a DataFrame)

    def __len__(self) -> int:
        return len(self.frame)

    def bindings(self) -> Iterable[dict[str, Any]]:
        """Each row's names for the template: ``index``, ``item`` and the columns."""
        columns = [str(c) for c in self.frame.columns]
        rows = self.frame.itertuples(index=False, name=None)
        for index, values in zip(self.frame.index, rows, strict=True):
            row = dict(zip(columns, values, strict=True))
            item = row["item"] if self.kind == "items" else row
            yield {"item": item, "index": index, **row}  # a column named so wins

    def missing_advice(self) -> str:
        """What an undefined name in the template may have meant."""
        if self.kind == "items":
            return (f"{self.name} is a list of items: write {{item}} for the element and "
                    "{index} for its position, or define the name in a cell above")
        names = ", ".join(str(c) for c in self.frame.columns)
        return (f"{self.name}'s columns are: {names} (also {{item}}, {{index}}); "
                "or define the name in a cell above")


def rows_of(name: str, namespace: Mapping[str, Any]) -> Rows:
    """The rows of the notebook variable ``name``; anything that is not a non-empty
    collection (undefined, a scalar, a string, empty, too big) is a one-line error."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"--over {name!r}: name a notebook variable (a list, a pandas "
                         "Series or a DataFrame)")
    if name not in namespace:
        raise UsageError(f"--over {name}: no variable {name!r} in the notebook; define it in a "
                         "cell above (a list, a pandas Series or a DataFrame)")
    return as_rows(namespace[name], name)


def as_rows(value: Any, name: str = "data") -> Rows:
    """``value`` (a list or any iterable, a dict, a pandas Series or DataFrame) as rows."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        if len(value.columns) == 0 or value.columns.duplicated().any():
            raise UsageError(f"--over {name}: the DataFrame needs columns with distinct names")
        _check_size(name, len(value))
        return Rows(name, value.copy(), "frame")
    if isinstance(value, pd.Series):
        _check_size(name, len(value))
        return Rows(name, pd.DataFrame({"item": value.to_numpy()}, index=value.index), "items")
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise UsageError(f"--over {name}: {type(value).__name__} is not a collection of rows; "
                         f"use a list, a pandas Series or a DataFrame (e.g. [{name}])")
    if isinstance(value, Mapping):
        value = pd.Series(dict(value))
        _check_size(name, len(value))
        return Rows(name, pd.DataFrame({"item": value.to_numpy()}, index=value.index), "items")
    try:
        items = list(itertools.islice(value, MAX_ROWS + 1))
    except Exception as exc:  # noqa: BLE001 - the user's iterable raised
        raise UsageError(f"--over {name}: iterating it raised {type(exc).__name__}: "
                         f"{exc}") from None
    _check_size(name, len(items))
    return Rows(name, pd.DataFrame({"item": pd.Series(items, dtype=object)}), "items")


def _check_size(name: str, count: int) -> None:
    if count == 0:
        raise UsageError(f"--over {name}: it is empty; there are no rows to ask")
    if count > MAX_ROWS:
        raise UsageError(f"--over {name}: more than {MAX_ROWS:,} rows; run a slice at a time "
                         f"(e.g. {name}[:1000]); answers are cached row by row")


def render(template: str, rows: Rows, namespace: dict[str, Any], attach: str | None = None,
           first: Sequence[Picture] = ()) -> list[str | Prompt]:
    """Every row's prompt (the template with its ``{...}`` filled, after the images ``attach``
    names, after ``first``); a name that is neither a column nor a notebook variable is one
    line listing the columns, before anything is sent."""
    from .images import prompt_with_images

    if not template.strip():
        raise UsageError("the cell is empty: write the prompt template below the magic line, "
                         "e.g. Summarise: {item}")
    advice = rows.missing_advice()
    prompts = []
    for row in rows.bindings():
        try:
            prompts.append(prompt_with_images(template, namespace, attach, row, advice, first))
        except UsageError as exc:
            raise UsageError(f"row {row['index']!r}: {exc}") from None
    return prompts


def api_attach(value: Any, rows: Rows, namespace: Mapping[str, Any]
               ) -> tuple[str | None, tuple[Picture, ...]]:
    """The Python API's ``attach=`` as :func:`render` takes it: a column name of the data
    (``"photo"``, or ``"photo,logo"``) sends each row's image, as ``--attach`` does; an image
    or a list of them (what ``--attach`` accepts) is sent with every row."""
    from .images import pictures

    if value is None:
        return None, ()
    if isinstance(value, str):
        columns = [str(c) for c in rows.frame.columns]
        for name in (n.strip() for n in value.split(",")):
            if name and name not in columns and name not in namespace:
                raise UsageError(f"attach={value!r}: {rows.name} has no column {name!r} (its "
                                 f"columns: {', '.join(columns)}); for an image file, "
                                 "attach=[path]")
        return value, ()
    if type(value).__module__.startswith("pandas"):
        raise UsageError(f"attach= takes a column's name for each row's image "
                         f"(attach='photo') or images for every row, not a "
                         f"{type(value).__name__}")
    return None, pictures(value if isinstance(value, (list, tuple)) else [value], "attach")


@dataclass
class Job:
    """One request to make: a row (``row``: its position in the input) for one model."""

    row: int
    spec: ModelSpec
    request: Request
    provider: Provider | None = None  # the Python API's own (keyed) provider; else the engine's
    estimate_usd: float = 0.0
    hit: Response | None = None  # its cached answer, read while planning

    @property
    def cached(self) -> bool:
        """Whether the answer was already in the cache when the run was planned."""
        return self.hit is not None


@dataclass
class Plan:
    """What a run will ask: its jobs, the prompts, and the estimated cost of the uncached."""

    rows: Rows
    prompts: list[str | Prompt]
    jobs: list[Job]
    labels: list[str] = field(default_factory=list)

    @property
    def estimate_usd(self) -> float:
        """Estimated cost of the jobs not in the cache."""
        return sum(job.estimate_usd for job in self.jobs if not job.cached)

    @property
    def to_ask(self) -> int:
        """How many jobs are not in the cache."""
        return sum(not job.cached for job in self.jobs)

    def summary(self) -> str:
        """One line: rows, models, cached, estimate."""
        models = f" × {len(self.labels)} models" if len(self.labels) > 1 else ""
        return (f"{len(self.rows):,} rows{models} from {self.rows.name}: {len(self.jobs):,} "
                f"answers, {len(self.jobs) - self.to_ask:,} cached, {self.to_ask:,} to ask, "
                f"estimated cost {usd(self.estimate_usd)} (at most max_tokens per answer)")


def usd(value: float) -> str:
    """A cost as people read it: ``$0.0123``, ``<$0.0001``, ``$0``."""
    if value == 0:
        return "$0"
    return "<$0.0001" if value < 0.0001 else f"${value:.4f}"


def estimate(spec: ModelSpec, request: Request, max_tokens: int | None) -> float:
    """A request's worst-case cost: its characters / 4 as input tokens, ``max_tokens`` out."""
    characters = sum(len(str(m.get("content") or "")) for m in request.messages) + \
        len(request.system or "")
    return spec.cost(characters // CHARS_PER_TOKEN + 1, max_tokens or 0)


def plan(engine: Engine, rows: Rows, prompts: Sequence[str | Prompt],
         targets: Sequence[tuple[ModelSpec, Provider | None]],
         make_request: Any, cache: str | None) -> Plan:
    """The jobs for every row × target (row-major), each marked if already cached."""
    from .cache import check_mode

    mode = check_mode(cache or engine.cache_mode)
    store = engine.cache() if mode in ("use", "replay") else None
    default_max = engine.config.settings.get("max_tokens")
    jobs = []
    for position, prompt in enumerate(prompts):
        for spec, provider in targets:
            request = make_request(spec, prompt)
            jobs.append(Job(position, spec, request, provider,
                            estimate(spec, request, request.max_tokens or default_max),
                            None if store is None else store.get(request)))
    return Plan(rows, list(prompts), jobs, [spec.label for spec, _ in targets])


def check_budget(plan_: Plan, budget: float | None) -> None:
    """Refuse, in one line, to start a run whose estimate passes ``budget``."""
    if budget is not None and plan_.estimate_usd > budget:
        raise UsageError(f"estimated cost {usd(plan_.estimate_usd)} for {plan_.to_ask:,} "
                         f"uncached answers passes --budget {budget:g}; raise it, lower "
                         "--max-tokens, or run a slice of the rows")


def _shortened(prompt: str | Prompt) -> str:
    """``prompt`` as ``--dry-run`` shows it: its first :data:`DRY_RUN_CHARS` characters and a
    count of the rest (a row holding a whole paper would fill the cell)."""
    prompt = str(prompt)  # an image as [image: name]
    if len(prompt) <= DRY_RUN_CHARS:
        return prompt
    return f"{prompt[:DRY_RUN_CHARS]}… ({len(prompt) - DRY_RUN_CHARS:,} more characters)"


def dry_run_text(plan_: Plan) -> str:
    """What ``--dry-run`` prints: the first prompts, then the plan's one-line summary."""
    shown = [f"--- row {plan_.rows.frame.index[i]!r}:\n{_shortened(prompt)}"
             for i, prompt in enumerate(plan_.prompts[:DRY_RUN_SHOWN])]
    more = len(plan_.prompts) - DRY_RUN_SHOWN
    if more > 0:
        shown.append(f"--- … and {more:,} more")
    return "\n".join(shown) + f"\n\nDry run, nothing asked: {plan_.summary()}"
