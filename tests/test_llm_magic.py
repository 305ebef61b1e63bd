"""%%llm in real kernels against the fake provider server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memories_magics.display.render import RESULT_MIME
from tests.conftest import PLANTED_KEY_PREFIX, provider_environment, write_test_config
from tests.fakes import FakeLLMServer, Reply
from tests.kernel import Kernel

TEXT = " ".join(f"word{i}" for i in range(40))


@pytest.fixture
def kernel_env(fake: FakeLLMServer, tmp_path: Path) -> dict[str, str]:
    return provider_environment(fake.url, write_test_config(tmp_path / "model_config.json"),
                                tmp_path / "cache")


def start(env: dict[str, str]) -> Kernel:
    return Kernel(env)


def load(kernel: Kernel) -> None:
    assert kernel.run("%load_ext memories_magics").error is None


def test_tokens_stream_into_one_output_then_render_the_result(kernel_env, fake) -> None:
    fake.script(Reply(text=TEXT, chunk_delay=0.03, input_tokens=12))
    with start(kernel_env) as kernel:
        load(kernel)
        run = kernel.run("%%llm openai:gpt-4o-mini -t 0\nCount to forty.")
    assert run.error is None
    assert run.updates >= 5, "tokens should repaint one output while they arrive"
    assert run.updates <= 0.03 * 40 * 20 + 3, "repaints are coalesced to about 20 per second"
    partial = [b["text/plain"] for b in run.displayed]
    assert partial[0] != TEXT and TEXT.startswith(partial[1])
    assert not run.of_type("clear_output"), "the streamed view becomes the result in place"
    result = run.result
    assert TEXT in result["text/html"] and TEXT in result["text/plain"]
    meta = result[RESULT_MIME]
    assert meta["text"] == TEXT and meta["cached"] is False and meta["model"] == "gpt-4o-mini"
    assert meta["usage"] == {"input_tokens": 12, "output_tokens": 40}
    assert "gpt-4o-mini · 12 in / 40 out tokens" in result["text/plain"]
    assert "<$0.0001 est." in result["text/plain"]


def test_cache_hit_in_a_new_kernel_makes_no_request(kernel_env, fake) -> None:
    fake.script(Reply(text=TEXT))
    cell = "%%llm claude-haiku --max-tokens 100\nSummarise {topic}."
    with start(kernel_env) as kernel:
        load(kernel)
        kernel.run("topic = 'tides'")
        first = kernel.run(cell).result
    assert len(fake.requests) == 1 and "tides" in json.dumps(fake.requests[0].body)
    with start(kernel_env) as kernel:
        load(kernel)
        kernel.run("topic = 'tides'")
        second = kernel.run(cell)
        info = kernel.run("%llm cache info").stdout
    assert len(fake.requests) == 1, "a cache hit must not call the provider"
    assert second.updates == 0 and second.result[RESULT_MIME]["cached"] is True
    assert second.result[RESULT_MIME]["text"] == first[RESULT_MIME]["text"] == TEXT
    assert second.result[RESULT_MIME]["latency_s"] == first[RESULT_MIME]["latency_s"]
    assert "cached" in second.result["text/plain"].splitlines()[-1]
    assert "1 cached answers" in info


def test_replay_miss_is_a_one_line_error(kernel_env, fake) -> None:
    with start(kernel_env) as kernel:
        load(kernel)
        run = kernel.run("%%llm openai:gpt-4o-mini --cache replay\nNever asked before.")
        mode = kernel.run("%llm cache mode replay\n")
        again = kernel.run("%%llm openai:gpt-4o-mini\nNever asked before.")
    assert fake.requests == []
    for attempt in (run, again):
        assert attempt.error["ename"] == "CacheMissError"
        assert len(attempt.error["traceback"]) == 1
        assert "--cache use" in attempt.error["traceback"][0]
    assert "Cache mode: replay" in mode.stdout


def test_interrupt_keeps_partial_text_caches_nothing_and_kernel_lives(kernel_env, fake) -> None:
    fake.script(Reply(text=TEXT, chunk_delay=0.1))
    cell = "%%llm mistral-small\nCount slowly."
    with start(kernel_env) as kernel:
        load(kernel)
        run = kernel.run(cell, interrupt_after=0.5)
        replay = kernel.run(cell.replace("\n", " --cache replay\n", 1))
        alive = kernel.run("print(1 + 1)")
        kept = kernel.run("print(len(_.text) > 0, _.response.interrupted)")
    assert run.error is None, "an interrupt is not an error: the partial answer is the result"
    meta = run.result[RESULT_MIME]
    assert meta["interrupted"] is True and meta["text"] and TEXT.startswith(meta["text"])
    assert meta["text"] != TEXT and "interrupted" in run.result["text/plain"]
    assert replay.error["ename"] == "CacheMissError"
    assert alive.stdout == "2\n" and kept.stdout == "True True\n"


def test_output_variable_and_cell_value(kernel_env, fake) -> None:
    fake.script(Reply(text='Here:\n```json\n{"a": [1, 2]}\n```'))
    with start(kernel_env) as kernel:
        load(kernel)
        run = kernel.run("%%llm deepseek-chat -f json -o answer\nGive JSON.")
        check = kernel.run("print(answer.value, _ is answer, type(answer).__name__)")
    assert run.result["application/json"] == {"a": [1, 2]}
    assert check.stdout == "{'a': [1, 2]} True LLMResult\n"


def test_bad_input_is_one_line_that_says_what_to_do(kernel_env, fake) -> None:
    cells = {
        "%%llm --temprature 0\nhi": "see %%llm? for the options",
        "%%llm gpt-4o-mimi\nhi": "did you mean gpt-4o-mini",
        "%%llm -f xml\nhi": "invalid choice",
        "%%llm\n   ": "the cell is empty",
        "%%llm\nExplain {missing_name}": "'missing_name' is not defined",
        "%llm cache mode sometimes": "use one of: use, refresh, off, replay",
    }
    with start({**kernel_env, "OPENAI_API_KEY": ""}) as kernel:
        load(kernel)
        for cell, hint in cells.items():
            line = kernel.run(cell).one_line_error()
            assert hint in line, (cell, line)
        missing = kernel.run("%%llm gpt-4o-mini\nhi").error["traceback"]
        help_text = kernel.run("%%llm?").reply["payload"]
    assert missing == [("MissingKeyError: openai: no API key; set OPENAI_API_KEY (e.g. %env "
                        "OPENAI_API_KEY=...) or use the keyless local model with %llm use "
                        "local:smollm2")]
    assert fake.requests == []
    assert "--max-tokens" in json.dumps(help_text) and "--seed" in json.dumps(help_text)


def test_models_config_usage_subcommands(kernel_env, fake) -> None:
    with start({**kernel_env, "MISTRAL_API_KEY": ""}) as kernel:
        load(kernel)
        models = kernel.run("%llm models").displayed[0]["text/plain"]
        kernel.run("%%llm gpt-4o-mini\nhi")
        usage = kernel.run("%llm usage").displayed[0]["text/plain"]
        use = kernel.run("%llm use claude-haiku").stdout
        config = kernel.run("%llm config").displayed[0]["text/plain"]
    assert "set MISTRAL_API_KEY" in models and "smollm2 (default)" in models
    assert "completion only (no chat template)" in models
    assert "openai:gpt-4o-mini" in usage and "estimates" in usage
    assert "anthropic:claude-3-5-haiku-latest" in use and "claude-haiku" in config


def test_planted_key_never_reaches_notebook_or_cache(kernel_env, fake, tmp_path) -> None:
    import nbformat
    from nbclient import NotebookClient

    fake.script(Reply(text="ok"), Reply(status=401, error_message="bad key"),
                Reply(text="ok", truncate_after=1))
    cells = ["%load_ext memories_magics", "%%llm gpt-4o-mini\nhi", "%%llm claude-haiku\nhi",
             "%%llm command-r\nhi", "%llm models", "%llm config", "%llm usage",
             ("import os; print(repr(__import__('memories_magics').LoadModel('openai', 'api', "
              "'gpt-4o-mini', api_key=os.environ['OPENAI_API_KEY'])))")]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120).execute(
        env={**__import__("os").environ, **kernel_env})
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    assert "ProviderError" in path.read_text()
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files
    for file in [path, *files]:
        assert PLANTED_KEY_PREFIX.encode() not in file.read_bytes(), file


def test_a_parsed_line_is_kept_and_handed_out_as_a_copy() -> None:
    """parse() keeps a line's result (a loop of cells skips argparse) but each cell gets its
    own Namespace, lists included; a bad line is an error every time."""
    from memories_magics.errors import UsageError
    from memories_magics.frontends.magics import LLMMagics, parse

    line = "smollm2 gemma -t 0.5 --max-tokens 20"
    first = parse(LLMMagics.compare, line)
    first.models.append("changed")
    first.temperature = 9
    second = parse(LLMMagics.compare, line)
    assert second.models == ["smollm2", "gemma"] and second.temperature == 0.5
    assert second is not first and second.max_tokens == 20
    for _ in range(2):
        with pytest.raises(UsageError, match="see %%llm\\? for the options"):
            parse(LLMMagics.llm, "--temprature 0")
