"""2. Per-call overhead against the same local fake server (answers at once, 24 pieces).

* ``%%llm --cache off`` through a real InteractiveShell vs the raw official SDK call written
  in a cell of the same shell (OpenAI and Anthropic formats, streaming, and OpenAI without
  streaming). The overhead is the per-round difference (the two alternate), so a slow phase of
  the machine hits both.
* ``%%ai`` of jupyter-ai 2 and 3 (in their venvs, bench/workers/jupyter_ai_calls.py), which
  do not stream, vs our ``%%llm --no-stream`` and each one's own raw-SDK cell.
* ``LoadModel(...).get_response`` / ``get_streaming_response`` vs ``llm``'s Python API
  (``llm.get_model("gpt-4o-mini").prompt(...)``; llm's OpenAI models honour ``OPENAI_BASE_URL``
  through the openai SDK) and the raw SDK call.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from bench import baselines
from bench.common import BENCH, child_env, run_json
from bench.fakeserver import ANSWER, fake_server, provider_env
from bench.measure import Figure, bar, emit, interleave, paired_differences, scaled, summarize
from bench.shell import ours_shell, run

PROMPT = "Say something about benchmarks."
ROUNDS = scaled(300)
WARMUP = scaled(30)
API_ROUNDS = scaled(150)
BASELINE_ROUNDS = scaled(60)
GOAL_MS = 0.5

RAW_OPENAI_STREAM = f"""\
_pieces = []
with _oa.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": {PROMPT!r}}}],
        temperature=0.7, top_p=1.0, max_tokens=256, stream=True,
        stream_options={{"include_usage": True}}) as _events:
    for _event in _events:
        if _event.choices and _event.choices[0].delta.content:
            _pieces.append(_event.choices[0].delta.content)
"".join(_pieces)
"""
RAW_OPENAI = f"""\
_oa.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": {PROMPT!r}}}],
    temperature=0.7, top_p=1.0, max_tokens=256).choices[0].message.content
"""
RAW_ANTHROPIC_STREAM = f"""\
_pieces = []
with _an.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=256,
        messages=[{{"role": "user", "content": {PROMPT!r}}}], stream=True) as _events:
    for _event in _events:
        if _event.type == "content_block_delta" and _event.delta.type == "text_delta":
            _pieces.append(_event.delta.text)
"".join(_pieces)
"""


def _cell_timer(shell: Any, cell: str) -> Any:
    def call() -> None:
        shell.outputs.clear()
        run(shell, cell)
    return call


def _check_answer(shell: Any, cell: str) -> None:
    """Run ``cell`` once and make sure the answer reached the cell's result."""
    shell.outputs.clear()
    run(shell, cell)
    bundle = shell.outputs.last_result() or {}
    if ANSWER not in bundle.get("text/plain", "").replace("\\'", "'"):
        raise RuntimeError(f"unexpected output of {cell.splitlines()[0]!r}: {bundle!r:.300}")


def _magic_vs_raw(shell: Any, name: str, ours_cell: str, raw_cell: str,
                  bar_label: str) -> tuple[Figure, list[float]]:
    for cell in (ours_cell, raw_cell):
        _check_answer(shell, cell)
    samples = interleave({"ours": _cell_timer(shell, ours_cell),
                          "raw": _cell_timer(shell, raw_cell)}, ROUNDS, WARMUP)
    overhead = summarize(paired_differences(samples["ours"], samples["raw"]), "ms", 1e3)
    raw = summarize(samples["raw"], "ms", 1e3)
    ours = summarize(samples["ours"], "ms", 1e3)
    figure = Figure(
        "overhead", f"{name}: %%llm time over the raw-SDK cell", overhead,
        "raw SDK cell (call time)", raw, ours.median / raw.median, "× raw time",
        goal=f"≤ {GOAL_MS:g} ms", met=overhead.median <= GOAL_MS,
        note=f"%%llm cell: {ours}",
        extra={"ours_total": ours.__dict__, "bars": [bar(bar_label, overhead, True)]})
    return figure, samples["ours"]


def _jupyter_ai(baseline: baselines.Baseline, url: str, ours_nostream: list[float],
                ours_overhead: float) -> Figure:
    label = f"%%llm --no-stream vs %%ai of {baseline.label.split(' (')[0]}"
    if not baseline.python.exists():
        return Figure("overhead", label, None, note="not available (baseline venv missing)")
    result = run_json([str(baseline.python), str(BENCH / "workers" / "jupyter_ai_calls.py"),
                       baseline.key, url, PROMPT, ANSWER, str(BASELINE_ROUNDS)],
                      env=child_env(**baselines.BASELINE_ENV, **provider_env(url)), timeout=300)
    theirs = summarize(result["ai"], "ms", 1e3)
    their_overhead_stats = summarize(paired_differences(result["ai"], result["raw"]), "ms", 1e3)
    their_overhead = their_overhead_stats.median
    ours = summarize(ours_nostream, "ms", 1e3)
    return Figure(
        "overhead", label, ours, f"%%ai ({baseline.key})", theirs, theirs.median / ours.median,
        "× faster",
        note=(f"no streaming in %%ai; time over each one's raw-SDK cell: ours "
              f"{ours_overhead:+.2f} ms, theirs {their_overhead:+.2f} ms"),
        extra={"their_overhead_ms": their_overhead, "versions": baselines.versions(baseline),
               "bars": [bar(f"%%ai, {baseline.label.split(' (')[0]}", their_overhead_stats,
                            False)]})


def _python_api(url: str) -> list[Figure]:
    import llm
    import openai

    from memories_magics import LoadModel

    client = openai.OpenAI()
    messages = [{"role": "user", "content": PROMPT}]
    ours_model = LoadModel("openai", "api", "gpt-4o-mini", cache="off")
    their_model = llm.get_model("gpt-4o-mini")

    def raw() -> str:
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                              temperature=0.7, top_p=1.0,
                                              max_tokens=256).choices[0].message.content

    def raw_stream() -> str:  # asks for the usage, as ours does (and the raw cell above)
        with client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                            temperature=0.7, top_p=1.0, max_tokens=256,
                                            stream=True,
                                            stream_options={"include_usage": True}) as events:
            return "".join(e.choices[0].delta.content or "" for e in events if e.choices)

    pairs = {
        "no stream": ({"ours": lambda: ours_model.get_response(PROMPT)["text"],
                       "llm": lambda: their_model.prompt(PROMPT, stream=False).text(),
                       "raw": raw},
                      "LoadModel.get_response vs llm prompt(stream=False).text()",
                      ("LoadModel.get_response", "llm: prompt(stream=False)")),
        "stream": ({"ours": lambda: "".join(ours_model.get_streaming_response(PROMPT)),
                    "llm": lambda: "".join(their_model.prompt(PROMPT)),
                    "raw": raw_stream},
                   "LoadModel.get_streaming_response vs llm prompt() iterated",
                   ("LoadModel.get_streaming_response", "llm: prompt(), streamed")),
    }
    figures = []
    for contenders, label, bar_labels in pairs.values():
        for name, call in contenders.items():
            if call() != ANSWER:
                raise RuntimeError(f"{name} returned an unexpected answer")
        samples = interleave(contenders, API_ROUNDS, WARMUP)
        ours, theirs = summarize(samples["ours"], "ms", 1e3), summarize(samples["llm"], "ms", 1e3)
        over_stats = {k: summarize(paired_differences(samples[k], samples["raw"]), "ms", 1e3)
                      for k in ("ours", "llm")}
        over = {k: v.median for k, v in over_stats.items()}
        figures.append(Figure(
            "overhead", f"Python API: {label}", ours, "llm",
            theirs, theirs.median / ours.median, "× faster", goal=f"≤ {GOAL_MS:g} ms over raw",
            met=over["ours"] <= GOAL_MS,
            note=(f"time over the raw SDK call: ours {over['ours']:+.2f} ms, "
                  f"llm {over['llm']:+.2f} ms: llm builds a new OpenAI client, and with it an SSL "
                  "context, for every prompt"),
            extra={"overhead_ms": over, "bars": [
                bar(f"{bar_labels[0]}", over_stats["ours"], True),
                bar(f"{bar_labels[1]}", over_stats["llm"], False)]}))
    return figures


def main() -> list[Figure]:
    figures: list[Figure] = []
    with fake_server(text=ANSWER) as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["LLM_USER_PATH"] = os.path.join(tmp, "llm")  # no user llm config
        shell = ours_shell(**provider_env(url), MEMORIES_MAGICS_CACHE_DIR=os.path.join(tmp, "c"))
        import anthropic
        import openai

        shell.user_ns.update(_oa=openai.OpenAI(), _an=anthropic.Anthropic())
        header = "%%llm {} --cache off{}\n" + PROMPT
        figure, _ = _magic_vs_raw(shell, "OpenAI, streaming", header.format("gpt-4o-mini", ""),
                                  RAW_OPENAI_STREAM, "%%llm, OpenAI streaming")
        figures.append(figure)
        figure, _ = _magic_vs_raw(shell, "Anthropic, streaming",
                                  header.format("claude-haiku", ""), RAW_ANTHROPIC_STREAM,
                                  "%%llm, Anthropic streaming")
        figures.append(figure)
        nostream, nostream_samples = _magic_vs_raw(
            shell, "OpenAI, no streaming", header.format("gpt-4o-mini", " --no-stream"),
            RAW_OPENAI, "%%llm --no-stream")
        figures.append(nostream)
        for baseline in baselines.BASELINES:
            figures.append(_jupyter_ai(baseline, url, nostream_samples, nostream.ours.median))
        figures.extend(_python_api(url))
    return figures


if __name__ == "__main__":
    emit(main())
