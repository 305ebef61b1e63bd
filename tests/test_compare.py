"""%%compare, aggregation, diff and fallbacks."""

from __future__ import annotations

import json

import pytest

from memories_magics.aggregate import Candidate, best_confidence, consensus, voting
from memories_magics.compare import run_models, summarise
from memories_magics.config import Config
from memories_magics.display.compare_view import COMPARE_MIME, compare_bundle
from memories_magics.engine import Engine
from memories_magics.errors import ProviderError
from memories_magics.events import Attempt
from memories_magics.types import Response
from tests.fakes import Reply
from tests.kernel import Kernel

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def compare(engine: Engine, models: list[str], prompt: str = "Say something.",
            method: str = "consensus", **options: object):
    specs = [engine.model(m) for m in models]
    requests = [engine.request(s, prompt) for s in specs]
    return summarise(prompt, run_models(engine, specs, requests, **options), method, "word")


def test_one_failing_model_does_not_stop_the_others(servers) -> None:
    servers["openai"].script(Reply(text="Paris is the capital."))
    servers["anthropic"].script(Reply(status=500, error_message="backend down"))
    servers["cohere"].script(Reply(text="The capital is Paris."))
    engine = Engine(Config.load())
    result = compare(engine, ["gpt-4o-mini", "claude-haiku", "command-r"])
    assert set(result.results) == {"gpt-4o-mini", "command-r"}
    assert "HTTP 500" in result.errors["claude-haiku"]
    assert "backend down" in result.errors["claude-haiku"]
    again = compare(engine, ["gpt-4o-mini", "command-r"])
    assert all(r.response.cached for r in again.results.values()), "the others were cached"


def test_models_stream_concurrently_into_columns(servers) -> None:
    for name in ("openai", "anthropic", "cohere"):
        servers[name].script(Reply(text=" ".join(["tok"] * 12), chunk_delay=0.05))
    columns: list[tuple[int, str]] = []
    engine = Engine(Config.load())
    compare(engine, ["gpt-4o-mini", "claude-haiku", "command-r"],
            on_chunk=lambda index, text: columns.append((index, text)))
    order = [index for index, _ in columns]
    first_done = max(order.index(i) for i in range(3))
    assert first_done < len(order) / 2, "every model streamed before any one had finished"


def test_magic_streams_columns_and_renders_static_view(servers) -> None:
    for name in ("openai", "anthropic"):
        servers[name].script(Reply(text=" ".join([name] * 15), chunk_delay=0.04))
    with Kernel(servers["env"]) as kernel:
        kernel.run("%load_ext memories_magics\nimport openai, anthropic  # SDK imports warm")
        run = kernel.run("%%compare gpt-4o-mini claude-haiku --aggregate voting -o cmp\nHello")
        check = kernel.run("print(sorted(cmp.results), cmp.aggregate.method)")
    live = [b["text/plain"] for b in run.displayed]
    assert any(p.count("(streaming…)") == 2 for p in live), "both columns filled at once"
    result = run.result
    payload = result[COMPARE_MIME]
    assert [r["model"] for r in payload["results"]] == ["gpt-4o-mini", "claude-haiku"]
    assert payload["aggregate"]["method"] == "voting"
    assert "tie" in payload["aggregate"]["explanation"]
    assert payload["diff"]["ops"] and "<del" in result["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in result  # no hidden comm
    assert check.stdout == "['claude-haiku', 'gpt-4o-mini'] voting\n"


def test_static_views_escape_model_text(servers) -> None:
    servers["openai"].script(Reply(text=HOSTILE))
    servers["anthropic"].script(Reply(text=HOSTILE + " and more"))
    engine = Engine(Config.load())
    bundle = compare_bundle(compare(engine, ["gpt-4o-mini", "claude-haiku"]))
    html = bundle["text/html"]
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert json.loads(json.dumps(bundle[COMPARE_MIME]))["results"][0]["text"] == HOSTILE


def test_consensus_picks_the_answer_closest_to_the_others() -> None:
    found = consensus([Candidate("a", "The sky is blue today"),
                       Candidate("b", "the sky is blue"),
                       Candidate("c", "the sky is blue at noon")])
    assert found.winner == 1 and found.score == pytest.approx((8 / 9 + 8 / 10) / 2)
    assert "mean word similarity" in found.explanation


def test_voting_counts_normalised_answers_and_explains_ties() -> None:
    found = voting([Candidate("a", "Paris."), Candidate("b", "paris"), Candidate("c", "Lyon")])
    assert found.winner == 0 and found.score == pytest.approx(2 / 3)
    assert found.explanation == "2 of 3 answers agree"
    tie = voting([Candidate("a", "Yes"), Candidate("b", "No")])
    assert tie.winner is None and tie.text == ""
    assert tie.explanation == "tie between a, b, so no winner (1 of 2 answers agree)"


def test_a_tie_has_no_winner() -> None:
    two = consensus([Candidate("a", "The sky is blue"), Candidate("b", "the sky is grey")])
    assert two.winner is None and two.score == pytest.approx(0.75)
    assert two.explanation.startswith("tie between a, b, so no winner")
    same = best_confidence([Candidate("a", "x", (-0.5,)), Candidate("b", "y", (-0.5,))])
    assert same.winner is None and "tie between a, b" in same.explanation


def test_best_confidence_uses_logprobs_else_says_it_fell_back() -> None:
    found = best_confidence([Candidate("a", "x", (-0.5, -0.7)), Candidate("b", "y", (-0.1,)),
                             Candidate("c", "z")])
    assert found.winner == 1 and "without log-probabilities: c" in found.explanation
    fallback = best_confidence([Candidate("a", "same words"), Candidate("b", "same words")])
    assert fallback.explanation.startswith("no model returned log-probabilities")


def test_best_confidence_asks_providers_for_logprobs(servers) -> None:
    servers["openai"].script(Reply(text="sure answer", logprobs=True))
    servers["anthropic"].script(Reply(text="other answer"))
    engine = Engine(Config.load())
    specs = [engine.model("gpt-4o-mini"), engine.model("claude-haiku")]
    requests = [engine.request(s, "q", logprobs=True) for s in specs]
    result = summarise("q", run_models(engine, specs, requests), "best_confidence", "word")
    assert servers["openai"].requests[-1].body["logprobs"] is True
    assert result.aggregate.winner == 0 and "highest mean token log-probability" in \
        result.aggregate.explanation


def run_chain(engine: Engine, chain: list) -> tuple:
    """The fallback layer drained: the model that answered, its response and the note."""
    attempt = None
    for event in engine.answer_chain(chain, lambda s: engine.request(s, "hi")):
        if isinstance(event, Attempt):
            attempt = event
        elif isinstance(event, Response):
            return attempt.spec, event, attempt.note
    raise AssertionError("no response")


def test_fallback_order_and_note(servers) -> None:
    servers["openai"].script(Reply(status=503, error_message="overloaded"))
    servers["anthropic"].script(Reply(text="from claude"))
    engine = Engine(Config.load())
    chain = [engine.model(m) for m in ("gpt-4o-mini", "claude-haiku", "command-r")]
    spec, response, note = run_chain(engine, chain)
    assert spec.alias == "claude-haiku" and response.text == "from claude"
    assert note.startswith("answered by fallback claude-haiku (gpt-4o-mini: openai: HTTP 503")
    assert servers["cohere"].requests == []


def test_all_fallbacks_failing_is_one_error(servers, monkeypatch) -> None:
    servers["openai"].script(Reply(status=500))
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    engine = Engine(Config.load())
    chain = [engine.model(m) for m in ("gpt-4o-mini", "claude-haiku")]
    failed = "every fallback failed: gpt-4o-mini: openai: HTTP 500"
    with pytest.raises(Exception, match=failed) as e:
        run_chain(engine, chain)
    assert "ANTHROPIC_API_KEY" in str(e.value)


def test_config_fallbacks_apply_to_the_magic(servers, tmp_path) -> None:
    config = tmp_path / "fallbacks.json"
    config.write_text(json.dumps({"global_settings": {"max_retries": 0},
                                  "fallbacks": {"gpt-4o-mini": ["claude-haiku"]}}))
    servers["openai"].script(Reply(status=500, error_message="nope"))
    servers["anthropic"].script(Reply(text="claude stepped in"))
    with Kernel({**servers["env"], "MEMORIES_MAGICS_CONFIG": str(config)}) as kernel:
        kernel.run("%load_ext memories_magics")
        run = kernel.run("%%llm gpt-4o-mini\nhi")
    meta = run.result["application/vnd.memories-magics.result+json"]
    assert meta["text"] == "claude stepped in" and meta["model"] == "claude-haiku"
    assert "answered by fallback claude-haiku" in run.result["text/plain"]


def test_provider_error_is_raised_when_there_is_no_fallback(servers) -> None:
    servers["openai"].script(Reply(status=500))
    engine = Engine(Config.load())
    with pytest.raises(ProviderError):
        run_chain(engine, [engine.model("gpt-4o-mini")])


def _pair(a: str, b: str, mode: str = "word", method: str = "consensus"):
    """A two-column CompareResult over local answers ``a`` and ``b``, no model called."""
    from memories_magics.compare import ModelOutcome
    from memories_magics.config import ModelSpec
    from memories_magics.result import LLMResult
    from memories_magics.types import Request, Response

    outcomes = []
    for name, text in (("left", a), ("right", b)):
        spec = ModelSpec("local", name, alias=name, type="local")
        request = Request.from_prompt("local", name, "q")
        outcomes.append(ModelOutcome(spec, request, LLMResult(
            Response(text, name, "local", finish_reason="stop"), spec, request)))
    return summarise("q", outcomes, method, mode)


def test_diffs_read_like_a_code_review() -> None:
    html = compare_bundle(_pair("It is often classified blue.", "It is usually called blue."))
    assert "[-often classified-] {+usually called+}" in html["text/plain"]
    assert "often classified</del> <ins" in html["text/html"], "removed and added not glued"
    lines = compare_bundle(_pair("one\ntwo\nthree", "one\n2\nthree", "line"))
    assert "  one\n- two\n+ 2\n  three" in lines["text/plain"]
    assert lines["text/html"].count("<div style=\"background") == 2, "one row per changed line"


def test_trailing_blank_lines_are_no_difference() -> None:
    """An answer's trailing blank lines, deleted in the other, left a lone "." followed by an
    empty change mark (``{+Rome+}.[-\n\n-]``): the diff compares the answers as read."""
    bundle = compare_bundle(_pair("The capital is Paris.\n\n", "The capital is Rome."))
    assert bundle["text/plain"].endswith("The capital is [-Paris-] {+Rome+}."), \
        bundle["text/plain"][-80:]
    assert bundle["text/html"].endswith("<ins>Rome</ins>.</div>"), bundle["text/html"][-80:]
    assert bundle[COMPARE_MIME]["diff"]["ops"][-1] == ["equal", "."]
    same = compare_bundle(_pair("Paris.\n\n\n", "Paris.\n", "line"))
    assert same["text/plain"].endswith("  Paris."), same["text/plain"][-40:]


def test_long_comparisons_are_bounded_and_diffed_once(monkeypatch) -> None:
    """Bounded output, one diff per mode; the speed of this is measured in bench/ (bigcompare)."""
    import random

    import memories_magics.display.compare_view as compare_module
    from memories_magics.display.safe import MAX_DISPLAY_CHARS

    rng = random.Random(1)
    words = [f"w{i}" for i in range(2000)] + ["the", "a", "of", "to", "in", "is"]
    a = " ".join(rng.choice(words) for _ in range(20_000))[:100_000]
    b = " ".join(rng.choice(words) for _ in range(20_000))[:100_000]
    calls = []
    real = compare_module.diff_ops
    monkeypatch.setattr(compare_module, "diff_ops",
                        lambda *args: calls.append(args) or real(*args))
    for mode in ("word", "line", "char"):
        result = _pair(a, b, mode)
        bundles = [compare_bundle(result) for _ in range(3)]  # re-displays reuse the diff
        payload = bundles[0][COMPARE_MIME]
        shown = sum(len(text) for _, text in payload["diff"]["ops"])
        assert shown <= 2 * MAX_DISPLAY_CHARS
        assert len(bundles[0]["text/html"]) < 12 * MAX_DISPLAY_CHARS
    assert len(calls) == 3, "each diff computed once"


def test_nbconvert_html_shows_columns_aggregate_and_diff(tmp_path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbconvert = pytest.importorskip("nbconvert")
    from html.parser import HTMLParser

    bundle = compare_bundle(_pair("The sky is blue <today>.", "The sky is grey <today>.",
                                  method="voting"))
    cell = nbformat.v4.new_code_cell("%%compare left right\nq", outputs=[
        nbformat.v4.new_output("execute_result", data=bundle, execution_count=1)])
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))

    class Visible(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.text = 0, []

        def handle_starttag(self, tag, attrs) -> None:
            self.hidden += tag in ("script", "style", "template")

        def handle_endtag(self, tag) -> None:
            self.hidden -= tag in ("script", "style", "template")

        def handle_data(self, data) -> None:
            if not self.hidden:
                self.text.append(data)

    parser = Visible()
    parser.feed(html)
    text = "".join(parser.text)
    assert "The sky is blue <today>." in text and "The sky is grey <today>." in text
    assert "voting: no winner (score 0.50): tie between left, right" in text
    assert "Diff (word): left → right" in text
    assert "The sky is blue grey <today>." in text, "the diff, its removed and added words apart"
