"""nbconvert's HTML of a shipped notebook, in Chromium: what a reader of an export sees.

No widget view and no extension there: the comparison's columns, aggregate and diff must be
visible text (not a blank ``Out[n]`` waiting for a CDN), the answers as the models wrote them,
with the network cut off. Screenshots (light and dark) go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser.test_lab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing (apt-get install chromium)")

NOTEBOOK = ROOT / "notebooks" / "compare.ipynb"


def _compare_payloads() -> list[dict]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return [output["data"]["application/vnd.memories-magics.compare+json"]
            for cell in cells for output in cell.get("outputs", [])
            if "application/vnd.memories-magics.compare+json" in output.get("data", {})]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_exported_comparisons_are_visible_text(tmp_path: Path, theme: str) -> None:
    nbconvert = pytest.importorskip("nbconvert")
    nbformat = pytest.importorskip("nbformat")
    exporter = nbconvert.HTMLExporter(theme=theme)
    html, _ = exporter.from_notebook_node(nbformat.read(NOTEBOOK, as_version=4))
    page_file = tmp_path / "compare.html"
    page_file.write_text(html)

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        # Offline, as a reader behind a firewall (or this test) is: nbconvert's template asks
        # CDNs for require.js, MathJax and the widget manager; none of them may be needed.
        blocked: list[str] = []

        def offline(route) -> None:
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        page.goto(page_file.as_uri())
        outputs = page.locator(".jp-OutputArea-output")
        # No output is a widget view (it needs a CDN and a kernel: blank in an export).
        assert page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count() == 0
        shown = page.locator("body").inner_text()
        payloads = _compare_payloads()
        assert len(payloads) >= 3
        for payload in payloads:
            for column in payload["results"]:
                # Every column's model and the start of its answer (or its error) are on screen.
                assert column["model"] in shown
                words = " ".join((column["text"] or column["error"] or "").split()[:6])
                assert words in " ".join(shown.split()), (column["model"], words)
            if payload["aggregate"]:
                assert payload["aggregate"]["line"] in shown
        assert shown.count("Diff (") >= len(payloads)
        # The word diff marks removed and added words (coloured by the output's own style).
        marks = page.locator(".memories-magics-static-diff del").first
        assert marks.is_visible()
        assert marks.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
        assert outputs.filter(has_text="Loading widget").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"nbconvert-compare-{theme}.png"), full_page=True)
        browser.close()
    assert all(url.startswith(("https://cdnjs.", "https://unpkg.")) for url in blocked), blocked
