"""The one request path: the streaming driver, its fallback and tool layers, capabilities on
providers, normalised finish reasons and the options vocabulary (real SDKs, fake servers)."""

from __future__ import annotations

import json

import pytest

from memories_magics import LoadModel
from memories_magics.engine import Engine
from memories_magics.errors import StreamCutError, UsageError
from memories_magics.options import OPTIONS, option_words, request_params
from memories_magics.tools import function_schema
from memories_magics.types import finish_reason
from memories_magics.vocabulary import FINISH_REASONS, VOCABULARY
from tests.conftest import PROVIDERS
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import Kernel

CALL = {"id": "call_1", "name": "add", "arguments": {"a": 2, "b": "3"}}


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize("mode", ["drop", "eof"])
def test_python_stream_cut_yields_the_partial_then_says_cut(mode: str, engine: Engine,
                                                            fake: FakeLLMServer) -> None:
    fake.script(Reply(text="one two three four five", truncate_after=3, truncate_mode=mode))
    model = LoadModel("openai", "api", "gpt-4o-mini", engine=engine, cache="use")
    pieces: list[str] = []
    with pytest.raises(StreamCutError) as error:
        for piece in model.get_streaming_response("count"):
            pieces.append(piece)
    assert "".join(pieces) == "one two three"
    message = str(error.value)
    assert "could not connect" not in message
    if mode == "drop":
        assert "cut after 13 characters" in message and "connection dropped" in message
    assert engine.cache().info()["entries"] == 0  # nothing cut is cached


def test_llm_magic_and_python_api_agree_on_a_cut_stream(provider_env: dict[str, str],
                                                        fake: FakeLLMServer) -> None:
    fake.script(Reply(text="one two three four", truncate_after=2))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        run = kernel.run("%%llm gpt-4o-mini\ncount")
    shown = run.result["text/plain"]
    assert shown.startswith("one two") and "cut after 7 characters" in shown
    assert "could not connect" not in shown


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_any_model_of_a_tool_provider_can_call_tools(provider: str, engine: Engine,
                                                     fake: FakeLLMServer) -> None:
    """A model that model_config.json doesn't list (released next month) still gets tools,
    and the arguments reach the function coerced to its annotations ("3" -> 3)."""
    fake.script(Reply(tool_calls=[CALL]), Reply(text="5"))
    spec = engine.model(f"{provider}:model-from-next-month")
    assert engine.supports(spec, "function_calling")
    request = engine.request(spec, "2+3?", tools=(function_schema(add),))
    response = engine.run(spec, request, tools={"add": add}, cache="off")
    assert response.text == "5" and response.tool_steps[0].result == "5"
    first = fake.requests[0].body
    if provider in ("openai", "deepseek", "mistral"):
        assert first["tool_choice"] == "auto"
    if provider == "anthropic":
        assert first["tool_choice"] == {"type": "auto"}


def test_tools_on_an_openai_compatible_server_send_tool_choice(provider_env: dict[str, str],
                                                              fake: FakeLLMServer) -> None:
    """llama.cpp's server ignores tools without tool_choice; ours always sends it."""
    fake.script(Reply(tool_calls=[CALL]), Reply(text="The sum is 5."))
    with Kernel({**provider_env, "OPENAI_BASE_URL": fake.url + "/v1"}) as kernel:
        kernel.run("%load_ext memories_magics\ndef add(a: int, b: int) -> int:\n"
                   "    '''Add two numbers.'''\n    return a + b")
        run = kernel.run("%%llm openai:qwen2.5-7b-instruct-gguf --tools add\n2+3?")
    assert run.error is None, run.error
    assert "The sum is 5." in run.result["text/plain"]
    assert fake.requests[0].body["tool_choice"] == "auto"
    assert "add" in json.dumps(fake.requests[0].body["tools"])


def test_tools_with_fallback_when_the_first_model_fails(servers) -> None:
    servers["openai"].script(Reply(status=500, error_message="down"))
    servers["anthropic"].script(Reply(tool_calls=[CALL]), Reply(text="It is 5."))
    with Kernel(servers["env"]) as kernel:
        kernel.run("%load_ext memories_magics\ndef add(a: int, b: int) -> int:\n"
                   "    '''Add two numbers.'''\n    return a + b")
        run = kernel.run("%%llm gpt-4o-mini --tools add --fallback claude-haiku -o r\n2+3?")
        steps = kernel.run("print([s.result for s in r.tool_steps], r.label)").stdout
    assert run.error is None, run.error
    assert "It is 5." in run.result["text/plain"]
    assert "answered by fallback claude-haiku" in run.result["text/plain"]
    assert steps.strip() == "['5'] claude-haiku"


def test_tools_and_fallback_skip_a_model_that_cannot_call_tools(engine: Engine,
                                                                fake: FakeLLMServer) -> None:
    from memories_magics.events import Attempt

    fake.script(Reply(tool_calls=[CALL]), Reply(text="5"))
    chain = [engine.model("smollm2"), engine.model("gpt-4o-mini")]
    schemas = (function_schema(add),)
    events = list(engine.answer_chain(chain, lambda s: engine.request(s, "2+3?", tools=schemas),
                                      tools={"add": add}, cache="off"))
    attempts = [e for e in events if isinstance(e, Attempt)]
    assert [a.spec.label for a in attempts] == ["smollm2", "gpt-4o-mini"]
    assert "smollm2 can't call tools" in attempts[-1].note


def test_finish_reasons_are_one_vocabulary() -> None:
    assert tuple(VOCABULARY["finish_reasons"]) == FINISH_REASONS
    spellings = {"end_turn": "stop", "COMPLETE": "stop", "max_tokens": "length",
                 "MAX_TOKENS": "length", "tool_use": "tool_calls", "TOOL_CALL": "tool_calls",
                 "content_filter": "content_filter", "refusal": "content_filter",
                 "ERROR": "error", "something_new": "error", None: None}
    for raw, ours in spellings.items():
        assert finish_reason(raw) == ours


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_providers_report_normalised_finish_reasons(provider: str, engine: Engine,
                                                    fake: FakeLLMServer) -> None:
    fake.script(Reply(text="cut short", finish_reason="length"), Reply(text="fine"))
    spec = engine.model(f"{provider}:test-model")
    for stream in (True, False):
        response = engine.run(spec, engine.request(spec, "q"), cache="off", stream=stream)
        assert response.finish_reason in FINISH_REASONS


def test_options_are_validated_with_their_limits() -> None:
    assert request_params({"temperature": "0.5", "max_tokens": "12"}) == \
        {"temperature": 0.5, "max_tokens": 12}
    for bad, words in [({"max_tokens": -1}, "between 1 and"), ({"max_tokens": 0}, "between 1"),
                       ({"top_p": 5}, "between 0 and 1"), ({"temperature": "nan"}, "finite"),
                       ({"seed": 1.5}, "whole number"), ({"temprature": 1}, "unknown parameter")]:
        with pytest.raises(UsageError, match=words):
            request_params(bad)


def test_magic_rejects_out_of_range_options_in_one_line(provider_env: dict[str, str]) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        error = kernel.run("%%llm gpt-4o-mini --max-tokens -1\nhi").error
    assert error["traceback"] == ["UsageError: --max-tokens '-1': must be between 1 and 1,000,000"]


def test_copy_as_cell_words_come_from_the_declaration() -> None:
    words = option_words("compare", {"temperature": 0.2, "no_stream": True, "aggregate": "voting",
                                     "diff": "word", "system": "Be brief", "tools": "f"})
    assert words == ["-s", "'Be brief'", "-t", "0.2", "--no-stream", "--aggregate", "voting"]
    assert all(o.help for o in OPTIONS.values())


def test_lone_surrogates_in_a_prompt_or_system_become_valid_text(tmp_path) -> None:
    """A notebook value holding a lone surrogate (e.g. from a badly decoded file) makes a
    request whose key can be computed and whose text any wire can carry."""
    engine = Engine()
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "say \ud800 hi", system="be \udfff brief")
    assert request.messages[0]["content"] == "say \ufffd hi"
    assert request.system == "be \ufffd brief"
    assert len(request.cache_key()) == 64
    threaded = engine.request(spec, messages=[{"role": "user", "content": "a \ud83d"},
                                              {"role": "assistant", "content": "b"}])
    assert threaded.messages[0]["content"] == "a \ufffd"
