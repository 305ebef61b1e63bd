"""JupyterLab in a real browser: our labextension renders %%llm and %%compare outputs.

Starts JupyterLab from this environment on a free port (with a token) in a temporary
directory holding a notebook, points the OpenAI provider at the fake provider server (the
kernels inherit the server's environment), and drives Debian's Chromium through Playwright:
runs the notebook (the embedded local model, a hostile answer, a code answer, a comparison),
then checks the rendered DOM, the "insert as code cell" button, the command palette and the
kernel commands. Screenshots go to test-artifacts/ (gitignored).

Needs /usr/bin/chromium (``./dev test`` installs it as root); skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeLLMServer, Reply

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing (apt-get install chromium)")

HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
           "[x](javascript:window.__pwned=3) and ![pixel](http://127.0.0.1:9/pixel.png)")
#: Model text that must show as written (raw HTML as text), with Markdown still formatting.
AS_WRITTEN = "**Note:** a<b and b>c, <div>x</div> <br> <start_of_image> `a < b && c`"
CODE_ANSWER = "Here you go:\n\n```python\nprint(6 * 7)\n```\n"
COMPARE_ANSWER = "Blue, green and red are three colours."

CELLS = [
    "%load_ext memories_magics",
    "%%llm smollm2 --seed 1 --max-tokens 30\nName three colours.",
    "%%llm openai:gpt-4o-mini\nSay something nasty.",
    "%%llm openai:gpt-4o-mini -f code\nPrint six times seven in Python.",
    ("%%compare smollm2 openai:gpt-4o-mini anthropic:claude-3-5-haiku-latest --seed 1 "
     "--max-tokens 30\nName three colours."),
    "%llm panel smollm2",
]
#: The cells' outputs our renderers draw, by cell index.
LLM_CELLS = {1: "smollm2", 2: "gpt-4o-mini", 3: "gpt-4o-mini"}
COMPARE_CELL = 4
#: Uncaught errors in the page, and every URL it requested.
PAGE_ERRORS: list[str] = []
REQUESTS: list[str] = []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notebook(cells: list[str]) -> dict:
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "source": source,
                   "outputs": [], "execution_count": None} for i, source in enumerate(cells)],
    }


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        # Cells run one after the other, so the OpenAI requests arrive in this order.
        server.script(Reply(text=f"{HOSTILE}\n\n{AS_WRITTEN}"), Reply(text=CODE_ANSWER))
        server.default = Reply(text=COMPARE_ANSWER)
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, provider: FakeLLMServer) -> Iterator[dict]:
    """A JupyterLab server: yields the notebook's URL (with the token) and its directory."""
    home = tmp_path_factory.mktemp("lab")
    work = home / "work"
    work.mkdir()
    (work / "lab.ipynb").write_text(json.dumps(_notebook(CELLS)))
    config_dir = home / "config"
    (config_dir / "labconfig").mkdir(parents=True)
    # No news/announcement toasts over the screenshot.
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # This checkout's build of the extension (if built), ahead of the environment's copy.
    extensions = home / "jupyter-path" / "labextensions"
    extensions.mkdir(parents=True)
    if (ROOT / "memories_magics" / "labextension" / "package.json").exists():
        (extensions / "memories-magics").symlink_to(ROOT / "memories_magics" / "labextension")
    model_config = home / "model_config.json"
    model_config.write_text(json.dumps({"global_settings": {"max_retries": 0, "timeout_s": 20}}))

    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "CO_API_KEY"}
    env.update({
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_PATH": str(home / "jupyter-path"),
        "JUPYTER_DATA_DIR": str(home / "data"),  # the notebook trust database too
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "MEMORIES_MAGICS_CACHE_DIR": str(home / "cache"),
        "MEMORIES_MAGICS_CONFIG": str(model_config),
        "OPENAI_BASE_URL": provider.url + "/v1",
        "OPENAI_API_KEY": "sk-browser-test-not-a-key",
        # No Anthropic key (so its column shows an error), and nothing leaves this machine.
        "ANTHROPIC_BASE_URL": provider.url,
        "DEEPSEEK_BASE_URL": provider.url,
        "COHERE_BASE_URL": provider.url,
        "MISTRAL_BASE_URL": provider.url,
        "PYTHONUNBUFFERED": "1",
    })
    with _serve(home, work, env, "lab") as base_url:
        yield {"url": _url(base_url, "/lab/tree/lab.ipynb"), "dir": work, "home": home,
               "env": env}


@contextlib.contextmanager
def _serve(home: Path, work: Path, env: dict[str, str], name: str,
           app: str = "jupyterlab") -> Iterator[str]:
    """JupyterLab (or ``app="notebook"``: Notebook 7) on ``work`` with ``env``; yields its base
    URL (``?token=`` goes after paths: the URL ends with a placeholder the callers format)."""
    port, token = _free_port(), secrets.token_hex(16)
    log_path = home / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--JupyterNotebookApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + log_path.read_text()[-3000:]) from None
                time.sleep(0.25)
        yield f"{base}/TOKEN{token}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _url(base_url: str, path: str) -> str:
    base, token = base_url.split("/TOKEN")
    return f"{base}{path}?token={token}"


@pytest.fixture(scope="module")
def page(lab: dict) -> Iterator[object]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 2000})
        # Every page of the context (the second JupyterLab's, Notebook 7's too): a cold
        # JupyterLab on a loaded two-core machine can take more than Playwright's 30 s.
        context.set_default_timeout(60_000)
        page = context.new_page()
        PAGE_ERRORS[:] = []
        REQUESTS[:] = []
        page.on("pageerror", lambda error: PAGE_ERRORS.append(f"{error}\n{error.stack}"))
        page.on("request", lambda request: REQUESTS.append(request.url))
        page.goto(lab["url"])
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        # Wait for the kernel, then run every cell.
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
            " window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status"
            " === 'idle'")
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
        started = time.monotonic()
        # Resolves once every cell has run.
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        print(f"\nnotebook ran in {time.monotonic() - started:.1f} s")
        yield page
        context.close()
        browser.close()


def _cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _wait_for_outputs(page) -> None:
    """Until every %%llm cell and the %%compare cell show our renderers' final output."""
    try:
        page.wait_for_function(
            f"document.querySelectorAll('.jp-MemoriesMagics-result .jp-MemoriesMagics-footer')"
            f".length >= {len(LLM_CELLS)} &&"
            " document.querySelector('.jp-MemoriesMagics-compare .jp-MemoriesMagics-diff')")
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "lab-timeout.png"))
        raise


def test_renderers_in_jupyterlab(page) -> None:
    _wait_for_outputs(page)

    # %%llm on the embedded local model: our renderer, with the model in the footer.
    local = _cell(page, 1)
    assert local.locator(".jp-MemoriesMagics-model").first.inner_text() == "smollm2"
    footer = local.locator(".jp-MemoriesMagics-footer").inner_text()
    assert "out tokens" in footer and "$0 (local)" in footer
    assert local.locator(".jp-MemoriesMagics-answer").inner_text().strip()
    assert local.locator("button[data-action='copy']").count() == 1

    # The hostile answer: nothing ran, nothing loaded, its HTML and link show as written.
    hostile = _cell(page, 2)
    assert hostile.locator(".jp-MemoriesMagics-model").first.inner_text() == "gpt-4o-mini"
    output = hostile.locator(".jp-OutputArea")
    assert output.locator("script, img, iframe, object, embed, div.x, br").count() == 0
    assert output.locator("[onerror], [onclick], [onload]").count() == 0
    assert output.locator("a[href^='javascript' i]").count() == 0
    assert output.locator(".jp-MemoriesMagics-blockedImage").count() == 1  # the Markdown image
    answer = output.locator(".jp-MemoriesMagics-answer")
    shown = answer.inner_text()
    assert '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>' in shown
    assert "[x](javascript:window.__pwned=3)" in shown
    # Text as written: raw HTML and special tokens are text, Markdown still formats.
    assert "Note: a<b and b>c, <div>x</div> <br> <start_of_image> a < b && c" in shown
    assert answer.locator("strong").first.inner_text() == "Note:"
    assert answer.locator("code").last.inner_text() == "a < b && c"
    assert answer.locator("div, br").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # No <script> anywhere in the notebook's outputs, and the images were never requested.
    assert page.locator(".jp-Notebook .jp-OutputArea script").count() == 0
    assert not [url for url in REQUESTS if url.endswith("/x") or "pixel.png" in url]

    # A code answer: the code block and "insert as code cell".
    code = _cell(page, 3)
    assert code.locator("pre code").inner_text().strip() == "print(6 * 7)"
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    code.locator("button[data-action='insert-code-cell']").click()
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length"
                           f" === {cells_before + 1}")
    assert "print(6 * 7)" in _cell(page, 4).locator(".jp-InputArea-editor").inner_text()

    # %%compare: one column per model, the failing one shows its error, the aggregate, a diff.
    compare = _cell(page, COMPARE_CELL + 1)
    columns = compare.locator(".jp-MemoriesMagics-column")
    assert columns.count() == 3
    assert columns.nth(0).locator(".jp-MemoriesMagics-model").first.inner_text() == "smollm2"
    assert COMPARE_ANSWER in columns.nth(1).inner_text()
    assert "ANTHROPIC_API_KEY" in columns.nth(2).locator(".jp-MemoriesMagics-error").inner_text()
    assert compare.locator(".jp-MemoriesMagics-aggregate").count() == 1
    diff = compare.locator(".jp-MemoriesMagics-diff")
    assert diff.locator("ins, del").count() > 0
    # Word diff: removed and added words never glued; line diff: one row per line.
    assert page.evaluate("""() => Array.from(
        document.querySelectorAll('.jp-MemoriesMagics-diffText del')).every(d => {
          const next = d.nextSibling;
          return !(next && next.nodeName === 'INS') ||
            /\\s$/.test(d.textContent) || /^\\s/.test(next.textContent);
        })""")
    diff.locator("button[data-mode='line']").click()
    assert diff.locator("button[data-mode='line']").get_attribute("aria-checked") == "true"
    rows = diff.locator(".jp-MemoriesMagics-diffRow")
    assert rows.count() >= 2
    assert {rows.nth(i).inner_text()[:1] for i in range(rows.count())} <= {" ", "-", "+"}

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not PAGE_ERRORS, PAGE_ERRORS

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-NotebookPanel").screenshot(path=str(ARTIFACTS / "lab.png"))


def test_panel_runs_from_clicks(page) -> None:
    """The ipywidgets panel in the browser: type a prompt, click Run, the answer renders in
    the panel through the same renderer; Copy as cell inserts the reproducible cell below."""
    _wait_for_outputs(page)
    panel = page.locator(".memories-magics-panel")
    panel.wait_for()
    assert "smollm2" in panel.locator("select").first.inner_text()
    panel.locator("textarea").first.fill("Name one colour.")
    panel.locator("button", has_text="Run").click()
    answer = panel.locator(".jp-MemoriesMagics-result .jp-MemoriesMagics-footer")
    answer.wait_for()
    assert "smollm2" in answer.inner_text()
    # Copy as cell: the extension inserts the cell below the panel's, in edit mode.
    notebook = "window.jupyterapp.shell.currentWidget.content"
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    panel.locator("button", has_text="Copy as cell").click()
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length"
                           f" === {cells_before + 1}")
    below = page.evaluate(
        f"{notebook}.widgets.findIndex(c => c.node.querySelector('.memories-magics-panel')) + 1")
    assert page.evaluate(f"{notebook}.widgets[{below}].model.sharedModel.getSource()") == \
        "%%llm smollm2\nName one colour."
    page.wait_for_function(f"{notebook}.mode === 'edit' && {notebook}.activeCellIndex === {below}"
                           " && document.activeElement.closest('.jp-Cell .cm-editor')",
                           timeout=3000)
    panel.get_by_text("inserted the cell below the panel").wait_for()
    page.wait_for_timeout(1200)  # past the panel's fallback delay: no text box appears
    assert not panel.locator(".memories-magics-cell").is_visible()
    page.keyboard.press("Escape")
    assert not PAGE_ERRORS, PAGE_ERRORS
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "panel.png"))


CITY_CLASS = ("from pydantic import BaseModel\n\nclass City(BaseModel):\n    name: str\n"
              "    country: str\n    population: int")
CITY = {"name": "<b>Paris</b>", "country": "France", "population": 2102650}


@contextlib.contextmanager
def _extra_cells(page, sources: list[str]) -> Iterator[None]:
    """``sources`` as code cells at the notebook's end, run; removed again afterwards (the
    saved-notebook tests count the notebook's own outputs)."""
    first = page.evaluate("""(sources) => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const cells = nb.model.sharedModel; const n = cells.cells.length;
        sources.forEach((source, i) => cells.insertCell(n + i, {cell_type: 'code', source}));
        nb.activeCellIndex = n;
        return window.jupyterapp.commands.execute('notebook:run-all-below').then(() => n); }""",
                          sources)
    try:
        yield
    finally:
        page.evaluate("([n, k]) => window.jupyterapp.shell.currentWidget.content.model"
                      ".sharedModel.deleteCellRange(n, n + k)", [first, len(sources)])


def test_schema_answer_is_a_table(page, provider: FakeLLMServer) -> None:
    """A --schema cell run in JupyterLab: our renderer draws the validated value as a
    field/value table (model text as text), the raw JSON folded away under it."""
    _wait_for_outputs(page)
    provider.script(Reply(text=json.dumps(CITY)))
    with _extra_cells(page, [CITY_CLASS,
                             "%%llm openai:gpt-4o-mini --schema City\nDescribe Paris."]):
        _check_schema_table(page)


def _check_schema_table(page) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").last
    table = cell.locator(".jp-MemoriesMagics-schema table.jp-MemoriesMagics-valueTable")
    table.wait_for()
    rows = table.evaluate("t => Array.from(t.querySelectorAll('tr'),"
                          " tr => Array.from(tr.children, c => c.textContent))")
    assert rows == [["name", "<b>Paris</b>"], ["country", "France"], ["population", "2102650"]]
    assert table.locator("b").count() == 0
    raw = cell.locator("details.jp-MemoriesMagics-raw")
    assert raw.get_attribute("open") is None
    assert raw.locator("summary").inner_text() == "raw JSON"
    assert json.loads(raw.locator("pre").text_content()) == CITY
    assert "gpt-4o-mini" in cell.locator(".jp-MemoriesMagics-footer").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    cell.screenshot(path=str(ARTIFACTS / "lab-schema.png"))
    assert not PAGE_ERRORS, PAGE_ERRORS


def test_sent_images_are_thumbnails_above_the_answer(page) -> None:
    """%%llm and %%compare --attach in JupyterLab: the image sent shows as a thumbnail (the
    kernel's data URL, decoded by the browser, its box within 96 px) above the answer, and
    once above a comparison's columns; nothing else loads."""
    _wait_for_outputs(page)
    sources = ["from PIL import Image\nfig = Image.new('RGB', (200, 100), 'red')",
               "%%llm openai:gpt-4o-mini --attach fig\nDescribe the chart.",
               ("%%compare openai:gpt-4o-mini anthropic:claude-3-5-haiku-latest --attach fig\n"
                "Describe it.")]
    before = len(REQUESTS)
    with _extra_cells(page, sources):
        cells = page.locator(".jp-Notebook .jp-Cell")
        llm = cells.filter(has_text="Describe the chart.").locator(".jp-OutputArea")
        compare = cells.filter(has_text="%%compare openai:gpt-4o-mini").locator(".jp-OutputArea")
        compare.locator(".jp-MemoriesMagics-compare .jp-MemoriesMagics-column").first.wait_for()
        shown = llm.locator(".jp-MemoriesMagics-result > .jp-MemoriesMagics-sent:first-child img")
        shown.wait_for()
        page.wait_for_function("Array.from(document.querySelectorAll("
                               "'.jp-MemoriesMagics-sent img')).every(i => i.complete)")
        image = shown.evaluate("""img => ({src: img.getAttribute('src').slice(0, 22),
            alt: img.alt, title: img.title, width: img.getAttribute('width'),
            height: img.getAttribute('height'), natural: [img.naturalWidth, img.naturalHeight],
            next: img.parentElement.nextElementSibling.className,
            attributes: img.getAttributeNames().sort()})""")
        assert image == {"src": "data:image/png;base64,", "alt": "fig",
                         "title": "fig (200×100)", "width": "96", "height": "48",
                         "natural": [96, 48], "next": image["next"],
                         "attributes": ["alt", "height", "src", "title", "width"]}
        assert "jp-MemoriesMagics-answer" in image["next"]
        assert llm.locator("img").count() == 1
        top = compare.locator(".jp-MemoriesMagics-compare > .jp-MemoriesMagics-sent:first-child")
        assert top.locator("img").count() == 1 and compare.locator("img").count() == 1
        assert top.locator("img").get_attribute("title") == "fig (200×100)"
        assert compare.locator(".jp-MemoriesMagics-column").count() == 2
        ARTIFACTS.mkdir(exist_ok=True)
        llm.screenshot(path=str(ARTIFACTS / "lab-sent.png"))
    assert not [url for url in REQUESTS[before:]
                if not url.startswith(("http://127.0.0.1:", "data:image/png;base64,"))]
    assert not PAGE_ERRORS, PAGE_ERRORS


def test_commands_and_dark_theme(page) -> None:
    _wait_for_outputs(page)
    commands = ["memories-magics:insert-llm-cell", "memories-magics:insert-compare-cell",
                "memories-magics:clear-cache", "memories-magics:toggle-replay"]
    for command in commands:
        assert page.evaluate(f"window.jupyterapp.commands.hasCommand('{command}')"), command

    # Through the command palette, as a user would.
    _cell(page, 0).locator(".jp-InputPrompt").click()
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("Insert an %%llm cell")
    page.locator(".lm-CommandPalette-item", has_text="Insert an %%llm cell").first.wait_for()
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length"
                           f" === {cells_before + 1}")
    inserted = _cell(page, 1)
    assert inserted.locator(".jp-InputArea-editor").inner_text().startswith("%%llm")
    # The new cell is in edit mode with the cursor on its second line: typing is the prompt,
    # not notebook shortcuts (in command mode "a" and "b" would insert cells, "m" make Markdown).
    # (within a moment: a person can't start typing sooner)
    page.wait_for_function("window.jupyterapp.shell.currentWidget.content.mode === 'edit' &&"
                           " document.activeElement.closest('.jp-Cell .cm-editor')",
                           timeout=3000)
    page.keyboard.type("a bad mood")
    page.wait_for_function("window.jupyterapp.shell.currentWidget.content.activeCell.model"
                           ".sharedModel.getSource().endsWith('a bad mood')")
    assert page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCell.model"
                         ".sharedModel.getSource()") == "%%llm\na bad mood"
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells_before + 1
    page.keyboard.press("Escape")

    # The replay toggle shows the kernel's mode, also after a cell changed it.
    toggled = "window.jupyterapp.commands.isToggled('memories-magics:toggle-replay')"

    def run_in_cell(source: str) -> None:
        page.evaluate("(source) => { const nb = window.jupyterapp.shell.currentWidget.content;"
                      " nb.activeCellIndex = 1; nb.activeCell.model.sharedModel.setSource(source);"
                      " return window.jupyterapp.commands.execute('notebook:run-cell'); }", source)

    assert not page.evaluate(toggled)
    run_in_cell("%llm cache mode replay")
    page.wait_for_function(toggled)
    page.evaluate("window.jupyterapp.commands.execute('memories-magics:toggle-replay')")
    page.wait_for_function(f"!{toggled}")
    page.get_by_text("Cache mode: use").first.wait_for()
    page.evaluate("window.jupyterapp.commands.execute('memories-magics:toggle-replay')")
    page.wait_for_function(toggled)
    run_in_cell("%llm cache mode use")
    page.wait_for_function(f"!{toggled}")
    run_in_cell("%llm cache info")
    page.evaluate("window.jupyterapp.commands.execute('memories-magics:clear-cache',"
                  " {force: true})")
    page.get_by_text("Cleared").first.wait_for()

    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                  " {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    _cell(page, COMPARE_CELL + 2).scroll_into_view_if_needed()
    page.locator(".jp-NotebookPanel").screenshot(path=str(ARTIFACTS / "lab-dark.png"))
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_saved_outputs_render_untrusted(page, lab: dict) -> None:
    """Outputs of a notebook opened from disk are untrusted: our renderers (safe) still draw
    them, and the hostile answer stays inert."""
    _wait_for_outputs(page)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save').then(() => null)")
    saved = json.loads((lab["dir"] / "lab.ipynb").read_text())
    assert any("application/vnd.memories-magics.compare+json" in o.get("data", {})
               for c in saved["cells"] for o in c.get("outputs", []))
    saved["metadata"]["copied"] = True  # a different file content: not signed, so untrusted
    (lab["dir"] / "copy.ipynb").write_text(json.dumps(saved))
    page.evaluate("window.jupyterapp.commands.execute('docmanager:open', {path: 'copy.ipynb'})"
                  ".then(() => null)")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-MemoriesMagics-compare .jp-MemoriesMagics-diff").wait_for()
    assert page.evaluate("window.jupyterapp.shell.currentWidget.context.path") == "copy.ipynb"
    assert page.evaluate(
        "window.jupyterapp.shell.currentWidget.content.widgets.every(c => !c.model.trusted)")
    assert panel.locator(".jp-MemoriesMagics-result").count() == len(LLM_CELLS)
    assert panel.locator(".jp-MemoriesMagics-blockedImage").count() == 1
    assert panel.locator(".jp-OutputArea script, .jp-OutputArea img").count() == 0
    assert "<start_of_image>" in panel.locator(".jp-MemoriesMagics-result").nth(1).inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_saved_outputs_without_the_extension(page, lab: dict) -> None:
    """The same saved notebook in a JupyterLab with our extension disabled: the kernel's own
    Markdown and HTML show the model's text as written and run nothing (the notebook is
    trusted: this JupyterLab shares the first one's trust database)."""
    from playwright.sync_api import expect

    _wait_for_outputs(page)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save').then(() => null)")
    config = lab["home"] / "config-off"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True, "memories-magics": True}}))
    env = {**lab["env"], "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTERLAB_WORKSPACES_DIR": str(lab["home"] / "workspaces-off")}
    with _serve(lab["home"], lab["dir"], env, "lab-off") as base_url:
        off = page.context.new_page()
        off.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
        off.goto(_url(base_url, "/lab/tree/lab.ipynb"))
        # Wait for what is asserted, not for the first output to appear: the notebook loaded
        # and each output's own text shown (a snapshot taken earlier could be half-drawn).
        off.wait_for_function("window.jupyterapp?.shell.currentWidget?.context?.isReady")
        cells = off.locator(".jp-Notebook .jp-Cell")  # found by source: earlier tests added some
        hostile = cells.filter(has_text="Say something nasty.").locator(".jp-OutputArea")
        expect(hostile).to_contain_text('<img src=x onerror="window.__pwned=1">', timeout=60_000)
        expect(hostile).to_contain_text(
            "a<b and b>c, <div>x</div> <br> <start_of_image> a < b && c", timeout=60_000)
        compare = cells.filter(has_text="%%compare smollm2").locator(".jp-OutputArea")
        expect(compare).to_contain_text(COMPARE_ANSWER, timeout=60_000)
        assert off.locator(".jp-MemoriesMagics-result").count() == 0, "extension still on"
        assert hostile.locator("script, img, iframe, [onerror]").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        off.locator(".jp-NotebookPanel").screenshot(path=str(ARTIFACTS / "lab-off.png"))
        assert off.evaluate("typeof window.__pwned") == "undefined"
        off.close()
    assert not PAGE_ERRORS, PAGE_ERRORS


def test_notebook_7_renders_a_comparison(page, lab: dict) -> None:
    """The saved notebook in Notebook 7 (same extension, same trust database): the %%compare
    output is our renderer's columns and diff, in the light and the dark theme."""
    _wait_for_outputs(page)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save').then(() => null)")
    env = {**lab["env"], "JUPYTERLAB_WORKSPACES_DIR": str(lab["home"] / "workspaces-nb7"),
           "JUPYTERLAB_SETTINGS_DIR": str(lab["home"] / "settings-nb7")}  # light theme first
    errors: list[str] = []
    with _serve(lab["home"], lab["dir"], env, "notebook7", app="notebook") as base_url:
        nb7 = page.context.new_page()
        nb7.set_default_timeout(60_000)
        nb7.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
        nb7.goto(_url(base_url, "/notebooks/lab.ipynb"))
        compare = nb7.locator(".jp-MemoriesMagics-compare")
        compare.locator(".jp-MemoriesMagics-diff ins, .jp-MemoriesMagics-diff del").first.wait_for()
        assert nb7.evaluate("document.title").startswith("lab"), "Notebook 7's notebook page"
        assert nb7.locator("#main-panel .jp-Notebook").count() == 1
        assert compare.locator(".jp-MemoriesMagics-column").count() == 3
        assert COMPARE_ANSWER in compare.locator(".jp-MemoriesMagics-column").nth(1).inner_text()
        assert nb7.locator(".jp-MemoriesMagics-result").count() >= len(LLM_CELLS)
        assert nb7.evaluate("document.body.dataset.jpThemeLight") == "true"
        ARTIFACTS.mkdir(exist_ok=True)
        compare.scroll_into_view_if_needed()
        nb7.screenshot(path=str(ARTIFACTS / "notebook7.png"))
        # Notebook 7.6's own core throws one "reading 'schema'" at start-up (its stack is in
        # notebook_core, not in our bundle): only errors from our extension fail this test.
        assert not [e for e in errors if "memories-magics" in e], errors
        nb7.evaluate("window.jupyterapp.commands.execute('apputils:change-theme',"
                     " {theme: 'JupyterLab Dark'})")
        nb7.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
        nb7.wait_for_timeout(500)
        compare.scroll_into_view_if_needed()
        nb7.screenshot(path=str(ARTIFACTS / "notebook7-dark.png"))
        assert nb7.evaluate("typeof window.__pwned") == "undefined"
        nb7.close()
    assert not [e for e in errors if "memories-magics" in e], errors
