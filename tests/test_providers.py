"""Every hosted provider through its real SDK against the local fake server."""

from __future__ import annotations

import pytest

from memories_magics import LoadModel
from memories_magics.engine import Engine
from memories_magics.errors import MissingKeyError, ProviderError
from tests.conftest import PLANTED_KEY_PREFIX, PROVIDERS
from tests.fakes import FakeLLMServer, Reply

HOSTED = list(PROVIDERS)
TEXT = "The tide is the rise and fall of the sea."


def model(provider: str, engine: Engine, **kwargs: object) -> LoadModel:
    return LoadModel(provider, "api", "test-model", engine=engine, cache="off", **kwargs)


@pytest.mark.parametrize("provider", HOSTED)
def test_complete_returns_text_usage_and_finish(provider: str, engine: Engine,
                                                fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT, input_tokens=11, output_tokens=9))
    answer = model(provider, engine).get_response("What is a tide?", temperature=0.2,
                                                  max_tokens=50)
    assert answer["text"] == TEXT
    assert answer["usage"] == {"input_tokens": 11, "output_tokens": 9}
    assert answer["complete"] and answer["model"] == f"{provider}:test-model"
    body = fake.requests[-1].body
    assert body["model"] == "test-model" and body["max_tokens"] == 50
    assert "What is a tide?" in str(body["messages"])


@pytest.mark.parametrize("provider", HOSTED)
def test_streaming_arrives_in_pieces(provider: str, engine: Engine, fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT))
    pieces = list(model(provider, engine).get_streaming_response("What is a tide?"))
    assert len(pieces) > 3 and "".join(pieces) == TEXT
    assert fake.requests[-1].body["stream"] is True


@pytest.mark.parametrize("provider", HOSTED)
def test_streamed_response_has_usage_finish_and_timing(provider: str, engine: Engine,
                                                       fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT, input_tokens=5, first_chunk_delay=0.05))
    spec = engine.model(f"{provider}:test-model")
    seen: list[str] = []
    response = engine.run(spec, engine.request(spec, "hi"), cache="off",
                          on_chunk=lambda c: seen.append(c.text))
    assert response.text == TEXT and response.complete
    assert response.usage.input_tokens == 5 and response.usage.output_tokens
    assert response.first_token_s >= 0.05 and response.latency_s >= response.first_token_s
    assert "".join(seen) == TEXT


@pytest.mark.parametrize("provider", HOSTED)
def test_http_error_is_one_line_with_status_and_message(provider: str, engine: Engine,
                                                        fake: FakeLLMServer) -> None:
    fake.script(Reply(status=500, error_message="the fake backend fell over"))
    with pytest.raises(ProviderError) as caught:
        model(provider, engine).get_response("hi")
    message = str(caught.value)
    assert "\n" not in message and "500" in message and "the fake backend fell over" in message
    assert caught.value.status == 500 and PLANTED_KEY_PREFIX not in message


@pytest.mark.parametrize("provider", HOSTED)
def test_unauthorised_names_the_key_variable(provider: str, engine: Engine,
                                             fake: FakeLLMServer) -> None:
    fake.script(Reply(status=401, error_message="invalid api key"))
    with pytest.raises(ProviderError, match=PROVIDERS[provider][0]) as caught:
        model(provider, engine).get_response("hi")
    assert PLANTED_KEY_PREFIX not in str(caught.value)


@pytest.mark.parametrize("provider", HOSTED)
def test_missing_key_names_the_variable(provider: str, engine: Engine, fake: FakeLLMServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROVIDERS[provider][0])
    with pytest.raises(MissingKeyError, match=f"set {PROVIDERS[provider][0]}"):
        model(provider, engine).get_response("hi")
    assert fake.requests == []


@pytest.mark.parametrize("provider", HOSTED)
def test_explicit_api_key_is_sent_but_never_shown(provider: str, engine: Engine,
                                                  fake: FakeLLMServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROVIDERS[provider][0])
    secret = "sk-explicit-SECRET-42424242"
    loaded = model(provider, engine, api_key=secret)
    assert loaded.get_response("hi")["text"]
    headers = fake.requests[-1].headers
    assert any(secret in value for value in headers.values())
    assert secret not in repr(loaded) and secret not in repr(engine.provider(provider, secret))


@pytest.mark.parametrize("provider", HOSTED)
def test_dropped_stream_keeps_text_and_is_not_cached(provider: str, engine: Engine,
                                                     fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT, truncate_after=3))
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    response = engine.run(spec, request, cache="use")
    assert response.text and TEXT.startswith(response.text) and response.text != TEXT
    assert not response.complete and response.finish_reason is None
    assert engine.cache().get(request) is None


@pytest.mark.parametrize("provider", HOSTED)
def test_stream_ending_without_finish_is_truncated_not_cached(provider: str, engine: Engine,
                                                              fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT, truncate_after=2, truncate_mode="eof"))
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    response = engine.run(spec, request, cache="use")
    assert not response.complete and engine.cache().get(request) is None


def test_base_url_change_takes_effect_without_restart(engine: Engine, fake: FakeLLMServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = model("openai", engine)
    assert loaded.get_response("hi")["text"]
    with FakeLLMServer() as other:
        other.script(Reply(text="from the other server"))
        monkeypatch.setenv("OPENAI_BASE_URL", other.url + "/v1")
        assert loaded.get_response("hi")["text"] == "from the other server"


def test_connection_refused_is_one_line(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ProviderError, match="could not connect") as caught:
        model("anthropic", engine).get_response("hi")
    assert "\n" not in str(caught.value)


def test_stopping_a_stream_early_caches_nothing(engine: Engine, fake: FakeLLMServer) -> None:
    fake.script(Reply(text=TEXT, chunk_delay=0.02), Reply(text="complete answer"))
    model = LoadModel("openai", "api", "test-model", engine=engine, cache="use")
    pieces = model.get_streaming_response("hi")
    assert next(pieces) and next(pieces)
    pieces.close()
    assert "".join(model.get_streaming_response("hi")) == "complete answer"
    assert list(model.get_streaming_response("hi")) == ["complete answer"], "now a cache hit"
    assert len(fake.requests) == 2
