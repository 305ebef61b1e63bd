"""The fault matrix: flaky providers, cut streams, interrupts, concurrent kernels, broken
caches, hostile output and bad input. Each row of FAULTS is one promise; the README's
reliability section shows the same table."""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import time
from pathlib import Path

import pytest

from memories_magics.cache import ResponseCache
from memories_magics.config import Config
from memories_magics.display.compare_view import compare_bundle
from memories_magics.display.render import RESULT_MIME, result_bundle
from memories_magics.display.safe import MAX_DISPLAY_CHARS
from memories_magics.engine import Engine
from memories_magics.errors import ConfigError, ProviderError
from memories_magics.result import LLMResult
from memories_magics.types import Request, Response, Usage
from tests.conftest import PROVIDERS, provider_environment, write_test_config
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import Kernel

# (fault, what the user gets) — mirrored in README.md
FAULTS = [
    ("429 with Retry-After, then success", "retried by the SDK's own retry; the answer arrives"),
    ("503, then success", "retried with backoff; the answer arrives"),
    ("500 on every attempt", "one line: provider, HTTP status, provider's message"),
    ("no answer within timeout_s", "one line: timed out after N s, how to raise it"),
    ("keep-alive comments, tokens or a body trickling past timeout_s",
     "ends at the deadline: one line, text so far kept, not cached"),
    ("a web page (a proxy's login page) instead of an answer",
     "one line: the endpoint returned HTML; check the provider's BASE_URL variable"),
    ("connection dropped mid-stream", "text so far kept, marked truncated, not cached"),
    ("stream ends without a finish reason", "marked truncated, not cached"),
    ("Ctrl-C during %%llm / %%compare / a tool loop",
     "partial text kept, marked interrupted, nothing cached, kernel usable"),
    ("two kernels writing one cache", "no entry lost or corrupted"),
    ("corrupt record file", ("a warning naming the line and a fresh answer in use mode, one "
                             "line in replay; %llm cache clear repairs it")),
    ("<script>, onerror=, javascript: links, remote images in answers", "shown as inert text"),
    ("huge answer", "display cut at 20,000 characters; full text in -o VAR / _.text"),
    ("invalid UTF-8 in an answer", "replaced with U+FFFD; output still renders"),
    ("invalid model_config.json", "one line: file, line, column, what is wrong"),
    ("model_config.json of the wrong shape or not UTF-8",
     "one line: file, key, what it should be (pydantic)"),
    ("API key in env or api_key=", "never in outputs, notebook JSON, cache, errors or reprs"),
]

HOSTILE = ('<script>window.pwned=1</script><img src="https://evil.example/x.png" '
           'onerror="window.pwned=2">[click](javascript:window.pwned=3) '
           '![tracker](https://evil.example/t.png)\n[ref]: javascript:alert(1)\n'
           '[escaped](javascript\\:alert(4)) [far](//evil.example/x)\n'
           '- [listed]: javascript:alert(5)\n\n[click][listed]\n'
           '```js\ncode\n   ```\n<img src=x onerror="window.pwned=6">')


def engine_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeLLMServer,
                **settings: object) -> Engine:
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json", **settings),
                               tmp_path / "cache")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Engine(Config.load())


def ask(engine: Engine, provider: str, **options: object) -> Response:
    spec = engine.model(f"{provider}:test-model")
    return engine.run(spec, engine.request(spec, "hi"), cache="off", **options)


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("status", [429, 503])
def test_transient_errors_are_retried(provider, status, tmp_path, monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake, max_retries=2)
    fake.script(Reply(status=status, retry_after=0.05), Reply(text="second time lucky"))
    assert ask(engine, provider).text == "second time lucky"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic", "cohere"])
def test_timeouts_are_reported(provider, tmp_path, monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake, max_retries=0, timeout_s=0.3)
    fake.script(Reply(delay=1.0))
    with pytest.raises(ProviderError, match=r"timed out after 0.3 s; raise "
                                            r"global_settings.timeout_s"):
        ask(engine, provider, stream=False)


#: Servers that answer, but never finish: (stream?, the reply).
NEVER_DONE = {
    "keep-alive comments forever": (True, Reply(keepalive_every=0.2)),
    "tokens trickling forever": (True, Reply(chunks=["tick "] * 300, chunk_delay=0.1)),
    "a body trickling slowly": (False, Reply(body_byte_delay=0.05)),
}


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("case", list(NEVER_DONE))
def test_timeout_bounds_the_whole_call(provider, case, tmp_path, monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake, max_retries=2, timeout_s=1)
    stream, reply = NEVER_DONE[case]
    fake.default = reply
    engine.provider(provider).client()  # the SDK's import is not the call's to time
    started = time.monotonic()
    try:
        response = ask(engine, provider, stream=stream)
    except ProviderError as exc:
        message = str(exc)
    else:
        assert response.error is not None and not response.cacheable
        message = response.error
    assert time.monotonic() - started < 6, "the server would have gone on for 30 s"
    assert f"{provider}: timed out after 1 s; raise global_settings.timeout_s" in message
    assert "\n" not in message


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("status", [200, 403])
def test_an_html_page_instead_of_an_answer_is_named(provider, stream, status, tmp_path,
                                                    monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake)
    fake.default = Reply(status=status, html="<!DOCTYPE html>\n<html><head><title>Sign in"
                                             "</title></head><body><form>…</form></body></html>")
    with pytest.raises(ProviderError) as caught:
        ask(engine, provider, stream=stream)
    shown = "" if status == 200 else f" (HTTP {status})"
    assert str(caught.value) == (f"{provider}: the endpoint returned HTML{shown}, not an API "
                                 f"response; check {PROVIDERS[provider][1]}")


@pytest.mark.parametrize("retry_after", [3600, -5, math.nan, math.inf])
def test_cohere_stream_retry_checks_retry_after(retry_after, tmp_path, monkeypatch,
                                                fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake, max_retries=1, timeout_s=5)
    fake.script(Reply(status=429, retry_after=retry_after), Reply(text="after the wait"))
    started = time.monotonic()
    if retry_after == 3600:  # a wait past the deadline: the 429 at once, not an hour's sleep
        with pytest.raises(ProviderError, match=r"HTTP 429.*rate limited"):
            ask(engine, "cohere")
        assert len(fake.requests) == 1
    else:  # nonsense: the usual backoff
        assert ask(engine, "cohere").text == "after the wait"
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("stream", [True, False])
def test_lone_surrogates_are_replaced_at_the_provider_boundary(provider, stream, tmp_path,
                                                               monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake)
    fake.default = Reply(chunks=["ok \udcff", "\ud800 done"])  # JSON-escaped on the wire
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    try:
        response = engine.run(spec, request, cache="use", stream=stream)
    except ProviderError as exc:  # mistralai's JSON parser refuses them: one line, no crash
        assert provider == "mistral" and "lone leading surrogate" in str(exc)
        return
    if provider == "mistral":  # cut after the role chunk
        assert "lone leading surrogate" in response.error and not response.cacheable
        return
    assert response.text == "ok \ufffd\ufffd done" and response.cacheable
    assert engine.cache().get(request).text == response.text


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("stream", [True, False])
def test_an_empty_stop_is_shown_with_a_note_and_not_cached(provider, stream, tmp_path,
                                                           monkeypatch, fake) -> None:
    engine = engine_with(tmp_path, monkeypatch, fake)
    fake.default = Reply(text="", chunks=[" "])  # LiteLLM's answer when its backend failed
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    response = engine.run(spec, request, cache="use", stream=stream)
    assert response.finish_reason == "stop" and not response.cacheable
    plain = result_bundle(LLMResult(response, spec, request))["text/plain"]
    assert "the model sent an empty answer that claims it finished" in plain
    assert "not cached" in plain and engine.cache().get(request) is None


def test_interrupt_mid_compare_and_mid_tool_loop(tmp_path, fake) -> None:
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"),
                               tmp_path / "cache")
    slow = " ".join(["slow"] * 60)
    fake.default = Reply(text=slow, chunk_delay=0.1)
    tool = ("def lookup(q: str) -> str:\n    '''Look something up.'''\n    return 'found'\n")
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics\nimport openai, anthropic\n" + tool)
        compare = kernel.run("%%compare gpt-4o-mini claude-haiku -o cmp\nGo", interrupt_after=0.4)
        fake.script(Reply(tool_calls=[{"id": "c1", "name": "lookup",
                                       "arguments": {"q": "x"}}]),
                    Reply(text=slow, chunk_delay=0.1))
        tools = kernel.run("%%llm gpt-4o-mini --tools lookup\nGo", interrupt_after=0.4)
        state = kernel.run("print([r.response.interrupted for r in cmp.results.values()])")
        info = kernel.run("%llm cache info")
    assert compare.error is None and tools.error is None
    assert state.stdout == "[True, True]\n"
    columns = compare.result["application/vnd.memories-magics.compare+json"]["results"]
    assert all(c["text"] and c["interrupted"] for c in columns)
    assert tools.result[RESULT_MIME]["interrupted"] is True
    assert info.stdout.startswith("0 cached answers")


def test_compare_stops_cleanly_on_a_second_ctrl_c_and_caches_nothing_late(tmp_path,
                                                                          fake) -> None:
    import threading

    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"),
                               tmp_path / "cache")
    fake.default = Reply(text="a late answer", delay=3.0)
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics\nimport openai")
        for after in (0.8, 1.6):  # the second Ctrl-C lands in the grace period
            threading.Timer(after, kernel.manager.interrupt_kernel).start()
        run = kernel.run("%%compare gpt-4o-mini gpt-4o-mini --no-stream -o cmp\nGo")
        kernel.run("import time\ntime.sleep(3)")  # the abandoned calls end meanwhile
        info = kernel.run("%llm cache info")
        kept = kernel.run("print(sorted(cmp.errors))")
    assert run.error is None, run.error
    assert kept.stdout == "['gpt-4o-mini', 'gpt-4o-mini (2)']\n", "both columns kept"
    assert info.stdout.startswith("0 cached answers"), info.stdout


def test_compare_of_a_model_with_itself_keeps_both_results(tmp_path, monkeypatch,
                                                          fake) -> None:
    from memories_magics.compare import run_models, summarise

    engine = engine_with(tmp_path, monkeypatch, fake)
    spec = engine.model("gpt-4o-mini")
    requests = [engine.request(spec, "hi", seed=seed) for seed in (1, 2)]
    fake.script(Reply(text="first"), Reply(text="second"))
    result = summarise("hi", run_models(engine, [spec, spec], requests, cache="off"),
                       "voting", "word")
    assert sorted(r.text for r in result.results.values()) == ["first", "second"]
    assert list(result.results) == ["gpt-4o-mini", "gpt-4o-mini (2)"]


def test_ctrl_c_while_a_tool_function_runs_keeps_the_steps_and_o(tmp_path, fake) -> None:
    import threading

    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"),
                               tmp_path / "cache")
    tools = ("import time\n"
             "def quick(q: str) -> str:\n    'Answer at once.'\n    return 'quick answer'\n"
             "def slow(q: str) -> str:\n    'Take long.'\n    time.sleep(5)\n"
             "    return 'slow answer'\n")
    fake.script(Reply(tool_calls=[{"id": "c1", "name": "quick", "arguments": {"q": "a"}}]),
                Reply(tool_calls=[{"id": "c2", "name": "slow", "arguments": {"q": "b"}}]),
                Reply(text="never asked"))
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics\nimport openai\n" + tools)
        threading.Timer(2.0, kernel.manager.interrupt_kernel).start()  # inside slow()
        run = kernel.run("%%llm gpt-4o-mini --tools quick,slow -o out\nGo")
        kept = kernel.run("print(out.response.interrupted, "
                          "[s.call.name for s in out.response.tool_steps])")
        info = kernel.run("%llm cache info")
    assert run.error is None, run.error and run.error["ename"]
    assert kept.stdout.startswith("True ['quick'"), kept.stdout
    assert info.stdout.startswith("0 cached answers")


def _hammer(directory: str, worker: int, count: int) -> None:
    cache = ResponseCache(directory)
    for i in range(count):
        request = Request.from_prompt("openai", "m", f"worker {worker} prompt {i}")
        cache.put(request, Response(f"answer {worker}/{i}", "m", "openai", "stop",
                                    Usage(1, 1)))
        shared = Request.from_prompt("openai", "m", f"shared {i}")
        cache.put(shared, Response(f"shared {i}", "m", "openai", "stop"))
        assert cache.get(shared).text == f"shared {i}"


def test_two_processes_share_one_cache_without_losing_entries(tmp_path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, 150)) for w in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    cache = ResponseCache(tmp_path)
    assert cache.info()["entries"] == 2 * 150 + 150
    for worker in range(2):
        for i in (0, 77, 149):
            request = Request.from_prompt("openai", "m", f"worker {worker} prompt {i}")
            assert cache.get(request).text == f"answer {worker}/{i}"


def test_corrupt_cache_gives_one_line_and_clear_repairs_it(tmp_path, fake) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "records.jsonl").write_bytes(b"this is not a record\n" * 100)
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), cache_dir)
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        replayed = kernel.run("%%llm gpt-4o-mini --cache replay\nhi")
        broken = replayed.error["traceback"]
        answered = kernel.run("%%llm gpt-4o-mini\nhi")
        cleared = kernel.run("%llm cache clear")
        fixed = kernel.run("%%llm gpt-4o-mini\nhi")
    assert len(broken) == 1 and broken[0].startswith("CacheError: ") and \
        "records.jsonl line 1: not JSON" in broken[0]
    assert answered.result[RESULT_MIME]["text"] == Reply().text
    warned = "".join(c["text"] for run in (replayed, answered) for c in run.of_type("stream")
                     if c["name"] == "stderr")
    assert "records.jsonl line 1: not JSON" in warned
    assert cleared.error is None and fixed.error is None
    assert fixed.result[RESULT_MIME]["text"] == Reply().text


def _result(text: str, fmt: str = "markdown") -> LLMResult:
    engine = Engine(Config.load())
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "q")
    return LLMResult(Response(text, spec.name, "openai", "stop"), spec, request, fmt)


# Markdown, code and JSON answers are rendered to HTML by the kernel now: their hostile cases
# are parsed and checked element by element in tests/test_rendering.py.
@pytest.mark.parametrize("fmt", ["text", "html"])
def test_hostile_answers_render_inert_in_every_format(fmt) -> None:
    bundle = result_bundle(_result(HOSTILE, fmt))
    for mime in ("text/markdown", "text/html"):
        shown = bundle.get(mime, "")
        if not shown:
            continue
        if mime == "text/html" and fmt == "html":
            assert shown.startswith('<iframe sandbox=""'), "model HTML runs only sandboxed"
            assert "<script" not in shown.split("srcdoc=")[1].split('"')[1]
            continue
        if fmt == "code":  # inside a code fence, Markdown shows text verbatim, never as HTML
            fence, _, rest = shown.partition("\n")
            assert fence == "````" and rest.index(HOSTILE) < rest.index("\n````\n")
            continue
        prose = shown.split("```js")[0] + shown.split("   ```")[-1]
        assert "<script" not in prose and "<img" not in prose
        assert not re.search(r"(?<!\\)\]\((javascript|//)", prose), "links stay broken"
        assert not re.search(r"(?<!\\)\]: javascript", prose) and "![" not in prose


def test_hostile_text_in_compare_views_is_escaped() -> None:
    from memories_magics.compare import ModelOutcome, summarise

    first, second = _result(HOSTILE), _result(HOSTILE + " more")
    outcomes = [ModelOutcome(first.spec, first.request, first),
                ModelOutcome(second.spec, second.request, second)]
    html = compare_bundle(summarise("q", outcomes, "consensus", "word"))["text/html"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_huge_answers_are_cut_in_display_but_kept_whole() -> None:
    text = "x" * (MAX_DISPLAY_CHARS * 3)
    result = _result(text)
    bundle = result_bundle(result)
    assert len(bundle["text/html"]) < MAX_DISPLAY_CHARS + 1000
    assert bundle[RESULT_MIME]["truncated"] and bundle[RESULT_MIME]["full_length"] == len(text)
    assert "showing 20,000 of 60,000 characters" in bundle["text/plain"]
    assert result.text == text


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    bundle = result_bundle(_result("ok \udcff\udcfe done"))
    json.dumps(bundle)  # what the kernel does before sending it
    assert "ok \ufffd\ufffd done" in bundle["text/html"]


def test_invalid_config_names_file_line_and_problem(tmp_path, fake) -> None:
    broken = tmp_path / "model_config.json"
    broken.write_text('{"models": {\n  "x": {"provider": "openai",}\n}}')
    with Kernel({"MEMORIES_MAGICS_CONFIG": str(broken)}) as kernel:
        kernel.run("%load_ext memories_magics")
        error = kernel.run("%%llm\nhi").error["traceback"]
    assert error == [(f"ConfigError: {broken}, line 2 column 30: Expecting property name "
                      "enclosed in double quotes; fix the JSON or unset MEMORIES_MAGICS_CONFIG")]


@pytest.mark.parametrize(("data", "problem"), [
    ({"models": []}, "models should be a valid dictionary, not list"),
    ({"models": {"x": {"provider": "openai", "config": None}}},
     "models.x.config should be a valid dictionary, not None"),
    ({"models": {"x": {"provider": "openai", "pricing": {"input": "free"}}}},
     "models.x.pricing.input should be a valid number, not 'free'"),
    ({"global_settings": {"max_tool_rounds": 0}},
     "global_settings.max_tool_rounds should be greater than 0, not 0"),
    ({"fallbacks": {"gpt-4o-mini": "claude-haiku"}},
     "fallbacks.gpt-4o-mini should be a valid list, not 'claude-haiku'"),
    ({"models": {"x": {"provider": "openai", "config": {"supports_vision": "yes"}}}},
     "models.x.config.supports_vision should be a valid boolean, not 'yes'"),
    ({"models": {"x": {"provider": "openai", "config": {"supports_generation": 0}}}},
     "models.x.config.supports_generation should be a valid boolean, not 0"),
])
def test_config_of_the_wrong_shape_is_one_line(data, problem, tmp_path, monkeypatch) -> None:
    path = tmp_path / "model_config.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MEMORIES_MAGICS_CONFIG", str(path))
    with pytest.raises(ConfigError) as caught:
        Config.load()
    assert str(caught.value) == f"{path}: {problem}; fix the file or unset MEMORIES_MAGICS_CONFIG"


def test_the_schema_checks_every_capability_and_only_those() -> None:
    from memories_magics.config import CAPABILITIES
    from memories_magics.config_schema import ModelParams

    checked = {name.removeprefix("supports_") for name in ModelParams.model_fields
               if name.startswith("supports_")}
    assert checked == set(CAPABILITIES)


def test_config_in_latin_1_is_one_line(tmp_path) -> None:
    path = tmp_path / "model_config.json"
    path.write_bytes('{"models": {"café": {"provider": "openai"}}}'.encode("latin-1"))
    with Kernel({"MEMORIES_MAGICS_CONFIG": str(path)}) as kernel:
        kernel.run("%load_ext memories_magics")
        error = kernel.run("%%llm\nhi").error["traceback"]
    assert error == [(f"ConfigError: {path}: not UTF-8 text (byte 0xe9 at offset 16); save it "
                      "as UTF-8 or unset MEMORIES_MAGICS_CONFIG")]


def test_use_of_a_file_that_is_not_a_model_is_one_line(tmp_path) -> None:
    with Kernel({"MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache")}) as kernel:
        kernel.run("%load_ext memories_magics")
        passwd = kernel.run("%llm use local:/etc/passwd").error["traceback"]
        missing = kernel.run(f"%llm use local:{tmp_path}/none.gguf").error["traceback"]
        still = kernel.run("%llm config").stdout
    fix = "give the path of a .gguf file (local:/path/model.gguf) or use local:smollm2"
    assert passwd == [("UnknownModelError: '/etc/passwd' is not a GGUF model file (it does "
                       f"not start with the GGUF signature); {fix}")]
    assert missing == [(f"UnknownModelError: local model file '{tmp_path}/none.gguf' not "
                        f"found; {fix}")]
    assert "/etc/passwd" not in still


def test_fault_table_matches_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for fault, outcome in FAULTS:
        assert f"| {fault} | {outcome} |" in readme, fault
