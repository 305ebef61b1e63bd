"""Conversation threads: ``%%llm -c``/``--thread``, re-run cells replacing their turn by
cellId, ``%llm thread``, ``%%compare -c``, the Python conversation, tool messages and
fallbacks in a history, the context check, ``Err``/``%llm fix`` (real kernels, real SDKs
against fake servers, the real local model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from memories_magics import LoadModel
from memories_magics.engine import Engine
from memories_magics.errors import UsageError
from memories_magics.threads import ThreadStore
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import CellRun, Kernel

RESULT = "application/vnd.memories-magics.result+json"


def sent(fake: FakeLLMServer, index: int = -1) -> list[dict[str, Any]]:
    """The messages of a recorded chat-completions request (the system prompt included)."""
    return fake.requests[index].body["messages"]


def payload(run: CellRun) -> dict[str, Any]:
    assert run.result is not None, run.error
    return run.result[RESULT]


def test_a_continued_cell_sends_the_history_and_a_rerun_cell_replaces_its_turn(
        provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    fake.script(Reply(text="Mars."), Reply(text="About 228 million km."),
                Reply(text="Roughly 1.5 AU."), Reply(text="Venus."), Reply(text="Hot."))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini -s 'Be brief.'\nName a planet.", cell_id="a")
        second = kernel.run("%%llm -c\nHow far is it from the Sun?", cell_id="b")
        assert [m["role"] for m in sent(fake)] == ["system", "user", "assistant", "user"]
        assert sent(fake)[2]["content"] == "Mars." and fake.requests[-1].body["model"] == \
            "gpt-4o-mini"  # -c without a model continues with the thread's
        assert "thread t1, turn 2" in payload(second)["note"]
        again = kernel.run("%%llm -c --cache refresh\nHow far is it from the Sun?",
                           cell_id="b")
        assert len(fake.requests) == 3 and len(sent(fake)) == 4  # still 3 + system, not 5
        assert "dropped" not in (payload(again)["note"] or "")
        first = kernel.run("%%llm gpt-4o-mini -s 'Be brief.'\nName another planet.",
                           cell_id="a")
        assert "re-ran turn 1 of thread t1: dropped 1 later turn (In [4])" in \
            payload(first)["note"]
        shown = kernel.run("%llm thread show t1").displayed[-1]["text/plain"]
        assert "Name another planet." in shown and "How far" not in shown
        kernel.run("%%llm -c\nIs it hot?")  # no cell id: appends
        assert [m["content"] for m in sent(fake)][1:] == ["Name another planet.", "Venus.",
                                                          "Is it hot?"]


def test_without_cell_ids_turns_append_in_execution_order(provider_env: dict[str, str],
                                                          fake: FakeLLMServer) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini\none")
        kernel.run("%%llm -c\ntwo")
        kernel.run("%%llm -c\ntwo")
        assert [m["role"] for m in sent(fake)] == ["user", "assistant"] * 2 + ["user"]
        kernel.run("%llm thread reset")
        kernel.run("%%llm -c\nthree")
        assert [m["content"] for m in sent(fake)] == ["three"]


def test_named_threads_are_independent(provider_env: dict[str, str],
                                       fake: FakeLLMServer) -> None:
    fake.script(Reply(text="A1"), Reply(text="B1"), Reply(text="A2"), Reply(text="C1"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini --thread alpha\na one")
        kernel.run("%%llm gpt-4o-mini --thread beta\nb one")
        kernel.run("%%llm --thread alpha\na two")
        assert [m["content"] for m in sent(fake)] == ["a one", "A1", "a two"]
        kernel.run("%%llm gpt-4o-mini\nfresh")  # without -c: a new thread
        assert [m["content"] for m in sent(fake)] == ["fresh"]
        listed = kernel.run("%llm thread list").displayed[-1]["text/plain"]
        assert "alpha" in listed and "beta" in listed and "t1 (latest)" in listed


def test_bad_thread_input_is_one_line(provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        started = kernel.run("%%llm gpt-4o-mini -c\nhello")
        assert "-c: no earlier thread to continue, started thread t1" in payload(started)["note"]
        for name in ("''", "'../x'", "'a b'", "'<script>'", "9lives", "x" * 41):
            line = kernel.run(f"%%llm gpt-4o-mini --thread {name}\nhello").one_line_error()
            assert "a thread name is a letter" in line
        assert kernel.run("%llm thread show NOPE").one_line_error() == \
            "no thread named 'NOPE'; threads: t1 (a %%llm cell starts one)"
        assert "usage: %llm thread list" in kernel.run("%llm thread drop t1").one_line_error()
        no_key = {**provider_env, "OPENAI_API_KEY": ""}
    with Kernel(no_key) as kernel:
        kernel.run("%load_ext memories_magics")
        assert "OPENAI_API_KEY" in kernel.run("%%llm gpt-4o-mini --thread q\nhi").one_line_error()
        assert "no thread" in kernel.run("%llm thread show q").one_line_error()  # nothing was added


def test_cut_interrupted_and_hostile_answers_in_a_thread(provider_env: dict[str, str],
                                                         fake: FakeLLMServer) -> None:
    """A cut or interrupted answer never becomes history; model text in the transcript is
    escaped; an absurd cellId is ignored (the turn appends)."""
    fake.script(Reply(text="<script>alert(1)</script> first"),
                Reply(text="one two three four", truncate_after=2),
                Reply(text=" ".join(["word"] * 400), chunk_delay=0.05), Reply(text="fine"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini\nhello", cell_id="x" * 10_000)
        cut = kernel.run("%%llm -c\nmore", cell_id="x" * 10_000)
        assert "not added to thread t1: no complete answer" in payload(cut)["note"]
        stopped = kernel.run("%%llm -c\nlonger", interrupt_after=0.3)
        assert "not added to thread t1" in payload(stopped)["note"]
        kernel.run("%%llm -c\nlast")
        shown = kernel.run("%llm thread show").displayed[-1]
    assert [m["content"] for m in sent(fake)] == ["hello", "<script>alert(1)</script> first",
                                                  "last"]
    assert "<script>" not in shown["text/html"] and "&lt;script&gt;" in shown["text/html"]
    assert "Thread t1: 2 turns" in shown["text/plain"]


def test_compare_continued_sends_each_model_its_own_answer(servers: dict[str, Any]) -> None:
    openai, anthropic = servers["openai"], servers["anthropic"]
    openai.script(*(Reply(text=f"openai says {n}") for n in range(1, 5)))
    anthropic.script(*(Reply(text=f"claude says {n}") for n in range(1, 4)))
    with Kernel(servers["env"]) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%compare gpt-4o-mini claude-haiku --no-stream\nfirst")
        kernel.run("%%compare gpt-4o-mini claude-haiku -c --no-stream\nsecond")
        kernel.run("%%compare -c --no-stream\nthird")  # -c alone: the thread's models again
        kernel.run("%%llm -c gpt-4o-mini\nfourth")
    assert [m["content"] for m in openai.requests[1].body["messages"]] == \
        ["first", "openai says 1", "second"]
    claude = anthropic.requests[2].body["messages"]
    assert [m["role"] for m in claude] == ["user", "assistant"] * 2 + ["user"]
    assert "claude says 2" in json.dumps(claude) and "openai" not in json.dumps(claude)
    assert [m["content"] for m in openai.requests[3].body["messages"]][-2:] == \
        ["openai says 3", "fourth"]


def test_python_conversation_carries_history(engine: Engine, fake: FakeLLMServer) -> None:
    fake.script(Reply(text="Mars."), Reply(text="Far."), Reply(text="Hi."))
    chat = LoadModel("openai", "api", "gpt-4o-mini", engine=engine,
                     cache="use").conversation(system="Be brief.")
    assert chat.send("Name a planet.")["text"] == "Mars."
    assert "".join(chat.stream("How far is it?")) == "Far."
    assert [m["role"] for m in sent(fake)] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in chat.messages] == ["Name a planet.", "Mars.",
                                                     "How far is it?", "Far."]
    chat.messages.clear()  # a copy: the history is not changed from outside
    assert len(chat.messages) == 4 and "2 turns" in repr(chat)
    chat.reset()
    chat.send("hello")
    assert [m["content"] for m in sent(fake)] == ["Be brief.", "hello"]


def test_the_cache_key_covers_the_history(engine: Engine, fake: FakeLLMServer) -> None:
    """Same last prompt, different earlier answers: different keys; the same history replays
    from the cache without a request."""
    fake.script(Reply(text="Mars."), Reply(text="Far."), Reply(text="Venus."), Reply(text="Hot."))
    model = LoadModel("openai", "api", "gpt-4o-mini", engine=engine, cache="use")

    def second_key() -> str:
        chat = model.conversation()
        chat.send("Name a planet.")
        chat.send("Tell me about it.")
        request = engine.request(model.spec, messages=chat.messages[:3])
        assert engine.cache().get(request) is not None  # cached under the whole history
        return request.cache_key()

    first = second_key()
    engine.cache().clear()
    second = second_key()
    assert second != first  # Venus this time: another history, another key
    before = len(fake.requests)
    assert second_key() == second and len(fake.requests) == before  # replayed from the cache


def test_tool_messages_stay_in_the_history(provider_env: dict[str, str],
                                           fake: FakeLLMServer) -> None:
    call = {"id": "call_1", "name": "add", "arguments": {"a": 2, "b": 3}}
    fake.script(Reply(tool_calls=[call]), Reply(text="5"), Reply(text="10"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics\n"
                   "def add(a: int, b: int) -> int:\n    '''Add two numbers.'''\n    return a + b")
        kernel.run("%%llm gpt-4o-mini --tools add\n2+3?")
        kernel.run("%%llm -c --tools add\nand doubled?")
        shown = kernel.run("%llm thread show").displayed[-1]["text/plain"]
    history = sent(fake)
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[1]["tool_calls"][0]["function"]["name"] == "add"
    assert history[2] == {"role": "tool", "tool_call_id": "call_1", "content": "5"}
    assert "1 tool call" in shown


def test_fallback_keeps_one_history(provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    fake.script(Reply(status=500), Reply(text="from the fallback"), Reply(text="next"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        first = kernel.run("%%llm gpt-4o-mini --fallback gpt-4o\nhello")
        assert "answered by fallback gpt-4o" in payload(first)["note"]
        kernel.run("%%llm -c\nand then?")
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"
    assert [m["content"] for m in sent(fake)] == ["hello", "from the fallback", "and then?"]


def test_a_hosted_thread_past_max_length_is_one_line_before_any_request(
        provider_env: dict[str, str], fake: FakeLLMServer, tmp_path: Path) -> None:
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"global_settings": {"max_retries": 0},
                                  "models": {"tiny": {"name": "gpt-4o-mini", "provider": "openai",
                                                      "config": {"max_length": 300}}}}))
    with Kernel({**provider_env, "MEMORIES_MAGICS_CONFIG": str(config)}) as kernel:
        kernel.run("%load_ext memories_magics")
        assert kernel.run("%%llm tiny --max-tokens 50\n" + "word " * 150).error is None
        line = kernel.run("%%llm -c --max-tokens 50\n" + "more " * 150).one_line_error()
    assert line.startswith("thread t1 no longer fits tiny's context (about ")
    assert "tiny holds 300" in line and "%llm thread reset t1" in line
    assert len(fake.requests) == 1


def test_a_thread_too_long_for_smollm2_is_one_line(tmp_path: Path) -> None:
    """smollm2 with a 512-token context (config.max_length is its n_ctx): one prompt of
    about 320 tokens fits, a second one on top of it does not."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"models": {"smollm2": {"config": {"max_length": 512}}}}))
    env = {"MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache"),
           "MEMORIES_MAGICS_CONFIG": str(config)}
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        prompt = "--max-tokens 4 --seed 1\n" + "tell me " * 150
        assert kernel.run("%%llm " + prompt, timeout=600).error is None
        line = kernel.run("%%llm -c " + prompt, timeout=600).one_line_error()
        assert line.startswith("thread t1 no longer fits smollm2's context (")
        assert "smollm2 holds 512" in line and "%llm thread reset t1" in line
        kernel.run("%llm thread reset")
        assert kernel.run("%%llm -c --max-tokens 4 --seed 1\nSay yes.",
                          timeout=600).error is None


def test_err_and_llm_fix(provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    fake.script(Reply(text="Divide by a non-zero number."), Reply(text="ok"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        assert "no cell has raised" in kernel.run("%llm fix gpt-4o-mini").one_line_error()
        kernel.run("ratio = 1 / 0")
        number = kernel.run("print(max(Err))").stdout.strip()
        fixed = kernel.run("%llm fix gpt-4o-mini")
        assert payload(fixed)["text"] == "Divide by a non-zero number."
        prompt = sent(fake)[-1]["content"]
        assert "ratio = 1 / 0" in prompt and "ZeroDivisionError: division by zero" in prompt
        assert 'File "<cell>", line 1' in prompt and "interactiveshell" not in prompt
        assert "ipykernel" not in prompt  # no temporary file name: the key stays the same
        kernel.run(f"%%llm -c\nAnd in one line: {{Err[{number}].splitlines()[-1]}}")
        assert sent(fake)[-1]["content"] == "And in one line: ZeroDivisionError: division by zero"
        assert len(sent(fake)) == 3  # -c continued the fix thread


def test_the_store_replaces_and_drops_without_a_kernel() -> None:
    from memories_magics.threads import Reply as TurnReply
    from memories_magics.threads import Turn

    store = ThreadStore()
    for cell in ("a", "b", "c"):
        plan = store.plan(cell, follow=cell != "a")
        store.commit(plan, Turn(cell, (TurnReply("m", "m", ({"role": "assistant",
                                                             "content": cell.upper()},)),),
                                cell=cell, execution=ord(cell)))
    plan = store.plan("b", follow=True)
    assert plan.at == 1 and plan.dropped_note().endswith("dropped 1 later turn (In [99])")
    assert [m["content"] for m in plan.history("m")] == ["a", "A"]
    with pytest.raises(UsageError):
        store.plan(None, name="bad name")


def test_run_all_replays_a_recorded_thread_byte_for_byte(provider_env: dict[str, str],
                                                          fake: FakeLLMServer,
                                                          tmp_path: Path) -> None:
    fake.script(Reply(text="Mars."), Reply(text="About 228 million km."))
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext memories_magics"),
        nbformat.v4.new_code_cell("%%llm gpt-4o-mini\nName a planet."),
        nbformat.v4.new_code_cell("%%llm -c\nHow far is it from the Sun?"),
        nbformat.v4.new_code_cell("%llm thread show")])

    def run_all(mode: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
        monkeypatch.setenv("MEMORIES_MAGICS_CACHE_MODE", mode)  # the kernel inherits it
        NotebookClient(copy, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        return [cell.get("outputs") for cell in copy.cells]

    def texts(outputs: list[Any]) -> list[str]:
        return [o["data"][RESULT]["text"] for cell in outputs for o in cell
                if RESULT in o.get("data", {})]

    with pytest.MonkeyPatch.context() as patch:
        recorded = run_all("use", patch)
        assert len(fake.requests) == 2
        replayed, again = run_all("replay", patch), run_all("replay", patch)
    assert len(fake.requests) == 2  # zero requests in replay
    assert texts(replayed) == texts(recorded) == ["Mars.", "About 228 million km."]
    assert json.dumps(replayed, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert "About 228 million km." in json.dumps(replayed[3])  # %llm thread show


@pytest.mark.parametrize("parent", [None, "text", {"metadata": None}, {"metadata": ["a"]},
                                    {"metadata": {"cellId": 7}}, {"metadata": {"cellId": ""}},
                                    {"metadata": {"cellId": "x" * 201}}, RuntimeError("gone")])
def test_an_odd_parent_request_has_no_cell_id(parent: object) -> None:
    from types import SimpleNamespace

    from memories_magics.frontends.thread_cells import cell_id

    def get_parent() -> object:
        if isinstance(parent, Exception):
            raise parent
        return parent

    assert cell_id(SimpleNamespace(kernel=SimpleNamespace(get_parent=get_parent))) is None
    assert cell_id(SimpleNamespace()) is None  # plain IPython: no kernel
    assert cell_id(SimpleNamespace(kernel=SimpleNamespace(get_parent=lambda: {
        "metadata": {"cellId": "0f3c-cell"}}))) == "0f3c-cell"


def test_compare_continued_past_a_context_says_the_fix_in_that_column(
        provider_env: dict[str, str], fake: FakeLLMServer, tmp_path: Path) -> None:
    """A hosted model whose thread no longer fits: its column has %%llm's one line, asked
    nothing; the other model answers."""
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"global_settings": {"max_retries": 0},
                                  "models": {"tiny": {"name": "gpt-4o-mini", "provider": "openai",
                                                      "config": {"max_length": 300}}}}))
    with Kernel({**provider_env, "MEMORIES_MAGICS_CONFIG": str(config)}) as kernel:
        kernel.run("%load_ext memories_magics")
        first = kernel.run("%%compare tiny gpt-4o --max-tokens 50 --no-stream\n" + "word " * 150)
        assert first.error is None
        second = kernel.run("%%compare -c --max-tokens 50 --no-stream -o both\n" + "more " * 150)
        assert second.error is None, second.error
        errors = json.loads(kernel.run("import json; print(json.dumps(both.errors))").stdout)
    line = errors["tiny"]
    assert line.startswith("thread t1 no longer fits tiny's context (about ") and "\n" not in line
    assert "%llm thread reset t1" in line and set(errors) == {"tiny"}
    assert len(fake.requests) == 3  # tiny was not asked the second time


def test_compare_continued_past_smollm2s_context_says_the_fix_per_column(tmp_path: Path) -> None:
    """The local model's own context error, in each column of a %%compare -c: our one line
    naming the fix, not llama.cpp's message."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"models": {"smollm2": {"config": {"max_length": 512}}}}))
    env = {"MEMORIES_MAGICS_CACHE_DIR": str(tmp_path / "cache"),
           "MEMORIES_MAGICS_CONFIG": str(config)}
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        prompt = "--max-tokens 4 --seed 1 --no-stream\n" + "tell me " * 150
        assert kernel.run("%%compare smollm2 smollm2 " + prompt, timeout=600).error is None
        run = kernel.run("%%compare -c -o both " + prompt, timeout=600)
        assert run.error is None, run.error
        errors = json.loads(kernel.run("import json; print(json.dumps(both.errors))").stdout)
    assert len(errors) == 2
    for line in errors.values():
        assert line.startswith("thread t1 no longer fits smollm2's context (") and "\n" not in line
        assert "smollm2 holds 512" in line and "%llm thread reset t1" in line
