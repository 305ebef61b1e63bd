"""Keyless local embeddings (SmolLM2 mean-pooled on llama.cpp) and ``%llm embed VAR -o VEC`` in
a real kernel, against the local model and the fake server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memories_magics import LoadModel
from memories_magics.config import Config
from memories_magics.engine import Engine
from memories_magics.errors import ProviderError, UsageError
from memories_magics.records import EMBEDDINGS_NAME
from tests.conftest import PLANTED_KEY_PREFIX, provider_environment, write_test_config
from tests.fakes import FakeLLMServer
from tests.kernel import Kernel

TEXTS = ["The soup was cold and bland.", "Lovely staff, quick service.", "Noisy room, bad sleep."]


@pytest.fixture
def local_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("MEMORIES_MAGICS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEMORIES_MAGICS_CONFIG", raising=False)
    return Engine(Config.load())


def smollm2(engine: Engine, cache: str | None = None) -> LoadModel:
    return LoadModel("local", "local", "smollm2", engine=engine, cache=cache)


def test_local_embeddings_are_deterministic_and_independent_of_the_batch(
        local_engine: Engine) -> None:
    model = smollm2(local_engine, cache="off")
    together = model.embed(TEXTS)
    assert together.shape == (3, 576) and together.dtype == np.float32
    assert np.isfinite(together).all()
    assert np.array_equal(model.embed(TEXTS), together)
    assert np.array_equal(model.embed(TEXTS[1:2])[0], together[1]), "alone as in a batch"
    assert not np.array_equal(together[0], together[1])


def test_local_embeddings_are_cached(local_engine: Engine, tmp_path: Path) -> None:
    model = smollm2(local_engine)
    first = model.embed(TEXTS)
    usage = local_engine.usage["local:smollm2"]
    assert (usage.calls, usage.cache_hits) == (1, 0) and usage.input_tokens > 3
    again = model.embed([*TEXTS, "A new line."])
    assert np.array_equal(again[:3], first), "bit for bit from the cache"
    assert (usage.calls, usage.cache_hits) == (2, 3)
    records = (tmp_path / "cache" / EMBEDDINGS_NAME).read_text("utf-8").splitlines()
    assert len(records) == 4 and all('"gguf_sha256":' in line for line in records)


def test_a_long_text_is_cut_to_the_batch_and_odd_unicode_embeds(local_engine: Engine) -> None:
    vectors = smollm2(local_engine, cache="off").embed(
        ["word " * 5_000, "\ud800 lone surrogate", "👩‍👩‍👧 \u202e \x00"])
    assert vectors.shape == (3, 576) and np.isfinite(vectors).all()


def test_a_text_of_no_tokens_is_one_line(local_engine: Engine) -> None:
    with pytest.raises((UsageError, ProviderError)) as caught:
        smollm2(local_engine, cache="off").embed([""])
    assert "\n" not in str(caught.value) and "empty" in str(caught.value)


def test_llm_embed_in_a_kernel(tmp_path: Path, fake: FakeLLMServer) -> None:
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), tmp_path / "c")
    with Kernel(env) as kernel:
        assert kernel.run("%load_ext memories_magics").error is None
        kernel.run(f"import pandas as pd\nreviews = pd.Series({TEXTS!r})")
        local = kernel.run("%llm embed reviews -o vectors")
        shape = kernel.run("print(vectors.shape, vectors.dtype)")
        again = kernel.run("%llm embed reviews -o vectors")
        hosted = kernel.run("%llm embed reviews -o hosted -m text-embedding-3-small")
        usage = kernel.run("%llm usage").displayed[0]["text/plain"]
        missing_output = kernel.run("%llm embed reviews")
        no_variable = kernel.run("%llm embed nowhere -o v")
        frame = kernel.run("df = pd.DataFrame({'t': ['a']})\n%llm embed df -o v")
        chat_model = kernel.run("%llm embed reviews -o v -m gpt-4o-mini")
        bad_name = kernel.run("%llm embed reviews -o 'x y'")
        empty = kernel.run("nothing = []\n%llm embed nothing -o v")
        unchanged = kernel.run("print('v' in dir())")
    assert local.error is None and local.stdout == (
        "vectors: 3 × 576 float32 embeddings of reviews from smollm2 "
        "(0 of 3 from the cache)\n")
    assert shape.stdout == "(3, 576) float32\n"
    assert again.stdout.endswith("(3 of 3 from the cache)\n")
    assert hosted.stdout == ("hosted: 3 × 8 float32 embeddings of reviews from "
                             "text-embedding-3-small (0 of 3 from the cache)\n")
    rows = {line.split()[0]: line.split() for line in usage.splitlines()
            if line.startswith(("local:", "openai:"))}
    assert rows["openai:text-embedding-3-small"][1:4] == ["1", "0", "14"]
    assert rows["local:smollm2"][1:3] == ["1", "3"] and int(rows["local:smollm2"][3]) > 3
    assert "the following arguments are required: -o/--output" in \
        missing_output.one_line_error()
    assert "no variable 'nowhere' in the notebook" in no_variable.one_line_error()
    assert "pick a column: df['text']" in frame.one_line_error()
    assert "gpt-4o-mini can't embed texts" in chat_model.one_line_error()
    assert "is not a variable name" in bad_name.one_line_error()
    assert "nothing to embed" in empty.one_line_error()
    assert unchanged.stdout == "False\n", "a failed %llm embed assigns nothing"
    assert PLANTED_KEY_PREFIX not in (tmp_path / "c" / EMBEDDINGS_NAME).read_text("utf-8")
