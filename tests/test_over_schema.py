"""--over with --schema: the value's fields as DataFrame columns, in real kernels against fake
servers (and the local model); invalid rows failed, uncached, asked again; replay equal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import provider_environment, write_test_config
from tests.fakes import Reply
from tests.fakes.rows import RowServer
from tests.kernel import Kernel

SETUP = """%load_ext memories_magics
import pandas as pd
from pydantic import BaseModel, Field

class Review(BaseModel):
    sentiment: str
    stars: int = Field(ge=1, le=5)
    text: str  # named like an answer column: it becomes value_text

class Item(BaseModel):
    name: str
    qty: int

reviews = pd.DataFrame({"review": ["good A", "bad B", "odd C", "fine D"],
                        "sentiment": ["pos", "neg", "pos", "pos"]})
"""
VALID = {"good A": {"sentiment": "positive", "stars": 5, "text": "good"},
         "bad B": {"sentiment": "negative", "stars": 1, "text": "<b>bad</b>"},
         "fine D": {"sentiment": "positive", "stars": 4, "text": "fine"}}
CELL = "%%llm gpt-4o-mini --over reviews --schema Review -o out\nClassify: {review}"


def review_answer(prompt: str) -> Reply:
    for review, value in VALID.items():
        if review in prompt:
            return Reply(text=json.dumps(value))
    return Reply(text='{"sentiment": "positive", "stars": 9}')  # stars too big, text missing


@pytest.fixture
def rows_server() -> Iterator[RowServer]:
    with RowServer(answer=review_answer, latency=0.05) as server:
        yield server


@pytest.fixture
def env(rows_server: RowServer, tmp_path: Path) -> dict[str, str]:
    return provider_environment(rows_server.url, write_test_config(tmp_path / "config.json"),
                                tmp_path / "cache")


def test_fields_become_columns_and_an_invalid_row_fails_uncached(env, rows_server) -> None:
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        run = kernel.run(CELL)
        first = kernel.frame()
        columns = kernel.run("print(list(out.columns))").stdout
        asked = len(rows_server.requests)
        again = kernel.run(CELL)
        second = kernel.frame()
    assert run.error is None, run.error
    assert json.loads(columns.replace("'", '"')) == [
        "review", "input_sentiment", "text", "model", "status", "cached", "error",
        "input_tokens", "output_tokens", "cost_usd", "latency_s", "sentiment", "stars",
        "value_text"], "the gold label is kept as input_sentiment; the field is sentiment"
    body = rows_server.requests[0].body
    assert body["response_format"]["json_schema"]["name"] == "Review", "the constraint is sent"
    by_review = {r["review"]: r for r in first}
    assert by_review["good A"]["sentiment"] == "positive" and by_review["good A"]["stars"] == 5
    assert by_review["bad B"]["value_text"] == "<b>bad</b>"
    assert by_review["bad B"]["input_sentiment"] == "neg"
    odd = by_review["odd C"]
    assert odd["status"] == "failed" and odd["sentiment"] is None and odd["stars"] is None
    error = str(odd["error"])
    assert "does not match the schema Review" in error and "stars" in error
    assert "value_text" not in error and "\n" not in error and "not cached" in error
    shown = run.result["text/plain"]
    assert "3 done · 0 cached · 1 failed" in shown
    assert "nan" not in shown, "a row without an error shows no error (pandas' NaN)"
    header = shown.splitlines()[2]
    assert "sentiment" in header and "stars" in header and " text " not in f"{header} ", \
        "the compact table shows the fields, not the raw JSON"
    assert "&lt;b&gt;bad&lt;/b&gt;" in run.result["text/html"], "model text escaped"
    assert asked == 4 and len(rows_server.requests) == 5, "only the invalid row is asked again"
    assert [r["status"] for r in second] == ["cached", "cached", "failed", "cached"]
    assert [r["stars"] for r in second] == [5, 1, None, 4]
    assert "1 failed" in again.result["text/plain"]


def test_replay_gives_the_same_frame_and_lists_are_one_column(env, rows_server) -> None:
    rows_server.answer = lambda prompt: Reply(
        text=json.dumps({"items": [{"name": prompt[-1], "qty": 2}, {"name": "x", "qty": 1}]}))
    cell = "%%llm gpt-4o-mini --over names --schema list[Item] -o out\nList for {item}"
    shown = "print(out[['item', 'items', 'status']].to_json(orient='records'))"
    with Kernel(env) as kernel:
        assert kernel.run(SETUP + "names = ['a', 'b']").error is None
        run = kernel.run(cell)
        recorded = kernel.run(shown).stdout
    with Kernel({**env, "MEMORIES_MAGICS_CACHE_MODE": "replay"}) as kernel:
        assert kernel.run(SETUP + "names = ['a', 'b']").error is None
        replayed_run = kernel.run(cell)
        replayed = kernel.run(shown).stdout
    assert run.error is None and replayed_run.error is None
    assert json.loads(recorded) == [
        {"item": "a", "items": [{"name": "a", "qty": 2}, {"name": "x", "qty": 1}],
         "status": "done"},
        {"item": "b", "items": [{"name": "b", "qty": 2}, {"name": "x", "qty": 1}],
         "status": "done"}], "a list[Model] is one column holding the list, as plain data"
    assert [{**r, "status": "done"} for r in json.loads(replayed)] == json.loads(recorded)
    assert {r["status"] for r in json.loads(replayed)} == {"cached"}
    assert len(rows_server.requests) == 2, "the replay asked nothing"
    assert '[{"name": "a", "qty": 2}' in run.result["text/plain"]


def test_grid_with_schema_aggregates_values_and_retries_reask(env, rows_server) -> None:
    tries: dict[str, int] = {}

    def answer(prompt: str) -> Reply:
        if "That is not valid" in prompt:  # the --retries re-ask names the errors
            return Reply(text='{"name": "fixed", "qty": 1}')
        tries[prompt] = tries.get(prompt, 0) + 1
        if "b" in prompt.split()[-1]:
            return Reply(text='{"name": "b"}')
        return Reply(text='{"qty": 3, "name": "a"}')

    rows_server.answer = answer
    with Kernel(env) as kernel:
        assert kernel.run(SETUP + "names = ['a', 'b']").error is None
        run = kernel.run("%%compare gpt-4o-mini claude-haiku --over names --schema Item "
                         "--retries 1 -o grid\nItem {item}")
        grid = kernel.frame("grid")
    assert run.error is None, run.error
    assert [(r["item"], r["model"], r["name"], r["qty"], r["status"]) for r in grid] == [
        ("a", "gpt-4o-mini", "a", 3, "done"), ("a", "claude-haiku", "a", 3, "done"),
        ("b", "gpt-4o-mini", "fixed", 1, "done"), ("b", "claude-haiku", "fixed", 1, "done")]
    assert all(r["chosen"] is None for r in grid), "equal values: consensus is a tie"
    assert len(rows_server.requests) == 6, "each b row asked twice (--retries 1)"


def test_bad_schema_input_is_one_line_before_anything_is_sent(env, rows_server) -> None:
    cells = {
        "%%llm gpt-4o-mini --over reviews --schema Nope\n{review}": "name 'Nope' is not defined",
        "%%llm gpt-4o-mini --over reviews --schema reviews\n{review}": "not a pydantic model",
        "%%llm gpt-4o-mini --over reviews --retries 2\n{review}": "give one (--schema City)",
        "%%llm gpt-4o-mini --over reviews --schema Review\n{nothing}": "reviews's columns are",
    }
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        for cell, hint in cells.items():
            line = kernel.run(cell).one_line_error()
            assert hint in line, (cell, line)
        dry = kernel.run("%%llm gpt-4o-mini --over reviews --schema Review --dry-run\n{review}")
    assert "Dry run, nothing asked: 4 rows" in dry.stdout
    assert rows_server.requests == []


def test_python_api_map_and_grid_take_a_schema(env, rows_server, monkeypatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from pydantic import BaseModel

    from memories_magics import LoadModel, MultiModelInference
    from memories_magics.config import Config
    from memories_magics.engine import Engine

    class Word(BaseModel):
        word: str
        length: int

    def answer(prompt: str) -> Reply:
        word = prompt.split()[-1]
        return Reply(text=json.dumps({"word": word, "length": len(word)}) if word != "bad"
                     else "not json at all")

    rows_server.answer = answer
    engine = Engine(Config.load())
    mini = LoadModel("openai", "api", "gpt-4o-mini", engine=engine)
    mapped = mini.map("Measure {item}", ["cat", "horse", "bad"], schema=Word, progress=False)
    assert list(mapped["word"])[:2] == ["cat", "horse"] and list(mapped["length"])[:2] == [3, 5]
    assert mapped[["word", "length"]].iloc[2].isna().all(), "no value: the fields are empty"
    assert mapped["status"].tolist() == ["done", "done", "failed"]
    assert "not JSON" in mapped["error"].iloc[2]
    both = MultiModelInference([mini, LoadModel("anthropic", "api", "claude-3-5-haiku-latest",
                                                engine=engine)])
    grid = both.grid("Measure {item}", ["cat"], schema=Word,
                     check=lambda text, row: json.loads(text)["length"] == 3, progress=False)
    assert grid["length"].tolist() == [3, 3] and grid["check"].tolist() == [True, True]
    assert grid["status"].tolist() == ["cached", "done"]
    with pytest.raises(Exception, match="not a pydantic model class"):
        mini.map("Measure {item}", ["cat"], schema=3, progress=False)


def test_the_local_model_fills_the_fields_of_every_row(tmp_path) -> None:
    env = provider_environment("http://127.0.0.1:9", write_test_config(tmp_path / "c.json"),
                               tmp_path / "cache")
    setup = SETUP + """
texts = pd.Series(["I love this phone.", "This is awful.", "Best day ever!"])
class Mood(BaseModel):
    mood: str
    confident: bool
"""
    with Kernel(env) as kernel:
        assert kernel.run(setup).error is None
        run = kernel.run("%%llm smollm2 --over texts --schema Mood --seed 1 -t 0.2 "
                         "--max-tokens 40 -o moods\nIs this text happy or sad? {item}")
        rows = kernel.frame("moods")
    assert run.error is None, run.error
    assert [r["status"] for r in rows] == ["done"] * 3, [r["error"] for r in rows]
    assert all(isinstance(r["mood"], str) and isinstance(r["confident"], bool) for r in rows)


COUNTED = """
from pydantic import model_validator
checked = []
strict = False

class Counted(BaseModel):
    sentiment: str
    stars: int

    @model_validator(mode="before")
    @classmethod
    def count(cls, data):
        checked.append(1)
        if strict and data.get("stars", 0) < 5:
            raise ValueError("only five stars will do")
        return data
"""


def test_each_row_is_validated_once_and_a_cached_answer_that_no_longer_matches_fails(
        env, rows_server) -> None:
    cell = "%%llm gpt-4o-mini --over reviews --schema Counted -o out\nClassify: {review}"
    with Kernel(env) as kernel:
        assert kernel.run(SETUP + COUNTED).error is None
        first = kernel.run(cell)
        asked_once = kernel.run("print(len(checked))").stdout.strip()
        assert kernel.run("checked.clear(); strict = True").error is None
        again = kernel.run(cell)
        frame = kernel.frame()
        checked_again = kernel.run("print(len(checked))").stdout.strip()
    assert first.error is None and again.error is None
    assert asked_once == "4", "one validation per row, not one per step of the row's way"
    assert checked_again == "4", "the re-run checks each cached answer once"
    assert len(rows_server.requests) == 4, "nothing asked again"
    by_review = {r["review"]: r for r in frame}
    assert by_review["good A"]["status"] == "cached" and by_review["good A"]["stars"] == 5
    bad = by_review["bad B"]
    assert bad["status"] == "failed" and bad["stars"] is None
    assert "only five stars will do" in str(bad["error"]), "the recorded answer fails, with why"
    assert "2 cached · 2 failed" in again.result["text/plain"]


def test_a_recorded_answer_found_mid_run_that_fails_the_schema_is_a_failed_row(
        env, rows_server, monkeypatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from pydantic import BaseModel, model_validator

    from memories_magics.config import Config
    from memories_magics.engine import Engine
    from memories_magics.over import Job
    from memories_magics.row_runner import run_jobs
    from memories_magics.schema import make_schema

    strict = []

    class Stars(BaseModel):
        stars: int

        @model_validator(mode="after")
        def five(self) -> Stars:
            if strict and self.stars < 5:
                raise ValueError("only five stars will do")
            return self

    engine = Engine(Config.load())
    spec, schema = engine.model("gpt-4o-mini"), make_schema(Stars)
    request = engine.request(spec, "Classify: bad B", schema=schema)
    assert engine.run(spec, request, cache="use", schema=schema).error is None  # recorded
    strict.append(True)  # the validators changed; the JSON schema, so the key, did not
    [outcome] = run_jobs(engine, [Job(0, spec, request)], concurrency=1, cache="use",
                         schema=schema)  # not read while planning: the engine finds the hit
    assert outcome.response is not None and outcome.response.cached
    assert outcome.state == "failed" and "only five stars will do" in outcome.error
    assert len(rows_server.requests) == 1, "not asked again"
