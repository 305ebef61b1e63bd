"""The interactive panel (``%llm panel``), driven from Python in a real kernel.

Widgets are clicked through their handlers (``run_button.click()``) as a front end's comm
message would, and what the panel shows is read from its Output widget's ``outputs`` (and,
for streaming, from the comm messages a front end receives).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memories_magics.display.render import RESULT_MIME
from memories_magics.frontends.panel import FALLBACK_TEXT
from memories_magics.frontends.panel.output_sink import COPY_CLASS
from tests.conftest import provider_environment, write_test_config
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import CellRun, Kernel

TEXT = " ".join(f"word{i}" for i in range(40))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
COMPARE_MIME = "application/vnd.memories-magics.compare+json"

SETUP = """\
%load_ext memories_magics
import json, os, time
import memories_magics, openai, anthropic  # SDK imports warm
from memories_magics.engine import default_engine
RESULT = 'application/vnd.memories-magics.result+json'
COMPARE = 'application/vnd.memories-magics.compare+json'

def snapshots(panel):
    '''Every value the panel's Output takes, in order.'''
    seen = []
    panel.output_area.observe(lambda change: seen.append(change.new), 'outputs')
    return seen

def texts(outputs):
    return [o['data'].get('text/plain', '') if 'data' in o else o['text'] for o in outputs]

def report(**values):
    print(json.dumps(values, default=str))
"""


@pytest.fixture(scope="module")
def kernel(fake_server: FakeLLMServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """One kernel for the module (each test uses its own prompts, so cache keys differ)."""
    tmp: Path = tmp_path_factory.mktemp("panel")
    env = provider_environment(fake_server.url, write_test_config(tmp / "model_config.json"),
                               tmp / "cache")
    with Kernel(env) as kernel:
        assert kernel.run(SETUP).error is None
        yield kernel


def report(run: CellRun) -> dict[str, Any]:
    assert run.error is None, "\n".join(run.error["traceback"])
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_run_streams_into_the_output_and_the_copied_cell_is_a_cache_hit(kernel, fake) -> None:
    fake.script(Reply(text=TEXT, chunk_delay=0.05))
    run = kernel.run("""
topic = 'panels'
p = memories_magics.panel('gpt-4o-mini')
seen = snapshots(p)
p.prompt.value = 'Count words about {topic}.'
p.controls["system"].value = 'Be brief, "please"'
p.controls["temperature"].value = 0
p.controls["max_tokens"].value = 64
p.run_button.click()
result = p.wait(30)
final = p.output_area.outputs[-1]['data']
report(live=[texts(s) for s in seen], meta=final[RESULT], markdown=final['text/html'],
       shown=len(p.output_area.outputs), cell=p.cell_text(), status=p.status.value,
       run_enabled=not p.run_button.disabled, stop_disabled=p.stop_button.disabled)
""")
    out = report(run)
    live = out["live"]
    assert live[0] == ["asking gpt-4o-mini…\n"], "the Output says what it is doing at once"
    partial = [t[0] for t in live[1:-1] if t]
    assert len(partial) >= 3 and all(TEXT.startswith(t) for t in partial), \
        "tokens stream into the panel's Output before the result"
    assert len(partial) < 40 and TEXT.startswith(partial[0]) and partial[0] != TEXT
    assert out["shown"] == 1, "the streamed view made way for the result"
    meta = out["meta"]
    assert meta["text"] == TEXT and meta["cached"] is False and meta["model"] == "gpt-4o-mini"
    assert "gpt-4o-mini · 7 in / 40 out tokens" in out["markdown"]
    assert out["status"].startswith("done in") and out["run_enabled"] and out["stop_disabled"]
    # What a front end receives: comm messages that set the Output's outputs while streaming.
    states = [m["data"]["state"]["outputs"] for m in run.of_type("comm_msg")
              if "outputs" in m["data"].get("state", {})]
    assert any(TEXT.startswith(o[0]["data"]["text/plain"]) for o in states if o and "data" in o[0])
    body = fake.requests[0].body
    assert body["messages"][0] == {"role": "system", "content": 'Be brief, "please"'}
    assert body["messages"][1]["content"] == "Count words about panels."
    assert body["temperature"] == 0 and body["max_tokens"] == 64

    cell = out["cell"]
    assert cell == ("%%llm gpt-4o-mini -s 'Be brief, \"please\"' -t 0.0 --max-tokens 64\n"
                    "Count words about {topic}.")
    again = kernel.run(cell)
    assert again.error is None
    assert again.result[RESULT_MIME]["cached"] is True and again.result[RESULT_MIME]["text"] == TEXT
    assert len(fake.requests) == 1, "the panel and the magic share one cache"


def test_stop_cancels_a_stream_and_caches_nothing_while_the_kernel_stays_free(kernel, fake) -> None:
    fake.script(Reply(text=TEXT, chunk_delay=0.1))
    started = time.monotonic()
    click = kernel.run("s = memories_magics.panel('mistral-small')\n"
                       "s.prompt.value = 'Count slowly.'\ns.run_button.click()")
    assert click.error is None and time.monotonic() - started < 3, "Run returns at once"
    during = report(kernel.run("""
deadline = time.monotonic() + 10
while time.monotonic() < deadline and 'word2' not in texts(s.output_area.outputs)[0]:
    time.sleep(0.05)
report(running=s.running, stop_enabled=not s.stop_button.disabled,
       shown=texts(s.output_area.outputs))
"""))
    assert during["running"] and during["stop_enabled"]
    assert during["shown"][0] and TEXT.startswith(during["shown"][0])
    after = report(kernel.run("""
s.stop_button.click()
r = s.wait(10)
report(interrupted=r.response.interrupted, text=r.text, status=s.status.value,
       cached=default_engine().cache().get(r.request) is not None,
       plain=s.output_area.outputs[-1]['data']['text/plain'], run_enabled=not s.run_button.disabled)
"""))
    assert after["interrupted"] is True and after["cached"] is False
    assert after["text"] and TEXT.startswith(after["text"]) and after["text"] != TEXT
    assert "interrupted: partial answer, not cached" in after["plain"]
    assert after["status"].startswith("stopped") and after["run_enabled"]
    replay = kernel.run("%%llm mistral-small --cache replay\nCount slowly.")
    assert replay.error["ename"] == "CacheMissError"
    assert len(fake.requests) == 1


def test_several_models_stream_into_comparison_columns(kernel, fake) -> None:
    fake.script(Reply(text="alpha beta gamma delta epsilon", chunk_delay=0.2),
                Reply(text="alpha beta zeta eta theta", chunk_delay=0.2))
    out = report(kernel.run("""
c = memories_magics.panel('gpt-4o-mini', 'claude-haiku')
seen = snapshots(c)
c.prompt.value = 'Greek letters?'
c.controls["aggregate"].value = 'voting'
c.run_button.click()
r = c.wait(30)
final = c.output_area.outputs[-1]['data']
report(live=[texts(s) for s in seen], payload=final[COMPARE], kind=type(r).__name__,
       widget='application/vnd.jupyter.widget-view+json' in final, html=final['text/html'],
       cell=c.cell_text())
"""))
    live = [t for snapshot in out["live"] for t in snapshot]
    assert any(t.count("(streaming…)") == 2 for t in live), "both columns filled at once"
    payload = out["payload"]
    assert [r["model"] for r in payload["results"]] == ["gpt-4o-mini", "claude-haiku"]
    assert payload["aggregate"]["method"] == "voting" and out["kind"] == "CompareResult"
    assert not out["widget"] and "<del" in out["html"]  # no hidden widget comm
    assert out["cell"] == "%%compare gpt-4o-mini claude-haiku --aggregate voting\nGreek letters?"
    assert len(fake.requests) == 2
    again = kernel.run(out["cell"])
    assert again.error is None
    assert [r["cached"] for r in again.result[COMPARE_MIME]["results"]] == [True, True]
    reopened = report(kernel.run("c.history.value = 0\n"
                                 "report(payload=c.output_area.outputs[-1]['data'][COMPARE])"))
    assert [r["cached"] for r in reopened["payload"]["results"]] == [True, True]
    assert reopened["payload"]["aggregate"]["method"] == "voting"
    assert len(fake.requests) == 2


def test_history_reopens_a_run_from_the_cache_without_a_request(kernel, fake) -> None:
    fake.script(Reply(text="Blue."), Reply(text="Apple."))
    out = report(kernel.run("""
h = memories_magics.panel('claude-haiku')
h.prompt.value = 'Name a colour.'
h.run_button.click(); h.wait(30)
h.prompt.value = 'Name a fruit.'
h.run_button.click(); h.wait(30)
labels = [label for label, _ in h.history.options]
h.history.value = 0
report(labels=labels, shown=h.output_area.outputs[-1]['data'][RESULT], status=h.status.value,
       outputs=len(h.output_area.outputs))
"""))
    assert len(fake.requests) == 2, "re-opening made no request"
    assert out["labels"][0] == "earlier runs…" and len(out["labels"]) == 3
    assert out["labels"][1].endswith(" · claude-haiku · Name a colour.")
    assert out["shown"]["text"] == "Blue." and out["shown"]["cached"] is True
    assert out["outputs"] == 1 and out["status"].startswith("re-opened")


def test_local_model_cell_reproduces_the_panel_answer(kernel, fake) -> None:
    out = report(kernel.run("""
l = memories_magics.panel('smollm2')
l.prompt.value = 'Name a river.'
l.controls["seed"].value = 3
l.controls["max_tokens"].value = 12
l.controls["format"].value = 'text'
l.run_button.click(); first = l.wait(120)
report(text=first.text, cell=l.cell_text(), error=l.error)
"""))
    assert out["error"] is None and out["text"].strip()
    assert out["cell"] == "%%llm smollm2 --max-tokens 12 --seed 3 -f text\nName a river."
    hit = kernel.run(out["cell"]).result[RESULT_MIME]
    assert hit["cached"] is True and hit["text"] == out["text"]
    fresh = kernel.run(out["cell"].replace("\n", " --cache refresh\n", 1)).result[RESULT_MIME]
    assert fresh["cached"] is False and fresh["text"] == out["text"], "seeded: same text again"
    assert fake.requests == []


def test_picker_names_missing_keys_and_errors_show_in_the_panel(kernel, fake) -> None:
    out = report(kernel.run("""
saved = os.environ.pop('MISTRAL_API_KEY')
k = memories_magics.panel()
before = {value: label for label, value in k.models.options}
os.environ['MISTRAL_API_KEY'] = saved
k.refresh_models()
after = {value: label for label, value in k.models.options}
k.models.value = ()
k.prompt.value = 'never asked before'
k.run_button.click()
no_model = texts(k.output_area.outputs)
k.models.value = ('gpt-4o-mini',)
k.controls["cache"].value = 'replay'
k.run_button.click(); k.wait(10)
report(before=before, after=after, selected=list(k.models.value), no_model=no_model,
       replay=texts(k.output_area.outputs), error=k.error, run_enabled=not k.run_button.disabled,
       cell=k.cell_text(), plain=k._repr_mimebundle_()['text/plain'])
"""))
    assert out["before"]["mistral-small"] == "mistral-small — set MISTRAL_API_KEY"
    assert out["before"]["gpt-4o-mini"] == "gpt-4o-mini — key set"
    assert out["before"]["smollm2"] == "smollm2 — local · default"
    assert out["after"]["mistral-small"] == "mistral-small — key set"
    assert out["selected"] == ["gpt-4o-mini"], "refreshing labels keeps the choice"
    assert out["no_model"] == ["choose a model in the picker first\n"]
    assert "replay mode: no cached answer from openai:gpt-4o-mini" in out["replay"][0]
    assert out["error"] == out["replay"][0].strip() and out["run_enabled"]
    assert out["cell"] == "%%llm gpt-4o-mini --cache replay\nnever asked before"
    assert out["plain"] == FALLBACK_TEXT
    assert fake.requests == []
    shown = kernel.run("%llm panel claude-haiku gpt-4o-mini")
    assert shown.error is None
    bundle, copy = shown.displayed
    assert bundle["text/plain"] == FALLBACK_TEXT and WIDGET_MIME in bundle
    assert COPY_CLASS in copy["text/html"] and WIDGET_MIME not in copy, \
        "an empty static copy waits under the panel for its first result"
    assert "panel" in kernel.run("%llm help").displayed[-1]["text/plain"]


def test_every_request_option_round_trips_through_copy_as_cell(kernel, fake) -> None:
    """Each request option, set in the panel to a value a careless user might type, is written
    by Copy as cell so that the cell sends the same request: a cache hit, no new call."""
    fake.script(Reply(text="Round trip."))
    out = report(kernel.run("""
from memories_magics.options import OPTIONS, REQUEST_OPTIONS
x = HOME = 'EXPANDED'  # what IPython would put into an option line with {x} or $HOME
q = memories_magics.panel('gpt-4o-mini')
q.prompt.value = 'Round trip, {{literally}}?'
for name in REQUEST_OPTIONS:
    option = OPTIONS[name]
    value = {'str': 'It\\'s "{x}" $HOME {{y}} — ok; -t 1', 'flag': True,
             'float': None if option.min is None else option.min + 0.35 * (option.max - option.min),
             'int': None if option.max is None else int(option.max),
             'choice': option.choices[-1] if option.choices else None}[option.type]
    q.controls[name].value = value
q.run_button.click(); first = q.wait(30)
report(missing=[n for n in REQUEST_OPTIONS if n not in q.controls], cell=q.cell_text(),
       key=first.request.cache_key(), error=q.error, request=first.request.canonical())
"""))
    assert out["missing"] == [] and out["error"] is None
    assert "EXPANDED" not in out["request"] and "$HOME {{y}}" in out["request"], out["request"]
    again = kernel.run(out["cell"])
    assert again.error is None, again.error
    meta = again.result[RESULT_MIME]
    assert meta["cached"] is True and meta["cache_key"] == out["key"], out["cell"]
    assert len(fake.requests) == 1


def test_an_option_added_to_the_declaration_needs_no_panel_change(monkeypatch) -> None:
    from memories_magics.frontends.panel import panel
    from memories_magics.options import OPTIONS, Option

    monkeypatch.setitem(OPTIONS, "stop", Option("stop", ("--stop",), "str", "request",
                                                 ("llm", "compare"), "stop sequence"))
    p = panel("smollm2")
    p.prompt.value = "Count."
    p.controls["stop"].value = "###"
    assert p.settings().options()["stop"] == "###"
    assert p.cell_text() == "%%llm smollm2 --stop '###'\nCount."
    p.controls["system"].value = "two\nlines"
    assert p.copy_as_cell() == "" and "line breaks" in p.status.value, "one line, no traceback"


def test_the_saved_notebook_keeps_a_static_copy_of_the_panels_last_result(tmp_path,
                                                                          monkeypatch) -> None:
    """nbconvert, GitHub's viewer and VS Code without widgets can't draw the panel: the
    notebook.ipynb run by nbclient keeps, in the panel's cell, an output without the widget
    whose HTML and text hold the last answers, and nbconvert's HTML shows them."""
    import shutil
    from html.parser import HTMLParser

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    notebooks = Path(__file__).parent.parent / "notebooks"
    shutil.copytree(notebooks / ".memories_cache" / "panel", tmp_path / ".memories_cache" / "panel")
    path = tmp_path / "panel.ipynb"
    nb = nbformat.read(notebooks / "panel.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "print(json.dumps([o.result.text for o in p.result.outcomes]))"))
    nb.cells.insert(1, nbformat.v4.new_code_cell("import json"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))  # as Jupyter Server tells a kernel
    monkeypatch.setenv("MEMORIES_MAGICS_CACHE_MODE", "replay")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = json.loads(nb.cells.pop().outputs[0].text)  # (not exported below)
    assert len(texts) == 2 and all(t.strip() for t in texts)
    shown = next(c for c in nb.cells if c.source.startswith("import memories_magics"))
    widget, copy = shown.outputs
    assert WIDGET_MIME in widget.data and WIDGET_MIME not in copy.data
    assert COMPARE_MIME not in copy.data and RESULT_MIME not in copy.data, "no extension payload"

    class Visible(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.text = 0, []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.hidden += tag in ("script", "style", "template")

        def handle_endtag(self, tag: str) -> None:
            self.hidden -= tag in ("script", "style", "template")

        def handle_data(self, data: str) -> None:
            if not self.hidden:
                self.text.append(data)

    def visible(html: str) -> str:
        parser = Visible()
        parser.feed(html)
        return " ".join("".join(parser.text).split())

    for text in texts:
        assert " ".join(text.split()) in visible(copy.data["text/html"])
        assert text.strip() in copy.data["text/plain"]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert all(" ".join(t.split()) in visible(html) for t in texts), "nbconvert's HTML shows them"


def test_the_model_list_says_how_to_pick_several() -> None:
    from memories_magics.frontends.panel import Panel

    panel = Panel()
    assert "pick several models" in panel.models_hint.value
    picker = panel.children[1].children[0]  # the row under the prompt: models, then options
    assert picker.children == (panel.models, panel.models_hint)


def test_the_panel_continues_its_latest_thread(kernel, fake) -> None:
    """Ticking -c sends the panel's own earlier turn; the panel's threads are the kernel's
    (``%llm thread``), but a notebook cell's -c still continues the notebook's thread."""
    fake.script(Reply(text="Cell answer."), Reply(text="Panel one."), Reply(text="Panel two."),
                Reply(text="Cell two."))
    assert kernel.run("%%llm gpt-4o-mini\nA notebook question?").error is None
    out = report(kernel.run("""
t = memories_magics.panel('gpt-4o-mini')
t.prompt.value = 'Panel question one?'
t.run_button.click(); t.wait(30)
t.prompt.value = 'Panel question two?'
t.controls['continue_thread'].value = True
t.run_button.click(); second = t.wait(30)
report(error=t.error, note=second.note, cell=t.cell_text(), options=sorted(t.controls))
"""))
    assert out["error"] is None and "turn 2" in out["note"], out
    assert [m["content"] for m in fake.requests[-1].body["messages"]] == \
        ["Panel question one?", "Panel one.", "Panel question two?"]
    assert "continue_thread" in out["options"] and "thread" not in out["options"]
    assert out["cell"] == "%%llm gpt-4o-mini -c\nPanel question two?"
    thread = out["note"].split("thread ")[1].split(",")[0]
    shown = kernel.run(f"%llm thread show {thread}").displayed[-1]["text/plain"]
    assert "Panel question one?" in shown and "Panel two." in shown
    assert kernel.run("%%llm -c\nAnd the notebook?").error is None
    assert [m["content"] for m in fake.requests[-1].body["messages"]] == \
        ["A notebook question?", "Cell answer.", "And the notebook?"]


def test_copy_as_cell_asks_the_extension_and_shows_the_text_when_nobody_answers(kernel) -> None:
    """Copy as cell opens one comm to the extension with the cell and the panel's DOM class;
    with no extension (this test is a front end without it) the text box shows the cell
    after about a second, and the click's handler never blocks the kernel."""
    run = kernel.run("""
c = memories_magics.panel('gpt-4o-mini')
c.prompt.value = 'Name a river.'
started = time.monotonic()
c.copy_button.click()
clicked = time.monotonic() - started
before = (c.cell_box.value, c.cell_box.layout.display, c.status.value)
time.sleep(1.5)
report(clicked=clicked, before=before, cell=c.cell_box.value, shown=c.cell_box.layout.display,
       status=c.status.value, dom_id=c.dom_id, classes=list(c._dom_classes))
""")
    out = report(run)
    opened = [m for m in run.of_type("comm_open")
              if m["target_name"] == "memories_magics.insert_cell"]
    assert len(opened) == 1, run.of_type("comm_open")
    cell = "%%llm gpt-4o-mini\nName a river."
    assert opened[0]["data"] == {"source": cell, "panel": out["dom_id"]}
    assert out["dom_id"] in out["classes"] and "memories-magics-panel" in out["classes"]
    assert out["clicked"] < 0.5, "the click returns at once"
    assert out["before"] == ["", "none", "inserting the cell below…"]
    assert out["cell"] == cell and out["shown"] is None, "the fallback shows the text box"
    assert "select it and copy" in out["status"]


def test_copy_as_cell_inserted_by_the_extension_shows_no_text_box(kernel) -> None:
    """The extension's reply {inserted: true} (delivered as the front end's comm message would
    be) leaves the text box hidden; a late timer does not show it afterwards."""
    out = report(kernel.run("""
from comm import get_comm_manager
d = memories_magics.panel('gpt-4o-mini')
d.prompt.value = 'Name a lake.'
known = set(get_comm_manager().comms)
d.copy_button.click()
new = [c for i, c in get_comm_manager().comms.items()
       if i not in known and c.target_name == 'memories_magics.insert_cell']
new[0].handle_msg({'content': {'data': {'inserted': True}}})
time.sleep(1.5)
report(opened=len(new), cell=d.cell_box.value, shown=d.cell_box.layout.display,
       status=d.status.value)
"""))
    assert out == {"opened": 1, "cell": "", "shown": "none",
                   "status": "inserted the cell below the panel"}
