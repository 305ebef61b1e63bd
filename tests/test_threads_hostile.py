"""Threads under careless and hostile input, in real kernels: odd, huge and Unicode thread
names, Unicode and broken text in the history, cell ids that are missing or garbage, a middle
cell re-run, Ctrl-C in the middle of a continued cell."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeLLMServer, Reply
from tests.kernel import CellRun, Kernel

RESULT = "application/vnd.memories-magics.result+json"


def payload(run: CellRun) -> dict[str, Any]:
    assert run.result is not None, run.error
    return run.result[RESULT]


def contents(fake: FakeLLMServer) -> list[Any]:
    return [m["content"] for m in fake.requests[-1].body["messages"]]


def shown(kernel: Kernel, name: str = "") -> str:
    return str(kernel.run(f"%llm thread show {name}").displayed[-1]["text/plain"])


def test_odd_huge_and_unicode_thread_names_are_one_short_line(provider_env: dict[str, str],
                                                               fake: FakeLLMServer) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        for name in ("café", "'x" + "y" * 10_000 + "'", "'a\u202eb'", "'t\u200b1'",
                     "'\U0001f642'", "'a\\x00b'"):
            line = kernel.run(f"%%llm gpt-4o-mini --thread {name}\nhello").one_line_error()
            assert "a thread name is a letter" in line and len(line) < 200, line
            assert "\u202e" not in line and "\u200b" not in line  # shown escaped
        assert "--thread" in kernel.run("%%llm gpt-4o-mini --thread -c\nhi").one_line_error()
        assert kernel.run("%%llm gpt-4o-mini --thread t2\nnamed like an automatic one")\
            .error is None
        kernel.run("%%llm gpt-4o-mini\nfirst plain")
        kernel.run("%%llm gpt-4o-mini\nsecond plain")  # t2 is taken: t3
        listed = kernel.run("%llm thread list").displayed[-1]["text/plain"]
        assert all(n in listed for n in ("t1", "t2", "t3 (latest)")), listed
        assert "no thread named" in kernel.run(f"%llm thread show {'z' * 5000}").one_line_error()
    assert len(fake.requests) == 3  # no bad name reached a model


def test_unicode_and_broken_text_round_trip_through_a_thread(provider_env: dict[str, str],
                                                             fake: FakeLLMServer) -> None:
    answer = "答え 🙂 \u202eevil\u202c and <b>bold</b>"
    fake.script(Reply(text=answer), Reply(text="ok"), Reply(text="fine"))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics\nbroken = 'half a pair: \\ud800 here'")
        kernel.run("%%llm gpt-4o-mini\nÜnïcödé 🙂 שלום")
        assert kernel.run("%%llm -c\n{broken}").error is None  # a lone surrogate, interpolated
        assert contents(fake) == ["Ünïcödé 🙂 שלום", answer, "half a pair: \ufffd here"]
        assert kernel.run("%%llm -c\nagain").error is None
        assert contents(fake)[:4] == ["Ünïcödé 🙂 שלום", answer, "half a pair: \ufffd here",
                                      "ok"]
        transcript = kernel.run("%llm thread show").displayed[-1]
    assert "Ünïcödé 🙂 שלום" in transcript["text/plain"] and "答え" in transcript["text/plain"]
    assert "<b>bold</b>" not in transcript["text/html"]


@pytest.mark.parametrize("garbage", [7, {"id": "a"}, ["a"], "", None, True])
def test_a_missing_or_garbage_cell_id_appends(provider_env: dict[str, str], fake: FakeLLMServer,
                                              garbage: object) -> None:
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini\none", cell_id=garbage)
        kernel.run("%%llm -c\ntwo", cell_id=garbage)
        again = kernel.run("%%llm -c\ntwo", cell_id=garbage)  # not a re-run: appends
    assert [m["role"] for m in fake.requests[-1].body["messages"]] == \
        ["user", "assistant"] * 2 + ["user"]
    assert "dropped" not in (payload(again)["note"] or "")


def test_rerunning_a_middle_cell_drops_the_later_turns_with_one_line(
        provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    fake.script(*(Reply(text=t) for t in ("A", "B", "C", "B2", "C2")))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini\nfirst", cell_id="cell-a")
        kernel.run("%%llm -c\nsecond", cell_id="cell-b")
        kernel.run("%%llm -c\nthird", cell_id="cell-ü🙂")  # any short string is an id
        middle = kernel.run("%%llm -c\nsecond, reworded", cell_id="cell-b")
        note = payload(middle)["note"]
        assert "re-ran turn 2 of thread t1: dropped 1 later turn (In [4])" in note, note
        assert contents(fake) == ["first", "A", "second, reworded"]
        transcript = shown(kernel)
        assert "Thread t1: 2 turns" in transcript and "third" not in transcript
        last = kernel.run("%%llm -c\nthird", cell_id="cell-ü🙂")  # its turn was dropped
        assert "dropped" not in (payload(last)["note"] or "")
        assert contents(fake) == ["first", "A", "second, reworded", "B2", "third"]


def test_ctrl_c_in_a_continued_cell_keeps_the_partial_text_but_adds_no_turn(
        provider_env: dict[str, str], fake: FakeLLMServer) -> None:
    fake.script(Reply(text="Mars."), Reply(text=" ".join(["word"] * 400), chunk_delay=0.05),
                Reply(text="Next."))
    with Kernel(provider_env) as kernel:
        kernel.run("%load_ext memories_magics")
        kernel.run("%%llm gpt-4o-mini\nName a planet.")
        stopped = kernel.run("%%llm -c\nTell me everything.", interrupt_after=0.3)
        answer = payload(stopped)
        assert answer["interrupted"] is True and answer["text"].startswith("word")
        assert len(answer["text"].split()) < 400 and stopped.error is None
        assert "not added to thread t1: no complete answer" in answer["note"]
        assert "Thread t1: 1 turn" in shown(kernel) and "word" not in shown(kernel)
        miss = kernel.run("%%llm -c --cache replay\nTell me everything.")
        assert "no cached" in miss.one_line_error().lower()  # nothing cached either
        kernel.run("%%llm -c\nAnd its moons?")
    assert contents(fake) == ["Name a planet.", "Mars.", "And its moons?"]
