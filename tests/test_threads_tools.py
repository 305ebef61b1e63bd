"""Tools in a thread: a later cell carries the schemas its history's calls used (with
``tool_choice`` none when it offers none, as Anthropic requires), Mistral gets tool-call ids
it takes when another provider made them, and the schemas count in the context estimate
(real kernels, real SDKs against fake servers that refuse what the real APIs refuse)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from memories_magics import LoadModel
from memories_magics.engine import Engine
from memories_magics.errors import ProviderError, UsageError
from memories_magics.providers.chat_format import mistral_call_id
from memories_magics.threads import estimated_tokens
from memories_magics.tools import tool_choice_of
from memories_magics.types import Request
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import CellRun, Kernel

RESULT = "application/vnd.memories-magics.result+json"
ADD = ("%load_ext memories_magics\n"
       "def add(a: int, b: int) -> int:\n    '''Add two numbers.'''\n    return a + b")
CALL = {"id": "call_1", "name": "add", "arguments": {"a": 2, "b": 3}}


def payload(run: CellRun) -> dict[str, Any]:
    assert run.result is not None, run.error
    return run.result[RESULT]


def test_a_continued_cell_carries_the_tools_its_history_called(
        provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    """Anthropic refuses tool_use blocks in a request without tools (so does the fake): the
    ``-c`` cell without ``--tools`` sends them with tool_choice none; with ``--tools`` the
    schema is sent once, callable."""
    fake.script(Reply(tool_calls=[CALL]), Reply(text="5"), Reply(text="Ten."),
                Reply(text="Fifteen."))
    with Kernel(provider_env) as kernel:
        kernel.run(ADD)
        assert payload(kernel.run("%%llm claude-haiku --tools add\n2+3?"))["text"] == "5"
        doubled = kernel.run("%%llm -c\nand doubled?")
        assert payload(doubled)["text"] == "Ten.", doubled.error
        body = fake.requests[-1].body
        assert [t["name"] for t in body["tools"]] == ["add"]
        assert body["tool_choice"] == {"type": "none"}
        assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use"]
        tripled = kernel.run("%%llm -c --tools add\nand tripled?")
        assert payload(tripled)["text"] == "Fifteen."
        body = fake.requests[-1].body
        assert [t["name"] for t in body["tools"]] == ["add"]
        assert body["tool_choice"] == {"type": "auto"}


def test_without_the_carried_tools_the_fake_refuses_as_anthropic_does(
        provider_env: dict[str, str], fake: FakeLLMServer, engine: Engine) -> None:
    spec = engine.model("claude-haiku")
    history = [{"role": "user", "content": "2+3?"},
               {"role": "assistant", "content": "", "tool_calls": [CALL]},
               {"role": "tool", "tool_call_id": "call_1", "name": "add", "content": "5"},
               {"role": "assistant", "content": "5"}, {"role": "user", "content": "doubled?"}]
    with pytest.raises(ProviderError, match="must define tools"):
        engine.run(spec, engine.request(spec, messages=history), stream=False, cache="off")


def test_a_mistral_fallback_in_a_thread_gets_ids_it_takes(provider_env: dict[str, str],
                                                          fake: FakeLLMServer) -> None:
    fake.script(Reply(tool_calls=[CALL]), Reply(text="5"), Reply(status=500),
                Reply(text="Ten."))
    with Kernel(provider_env) as kernel:
        kernel.run(ADD)
        kernel.run("%%llm gpt-4o-mini --tools add\n2+3?")
        doubled = kernel.run("%%llm -c --fallback mistral-small\nand doubled?")
        assert payload(doubled)["text"] == "Ten.", doubled.error
        assert "answered by fallback mistral-small" in payload(doubled)["note"]
    messages = fake.requests[-1].body["messages"]
    wire_id = messages[1]["tool_calls"][0]["id"]
    assert re.fullmatch(r"[a-zA-Z0-9]{9}", wire_id) and messages[2]["tool_call_id"] == wire_id
    assert wire_id == mistral_call_id("call_1")  # the same every run: replays stay exact
    assert fake.requests[-1].body["tool_choice"] == "none"


@pytest.mark.parametrize("call_id", ["call_1", "toolu_01A09q90qw90lq917835lq9", "", "é" * 500,
                                     "aaaaaaaa\n", "abc123XYZ"])
def test_mistral_call_ids_are_nine_letters_and_digits(call_id: str) -> None:
    wire = mistral_call_id(call_id)
    assert re.fullmatch(r"[a-zA-Z0-9]{9}", wire) and wire == mistral_call_id(call_id)
    assert (wire == call_id) == (call_id == "abc123XYZ")  # Mistral's own stay as they are
    assert mistral_call_id("call_2") != mistral_call_id("call_1")


def test_the_tool_schemas_count_in_a_threads_context_estimate(
        provider_env: dict[str, str], fake: FakeLLMServer, tmp_path: Path) -> None:
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"global_settings": {"max_retries": 0},
                                  "models": {"tiny": {"name": "gpt-4o-mini", "provider": "openai",
                                                      "config": {"max_length": 300}}}}))
    long_doc = "Look a word up in the big dictionary. " * 40
    with Kernel({**provider_env, "MEMORIES_MAGICS_CONFIG": str(config)}) as kernel:
        kernel.run(f"%load_ext memories_magics\ndef lookup(word: str) -> str:\n"
                   f"    '''{long_doc}'''\n    return word")
        assert kernel.run("%%llm tiny --tools lookup --max-tokens 50\nhi").error is None
        line = kernel.run("%%llm -c --max-tokens 50\nand then?").one_line_error()
    assert line.startswith("thread t1 no longer fits tiny's context (about ")
    assert "%llm thread reset t1" in line and len(fake.requests) == 1
    schema = {"name": "lookup", "description": long_doc, "parameters": {"type": "object"}}
    plain = Request.from_prompt("openai", "m", "hi")
    assert estimated_tokens(Request.from_prompt("openai", "m", "hi", tools=(schema,))) > \
        estimated_tokens(plain) + len(long_doc) // 4


@pytest.mark.parametrize("given", ["none", "NONE", " None ", {"type": "none"}])
def test_tool_choice_none_in_any_providers_spelling(given: object) -> None:
    assert tool_choice_of(given) == "none"


@pytest.mark.parametrize("given", [None, "auto", "AUTO", {"type": "auto"}])
def test_tool_choice_auto_is_the_default_and_keeps_keys(given: object) -> None:
    assert tool_choice_of(given) is None
    assert "tool_choice" not in Request.from_prompt("openai", "m", "hi").canonical()


@pytest.mark.parametrize("given", ["required", "", 5, ["none"], {"type": "none", "x": 1},
                                   {"type": None}, "none" * 1000])
def test_a_bad_tool_choice_is_one_line(given: object) -> None:
    with pytest.raises(UsageError) as caught:
        tool_choice_of(given)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 150


def test_the_python_api_takes_tool_choice_none(provider_env: dict[str, str],
                                               fake: FakeLLMServer, engine: Engine) -> None:
    schema = {"name": "add", "description": "Add.", "parameters": {"type": "object"}}
    for provider, model, wire in (("openai", "gpt-4o-mini", "none"),
                                  ("anthropic", "claude-3-5-haiku-latest", {"type": "none"}),
                                  ("cohere", "command-r-08-2024", "NONE")):
        LoadModel(provider, "api", model, engine=engine, cache="off") \
            .get_response_with_functions("2+3?", [schema], tool_choice={"type": "NONE"})
        assert fake.requests[-1].body["tool_choice"] == wire
