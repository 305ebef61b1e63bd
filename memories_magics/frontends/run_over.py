"""Running a template over data, as ``%%llm --over``, ``%%compare --over`` and the Python
API's ``map``/``grid`` share it: render every row's prompt, plan (what is cached, what it
would cost), refuse over budget or stop at a dry run, then run the rows with a progress bar
and build the result table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..options import OPTIONS
from ..over import Rows, api_attach, as_rows, check_budget, dry_run_text, plan, render
from ..over_result import OverResult, build
from ..row_runner import run_jobs

if TYPE_CHECKING:
    import pandas as pd

    from ..config import ModelSpec
    from ..engine import Engine
    from ..images import Picture
    from ..providers.base import Provider
    from ..schema import Schema
    from ..types import Request

#: Rows asked at once per provider when neither --concurrency nor global_settings says.
DEFAULT_CONCURRENCY = 4


def resolve_check(name: str | None, namespace: dict[str, Any]) -> Callable[..., Any] | str | None:
    """The notebook function ``--check`` names; an undefined name is one line (a name that
    is not a function is reported in each row's ``check_error``)."""
    if name is None:
        return None
    if name not in namespace:
        raise UsageError(f"--check {name}: no function {name!r} in the notebook; define "
                         f"def {name}(text, row): return ... (True/False or a number)")
    value = namespace[name]
    return value if callable(value) else name


def run_over(engine: Engine, targets: Sequence[tuple[ModelSpec, Provider | None]],
             template: str, rows: Rows, namespace: dict[str, Any],
             make_request: Callable[[ModelSpec, Any], Request], *, fmt: str = "markdown",
             cache: str | None = None, stream: bool = True, concurrency: int | None = None,
             budget: float | None = None, dry_run: bool = False,
             check: Callable[..., Any] | str | None = None, check_name: str | None = None,
             progress: bool = True, aggregate: str | None = None,
             schema: Schema | None = None, retries: int = 0, attach: str | None = None,
             images: Sequence[Picture] = ()) -> OverResult | None:
    """Ask every row of ``rows`` of every target; None after a dry run (which prints).
    With several targets, ``aggregate`` picks one answer per row (the ``chosen`` column).
    With ``schema`` (which ``make_request`` puts in each request) every answer is validated
    and its fields become columns. ``attach`` names the images each row sends (a column, or
    one notebook value for every row); ``images`` are sent with every row before them."""
    if schema is not None:
        for spec, _ in targets:
            engine.check_schema(spec)
    prompts = render(template, rows, namespace, attach, images)
    planned = plan(engine, rows, prompts, targets, make_request, cache)
    if dry_run:
        print(dry_run_text(planned))
        return None
    check_budget(planned, budget)
    width = concurrency or int(engine.config.settings.get("concurrency", DEFAULT_CONCURRENCY))
    bar = None
    if progress and planned.to_ask:  # a fully cached run goes straight to the table
        from ..display.progress import RowProgress

        bar = RowProgress(len(planned.jobs), ", ".join(planned.labels))
    try:
        outcomes = run_jobs(engine, planned.jobs, concurrency=width, cache=cache,
                            stream=stream, budget=budget, schema=schema, retries=retries,
                            on_settle=None if bar is None else
                            lambda o: bar.settle(o.state, 0.0 if o.state != "done"
                                                 else o.cost_usd))
    finally:
        if bar is not None:
            bar.close()
    spent = sum(o.cost_usd for o in outcomes if o.state == "done")
    interrupted = any(o.state == "interrupted" for o in outcomes)
    skipped = sum(o.state == "skipped" for o in outcomes)
    note = (f"stopped at --budget {budget:g}: {skipped:,} answers not asked"
            if skipped and budget is not None else "")
    return build(planned, outcomes, fmt=fmt, check=check, check_name=check_name,
                 spent_usd=spent, interrupted=interrupted, note=note,
                 aggregate_method=aggregate, schema=schema)


def over_frame(targets: list[tuple[ModelSpec, Any]], template: str, data: Any, engine: Engine,
               *, cache: str | None, concurrency: int | None,
               check: Callable[..., Any] | None, budget: float | None,
               namespace: dict[str, Any] | None, progress: bool, schema: Any,
               retries: int, attach: Any = None, **params: Any) -> pd.DataFrame:
    """What the Python API's ``map`` and ``grid`` share: the run over ``data``, as its
    DataFrame (``attach`` as :func:`~memories_magics.over.api_attach` reads it)."""
    from ..schema import make_schema

    held = None if schema is None else make_schema(schema)
    rows, names = as_rows(data), dict(namespace or {})
    attach_names, images = api_attach(attach, rows, names)
    result = run_over(engine, targets, template, rows, names,
                      lambda spec, prompt: engine.request(spec, prompt, schema=held, **params),
                      cache=cache, stream=False, concurrency=concurrency, budget=budget,
                      check=check, check_name=getattr(check, "__name__", "check"),
                      progress=progress, schema=held,
                      retries=OPTIONS["retries"].check(retries) or 0, attach=attach_names,
                      images=images)
    assert result is not None  # no dry run here
    return result.frame
