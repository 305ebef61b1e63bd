"""Prompts over data (--over): rows in real kernels against fake servers with latency."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import provider_environment, write_test_config
from tests.fakes import Reply
from tests.fakes.rows import RowServer
from tests.kernel import Kernel

CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Baku", "Doha", "Riga", "Bern", "Oran",
          "Suva", "Apia"]
SETUP = f"""%load_ext memories_magics
import pandas as pd, openai, anthropic  # SDK imports warm
cities = pd.DataFrame({{"city": {CITIES!r}, "rank": list(range({len(CITIES)}))}},
                      index=[f"c{{i}}" for i in range({len(CITIES)})])
"""


@pytest.fixture
def rows_server() -> Iterator[RowServer]:
    with RowServer(latency=0.2) as server:
        yield server


@pytest.fixture
def env(rows_server: RowServer, tmp_path: Path) -> dict[str, str]:
    return provider_environment(rows_server.url, write_test_config(tmp_path / "config.json"),
                                tmp_path / "cache")


def test_dataframe_rows_concurrent_in_order_and_rerun_asks_nothing(env, rows_server) -> None:
    cell = ("%%llm gpt-4o-mini --over cities --concurrency 4 -o out\n"
            "About {city} (rank {rank}, row {index}) for {audience}")
    with Kernel(env) as kernel:
        assert kernel.run(SETUP + "audience = 'kids'").error is None
        run = kernel.run(cell)
        records = kernel.frame()
        asked = len(rows_server.requests)
        again = kernel.run(cell)
        columns = kernel.run("print(list(out.columns))").stdout
    assert run.error is None, run.error
    assert asked == len(CITIES) and len(rows_server.requests) == len(CITIES), \
        "a finished map re-run asks nothing"
    assert rows_server.max_in_flight == 4, "four at once, never more"
    assert [r["index"] for r in records] == [f"c{i}" for i in range(len(CITIES))]
    assert [r["city"] for r in records] == CITIES and [r["rank"] for r in records] == \
        list(range(len(CITIES)))
    for i, record in enumerate(records):
        assert record["text"] == f"answer to About {CITIES[i]} (rank {i}, row c{i}) for kids"
        assert record["status"] == "done" and record["cached"] is False
        assert record["error"] is None and record["model"] == "gpt-4o-mini"
    assert json.loads(columns.replace("'", '"')) == [
        "city", "rank", "text", "model", "status", "cached", "error", "input_tokens",
        "output_tokens", "cost_usd", "latency_s"]
    shown = run.result["text/plain"]
    assert "gpt-4o-mini over cities: 12 answers · 12 done · 0 cached · 0 failed" in shown
    assert "c0" in shown and "c11" in shown and "2 more" in shown, "first and last rows"
    assert "<table>" in run.result["text/html"]
    assert "12 cached" in again.result["text/plain"]
    progress = html.unescape(json.dumps([m["content"] for m in run.messages if m["msg_type"] ==
                                         "comm_msg"], ensure_ascii=False)).replace("\u2007", " ")
    assert re.search(r"[1-9]\d*/12 \[.*, done [1-9]\d* · cached 0 · failed 0 · <\$0.0001\]",
                     progress), "the bar counts done, cached, failed and the cost so far"


def test_failing_row_keeps_its_error_and_429s_back_off(env, rows_server) -> None:
    limited: dict[str, int] = {}

    def answer(prompt: str) -> Reply:
        if "Lima" in prompt:
            return Reply(status=400, error_message="this row is bad")
        if "Rome" in prompt or "Oslo" in prompt:
            limited[prompt] = limited.get(prompt, 0) + 1
            if limited[prompt] <= 2:
                return Reply(status=429, error_message="slow down", retry_after=0.3)
        return Reply(text=f"fine: {prompt}")

    rows_server.answer = answer
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        run = kernel.run("%%llm claude-haiku --over cities -o out\nCity {city}")
        records = kernel.frame()
    assert run.error is None, run.error
    by_city = {r["city"]: r for r in records}
    assert by_city["Lima"]["status"] == "failed"
    error = by_city["Lima"]["error"]
    assert "HTTP 400" in error and "this row is bad" in error and "\n" not in error
    assert by_city["Rome"]["status"] == by_city["Oslo"]["status"] == "done", \
        "rate limited rows waited and were asked again, not failed"
    assert limited == {"City Rome": 3, "City Oslo": 3}
    assert sum(r["status"] == "done" for r in records) == len(CITIES) - 1
    assert "1 failed" in run.result["text/plain"] and "this row is bad" in run.result["text/plain"]


def test_ctrl_c_stops_promptly_keeps_finished_rows_and_rerun_asks_only_the_rest(
        env, rows_server) -> None:
    rows_server.latency = 0.05
    hung = {"on": True}

    def answer(prompt: str) -> Reply:
        if "Paris" in prompt and hung["on"]:
            return rows_server.hang()
        return Reply(text=f"ok {prompt}")

    rows_server.answer = answer
    cell = "%%llm gpt-4o-mini --over cities --concurrency 2 -o out\nCity {city}"
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        interrupted_at: list[float] = []

        def interrupt_when_only_the_hung_row_is_left() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                    len(rows_server.requests) == len(CITIES) and rows_server.in_flight == 1):
                time.sleep(0.05)
            time.sleep(0.5)  # the last fast answers reach the kernel
            interrupted_at.append(time.monotonic())
            kernel.manager.interrupt_kernel()

        threading.Thread(target=interrupt_when_only_the_hung_row_is_left, daemon=True).start()
        run = kernel.run(cell)
        stopped_after = time.monotonic() - interrupted_at[0]
        records = kernel.frame()
        first = rows_server.prompts()
        rows_server.reset()
        hung["on"] = False
        again = kernel.run(cell)
        resumed = kernel.frame()
        alive = kernel.run("print(1 + 1)")
    assert stopped_after < 5, f"Ctrl-C stopped the run promptly ({stopped_after:.1f} s)"
    assert run.error is None, "an interrupted run shows what it had"
    assert records[0]["status"] == "interrupted" and records[0]["text"] == ""
    assert all(r["status"] == "done" for r in records[1:]), "the other rows finished meanwhile"
    assert len(first) == len(CITIES)
    assert "interrupted" in run.result["text/plain"] and "re-run" in run.result["text/plain"]
    assert rows_server.prompts() == ["City Paris"], "the re-run asked only the unfinished row"
    assert [r["status"] for r in resumed] == ["done"] + ["cached"] * (len(CITIES) - 1)
    assert again.error is None and alive.stdout == "2\n"


def test_grid_rows_times_models_with_check_scores(env, rows_server) -> None:
    rows_server.answer = lambda prompt: Reply(
        text="yes" if "Paris" in prompt or "Rome" in prompt else "no")
    setup = SETUP + """
questions = cities.head(4)
def says_yes(text, row):
    if row['city'] == 'Lima':
        raise ValueError('cannot judge Lima')
    return text == 'yes'
not_a_function = 3
"""
    with Kernel(env) as kernel:
        assert kernel.run(setup).error is None
        run = kernel.run("%%compare gpt-4o-mini claude-haiku --over questions --check says_yes"
                         " -o grid\nIs {city} in Europe?")
        records = kernel.frame("grid")
        bad = kernel.run("%%compare gpt-4o-mini claude-haiku --over questions --check "
                         "not_a_function -o grid2\nIs {city} in Europe?")
        bad_records = kernel.frame("grid2")
    assert run.error is None and bad.error is None
    assert [(r["city"], r["model"]) for r in records] == [
        (c, m) for c in ["Paris", "Rome", "Oslo", "Lima"] for m in ["gpt-4o-mini", "claude-haiku"]]
    assert [r["check"] for r in records] == [True, True, True, True, False, False, None, None]
    assert records[-1]["check_error"] == "ValueError: cannot judge Lima"
    assert all(r["chosen"] is None for r in records), "equal answers: consensus is a tie"
    shown = run.result["text/plain"]
    assert "per model" in shown and "0.67" in shown, "pass rate over the rows it could judge"
    assert all("not a function" in r["check_error"] for r in bad_records)
    assert len(rows_server.requests) == 8, "the second grid was cached"


def test_budget_refuses_and_stops_and_dry_run_asks_nothing(env, rows_server) -> None:
    rows_server.answer = lambda prompt: Reply(text="ok", input_tokens=200_000)
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        dry = kernel.run("%%llm gpt-4o-mini --over cities --dry-run\nCity {city}")
        kernel.run("papers = ['x' * 50_000]")
        paper = kernel.run("%%llm gpt-4o-mini --over papers --dry-run\nSum up {item}")
        refused = kernel.run("%%llm gpt-4o-mini --over cities --budget 0.0001\nCity {city}")
        assert rows_server.requests == []
        stopped = kernel.run("%%llm gpt-4o-mini --over cities --budget 0.05 --concurrency 1 "
                             "-o out\nCity {city}")
        records = kernel.frame()
    assert "--- row 'c0':\nCity Paris" in dry.stdout and "… and 9 more" in dry.stdout
    assert len(paper.stdout) < 1_500 and "… (49,007 more characters)" in paper.stdout
    assert ("Dry run, nothing asked: 12 rows from cities: 12 answers, 0 cached, 12 to ask, "
            "estimated cost $0.0018") in dry.stdout
    assert "passes --budget 0.0001" in refused.one_line_error()
    states = [r["status"] for r in records]
    assert states[0] == "done" and "skipped" in states and "failed" not in states
    assert len(rows_server.requests) == states.count("done") < len(CITIES)
    assert "stopped at --budget 0.05" in stopped.result["text/plain"]


def test_bad_input_is_one_line_before_anything_is_sent(env, rows_server) -> None:
    cells = {
        "%%llm --over nowhere\n{item}": "no variable 'nowhere' in the notebook",
        "%%llm --over five\n{item}": "int is not a collection of rows",
        "%%llm --over word\n{item}": "str is not a collection of rows",
        "%%llm --over nothing\n{item}": "it is empty",
        "%%llm --over endless\n{item}": "more than 100,000 rows",
        "%%llm --over broken\n{item}": "iterating it raised RuntimeError: boom",
        "%%llm --over cities\nAbout {town}": "cities's columns are: city, rank",
        "%%llm --over five_items\nAbout {town}": "write {item} for the element",
        "%%llm --over 'a b'\n{item}": "name a notebook variable",
        "%%llm --concurrency 3\nhi": "--concurrency goes with --over VAR",
        "%%llm --over cities --concurrency 0\n{city}": "must be between 1 and 64",
        "%%llm --over cities --check nope\n{city}": "no function 'nope' in the notebook",
        "%%llm --over cities --tools f\n{city}": "--tools does not go with --over",
        "%%llm --over cities\n   ": "the cell is empty",
    }
    setup = SETUP + """
import itertools
five, word, nothing, endless, five_items = 5, 'hello', [], itertools.count(), [1, 2, 3, 4, 5]
def _broken():
    yield 1
    raise RuntimeError('boom')
broken = _broken()
"""
    with Kernel(env) as kernel:
        assert kernel.run(setup).error is None
        for cell, hint in cells.items():
            line = kernel.run(cell).one_line_error()
            assert hint in line, (cell, line)
    assert rows_server.requests == []


def test_python_api_map_and_grid_return_the_same_frames(env, rows_server, monkeypatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from memories_magics import LoadModel, MultiModelInference
    from memories_magics.config import Config
    from memories_magics.engine import Engine

    engine = Engine(Config.load())
    mini = LoadModel("openai", "api", "gpt-4o-mini", engine=engine)
    mapped = mini.map("Say {item}", ["a", "b", "c"], concurrency=3, progress=False)
    assert list(mapped["text"]) == ["answer to Say a", "answer to Say b", "answer to Say c"]
    assert list(mapped["item"]) == ["a", "b", "c"] and rows_server.max_in_flight == 3
    both = MultiModelInference([mini, LoadModel("anthropic", "api", "claude-3-5-haiku-latest",
                                                engine=engine)])
    grid = both.grid("Say {item}", ["a", "b"], check=lambda text, row: row["item"] in text,
                     progress=False)
    assert list(grid["check"]) == [True] * 4 and list(grid["status"]) == [
        "cached", "done", "cached", "done"]
