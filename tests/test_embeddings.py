"""Hosted embeddings: OpenAI's and Mistral's ``embeddings`` and Cohere's v2 ``embed`` through
their real SDKs against the fake server (which refuses what the APIs refuse), batched to each
API's limits, cached per text; hostile inputs and answers each one line, nothing cached."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import memories_magics
from memories_magics import LoadModel
from memories_magics import engine as engine_module
from memories_magics.embedder import MAX_TEXT_BYTES
from memories_magics.engine import Engine
from memories_magics.errors import CacheMissError, MemoriesError, ProviderError, UsageError
from memories_magics.records import EMBEDDINGS_NAME
from tests.conftest import PLANTED_KEY_PREFIX
from tests.fakes import FakeLLMServer, Reply
from tests.fakes.embeddings_wire import vector_for

HOSTED = {"openai": "text-embedding-3-small", "mistral": "mistral-embed", "cohere": "embed-v4.0"}
PATHS = {"openai": "/v1/embeddings", "mistral": "/v1/embeddings", "cohere": "/v2/embed"}


def model(engine: Engine, provider: str, **options: str) -> LoadModel:
    return LoadModel(provider, "api", HOSTED[provider], engine=engine, **options)


def embeds(fake: FakeLLMServer) -> list:
    return [r for r in fake.requests if r.path in PATHS.values()]


def sent_texts(request) -> list[str]:
    body = request.body
    return body.get("texts", body.get("inputs", body.get("input")))


def one_line(exc: pytest.ExceptionInfo[MemoriesError]) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def cache_text(cache_dir: Path) -> str:
    path = cache_dir / EMBEDDINGS_NAME
    return path.read_text("utf-8") if path.exists() else ""


@pytest.fixture
def cache_dir(provider_env: dict[str, str]) -> Path:
    return Path(provider_env["MEMORIES_MAGICS_CACHE_DIR"])


@pytest.mark.parametrize("provider", list(HOSTED))
def test_each_provider_embeds_through_its_sdk(engine: Engine, fake: FakeLLMServer,
                                              provider: str) -> None:
    texts = ["the cat sat", "on the mat", "héllo ☃ 中文"]
    vectors = model(engine, provider).embed(texts)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, vector_for(text)), "each vector is its own text's"
    (request,) = embeds(fake)
    assert request.path == PATHS[provider] and request.reply.status == 200
    assert sent_texts(request) == texts and request.body["model"] == HOSTED[provider]
    if provider == "cohere":
        assert request.body["input_type"] == "search_document"
        assert request.body["embedding_types"] == ["float"]
    else:
        assert "input_type" not in request.body
    if provider == "openai":
        assert request.body["encoding_format"] == "float"
    assert ("mistral" in request.headers.get("user-agent", "").lower()) == (provider == "mistral")


def test_cohere_input_type_is_sent_and_part_of_the_key(engine: Engine, fake: FakeLLMServer) -> None:
    cohere = model(engine, "cohere")
    cohere.embed(["a question"], input_type="search_query")
    cohere.embed(["a question"], input_type="search_query")
    cohere.embed(["a question"], input_type="classification")
    assert [r.body["input_type"] for r in embeds(fake)] == ["search_query", "classification"]
    with pytest.raises(UsageError) as caught:
        cohere.embed(["x"], input_type="nonsense")
    assert "input_type must be one of search_document, search_query" in one_line(caught)


@pytest.mark.parametrize("provider,limit", [("openai", 2048), ("mistral", 256), ("cohere", 96)])
def test_batched_to_the_providers_limit_on_texts(engine: Engine, fake: FakeLLMServer,
                                                 provider: str, limit: int) -> None:
    texts = [f"text {i}" for i in range(2 * limit + 1)]
    vectors = model(engine, provider, cache="off").embed(texts)
    assert vectors.shape == (len(texts), 8)
    assert [len(sent_texts(r)) for r in embeds(fake)] == [limit, limit, 1]
    assert all(r.reply.status == 200 for r in embeds(fake))
    assert np.allclose(vectors[-1], vector_for(texts[-1])), "the order survives batching"


def test_batched_to_the_providers_limit_on_size(engine: Engine, fake: FakeLLMServer) -> None:
    texts = ["x" * 6_000, "y" * 6_000, "z" * 6_000]  # Mistral: 16,000 bytes a request
    model(engine, "mistral", cache="off").embed(texts)
    assert [len(sent_texts(r)) for r in embeds(fake)] == [2, 1]


def test_re_embedding_a_column_asks_only_for_new_texts(engine: Engine, fake: FakeLLMServer,
                                                       cache_dir: Path) -> None:
    import pandas as pd

    column = pd.Series([f"review {i}" for i in range(50)], index=[f"r{i}" for i in range(50)])
    openai = model(engine, "openai")
    first = openai.embed(column)
    assert len(embeds(fake)) == 1
    again = openai.embed(column)
    assert len(embeds(fake)) == 1, "zero requests the second time"
    assert np.array_equal(first, again), "bit for bit from the cache"
    grown = openai.embed(pd.concat([column, pd.Series(["review new", "review 3"])]))
    assert len(embeds(fake)) == 2 and sent_texts(embeds(fake)[-1]) == ["review new"]
    assert np.array_equal(grown[:50], first)
    usage = engine.usage["openai:text-embedding-3-small"]
    assert (usage.calls, usage.cache_hits) == (2, 101)
    assert usage.input_tokens == 2 * 50 + 2, "the tokens the server billed"
    assert cache_text(cache_dir).count("\n") == 51, "one line per text"
    assert model(engine, "mistral").embed(["review 1"]).shape == (1, 8)
    assert len(embeds(fake)) == 3, "another model is another key"


def test_cache_modes(engine: Engine, fake: FakeLLMServer, cache_dir: Path) -> None:
    model(engine, "openai", cache="off").embed(["unrecorded"])
    assert cache_text(cache_dir) == ""
    with pytest.raises(CacheMissError) as caught:
        model(engine, "openai", cache="replay").embed(["unrecorded", "other"])
    assert "replay mode: 2 of 2 texts have no recorded embedding" in one_line(caught)
    model(engine, "openai").embed(["recorded"])
    assert model(engine, "openai", cache="replay").embed(["recorded"]).shape == (1, 8)
    model(engine, "openai", cache="refresh").embed(["recorded"])
    assert len(embeds(fake)) == 3, "off, use and refresh asked; replay never does"


def test_keys_never_reach_the_cache(engine: Engine, fake: FakeLLMServer, cache_dir: Path) -> None:
    for provider in HOSTED:
        model(engine, provider).embed(["a", "b"])
    text = cache_text(cache_dir)
    assert text.count("\n") == 6 and PLANTED_KEY_PREFIX not in text
    assert all(PLANTED_KEY_PREFIX in r.headers.get("authorization", "")
               or PLANTED_KEY_PREFIX in r.headers.get("x-api-key", "") for r in embeds(fake))


@pytest.mark.parametrize("vectors,why", [
    ([[0.1] * 8], "has 1 vectors for 2 texts"),
    ([[0.1] * 8, [0.1] * 7], "has vectors of different lengths"),
    ([[0.1] * 8, [math.nan] * 8], "NaN or infinite"),
    ([[1e300] * 8, [0.1] * 8], "NaN or infinite"),
    ([["a"] * 8, ["b"] * 8], None),
    ([[], []], None),
    ([], None),
    ("not a list", None),
])
@pytest.mark.parametrize("provider", list(HOSTED))
def test_a_wrong_answer_is_one_line_and_nothing_is_cached(
        engine: Engine, fake: FakeLLMServer, cache_dir: Path, provider: str, vectors: object,
        why: str | None) -> None:
    fake.default = Reply(vectors=vectors)
    with pytest.raises(ProviderError) as caught:
        model(engine, provider).embed(["first", "second"])
    message = one_line(caught)
    assert why is None or why in message, message
    assert cache_text(cache_dir) == ""
    fake.default = Reply()
    assert model(engine, provider).embed(["first", "second"]).shape == (2, 8), "asked again"


def test_a_server_error_is_one_line_and_nothing_is_cached(engine: Engine, fake: FakeLLMServer,
                                                          cache_dir: Path) -> None:
    fake.default = Reply(status=500, error_message="the fake backend fell over")
    with pytest.raises(ProviderError) as caught:
        model(engine, "openai").embed(["x"])
    assert "500" in one_line(caught) and "fell over" in str(caught.value)
    assert cache_text(cache_dir) == ""


def test_a_failed_second_batch_keeps_the_first(engine: Engine, fake: FakeLLMServer,
                                               cache_dir: Path) -> None:
    fake.script(Reply(), Reply(status=429, error_message="slow down"))
    texts = [f"t{i}" for i in range(97)]
    with pytest.raises(ProviderError):
        model(engine, "cohere").embed(texts)
    assert cache_text(cache_dir).count("\n") == 96
    fake.default = Reply()
    model(engine, "cohere").embed(texts)
    assert sent_texts(embeds(fake)[-1]) == ["t96"]


@pytest.mark.parametrize("texts,message", [
    ("one string", "not one string; wrap it: [text]"),
    ([], "nothing to embed: the list is empty"),
    (["fine", None], "texts[1] is NoneType, not a string"),
    (["fine", 3.5], "texts[1] is float, not a string"),
    (["fine", ""], "texts[1] is empty"),
    ({"a": "b"}, "not dict"),
    (b"bytes", "not bytes"),
    (["x" * (MAX_TEXT_BYTES + 1)], "more than an embedding model reads"),
])
def test_bad_texts_are_one_line_before_any_request(engine: Engine, fake: FakeLLMServer,
                                                   texts: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        model(engine, "openai").embed(texts)
    assert message in one_line(caught)
    assert embeds(fake) == []


def test_a_dataframe_names_the_fix(engine: Engine, fake: FakeLLMServer) -> None:
    import pandas as pd

    with pytest.raises(UsageError) as caught:
        model(engine, "openai").embed(pd.DataFrame({"text": ["a"]}))
    assert "pick a column: df['text']" in one_line(caught)


def test_odd_unicode_is_embedded_and_cached(engine: Engine, fake: FakeLLMServer,
                                            cache_dir: Path) -> None:
    texts = ["lone \ud800 surrogate", "rtl \u202e override", "line\u2028sep", "nul \x00 byte",
             "emoji 👩‍👩‍👧 zwj", "a" * 200_000]
    vectors = model(engine, "openai").embed(texts)
    assert vectors.shape == (6, 8)
    assert sent_texts(embeds(fake)[0])[0] == "lone \ufffd surrogate"
    stored = cache_text(cache_dir)
    assert stored.count("\n") == 6 and "\u202e" not in stored and "\u2028" not in stored
    assert np.array_equal(model(engine, "openai").embed(texts), vectors)
    assert len(embeds(fake)) == 1


def test_a_model_that_cannot_embed_is_one_line_naming_ones_that_can(engine: Engine) -> None:
    for name in ("gpt-4o-mini", "claude-haiku", "deepseek-chat"):
        with pytest.raises(UsageError) as caught:
            memories_magics.embed(["x"], model=name)
        message = one_line(caught)
        assert "can't embed texts" in message and "text-embedding-3-small" in message
        assert "smollm2" in message


def test_embed_and_similar_from_python(engine: Engine, fake: FakeLLMServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setattr(engine_module, "_default", engine)
    column = pd.Series(["alpha", "beta", "gamma"], index=[10, 20, 30])
    found = memories_magics.similar("beta", column, k=2, model="embed-v4.0")
    assert list(found.columns) == ["text", "score", "rank"]
    assert found.iloc[0].to_dict() == {"text": "beta", "score": pytest.approx(1.0), "rank": 1}
    assert found.index[0] == 20
    assert len(found) == 2
    assert [r.body["input_type"] for r in embeds(fake)] == ["search_document", "search_query"]
    assert memories_magics.embed(column, model="embed-v4.0").shape == (3, 8)
    assert len(embeds(fake)) == 2, "the column was cached by similar"
    for bad_k in (0, -1, 2.5, True, "3"):
        with pytest.raises(UsageError):
            memories_magics.similar("beta", column, k=bad_k, model="embed-v4.0")  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        memories_magics.similar("", column, model="embed-v4.0")
    assert "query must be a non-empty string" in one_line(caught)


#: What every front end says when asked to chat with an embeddings model.
NOT_A_CHAT_MODEL = ("{} is an embeddings model: use memories_magics.embed(...) or %llm embed; "
                    "for %%llm pick a chat model such as gpt-4o-mini or smollm2")


def test_chatting_with_an_embeddings_model_is_one_line_before_any_request(
        tmp_path: Path, fake: FakeLLMServer) -> None:
    """Each front end, asked to chat with an embeddings model (packaged, or marked so in the
    user's file), refuses in one line before anything is sent, the fallbacks' first."""
    import json

    from tests.conftest import provider_environment
    from tests.kernel import Kernel

    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "models": {"big-embed": {"provider": "openai", "name": "text-embedding-3-large",
                                 "config": {"supports_generation": False}}},
        "fallbacks": {"gpt-4o": ["claude-haiku", "big-embed"]},
        "global_settings": {"max_retries": 0, "timeout_s": 20}}))
    cells = {
        "%%llm text-embedding-3-small\nhi": "text-embedding-3-small",
        "%%llm openai:text-embedding-3-small --no-stream -t 0\nhi": "text-embedding-3-small",
        "%%llm mistral-embed --schema City\nhi": "mistral-embed",
        "%%llm cohere:embed-v4.0 --tools shout\nhi": "embed-v4.0",
        "%%llm big-embed --attach photo\nWhat is this?": "big-embed",
        "%%llm gpt-4o-mini --fallback claude-haiku,text-embedding-3-small\nhi":
            "text-embedding-3-small",
        "%%llm gpt-4o\nhi": "big-embed",
        "%%compare gpt-4o-mini embed-v4.0\nhi": "embed-v4.0",
        "%%llm text-embedding-3-small --over rows -o out\n{item}": "text-embedding-3-small",
        "%%compare gpt-4o-mini mistral-embed --over rows -o out\n{item}": "mistral-embed",
        "LoadModel('openai', 'api', 'text-embedding-3-small').get_response('hi')":
            "text-embedding-3-small",
        "LoadModel('cohere', 'api', 'embed-v4.0').get_streaming_response('hi').__next__()":
            "embed-v4.0",
        "LoadModel('mistral', 'api', 'mistral-embed').map('{item}', rows)": "mistral-embed",
        "MultiModelInference([LoadModel('openai', 'api', 'gpt-4o-mini'), "
        "LoadModel('openai', 'api', 'text-embedding-3-small')]).grid('{item}', rows)":
            "text-embedding-3-small",
        "LoadModel('openai', 'api', 'big-embed').conversation().send('hi')": "big-embed",
        "%llm use text-embedding-3-small": "text-embedding-3-small",
    }
    env = provider_environment(fake.url, config, tmp_path / "cache")
    with Kernel(env) as kernel:
        assert kernel.run("%load_ext memories_magics\nimport memories_magics\n"
                          "from memories_magics import LoadModel, MultiModelInference\n"
                          "from pydantic import BaseModel\nimport numpy as np\n"
                          "class City(BaseModel):\n    name: str\n"
                          "def shout(text: str) -> str:\n    '''Shout.'''\n    return text\n"
                          "photo = np.zeros((4, 4, 3), dtype=np.uint8)\n"
                          "rows = ['a', 'b']").error is None
        refusals = {cell: kernel.run(cell).one_line_error() for cell in cells}
        default = kernel.run("from memories_magics.engine import default_engine\n"
                             "print(default_engine().default_model_override)").stdout
        panel = kernel.run(
            "import json\np = memories_magics.panel('text-embedding-3-small')\n"
            "offered = [value for _, value in p.models.options]\n"
            "p.prompt.value = 'hi'\np.run_button.click(); p.wait(30)\n"
            "print(json.dumps([offered, p.error]))")
        chat_only = {cell: kernel.run(cell).one_line_error() for cell in (
            "LoadModel('openai', 'api', 'gpt-4o-mini').embed(['x'])",
            "memories_magics.embed(['x'], model='claude-haiku')",
            "%llm embed rows -o v -m mistral-small")}
    for cell, label in cells.items():
        assert refusals[cell] == NOT_A_CHAT_MODEL.format(label), cell
    assert default.strip() == "None", "a refused %llm use keeps the default model"
    offered, error = json.loads(panel.stdout.strip().splitlines()[-1])
    assert error == NOT_A_CHAT_MODEL.format("text-embedding-3-small")
    assert offered[-1] == "text-embedding-3-small", "only because it was asked for"
    assert not {"mistral-embed", "embed-v4.0", "big-embed"} & set(offered), \
        "the picker offers no embeddings model"
    assert {"gpt-4o-mini", "smollm2", "claude-haiku"} <= set(offered)
    for cell, line in chat_only.items():
        assert "can't embed texts; use an embedding model such as" in line, cell
    assert fake.requests == [], "nothing reached the server"
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
