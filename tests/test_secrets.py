"""Secrets never reach logs, outputs or the cache: the real SDKs log at DEBUG through their own
loggers (httpx, httpx2, openai, anthropic, …) against the fake servers with keys and
credentialed base URLs, and a server that echoes the key back into the answer."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from memories_magics.config import Config
from memories_magics.display.render import result_bundle
from memories_magics.engine import Engine
from memories_magics.errors import ProviderError
from memories_magics.result import LLMResult
from memories_magics.secrets import StreamMask, mask_known, redact, remember, remember_url
from tests.conftest import PROVIDERS, planted_key, provider_environment, write_test_config
from tests.fakes import DEFAULT_TEXT, FakeLLMServer
from tests.fakes.echo import EchoServer

GATEWAY_USER, GATEWAY_PASSWORD = "gateway-user", "GATEWAY-pass-4242"
QUERY_KEY = "QUERY-key-777777"


def _secrets(provider: str) -> list[str]:
    return [planted_key(provider), GATEWAY_PASSWORD, QUERY_KEY,
            base64.b64encode(f"{GATEWAY_USER}:{GATEWAY_PASSWORD}".encode()).decode()]


def _environment(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 query: bool = False) -> Engine:
    """Every provider at ``url`` with a planted key and the gateway's credentials in the URL
    (user:password@, and with ``query`` an ``?api_key=`` too)."""
    env = provider_environment(url, write_test_config(tmp_path / "c.json"), tmp_path / "cache")
    for _, url_var, _ in PROVIDERS.values():
        env[url_var] = env[url_var].replace("://", f"://{GATEWAY_USER}:{GATEWAY_PASSWORD}@") + (
            f"?api_key={QUERY_KEY}" if query else "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Engine(Config.load())


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything every logger writes, at DEBUG, as ``logging.basicConfig(level=DEBUG)`` does."""
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
def test_sdk_logs_carry_no_key_or_url_credentials(
        provider: str, stream: bool, tmp_path: Path, fake: FakeLLMServer,
        debug_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _environment(fake.url, tmp_path, monkeypatch)
    spec = engine.model(f"{provider}:test-model")
    assert engine.run(spec, engine.request(spec, "hi"), cache="off", stream=stream).text == \
        DEFAULT_TEXT
    assert fake.requests[-1].headers.get("authorization") or fake.requests[-1].headers.get(
        "x-api-key"), "the key was sent"
    logged = debug_logs.text
    requests = [r for r in debug_logs.records if "HTTP Request" in r.getMessage()]
    assert requests and all("http://***@127.0.0.1" in r.getMessage() for r in requests
                            if "http" in r.getMessage()), logged
    for secret in _secrets(provider):
        assert secret not in logged


@pytest.mark.parametrize("provider", PROVIDERS)
def test_query_keys_are_redacted_in_logs_and_errors(provider: str, tmp_path: Path,
                                                    fake: FakeLLMServer,
                                                    debug_logs: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _environment(fake.url, tmp_path, monkeypatch, query=True)
    spec = engine.model(f"{provider}:test-model")
    try:  # the SDKs append their paths after the query, so the fake may not route it
        engine.run(spec, engine.request(spec, "hi"), cache="off")
        message = ""
    except ProviderError as exc:
        message = str(exc)
    assert "HTTP Request" in debug_logs.text  # (mistralai drops a base URL's query)
    for secret in _secrets(provider):
        assert secret not in debug_logs.text and secret not in message


def test_the_http_clients_child_loggers_and_tracebacks_are_redacted(
        debug_logs: pytest.LogCaptureFixture) -> None:
    remember("sk-child-logger-secret")
    for name in ("httpcore.http11", "httpcore2.connection", "openai._base_client",
                 "mistralai.client", "httpx2"):
        logging.getLogger(name).debug("headers %s", {"authorization": "Bearer sk-child-logger-"
                                                                      "secret"})
    try:
        raise ValueError("sk-child-logger-secret in http://u:sk-child-logger-secret@h/")
    except ValueError:
        logging.getLogger("anthropic").exception("failed")
    assert "sk-child-logger-secret" not in debug_logs.text
    assert debug_logs.text.count("***") >= 6


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_echoed_key_is_masked_in_the_output_and_the_cache(
        provider: str, tmp_path: Path, echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _environment(echo.url, tmp_path, monkeypatch)
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    response = engine.run(spec, request, cache="use")
    assert "You sent POST" in response.text, "the server echoed the request"
    shown = json.dumps(result_bundle(LLMResult(response, spec, request)), ensure_ascii=False)
    stored = (engine.cache().directory / "records.jsonl").read_bytes()
    assert "***" in shown
    for secret in _secrets(provider):
        assert secret not in shown and secret.encode() not in stored


def test_redaction_forms() -> None:
    remember("sk-forms-0123456789")
    remember_url("https://bob:p%40ss-word-99@gw.example/v1?api_key=ZZZZZZZZ&api-version=2024")
    basic = base64.b64encode(b"bob:p@ss-word-99").decode()
    assert redact(f"key sk-forms-0123456789, Authorization: Basic {basic}") == \
        "key ***, Authorization: Basic ***"
    assert redact("GET https://bob:p%40ss-word-99@gw.example/v1?api_key=ZZZZZZZZ&api-version=2024"
                  ) == "GET https://***@gw.example/v1?***"  # the whole query is remembered
    assert redact("{'x-api-key': 'abc123xyz', 'authorization': 'Bearer t0ken-t0ken'}") == \
        "{'x-api-key': '***', 'authorization': 'Bearer ***'}"
    assert redact("https://other:pw@host/?token=abc&x=1") == "https://***@host/?token=***&x=1"
    # answers keep what merely looks like a credential; only known secrets go
    assert mask_known("use https://user:pass@host/ with sk-forms-0123456789 or p@ss-word-99") == \
        "use https://user:pass@host/ with *** or ***"
    assert mask_known("version 2024 of bob's api") == "version 2024 of bob's api"


def test_verbose_tracebacks_show_no_key(tmp_path: Path, fake: FakeLLMServer) -> None:
    """``%xmode Verbose`` prints every frame's locals: failing calls made with an explicit
    ``api_key=`` (and the environment's key) leave the key in no output a saved notebook
    keeps, and in no cache file."""
    from tests.fakes import Reply
    from tests.kernel import Kernel

    key = "sk-explicit-VERBOSE-0123456789"
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"),
                               tmp_path / "cache")
    fake.default = Reply(text=" ".join(["slow"] * 40), chunk_delay=0.1)
    env["EXPLICIT_KEY"] = key  # the cells read it: the key is in no cell's source either
    make = "LoadModel('openai', 'api', 'gpt-4o-mini', api_key=os.environ['EXPLICIT_KEY']{})"
    cells = [
        "%xmode Verbose",
        "import os\nfrom memories_magics import LoadModel\n" + make.format(".encode()"),  # 1 line
        "import memories_magics.providers.base as base\nbuilt = base.Provider.__init__\n"
        "base.Provider.__init__ = lambda self, config, api_key=None: 1 / 0\n"
        "try:\n    " + make.format("") + "\nfinally:\n    base.Provider.__init__ = built",
        "m = " + make.format("") + "\nm.get_response('hi', seed=None)\n1 / 0",
        "%%llm gpt-4o-mini --seed 1\nhi",  # Ctrl-C mid-stream
        "base.Provider.client(m._provider, 'unexpected')",  # a TypeError in our frames
    ]
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        runs = [kernel.run(cell, interrupt_after=1.0 if "--seed 1" in cell else None)
                for cell in cells]
    errors = [run.error for run in runs[1:]]
    assert [e and e["ename"] for e in errors] == ["UsageError", "ZeroDivisionError",
                                                  "ZeroDivisionError", None, "TypeError"]
    assert errors[0]["traceback"] == [(
        "UsageError: api_key must be a string, not bytes (e.g. api_key=os.environ["
        "'OPENAI_API_KEY'], or a key read with Path(...).read_text().strip())")]
    assert "Secret('***')" in "".join(errors[1]["traceback"]), "the locals print the holder"
    assert runs[4].result["application/vnd.memories-magics.result+json"]["interrupted"]
    saved = json.dumps([run.of_type("stream", "display_data", "update_display_data",
                                    "execute_result", "error") for run in runs],
                       ensure_ascii=False)  # a saved notebook's outputs (its cells are typed)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    for secret in (key, planted_key("openai")):
        at = saved.find(secret)
        assert at < 0, saved[max(0, at - 300):at + 100]
        assert secret.encode() not in stored


@pytest.mark.parametrize("cuts", [(3,), (1, 9), (5, 6, 7, 8), tuple(range(1, 40))])
def test_a_key_split_across_streamed_chunks_never_shows(cuts: tuple[int, ...]) -> None:
    """A server echoing the key token by token: no prefix of what the live view has shown
    holds the key, and the text around it arrives whole."""
    remember("sk-split-ABCDEFGHIJ0123")
    text = "echo: sk-split-ABCDEFGHIJ0123 and s, sk, sk-s (not keys) end"
    mask, shown = StreamMask(), ""
    for start, end in zip((0, *cuts), (*cuts, len(text)), strict=True):
        shown += mask.feed(text[start:end])
        assert "ABCDEFGHIJ0123" not in shown and "sk-split-ABCD" not in shown
    shown += mask.flush()
    assert shown == "echo: *** and s, sk, sk-s (not keys) end"


def test_keys_that_share_a_beginning_are_masked_at_every_cut() -> None:
    """Two keys, one the other's start plus more, echoed in two pieces cut anywhere."""
    remember("sk-twin-AAAA1111", "sk-twin-AAAA1111-BBBB2222")
    text = "a sk-twin-AAAA1111-BBBB2222 b sk-twin-AAAA1111 c sk-twin-AAA d"
    for cut in range(len(text) + 1):
        mask = StreamMask()
        shown = mask.feed(text[:cut])
        assert "AAAA1111" not in shown
        shown += mask.feed(text[cut:]) + mask.flush()
        assert shown == "a *** b *** c sk-twin-AAA d", cut


def test_no_cut_of_a_stream_shows_a_key_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded random keys (some the beginning of another), texts that echo them whole or in
    part, cut anywhere: no key is ever in what has been shown, before or after the flush."""
    import random

    from memories_magics import secrets

    rng = random.Random(20261204)
    for _ in range(400):
        base = "".join(rng.choice("abAB12-_") for _ in range(rng.randint(6, 12)))
        keys = sorted({base, base + "".join(rng.choice("ab12") for _ in range(3)),
                       "".join(rng.choice("abAB12-_") for _ in range(rng.randint(6, 10)))})
        monkeypatch.setattr(secrets, "_known", set(keys))  # these alone, restored after
        monkeypatch.setattr(secrets, "_table", None)
        text = "".join(rng.choice(["x", " é✓ ", "-", "", *keys, *(k[:4] for k in keys)])
                       for _ in range(rng.randint(1, 12)))
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, 8))) \
            if len(text) > 1 else []
        mask, shown = StreamMask(), ""
        for start, end in zip((0, *cuts), (*cuts, len(text)), strict=True):
            shown += mask.feed(text[start:end])
            assert not any(key in shown for key in keys), (text, cuts, shown)
        shown += mask.flush()
        assert not any(key in shown for key in keys), (text, cuts, shown)


def test_a_stream_that_ends_inside_a_key_shows_no_part_of_it() -> None:
    remember("sk-ending-KLMNOPQRST99")
    mask = StreamMask()
    assert mask.feed("the key is sk-ending-KLM") == "the key is "
    assert mask.flush() == "***"
    assert mask.feed("ends with s") == "ends with " and mask.flush() == "s"


# A gateway password with a character urlsplit refuses (NFKC turns the fullwidth number sign
# U+FF03 into "#") but httpx takes.
ODD_PASSWORD = "odd-GATEWAY-pa\uff03ss-31337"


def test_a_base_url_remember_url_failed_on_is_not_skipped_the_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """remember_url adds the URL to _urls before urlsplit raises; the next call skips it, the
    call goes out with the password never remembered, and an echoing gateway shows it."""
    with EchoServer() as echo:
        env = provider_environment(echo.url, write_test_config(tmp_path / "c.json"),
                                   tmp_path / "cache")
        env["OPENAI_BASE_URL"] = env["OPENAI_BASE_URL"].replace(
            "://", f"://gw-user:{ODD_PASSWORD}@")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        engine = Engine(Config.load())
        spec = engine.model("openai:test-model")
        request = engine.request(spec, "hi")
        shown = ""
        for _ in range(2):  # the first call fails on the URL (before the change, every one)
            try:
                response = engine.run(spec, request, cache="off")
            except ProviderError as exc:  # urlsplit's message quotes the netloc
                shown += str(exc)
                continue
            shown += json.dumps(result_bundle(LLMResult(response, spec, request)),
                                ensure_ascii=False)
    basic = base64.b64encode(f"gw-user:{ODD_PASSWORD}".encode()).decode()
    assert basic not in shown and ODD_PASSWORD not in shown, shown[:300]
