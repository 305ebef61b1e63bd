"""``{Out[n]}`` in a prompt places cell n's value as an image when it is one: an
IPython.display.Image, a PIL image and a matplotlib Figure returned as cell values, through
the openai SDK in a real kernel against the fake server."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import provider_environment, write_test_config
from tests.fakes import FakeLLMServer
from tests.fakes.image_parts import sent_images

SETUP = """%load_ext memories_magics
import io
import matplotlib.pyplot as plt
from IPython.display import Image as Shown
from PIL import Image
buffer = io.BytesIO()
Image.new('RGB', (12, 10), 'blue').save(buffer, format='PNG')
"""


def test_out_n_places_each_image_value_where_it_is_in_the_prompt(
        fake: FakeLLMServer, tmp_path: Path) -> None:
    from tests.kernel import Kernel

    env = provider_environment(fake.url, write_test_config(tmp_path / "config.json"),
                               tmp_path / "cache")
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        numbers = []
        for value in ("Image.new('RGB', (40, 30), 'red')", "Shown(data=buffer.getvalue())",
                      "fig, axes = plt.subplots(figsize=(2, 1), dpi=50); axes.plot([1, 2]); fig",
                      "'just text'"):
            run = kernel.run(value)
            assert run.error is None and run.result is not None, run.error
            numbers.append(run.reply["execution_count"])
        pil, shown, figure, text = numbers
        run = kernel.run(f"%%llm gpt-4o-mini\nCompare {{Out[{pil}]}} and {{Out[{shown}]}} "
                         f"with {{Out[{figure}]}}, not {{Out[{text}]}}.")
    assert run.error is None, run.error
    body = fake.requests[-1].body
    content = body["messages"][-1]["content"]
    assert [p["type"] for p in content] == \
        ["text", "image_url", "text", "image_url", "text", "image_url", "text"]
    assert [p["text"] for p in content if p["type"] == "text"] == \
        ["Compare ", " and ", " with ", ", not just text."]
    images = sent_images(body)
    assert [i.size for i in images] == [(40, 30), (12, 10), (100, 50)]
    assert [i.convert("RGB").getpixel((0, 0)) for i in images[:2]] == [(255, 0, 0), (0, 0, 255)]
    assert run.result["text/plain"].startswith(
        f"[sent 3 images: {{Out[{pil}]}} (40×30), {{Out[{shown}]}} (12×10), "
        f"{{Out[{figure}]}} (100×50)]")
