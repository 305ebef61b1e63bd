"""The fake provider servers, driven by the real official SDKs over 127.0.0.1.

These tests pin down that tests/fakes speaks each provider's wire format faithfully enough
for the SDKs to parse it (non-stream, stream, errors, dropped streams, tool calls).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import anthropic
import cohere
import httpx
import openai
import pytest
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors

from tests.fakes import DEFAULT_TEXT, FakeLLMServer, Reply

# cohere's own models trip pydantic deprecation warnings; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MESSAGES = [{"role": "user", "content": "Say hi"}]
TOOL_CALLS = [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]
WEATHER_TOOL_OPENAI = [{
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]}},
}]
WEATHER_TOOL_ANTHROPIC = [{
    "name": "get_weather", "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}]

# The truncated-stream errors: a dropped connection mid-body.
try:
    import httpx2
    TRANSPORT_ERRORS: tuple = (httpx.TransportError, httpx2.TransportError)
except ImportError:  # pragma: no cover
    TRANSPORT_ERRORS = (httpx.TransportError,)


@pytest.fixture
def srv():
    with FakeLLMServer() as server:
        yield server


def collect(iterator, pick):
    """Run an SDK stream, returning (picked values, exception or None)."""
    out = []
    try:
        for item in iterator:
            value = pick(item)
            if value is not None:
                out.append(value)
    except Exception as err:  # noqa: BLE001 - we report it
        return out, err
    return out, None


# ======================================================================== Reply
def test_reply_pieces_keep_whitespace():
    r = Reply(text="  Hello,  wide\nworld!  ")
    assert "".join(r.text_pieces()) == r.text
    assert len(r.text_pieces()) == 3
    assert Reply(chunks=["a", "b"]).full_text == "ab"
    assert Reply().completion_tokens() == len(Reply().text_pieces()) == 5
    assert Reply(tool_calls=TOOL_CALLS).text_pieces() == []  # default text dropped with tool calls
    assert Reply(text="Let me check.", tool_calls=TOOL_CALLS).full_text == "Let me check."


def test_server_basics(srv):
    assert srv.url.startswith("http://127.0.0.1:") and not srv.url.endswith("/")
    r = httpx.get(srv.url + "/nope")
    assert r.status_code == 404
    r = httpx.post(srv.url + "/v1/chat/completions?x=1", json={"model": "m", "messages": MESSAGES})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["choices"][0]["message"]["content"] == DEFAULT_TEXT
    assert [q.path for q in srv.requests] == ["/nope", "/v1/chat/completions"]
    assert srv.requests[1].query == "x=1" and srv.requests[1].method == "POST"
    assert srv.requests[1].headers["content-type"] == "application/json"
    srv.script(Reply(text="queued"))
    srv.reset()
    assert srv.requests == []
    r = httpx.post(srv.url + "/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert r.json()["choices"][0]["message"]["content"] == DEFAULT_TEXT  # queue cleared too


def test_script_fifo_then_default(srv):
    srv.script(Reply(text="one"), Reply(text="two"))
    srv.default = Reply(text="fallback")
    client = openai.OpenAI(api_key="k", base_url=srv.url + "/v1", max_retries=0)
    got = [client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
           for _ in range(3)]
    assert got == ["one", "two", "fallback"]


def test_retry_after_header(srv):
    srv.script(Reply(status=429, retry_after=2), Reply(status=429, retry_after=0.25))
    body = {"model": "m", "messages": MESSAGES, "max_tokens": 5}
    r = httpx.post(srv.url + "/v1/messages", json=body)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    r = httpx.post(srv.url + "/v1/messages", json=body)
    assert r.headers["retry-after"] == "0.25" and r.headers["retry-after-ms"] == "250"


def test_delays_and_pacing(srv):
    srv.script(Reply(first_chunk_delay=0.2, chunk_delay=0.05, text="a b c d"))
    client = openai.OpenAI(api_key="k", base_url=srv.url + "/v1", max_retries=0)
    t0 = time.monotonic()
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    arrivals = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - t0)
    assert len(arrivals) == 4
    assert arrivals[0] >= 0.19
    assert arrivals[-1] - arrivals[0] >= 0.14  # three 0.05 s gaps

    srv.script(Reply(delay=0.2))
    t0 = time.monotonic()
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - t0 >= 0.19


def test_concurrent_streams(srv):
    srv.default = Reply(text="one two three four", chunk_delay=0.1)
    client = openai.OpenAI(api_key="k", base_url=srv.url + "/v1", max_retries=0)
    results: list = []

    def run(i):
        stream = client.chat.completions.create(model=f"m{i}", messages=MESSAGES, stream=True)
        results.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert results == ["one two three four"] * 5
    assert elapsed < 1.0  # 5 x 0.3 s streams ran in parallel
    assert sorted(r.body["model"] for r in srv.requests) == [f"m{i}" for i in range(5)]


# ======================================================================= OpenAI
@pytest.fixture(params=["openai", "deepseek-root", "deepseek-v1"])
def oai(request, srv):
    """The openai SDK, as used for OpenAI itself and for DeepSeek-style base URLs."""
    bases = {"openai": srv.url + "/v1", "deepseek-root": srv.url, "deepseek-v1": srv.url + "/v1"}
    base = bases[request.param]
    return openai.OpenAI(api_key="sk-test", base_url=base, max_retries=0)


def test_openai_non_stream(srv, oai):
    srv.script(Reply(text="Hi there", input_tokens=11, output_tokens=3))
    r = oai.chat.completions.create(model="gpt-test", messages=MESSAGES, max_tokens=50,
                                    temperature=0.2)
    assert r.choices[0].message.content == "Hi there"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gpt-test" and r.object == "chat.completion"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (11, 3, 14)
    req = srv.requests[-1]
    assert req.path.endswith("/chat/completions")
    assert req.body["model"] == "gpt-test" and req.body["messages"] == MESSAGES
    assert req.body["max_tokens"] == 50 and req.body["temperature"] == 0.2
    assert req.headers["authorization"] == "Bearer sk-test"


def test_openai_stream(srv, oai):
    srv.script(Reply(text="Hello streaming world", finish_reason="length", model="served-model"))
    stream = oai.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks
              if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Hello streaming world" and len(pieces) == 3
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert chunks[-1].usage.prompt_tokens == 7
    assert all(c.model == "served-model" for c in chunks)
    assert srv.requests[-1].body["stream"] is True


def test_openai_stream_without_usage_option(srv, oai):
    chunks = list(oai.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_stream_helper(srv, oai):
    srv.script(Reply(text="Via the helper"))
    with oai.chat.completions.stream(model="m", messages=MESSAGES,
                                     stream_options={"include_usage": True}) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "Via the helper"
    assert final.choices[0].message.content == "Via the helper"
    assert final.usage.total_tokens == 10


def test_openai_error(srv, oai):
    srv.script(Reply(status=500, error_message="boom"),
               Reply(status=429, error_message="slow down"), Reply(status=401))
    with pytest.raises(openai.InternalServerError) as e500:
        oai.chat.completions.create(model="m", messages=MESSAGES)
    assert "boom" in str(e500.value) and e500.value.status_code == 500
    with pytest.raises(openai.RateLimitError, match="slow down"):
        oai.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(openai.AuthenticationError) as e401:
        oai.chat.completions.create(model="m", messages=MESSAGES)
    assert e401.value.body["message"] == "fake error" and e401.value.code == "invalid_api_key"


def test_openai_truncated_stream(srv, oai):
    srv.script(Reply(text="one two three four five", truncate_after=2))
    stream = oai.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                         stream_options={"include_usage": True})
    got, err = collect(stream, lambda c: c)
    text = "".join(c.choices[0].delta.content or "" for c in got if c.choices)
    assert text == "one two"
    assert not any(c.choices and c.choices[0].finish_reason for c in got)
    assert isinstance(err, openai.APIConnectionError)  # the SDK wraps the dropped connection

    srv.script(Reply(text="one two three", truncate_after=1, truncate_mode="eof"))
    got, err = collect(oai.chat.completions.create(model="m", messages=MESSAGES, stream=True),
                       lambda c: c)
    assert err is None
    assert "".join(c.choices[0].delta.content or "" for c in got) == "one"
    assert not any(c.choices[0].finish_reason for c in got)


def test_openai_tool_calls(srv, oai):
    srv.script(Reply(tool_calls=TOOL_CALLS))
    r = oai.chat.completions.create(model="m", messages=MESSAGES, tools=WEATHER_TOOL_OPENAI)
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls" and msg.content is None
    tc = msg.tool_calls[0]
    assert (tc.id, tc.type, tc.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(tc.function.arguments) == {"city": "Paris"}
    assert srv.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"

    srv.script(Reply(tool_calls=[*TOOL_CALLS, {"id": "call_2", "name": "get_time",
                                                "arguments": {}}]))
    chunks = list(oai.chat.completions.create(model="m", messages=MESSAGES,
                                              tools=WEATHER_TOOL_OPENAI, stream=True))
    calls: dict = {}
    for c in chunks:
        for d in c.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = d.id or entry["id"]
            if d.function:
                entry["name"] = d.function.name or entry["name"]
                entry["arguments"] += d.function.arguments or ""
    assert calls[0] == {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert calls[1] == {"id": "call_2", "name": "get_time", "arguments": "{}"}
    assert sum(1 for c in chunks if c.choices[0].delta.tool_calls) > 3  # arguments arrive in pieces
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    srv.script(Reply(tool_calls=TOOL_CALLS))
    with oai.chat.completions.stream(model="m", messages=MESSAGES, tools=WEATHER_TOOL_OPENAI) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.arguments == '{"city": "Paris"}'


def test_openai_logprobs(srv, oai):
    srv.script(Reply(text="a b c", logprobs=True), Reply(text="a b c", logprobs=True),
               Reply(text="a b c", logprobs=True))
    r = oai.chat.completions.create(model="m", messages=MESSAGES, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert [t.token for t in content] == ["a", " b", " c"]
    assert [t.logprob for t in content] == [0.0, -0.1, -0.2]
    assert len(content[1].top_logprobs) == 2 and content[1].top_logprobs[0].token == " b"

    chunks = list(oai.chat.completions.create(model="m", messages=MESSAGES, logprobs=True,
                                              stream=True))
    streamed = [t for c in chunks if c.choices[0].logprobs
                for t in c.choices[0].logprobs.content or []]
    assert [t.token for t in streamed] == ["a", " b", " c"]

    r = oai.chat.completions.create(model="m", messages=MESSAGES)  # not asked for: none
    assert r.choices[0].logprobs is None


def test_openai_async_stream(srv):
    srv.script(Reply(text="async works fine"))

    async def main():
        client = openai.AsyncOpenAI(api_key="k", base_url=srv.url + "/v1", max_retries=0)
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(main()) == "async works fine"


# ==================================================================== Anthropic
@pytest.fixture
def claude(srv):
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=srv.url, max_retries=0)


def test_anthropic_non_stream(srv, claude):
    srv.script(Reply(text="Hi there", input_tokens=12))
    m = claude.messages.create(model="claude-test", max_tokens=64, system="Be brief",
                               messages=MESSAGES)
    assert m.content[0].type == "text" and m.content[0].text == "Hi there"
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert (m.usage.input_tokens, m.usage.output_tokens) == (12, 2)
    assert m.model == "claude-test" and m.role == "assistant" and m.type == "message"
    req = srv.requests[-1]
    assert req.path == "/v1/messages"
    assert req.body["max_tokens"] == 64 and req.body["system"] == "Be brief"
    assert req.body["messages"] == MESSAGES and req.body["model"] == "claude-test"
    # this SDK version sends the key as a bearer token; older ones used x-api-key
    assert "sk-ant-test" in (req.headers.get("x-api-key") or req.headers.get("authorization", ""))
    assert "anthropic-version" in req.headers

    srv.script(Reply(finish_reason="length"))
    message = claude.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"


def test_anthropic_stream_raw_events(srv, claude):
    srv.script(Reply(text="Hello streaming world", output_tokens=9))
    events = list(claude.messages.create(model="m", max_tokens=64, messages=MESSAGES, stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    # ping is skipped by the SDK
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    texts = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(texts) == "Hello streaming world" and len(texts) == 3
    start = events[0].message
    assert start.usage.input_tokens == 7 and start.stop_reason is None
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "end_turn" and delta.usage.output_tokens == 9


def test_anthropic_stream_helper(srv, claude):
    srv.script(Reply(text="Hello from the helper"))
    with claude.messages.stream(model="m", max_tokens=64, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "Hello from the helper" and len(pieces) == 4
    assert final.content[0].text == "Hello from the helper"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 4)


def test_anthropic_error(srv, claude):
    srv.script(Reply(status=529, error_message="overloaded!"), Reply(status=429), Reply(status=400))
    with pytest.raises(anthropic.InternalServerError) as e529:
        claude.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert "overloaded!" in str(e529.value) and e529.value.status_code == 529
    assert e529.value.body["error"]["type"] == "overloaded_error"
    with (pytest.raises(anthropic.RateLimitError, match="fake error"),
          claude.messages.stream(model="m", max_tokens=5, messages=MESSAGES) as s):
        s.get_final_message()
    with pytest.raises(anthropic.BadRequestError) as e400:
        claude.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)
    assert e400.value.body["type"] == "error"


def test_anthropic_truncated_stream(srv, claude):
    srv.script(Reply(text="one two three four", truncate_after=2))
    got, err = collect(claude.messages.create(model="m", max_tokens=64, messages=MESSAGES,
                                              stream=True), lambda e: e)
    assert "".join(e.delta.text for e in got if e.type == "content_block_delta") == "one two"
    assert not any(e.type in ("message_delta", "message_stop") for e in got)
    assert isinstance(err, TRANSPORT_ERRORS)  # raw httpx2.RemoteProtocolError, not wrapped

    srv.script(Reply(text="one two three four", truncate_after=3))
    with claude.messages.stream(model="m", max_tokens=64, messages=MESSAGES) as stream:
        got, err = collect(stream.text_stream, lambda t: t)
        snapshot = stream.current_message_snapshot
    assert "".join(got) == "one two three" and isinstance(err, TRANSPORT_ERRORS)
    assert snapshot.stop_reason is None


def test_anthropic_tool_calls(srv, claude):
    srv.script(Reply(text="Let me check.", tool_calls=TOOL_CALLS))
    m = claude.messages.create(model="m", max_tokens=64, messages=MESSAGES,
                               tools=WEATHER_TOOL_ANTHROPIC)
    assert m.stop_reason == "tool_use"
    assert [b.type for b in m.content] == ["text", "tool_use"]
    tool = m.content[1]
    assert (tool.id, tool.name, tool.input) == ("call_1", "get_weather", {"city": "Paris"})
    assert srv.requests[-1].body["tools"][0]["name"] == "get_weather"

    srv.script(Reply(tool_calls=TOOL_CALLS))
    with claude.messages.stream(model="m", max_tokens=64, messages=MESSAGES,
                                tools=WEATHER_TOOL_ANTHROPIC) as stream:
        events = list(stream)
        final = stream.get_final_message()
    json_pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert "".join(json_pieces) == '{"city": "Paris"}' and len(json_pieces) > 2
    assert [b.type for b in final.content] == ["tool_use"]
    assert final.content[0].input == {"city": "Paris"} and final.stop_reason == "tool_use"


# ======================================================================= Cohere
@pytest.fixture
def co(srv):
    return cohere.ClientV2(api_key="co-test", base_url=srv.url, max_retries=0)


def test_cohere_non_stream(srv, co):
    srv.script(Reply(text="Hi there", input_tokens=9, output_tokens=2))
    r = co.chat(model="command-test", messages=MESSAGES, max_tokens=40, temperature=0.3)
    assert r.message.content[0].type == "text" and r.message.content[0].text == "Hi there"
    assert r.finish_reason == "COMPLETE"
    assert (r.usage.tokens.input_tokens, r.usage.tokens.output_tokens) == (9, 2)
    assert (r.usage.billed_units.input_tokens, r.usage.billed_units.output_tokens) == (9, 2)
    req = srv.requests[-1]
    assert req.path == "/v2/chat" and req.headers["authorization"] == "Bearer co-test"
    assert req.body["model"] == "command-test" and req.body["messages"] == MESSAGES
    assert req.body["max_tokens"] == 40 and req.body["stream"] is False

    srv.script(Reply(finish_reason="length"))
    assert co.chat(model="m", messages=MESSAGES).finish_reason == "MAX_TOKENS"


def test_cohere_stream(srv, co):
    srv.script(Reply(text="Hello streaming world"))
    events = list(co.chat_stream(model="m", messages=MESSAGES))
    types = [e.type for e in events]
    assert types[:2] == ["message-start", "content-start"]
    assert types[-2:] == ["content-end", "message-end"]
    pieces = [e.delta.message.content.text for e in events if e.type == "content-delta"]
    assert "".join(pieces) == "Hello streaming world" and len(pieces) == 3
    end = events[-1]
    assert end.delta.finish_reason == "COMPLETE"
    assert end.delta.usage.tokens.output_tokens == 3
    assert end.delta.usage.billed_units.input_tokens == 7
    assert srv.requests[-1].body["stream"] is True


def test_cohere_error(srv, co):
    srv.script(Reply(status=500, error_message="kaput"), Reply(status=429), Reply(status=400))
    with pytest.raises(cohere.errors.InternalServerError) as e500:
        co.chat(model="m", messages=MESSAGES)
    assert e500.value.status_code == 500 and e500.value.body["message"] == "kaput"
    assert "kaput" in str(e500.value)
    with pytest.raises(cohere.errors.TooManyRequestsError):
        list(co.chat_stream(model="m", messages=MESSAGES))
    with pytest.raises(cohere.errors.BadRequestError):
        co.chat(model="m", messages=MESSAGES)


def test_cohere_truncated_stream(srv, co):
    srv.script(Reply(text="one two three four", truncate_after=2))
    got, err = collect(co.chat_stream(model="m", messages=MESSAGES), lambda e: e)
    text = "".join(e.delta.message.content.text for e in got if e.type == "content-delta")
    assert text == "one two"
    assert not any(e.type == "message-end" for e in got)
    assert isinstance(err, httpx.TransportError)  # httpx.RemoteProtocolError, not wrapped


def test_cohere_tool_calls(srv, co):
    srv.script(Reply(text="I will look up the weather.", tool_calls=TOOL_CALLS))
    r = co.chat(model="m", messages=MESSAGES, tools=[{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    assert r.finish_reason == "TOOL_CALL"
    assert r.message.tool_plan == "I will look up the weather."
    tc = r.message.tool_calls[0]
    assert (tc.id, tc.type, tc.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(tc.function.arguments) == {"city": "Paris"}
    assert srv.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"

    srv.script(Reply(text="I will look up the weather.", tool_calls=TOOL_CALLS))
    events = list(co.chat_stream(model="m", messages=MESSAGES))
    types = [e.type for e in events]
    assert "tool-plan-delta" in types and types[-2:] == ["tool-call-end", "message-end"]
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    assert plan == "I will look up the weather."
    start = next(e for e in events if e.type == "tool-call-start")
    assert start.delta.message.tool_calls.id == "call_1"
    assert start.delta.message.tool_calls.function.name == "get_weather"
    args = "".join(e.delta.message.tool_calls.function.arguments
                   for e in events if e.type == "tool-call-delta")
    assert json.loads(args) == {"city": "Paris"}
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_cohere_logprobs(srv, co):
    srv.script(Reply(text="a b", logprobs=True), Reply(text="a b", logprobs=True))
    r = co.chat(model="m", messages=MESSAGES, logprobs=True)
    assert [lp.text for lp in r.logprobs] == ["a", " b"]
    events = list(co.chat_stream(model="m", messages=MESSAGES, logprobs=True))
    assert [e.logprobs.logprobs for e in events if e.type == "content-delta"] == [[0.0], [-0.1]]


# ====================================================================== Mistral
@pytest.fixture
def mistral(srv):
    return Mistral(api_key="mistral-test", server_url=srv.url)


def test_mistral_non_stream(srv, mistral):
    srv.script(Reply(text="Bonjour", input_tokens=5, output_tokens=1))
    r = mistral.chat.complete(model="mistral-test", messages=MESSAGES, max_tokens=30)
    assert r.choices[0].message.content == "Bonjour"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (5, 1, 6)
    req = srv.requests[-1]
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer mistral-test"
    assert req.body["model"] == "mistral-test" and req.body["max_tokens"] == 30
    assert req.body["messages"] == MESSAGES and req.body["stream"] is False


def test_mistral_stream(srv, mistral):
    srv.script(Reply(text="Hello streaming world", finish_reason="length"))
    events = list(mistral.chat.stream(model="m", messages=MESSAGES))
    pieces = [e.data.choices[0].delta.content for e in events if e.data.choices[0].delta.content]
    assert "".join(pieces) == "Hello streaming world" and len(pieces) == 3
    last = events[-1].data
    assert last.choices[0].finish_reason == "length"
    # usage rides on the last chunk
    assert last.usage.prompt_tokens == 7 and last.usage.completion_tokens == 3
    assert all(e.data.usage is None for e in events[:-1])


def test_mistral_error(srv, mistral):
    srv.script(Reply(status=500, error_message="kaboom"), Reply(status=429),
               Reply(status=422, error_message="bad field"))
    with pytest.raises(mistral_errors.SDKError) as e500:
        mistral.chat.complete(model="m", messages=MESSAGES)
    assert e500.value.status_code == 500 and "kaboom" in str(e500.value)
    assert json.loads(e500.value.body)["message"] == "kaboom"
    with pytest.raises(mistral_errors.SDKError) as e429:
        list(mistral.chat.stream(model="m", messages=MESSAGES))
    assert e429.value.status_code == 429
    with pytest.raises(mistral_errors.HTTPValidationError) as e422:
        mistral.chat.complete(model="m", messages=MESSAGES)
    assert e422.value.data.detail[0].msg == "bad field"


def test_mistral_truncated_stream(srv, mistral):
    srv.script(Reply(text="one two three four", truncate_after=2))
    got, err = collect(mistral.chat.stream(model="m", messages=MESSAGES), lambda e: e.data)
    assert "".join(c.choices[0].delta.content or "" for c in got) == "one two"
    assert not any(c.choices[0].finish_reason for c in got)
    assert isinstance(err, TRANSPORT_ERRORS)  # raw httpx2.RemoteProtocolError, not wrapped


def test_mistral_tool_calls(srv, mistral):
    srv.script(Reply(tool_calls=TOOL_CALLS))
    r = mistral.chat.complete(model="m", messages=MESSAGES, tools=WEATHER_TOOL_OPENAI)
    assert r.choices[0].finish_reason == "tool_calls"
    tc = r.choices[0].message.tool_calls[0]
    assert (tc.id, tc.function.name) == ("call_1", "get_weather")
    assert json.loads(tc.function.arguments) == {"city": "Paris"}
    assert srv.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"

    srv.script(Reply(tool_calls=TOOL_CALLS))
    events = list(mistral.chat.stream(model="m", messages=MESSAGES, tools=WEATHER_TOOL_OPENAI))
    calls = [tc for e in events for tc in (e.data.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1  # Mistral streams each tool call whole
    assert calls[0].function.name == "get_weather" and calls[0].id == "call_1"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert events[-1].data.choices[0].finish_reason == "tool_calls"


def test_mistral_logprobs(srv, mistral):
    # Mistral's models need token_id everywhere; an invalid shape silently becomes Unset().
    srv.script(Reply(text="a b", logprobs=True), Reply(text="a b", logprobs=True))
    r = mistral.chat.complete(model="m", messages=MESSAGES, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert [t.token for t in content] == ["a", " b"] and len(content[1].top_logprobs) == 2
    events = list(mistral.chat.stream(model="m", messages=MESSAGES, logprobs=True))
    tokens = [t.token for e in events if e.data.choices[0].logprobs
              for t in e.data.choices[0].logprobs.content]
    assert tokens == ["a", " b"]
