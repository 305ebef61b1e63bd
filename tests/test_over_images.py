"""Images per row from Python (``map``/``grid`` with ``attach=``) and in a notebook grid
(``%%compare --over --attach``): the image parts every model gets, through the real OpenAI
and Anthropic SDKs against the fake server; the cache by digest; bad input one line, nothing
sent."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from memories_magics.errors import UsageError
from tests.fakes import FakeLLMServer
from tests.fakes.image_parts import sent_images

HELLO = "Hello from the fake server."


def square(colour: str, size: tuple[int, int] = (20, 20)) -> Image.Image:
    return Image.new("RGB", size, colour)


def photos() -> pd.DataFrame:
    """Three rows; the third has the first's text and pixels (another object)."""
    red = square("red", (40, 30))
    return pd.DataFrame({"name": ["a", "b", "a"], "photo": [red, square("green"), red.copy()]})


def wire(request) -> tuple[str, list[str], list[tuple[int, int]], str]:
    """(provider, part types, image sizes, text) of the last user message a request sent."""
    provider = "anthropic" if request.path == "/v1/messages" else "openai"
    content = request.body["messages"][-1]["content"]
    text = "".join(p.get("text", "") for p in content if p["type"] == "text")
    return (provider, [p["type"] for p in content],
            [i.size for i in sent_images(request.body, provider)], text)


def models(engine):
    from memories_magics import LoadModel

    return (LoadModel("openai", "api", "gpt-4o-mini", engine=engine),
            LoadModel("anthropic", "api", "claude-3-5-haiku-latest", engine=engine))


def test_map_sends_each_rows_image_and_caches_it_by_digest(engine, fake) -> None:
    mini, _ = models(engine)
    ask = {"concurrency": 1, "progress": False}
    out = mini.map("Describe {name}.", photos(), attach="photo", **ask)
    # A request per row, its photo before its text; the third row (same pixels, same text)
    # is a cache hit of the first.
    assert [wire(r) for r in fake.requests] == [
        ("openai", ["image_url", "text"], [(40, 30)], "Describe a."),
        ("openai", ["image_url", "text"], [(20, 20)], "Describe b.")]
    assert list(out["text"]) == [HELLO] * 3 and list(out["status"]) == ["done", "done", "cached"]
    again = mini.map("Describe {name}.", photos(), attach="photo", **ask)
    assert list(again["status"]) == ["cached"] * 3 and len(fake.requests) == 2
    # Other pixels under the same text are a miss; the rows with the old pixels are hits.
    other = photos()
    other.loc[1, "photo"] = square("blue")
    assert list(mini.map("Describe {name}.", other, attach="photo", **ask)["status"]) == [
        "cached", "done", "cached"]
    assert len(fake.requests) == 3 and wire(fake.requests[-1])[2] == [(20, 20)]
    assert sent_images(fake.requests[-1].body)[0].getpixel((0, 0)) == (0, 0, 255)


def test_map_attaches_a_column_and_a_namespace_image_or_images_for_every_row(
        engine, fake) -> None:
    mini, _ = models(engine)
    logo = square("blue", (10, 10))
    ask = {"concurrency": 1, "progress": False}
    mini.map("Describe {name}.", photos()[:2], attach="photo,logo", namespace={"logo": logo},
             **ask)
    mini.map("Which is it?", ["x", "y"], attach=logo, **ask)
    mini.map("Which is it?", ["z"], attach=[logo, square("red", (5, 5))], **ask)
    mini.map("Describe it.", [square("red", (7, 7))], attach="item", **ask)  # a list of images
    mini.map("Is {name} in {photo}?", photos()[:1], **ask)  # placed where the template says
    assert [wire(r) for r in fake.requests] == [
        ("openai", ["image_url", "image_url", "text"], [(40, 30), (10, 10)], "Describe a."),
        ("openai", ["image_url", "image_url", "text"], [(20, 20), (10, 10)], "Describe b."),
        ("openai", ["image_url", "text"], [(10, 10)], "Which is it?"),
        # x and y render the same prompt with the same image: the second is a cache hit.
        ("openai", ["image_url", "image_url", "text"], [(10, 10), (5, 5)], "Which is it?"),
        ("openai", ["image_url", "text"], [(7, 7)], "Describe it."),
        ("openai", ["text", "image_url", "text"], [(40, 30)], "Is a in ?")]


def test_grid_sends_the_images_to_every_model(engine, fake) -> None:
    from memories_magics import MultiModelInference

    both = MultiModelInference(list(models(engine)))
    ask = {"concurrency": 1, "progress": False}
    grid = both.grid("Describe {name}.", photos(), attach="photo", **ask)
    assert sorted(wire(r) for r in fake.requests) == [
        ("anthropic", ["image", "text"], [(20, 20)], "Describe b."),
        ("anthropic", ["image", "text"], [(40, 30)], "Describe a."),
        ("openai", ["image_url", "text"], [(20, 20)], "Describe b."),
        ("openai", ["image_url", "text"], [(40, 30)], "Describe a.")]
    assert list(grid["status"]) == ["done", "done", "done", "done", "cached", "cached"]
    assert list(grid["text"]) == [HELLO] * 6
    again = both.grid("Describe {name}.", photos(), attach="photo", **ask)
    assert list(again["status"]) == ["cached"] * 6 and len(fake.requests) == 4
    other = photos()[:1]
    other.loc[0, "photo"] = square("red", (41, 30))  # one column more: other pixels
    assert list(both.grid("Describe {name}.", other, attach="photo", **ask)["status"]) == [
        "done", "done"]
    assert sorted(wire(r)[:3] for r in fake.requests[4:]) == [
        ("anthropic", ["image", "text"], [(41, 30)]), ("openai", ["image_url", "text"], [(41, 30)])]


@pytest.mark.parametrize("data,attach,message", [
    (pd.DataFrame({"photo": [square("red"), "nope.png"]}), "photo",
     ("row 1: --attach photo: 'nope.png' is text, not an image file (no such file); attach a "
      "PIL image, a matplotlib Figure, a numpy array")),
    (pd.DataFrame({"photo": [square("red"), None]}), "photo",
     "row 1: --attach photo is a NoneType, not an image; attach a PIL image"),
    (photos(), 5, "attach[0] is a int, not an image; attach a PIL image"),
    (photos(), [square("red"), {"a": 1}], "attach[1] is a dict, not an image; attach a PIL"),
    (photos(), b"not an image", "attach[0] is not a PNG, JPEG, GIF or WebP image; attach a"),
    (photos(), "phot", ("attach='phot': data has no column 'phot' (its columns: name, "
                        "photo); for an image file, attach=[path]")),
    (photos(), photos()["photo"], ("attach= takes a column's name for each row's image "
                                   "(attach='photo') or images for every row, not a Series")),
])
@pytest.mark.parametrize("grid", [False, True])
def test_bad_attach_is_one_line_before_anything_is_sent(engine, fake, data, attach, message,
                                                        grid) -> None:
    from memories_magics import MultiModelInference

    mini, haiku = models(engine)
    run = MultiModelInference([mini, haiku]).grid if grid else mini.map
    with pytest.raises(UsageError) as caught:
        run("Describe {name}." if "name" in data else "Describe it.", data, attach=attach,
            progress=False)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not fake.requests


def test_attach_on_a_model_that_can_not_see_is_its_one_line(engine, fake) -> None:
    from memories_magics import LoadModel, MultiModelInference

    local = LoadModel("local", "local", "smollm2", engine=engine)
    for run in (local.map, MultiModelInference([models(engine)[0], local]).grid):
        with pytest.raises(UsageError) as caught:
            run("Describe {name}.", photos(), attach="photo", progress=False)
        assert str(caught.value).startswith("smollm2 can't see images (supports_vision is "
                                            "false for it in model_config.json)")
    assert not fake.requests


def test_compare_over_attach_sends_each_rows_image_to_every_model(fake: FakeLLMServer,
                                                                  tmp_path) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    env = provider_environment(fake.url, write_test_config(tmp_path / "config.json"),
                               tmp_path / "cache")
    cell = ("%%compare gpt-4o-mini claude-haiku --over df --attach photo -o out "
            "--concurrency 1\nDescribe {name}.")
    with Kernel(env) as kernel:
        assert kernel.run("%load_ext memories_magics\nimport pandas as pd\nfrom PIL import "
                          "Image\nred = Image.new('RGB', (40, 30), 'red')\n"
                          "df = pd.DataFrame({'name': ['a', 'b', 'a'], 'photo': [red, "
                          "Image.new('RGB', (20, 20), 'green'), red.copy()]})").error is None
        first = kernel.run(cell)
        rows = kernel.frame()
        again = kernel.run(cell)
        rows_again = kernel.frame()
    assert first.error is None and again.error is None
    assert sorted(wire(r) for r in fake.requests) == [
        ("anthropic", ["image", "text"], [(20, 20)], "Describe b."),
        ("anthropic", ["image", "text"], [(40, 30)], "Describe a."),
        ("openai", ["image_url", "text"], [(20, 20)], "Describe b."),
        ("openai", ["image_url", "text"], [(40, 30)], "Describe a.")]
    assert [r["status"] for r in rows] == ["done"] * 4 + ["cached"] * 2
    assert [r["status"] for r in rows_again] == ["cached"] * 6
