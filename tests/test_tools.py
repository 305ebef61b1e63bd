"""Function calling end to end: real SDKs, each provider's native tool wire format."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from memories_magics import LoadModel
from memories_magics.engine import Engine
from memories_magics.errors import UsageError
from memories_magics.providers.chat_format import mistral_call_id
from memories_magics.tools import function_schema
from tests.conftest import PROVIDERS
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import Kernel

CALL = {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Current weather in a city.

    Args:
        city: the city name, e.g. Paris
        unit: temperature unit
    """
    return {"city": city, "temperature": 21, "unit": unit}


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot comply: {reason}")


def tool_result_in(body: dict, provider: str) -> str:
    """The tool result text as the provider's wire format carries it in the follow-up."""
    messages = body["messages"]
    if provider == "anthropic":
        block = messages[-1]["content"][0]
        assert messages[-1]["role"] == "user" and block["type"] == "tool_result"
        assert messages[-2]["content"][-1]["type"] == "tool_use"
        assert block["tool_use_id"] == "call_1"
        return block["content"]
    last = messages[-1]
    # Mistral takes 9 letters and digits (its fake refuses others): "call_1" goes out mapped.
    sent_id = mistral_call_id("call_1") if provider == "mistral" else "call_1"
    assert last["role"] == "tool" and last["tool_call_id"] == sent_id
    assert messages[-2]["tool_calls"][0]["id"] == sent_id
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    if provider == "mistral":
        assert last["name"] == "get_weather"
    if provider == "cohere":
        assert "tool_plan" in messages[-2]
    return last["content"] if isinstance(last["content"], str) else json.dumps(last["content"])


def test_schema_from_signature_hints_and_docstring() -> None:
    def search(query: str, limit: int = 5, tags: list[str] | None = None) -> list:
        """Search the notes.

        :param query: words to look for
        """
    schema = function_schema(search)
    assert schema["description"] == "Search the notes."
    params = schema["parameters"]
    assert params["required"] == ["query"]
    assert params["properties"]["query"] == {"type": "string", "description": "words to look for"}
    assert params["properties"]["limit"] == {"type": "integer"}
    assert params["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert function_schema(get_weather)["parameters"]["properties"]["unit"]["enum"] == ["C", "F"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_full_tool_loop_through_each_sdk(provider: str, stream: bool, engine: Engine,
                                         fake: FakeLLMServer) -> None:
    fake.script(Reply(tool_calls=[CALL]), Reply(text="It is 21 C in Paris."))
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "Weather in Paris?", tools=(function_schema(get_weather),))
    response = engine.run(spec, request, tools={"get_weather": get_weather}, stream=stream)
    assert response.text == "It is 21 C in Paris."
    assert [s.call.name for s in response.tool_steps] == ["get_weather"]
    assert json.loads(response.tool_steps[0].result)["temperature"] == 21
    first, second = (r.body for r in fake.requests)
    assert "get_weather" in json.dumps(first["tools"])
    assert '"temperature": 21' in tool_result_in(second, provider)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_tool_errors_go_back_to_the_model(provider: str, engine: Engine,
                                          fake: FakeLLMServer) -> None:
    fake.script(Reply(tool_calls=[{**CALL, "name": "explode", "arguments": {"reason": "x"}}]),
                Reply(tool_calls=[{**CALL, "name": "no_such_tool"}]),
                Reply(tool_calls=[{**CALL, "arguments": {"town": "Paris"}}]),
                Reply(text="Sorry, the tools failed."))
    model = LoadModel(provider, "api", "gpt-4o-mini" if provider == "openai" else "test-model",
                      engine=engine, cache="off")
    answer = model.get_response_with_functions("go", [get_weather, explode])
    assert answer["text"] == "Sorry, the tools failed."
    results = [s["result"] for s in answer["steps"]]
    assert results[0] == "error: ValueError: cannot comply: x"
    assert results[1].startswith("error: unknown tool 'no_such_tool'; available: get_weather")
    assert results[2].startswith("error: bad arguments for get_weather")
    assert all(s["is_error"] for s in answer["steps"])
    assert "cannot comply" in json.dumps(fake.requests[1].body)


def test_without_callables_the_calls_are_returned(engine: Engine, fake: FakeLLMServer) -> None:
    fake.script(Reply(tool_calls=[CALL]))
    schema = function_schema(get_weather)
    answer = LoadModel("openai", "api", "gpt-4o-mini", engine=engine, cache="off") \
        .get_response_with_functions("Weather?", functions=[schema])
    assert answer["tool_calls"] == [CALL] and answer["finish_reason"] == "tool_calls"


def test_models_without_tool_support_say_so(engine: Engine) -> None:
    with pytest.raises(UsageError, match="smollm2 can't call tools"):
        LoadModel("local", "local", "smollm2", engine=engine).get_response_with_functions(
            "x", [get_weather])


def test_round_limit_stops_the_loop(engine: Engine, fake: FakeLLMServer) -> None:
    fake.default = Reply(tool_calls=[CALL])
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "loop", tools=(function_schema(get_weather),))
    engine.config.settings["max_tool_rounds"] = 2
    response = engine.run(spec, request, tools={"get_weather": get_weather})
    assert response.finish_reason == "tool_calls" and len(response.tool_steps) == 2
    assert len(fake.requests) == 2 and not response.cacheable
    assert engine.cache().get(request) is None


def test_magic_shows_calls_and_replays_without_running_functions(provider_env, fake) -> None:
    fake.script(Reply(tool_calls=[CALL]), Reply(text="Sunny, 21 C."))
    define = ("calls = []\n"
              "def get_weather(city: str) -> str:\n"
              "    '''Weather for a city.'''\n"
              "    calls.append(city)\n"
              "    return f'21 C in {city}'\n")
    cell = "%%llm gpt-4o-mini --tools get_weather\nWeather in Paris?"
    outputs = []
    for _ in range(2):
        with Kernel(provider_env) as kernel:
            kernel.run("%load_ext memories_magics\n" + define)
            outputs.append(kernel.run(cell).result)
            outputs.append(kernel.run("print(calls)").stdout)
    first, first_calls, second, second_calls = outputs
    assert first_calls == "['Paris']\n" and second_calls == "[]\n"
    assert len(fake.requests) == 2
    assert 'get_weather({"city": "Paris"}) → 21 C in Paris' in first["text/html"]
    assert "<details>" in first["text/html"] and "Sunny, 21 C." in first["text/html"]
    meta = second["application/vnd.memories-magics.result+json"]
    assert meta["tools_replayed"] and meta["tool_steps"][0]["result"] == "21 C in Paris"
    assert "replayed from cache (functions not re-run)" in second["text/plain"]


def test_bad_tools_option_is_one_line(provider_env, fake) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics\nx = 3\ndef f(): pass")
        missing = kernel.run("%%llm gpt-4o-mini --tools nope\nhi").error["traceback"]
        not_callable = kernel.run("%%llm gpt-4o-mini --tools x\nhi").error["traceback"]
        local = kernel.run("%%llm smollm2 --tools f\nhi").error["traceback"]
    assert missing == [("UsageError: --tools: no function named 'nope' in the notebook; define "
                        "it in a cell above (def ...)")]
    assert not_callable == ["UsageError: --tools: 'x' is a int, not a function"]
    assert "smollm2 can't call tools" in local[0]
    assert fake.requests == []
