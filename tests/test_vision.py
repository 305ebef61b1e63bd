"""Images in prompts (``--attach``, ``{img}``): every provider's image parts through its real
SDK against the fake servers, which refuse malformed parts as the APIs do; the cache key by
image digest; hostile inputs each one line."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memories_magics.engine import Engine
from memories_magics.errors import UsageError
from memories_magics.images import MAX_SOURCE_PIXELS, Prompt, prompt_with_images
from memories_magics.vocabulary import COMPARE_MIME, RESULT_MIME
from tests.fakes import FakeLLMServer
from tests.fakes.image_parts import sent_images


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def square(colour: str, size: int = 64) -> Image.Image:
    return Image.new("RGB", (size, size), colour)


def ask(engine: Engine, model: str, prompt: str | Prompt, **options: object):
    spec = engine.model(model)
    request = engine.request(spec, prompt)
    return engine.run(spec, request, **options), request


@pytest.mark.parametrize("model,provider,mistral", [
    ("openai:gpt-4o-mini", "openai", False),
    ("anthropic:claude-3-5-haiku-latest", "anthropic", False),
    ("mistral:pixtral-12b", "mistral", True),
    ("cohere:command-a-vision", "cohere", False),
])
@pytest.mark.parametrize("stream", [True, False])
def test_each_provider_sends_text_image_text_image_in_its_wire_format(
        engine, fake: FakeLLMServer, model, provider, mistral, stream) -> None:
    namespace = {"before": square("red"), "after": square("blue", 32)}
    prompt = prompt_with_images("Compare {before} with {after}.", namespace)
    response, request = ask(engine, model, prompt, stream=stream)
    assert fake.requests[-1].reply.status == 200, fake.requests[-1].reply.error_message
    assert response.text == "Hello from the fake server." and response.complete
    body = fake.requests[-1].body
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    assert [p["type"] for p in content] == (
        ["text", "image", "text", "image", "text"] if provider == "anthropic"
        else ["text", "image_url", "text", "image_url", "text"])
    assert [p.get("text") for p in content if p["type"] == "text"] == \
        ["Compare ", " with ", "."]
    images = sent_images(body, provider, mistral)
    assert [(i.size, i.convert("RGB").getpixel((0, 0))) for i in images] == \
        [((64, 64), (255, 0, 0)), ((32, 32), (0, 0, 255))]
    assert request.prompt == "Compare  with ."


def test_the_fake_server_refuses_an_image_part_in_the_wrong_shape(fake: FakeLLMServer) -> None:
    import openai

    client = openai.OpenAI(api_key="k", base_url=fake.url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="base64 data URL"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])


def test_deepseek_sends_images_only_when_model_config_says_its_model_sees(
        engine, fake: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prompt = prompt_with_images("Describe.", {"fig": square("green")}, "fig")
    with pytest.raises(UsageError, match=r"deepseek-chat can't see images.*gpt-4o-mini"):
        ask(engine, "deepseek:deepseek-chat", prompt)
    config = tmp_path / "vision.json"
    config.write_text(json.dumps({"global_settings": {"max_retries": 0}, "models": {
        "ds-vision": {"provider": "deepseek", "name": "deepseek-vl",
                      "config": {"supports_vision": True}}}}))
    monkeypatch.setenv("MEMORIES_MAGICS_CONFIG", str(config))
    from memories_magics.config import Config

    ask(Engine(Config.load()), "ds-vision", prompt)
    assert fake.requests[-1].path == "/chat/completions"
    assert [i.size for i in sent_images(fake.requests[-1].body)] == [(64, 64)]


def test_a_local_model_can_not_see_and_says_which_models_can(engine) -> None:
    prompt = prompt_with_images("Describe.", {"fig": square("green")}, "fig")
    with pytest.raises(UsageError, match=r"smollm2 can't see images.*use a vision model such as "
                                         r"gpt-4o-mini"):
        engine.request(engine.model("smollm2"), prompt)


def test_the_same_image_is_a_cache_hit_a_different_one_a_miss(engine, fake) -> None:
    def run(image: Image.Image, name: str = "fig"):
        return ask(engine, "gpt-4o-mini", prompt_with_images("Describe it.", {name: image}, name))

    first, request = run(square("red"))
    again, _ = run(square("red"), "renamed")  # another variable, the same pixels
    other, _ = run(square("red", 65))
    assert (first.cached, again.cached, other.cached) == (False, True, False)
    assert len(fake.requests) == 2
    digest = request.attachments[0].sha256
    assert digest in request.canonical() and "base64" not in request.canonical()
    stored = "".join(p.read_text("utf-8", "replace") for p in
                     Path(engine.cache().directory).rglob("*") if p.is_file())
    assert digest in stored, "the record names the image by its digest"
    assert request.attachments[0].base64()[:40] not in stored, "never the image itself"


def test_a_prompt_without_images_is_the_text_it_always_was() -> None:
    assert prompt_with_images("Explain {x} {{x}}.", {"x": "tides"}) == "Explain tides {x}."


def test_attach_accepts_every_documented_kind(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.display import Image as IPythonImage

    figure, axes = plt.subplots(figsize=(2, 1), dpi=50)
    axes.plot([1, 2, 3])
    (tmp_path / "a.webp").write_bytes(b"")
    square("red").save(tmp_path / "a.webp", format="WEBP")
    square("red").save(tmp_path / "a.gif", format="GIF")
    square("red").save(tmp_path / "a.jpg", format="JPEG")
    values = {"pil": Image.new("LA", (5, 4)), "fig": figure,
              "gray": np.zeros((4, 5)), "rgb": np.zeros((4, 5, 3), np.uint8),
              "rgba": np.ones((4, 5, 4), np.float32), "raw": png(square("red", 5)),
              "ipy": IPythonImage(data=png(square("red", 5))), "webp": tmp_path / "a.webp",
              "gif": str(tmp_path / "a.gif"), "jpeg": (tmp_path / "a.jpg").read_bytes()}
    prompt = prompt_with_images("Look.", values, ",".join(values))
    assert isinstance(prompt, Prompt)
    sizes = {p.name: (p.image.size, p.image.mode) for p in prompt.pictures}
    assert sizes["pil"] == ((5, 4), "RGBA") and sizes["fig"] == ((100, 50), "RGBA")
    assert sizes["gray"] == ((5, 4), "RGB") and sizes["rgba"] == ((5, 4), "RGBA")
    assert sizes["webp"][0] == sizes["gif"][0] == sizes["jpeg"][0] == (64, 64)
    plt.close(figure)


def test_arrays_bytes_and_paths_in_the_prompt_stay_text() -> None:
    prompt = prompt_with_images("{arr} {path}", {"arr": np.zeros(2), "path": "/tmp/x.png"})
    assert prompt == "[0. 0.] /tmp/x.png"


BOUND = f"{MAX_SOURCE_PIXELS:,}"


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels."""
    data = bytearray(png(Image.new("L", (1, 1))))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


@pytest.mark.parametrize("value,message", [
    ("no such picture", "'no such picture' is text, not an image file .*attach a PIL image"),
    (Path("/etc/passwd"), "is not a PNG, JPEG, GIF or WebP image; attach a PIL image"),
    ("/etc", "is text, not an image file"),
    ("a\x00b", "is text, not an image file"),
    (png(square("red"))[:60], "the PNG image can't be read .*is the file complete"),
    (bomb_png(20_000, 20_000), f"claims more than {MAX_SOURCE_PIXELS:,} pixels"),
    (bomb_png(9_000, 10_000), "a decompression bomb"),
    (Image.new("1", (10_000, 9_000)), f"a 10000×9000 image is too big to send .over {BOUND}"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "can't be read"),
    (np.zeros((3, 3, 2)), r"shape \(3, 3, 2\) is not an image"),
    (np.array(["a"]), r"shape \(1,\) is not an image"),
    (np.zeros((2, 2), complex), "complex128 is not an image"),
    (42, "is a int, not an image"),
])
def test_bad_attachments_are_one_line_naming_the_value(value, message) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        prompt_with_images("Look.", {"thing": value}, "thing")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("--attach thing")


def test_a_dataframe_is_named_with_the_accepted_types() -> None:
    import pandas as pd

    with pytest.raises(UsageError, match="--attach table is a DataFrame, not an image; attach "
                                         "a PIL image, a matplotlib Figure"):
        prompt_with_images("Look.", {"table": pd.DataFrame({"a": [1]})}, "table")


def test_attach_names_must_be_defined_and_not_empty() -> None:
    with pytest.raises(UsageError, match="--attach nope: name 'nope' is not defined"):
        prompt_with_images("Look.", {}, "nope")
    with pytest.raises(UsageError, match="name notebook variables"):
        prompt_with_images("Look.", {"a": square("red")}, "a,")


def test_a_huge_image_is_sized_down_and_one_too_big_after_sizing_is_one_line(
        engine, fake) -> None:
    ask(engine, "claude-haiku", prompt_with_images("Look.", {"big": square("red", 4000)}, "big"))
    assert [i.size for i in sent_images(fake.requests[-1].body, "anthropic")] == [(1568, 1568)]
    noise = np.random.default_rng(0).integers(0, 256, (1600, 1600, 3), np.uint8)
    with pytest.raises(UsageError, match=r"--attach noise: \d+\.\d MB as a PNG of 1568×1568, "
                                         "over anthropic's 5 MB per image"):
        ask(engine, "claude-haiku", prompt_with_images("Look.", {"noise": noise}, "noise"))


def test_a_request_rebuilt_from_its_record_has_the_digest_but_not_the_bytes(engine) -> None:
    from memories_magics.types import Request

    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, prompt_with_images("Look.", {"a": square("red")}, "a"))
    rebuilt = Request.from_record(json.loads(json.dumps(request.as_record())))
    assert rebuilt.cache_key() == request.cache_key() and not rebuilt.attachments
    with pytest.raises(UsageError, match=r"not in memory.*re-run the cell"):
        rebuilt.attachment(request.attachments[0].sha256)
    assert "attachments" not in request.as_record() and '"attachments"' not in request.canonical()
    with pytest.raises(ValueError, match="request fields"):  # nor read back from a record
        Request.from_record({**request.as_record(), "attachments": []})


def test_attach_in_llm_and_compare_cells_of_a_real_kernel(fake: FakeLLMServer, tmp_path) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    env = provider_environment(fake.url, write_test_config(tmp_path / "config.json"),
                               tmp_path / "cache")
    with Kernel(env) as kernel:
        assert kernel.run("%load_ext memories_magics\nfrom PIL import Image\n"
                          "fig = Image.new('RGB', (40, 30), 'red')").error is None
        llm = kernel.run("%%llm gpt-4o-mini --attach fig\nDescribe the chart.")
        both = kernel.run("%%compare gpt-4o-mini claude-haiku --attach fig\nDescribe it.")
        local = kernel.run("%%llm smollm2 --attach fig\nDescribe it.")
        wrong = kernel.run("%%llm gpt-4o-mini --attach nothing_here\nDescribe it.")
        plain = kernel.run("%%llm gpt-4o-mini\nDescribe nothing.")
    assert llm.error is None and both.error is None
    assert len(fake.requests) == 4
    assert sorted(r.path for r in fake.requests[:3]) == \
        ["/v1/chat/completions"] * 2 + ["/v1/messages"]
    assert all([i.size for i in sent_images(r.body, "anthropic" if r.path == "/v1/messages"
                                            else "openai")] == [(40, 30)]
               for r in fake.requests[:3])
    for run in (llm, both):
        assert run.result["text/html"].startswith('<div class="memories-magics-sent"><img src='
                                                  '"data:image/png;base64,')
        assert run.result["text/plain"].startswith("[sent 1 image: fig (40×30)]")
    # The extension's payloads carry the same thumbnail: the result's, and the comparison's
    # once at its top (none in its columns); a cell without images has no "sent".
    from tests.test_payload_schema import validate

    answer, compared = llm.result[RESULT_MIME], both.result[COMPARE_MIME]
    validate(answer, "result")
    validate(compared, "compare")
    url = llm.result["text/html"].split('<img src="')[1].split('"')[0]
    assert answer["sent"] == [{"name": "fig", "width": 40, "height": 30, "url": url}]
    assert compared["sent"] == answer["sent"]
    assert not any("sent" in column for column in compared["results"])
    assert plain.error is None and "sent" not in plain.result[RESULT_MIME]
    assert "smollm2 can't see images" in local.one_line_error()
    assert "name 'nothing_here' is not defined" in wrong.one_line_error()


def test_thumbnails_of_what_was_sent_are_above_the_answer_and_inert(engine, fake) -> None:
    import base64
    import re
    from html.parser import HTMLParser

    from memories_magics.display.render import result_bundle
    from memories_magics.result import LLMResult
    from tests.fakes import Reply

    class Images(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.images: list[dict[str, str | None]] = []
            self.first: str | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.first = self.first or tag
            if tag == "img":
                self.images.append(dict(attrs))

    fake.script(Reply(text='![x](https://evil.example/p.png) <img src=x onerror="alert(1)">'))
    spec = engine.model("gpt-4o-mini")
    prompt = prompt_with_images("Compare {a} with {b}.", {"a": square("red", 400),
                                                         "b": square("blue", 20)})
    request = engine.request(spec, prompt)
    bundle = result_bundle(LLMResult(engine.run(spec, request), spec, request))
    parser = Images()
    parser.feed(bundle["text/html"])
    assert parser.first == "div", "the thumbnails come first, above the answer"
    assert [i["alt"] for i in parser.images] == ["{a}", "{b}"]
    for attrs in parser.images:
        assert set(attrs) == {"src", "alt", "title", "style"}, attrs
        match = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", attrs["src"] or "")
        assert match, attrs["src"]
        assert max(Image.open(io.BytesIO(base64.b64decode(match.group(1)))).size) <= 96
    assert "evil.example" not in "".join(str(i) for i in parser.images)
    assert bundle["text/plain"].startswith("[sent 2 images: {a} (400×400), {b} (20×20)]")


def test_the_largest_thumbnail_fits_what_the_extension_shows() -> None:
    """Incompressible RGBA noise, the worst case for PNG: its thumbnail stays within the
    payload schema's maxLength, matches its pattern and declares at most thumbnail_side
    pixels a side in its header (the extension drops anything else)."""
    import re
    from importlib.resources import files

    from memories_magics.display.thumbnails import thumbnail_url
    from memories_magics.vocabulary import THUMBNAIL_SIDE

    rule = json.loads(files("memories_magics").joinpath("payload.schema.json").read_text())[
        "definitions"]["sentImage"]["properties"]["url"]
    noise = np.random.default_rng(0).integers(0, 256, (500, 500, 4), dtype=np.uint8)
    url = thumbnail_url(png(Image.fromarray(noise, "RGBA")))
    assert len(url) <= rule["maxLength"] and re.fullmatch(rule["pattern"], url)
    import base64

    head = base64.b64decode(url.split(",", 1)[1][:32])
    assert head[:16] == b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    assert struct.unpack(">II", head[16:24]) == (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    # Even stored raw (zlib's worst case), side × side RGBA pixels fit in maxLength.
    raw = THUMBNAIL_SIDE * (1 + 4 * THUMBNAIL_SIDE) * 1.001 + 200
    assert raw * 4 / 3 + len("data:image/png;base64,") < rule["maxLength"]


def test_the_python_api_sends_images_and_caches_them_by_digest(engine, fake) -> None:
    from memories_magics import LoadModel

    model = LoadModel("openai", "api", "gpt-4o-mini", engine=engine)
    first = model.get_response("Describe it.", images=[square("red"), png(square("blue", 32))])
    assert first["text"] == "Hello from the fake server." and not first["cached"]
    body = fake.requests[-1].body
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    assert [p["type"] for p in content] == ["image_url", "image_url", "text"]
    assert content[-1]["text"] == "Describe it."
    assert [(i.size, i.getpixel((0, 0))) for i in sent_images(body)] == \
        [((64, 64), (255, 0, 0)), ((32, 32), (0, 0, 255))]
    again = model.get_response("Describe it.", images=[square("red"), square("blue", 32)])
    other = model.get_response("Describe it.", images=[square("red")])
    assert (again["cached"], other["cached"]) == (True, False)
    assert len(fake.requests) == 2
    assert model.get_response("Describe it.", images=[])["text"]  # no images: the text alone
    assert "image_url" not in json.dumps(fake.requests[-1].body)


@pytest.mark.parametrize("images,message", [
    (square("red"), "images= takes a list of images, e.g. images=[fig], not a Image"),
    ("photo.png", "images= takes a list of images, e.g. images=[fig], not a str"),
    ([b"not an image"], "images[0] is not a PNG, JPEG, GIF or WebP image"),
    ([square("red"), {"a": 1}], "images[1] is a dict, not an image"),
])
def test_bad_images_in_the_python_api_are_one_line(engine, fake, images, message) -> None:
    from memories_magics import LoadModel

    model = LoadModel("openai", "api", "gpt-4o-mini", engine=engine)
    with pytest.raises(UsageError) as caught:
        model.get_response("Describe it.", images=images)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not fake.requests


def test_the_python_api_refuses_images_for_a_model_that_can_not_see(engine) -> None:
    from memories_magics import LoadModel

    with pytest.raises(UsageError, match="can't see images"):
        LoadModel("local", "local", "smollm2", engine=engine).get_response(
            "Describe it.", images=[square("red")])


OVER_SETUP = """%load_ext memories_magics
import pandas as pd
from PIL import Image
red, green = Image.new('RGB', (40, 30), 'red'), Image.new('RGB', (20, 20), 'green')
logo = Image.new('RGB', (10, 10), 'blue')
df = pd.DataFrame({'name': ['a', 'b', 'a'], 'photo': [red, green, red.copy()]})
bad = pd.DataFrame({'photo': [red, 'nope.png']})
"""


def test_attach_with_over_sends_each_rows_images(fake: FakeLLMServer, tmp_path) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    env = provider_environment(fake.url, write_test_config(tmp_path / "config.json"),
                               tmp_path / "cache")
    cell = ("%%llm gpt-4o-mini --over df --attach photo,logo -o out --concurrency 1\n"
            "Describe {name}.")
    with Kernel(env) as kernel:
        assert kernel.run(OVER_SETUP).error is None
        first = kernel.run(cell)
        rows = kernel.frame()
        asked = len(fake.requests)
        again = kernel.run(cell)
        rows_again = kernel.frame()
        placed = kernel.run("%%llm gpt-4o-mini --over df --concurrency 1\nIs {name} in {photo}?")
        bad = kernel.run("%%llm gpt-4o-mini --over bad --attach photo\nDescribe it.")
        local = kernel.run("%%llm smollm2 --over df --attach photo\nDescribe it.")
    assert first.error is None and again.error is None and placed.error is None
    # A request per row with that row's photo and the notebook's logo, then the text; the
    # third row (other pixels object, same pixels, same text) is a cache hit of the first.
    assert asked == 2
    for request, size in zip(fake.requests[:2], [(40, 30), (20, 20)], strict=True):
        content = request.body["messages"][-1]["content"]
        assert [p["type"] for p in content] == ["image_url", "image_url", "text"]
        assert [i.size for i in sent_images(request.body)] == [size, (10, 10)]
    assert [r.body["messages"][-1]["content"][-1]["text"] for r in fake.requests[:2]] == \
        ["Describe a.", "Describe b."]
    assert [r["text"] for r in rows] == ["Hello from the fake server."] * 3
    assert [r["status"] for r in rows] == ["done", "done", "cached"]
    # The same images again are cache hits: nothing more was asked.
    assert [r["status"] for r in rows_again] == ["cached"] * 3
    # {photo} places each row's image where it is in the template.
    assert len(fake.requests) == asked + 2
    content = fake.requests[-1].body["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "text"]
    # A row that is no image, or a model that can't see: one line, nothing sent.
    assert bad.one_line_error().startswith(
        "row 1: --attach photo: 'nope.png' is text, not an image")
    assert "smollm2 can't see images" in local.one_line_error()
