"""Every bundle the renderers produce validates against memories_magics/payload.schema.json,
whose enums are vocabulary.json's, and the kernel's footer items say what the user reads."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image
from pydantic import BaseModel

from memories_magics.compare import CompareResult, ModelOutcome, summarise
from memories_magics.config import ModelSpec
from memories_magics.display.compare_view import compare_bundle
from memories_magics.display.render import result_bundle
from memories_magics.display.safe import MAX_DISPLAY_CHARS
from memories_magics.result import LLMResult
from memories_magics.schema import Schema, make_schema
from memories_magics.types import Attachment, Request, Response, ToolCall, ToolStep, Usage
from memories_magics.vocabulary import COMPARE_MIME, RESULT_MIME, VOCABULARY

PACKAGE = Path(__file__).resolve().parents[1] / "memories_magics"
SCHEMA = json.loads((PACKAGE / "payload.schema.json").read_text())
LOCAL = ModelSpec("local", "smollm2", alias="smollm2", type="local")
HOSTED = ModelSpec("openai", "gpt-4o-mini", alias="gpt-4o-mini", price_in=0.15, price_out=0.6)


def validate(payload: Any, definition: str) -> None:
    """Against one definition, and against the whole schema (either payload)."""
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    one = {key: value for key, value in SCHEMA.items() if key != "oneOf"}
    jsonschema.validate(payload, {**one, "$ref": f"#/definitions/{definition}"},
                        cls=jsonschema.Draft7Validator)
    jsonschema.validate(json.loads(json.dumps(payload)), SCHEMA, cls=jsonschema.Draft7Validator)


class City(BaseModel):
    name: str
    population: int


def answer(text: str = "Hello **world**.", spec: ModelSpec = LOCAL, fmt: str = "markdown",
           schema: Schema | None = None, attachments: tuple[Attachment, ...] = (),
           **response: Any) -> LLMResult:
    fields: dict[str, Any] = {"finish_reason": "stop", "usage": Usage(9, 33), "latency_s": 2.81,
                              "first_token_s": 0.95, "cache_key": "ab12", **response}
    note = fields.pop("note", "")
    request = replace(Request.from_prompt(spec.provider, spec.name, "Say hello.", max_tokens=30,
                                          seed=1), attachments=attachments)
    return LLMResult(Response(text, spec.name, spec.provider, **fields), spec, request, fmt,
                     note=note, schema=schema)


def attachment(width: int, height: int, name: str, mode: str = "RGB") -> Attachment:
    """An image as sent: a PNG of noise (the largest a thumbnail gets) with a colour profile."""
    import numpy as np

    noise = np.random.default_rng(0)
    pixels = noise.integers(0, 256, (height, width, len(mode)), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format="PNG", icc_profile=noise.bytes(300_000))
    return Attachment(f"{width:064x}", buffer.getvalue(), width, height, name)


IMAGES = (attachment(640, 480, "fig", "RGBA"), attachment(20, 20, '{"<b>x</b>"}'))
CITIES = make_schema(list[City], "list[City]")
DEEP: dict[str, Any] = {"leaf": "<b>x</b>"}
for _ in range(30):
    DEEP = {"d": DEEP}


STEPS = [ToolStep(ToolCall("1", "get_weather", {"city": "Paris"}), "21 C in Paris"),
         ToolStep(ToolCall("2", "get_weather", {"city": 3}), "TypeError: city", is_error=True)]
RESULTS = {
    "plain": answer(),
    "cached": answer(cached=True),
    "hosted": answer(spec=HOSTED, usage=Usage(3, None)),
    "truncated": answer(finish_reason=None, error="connection dropped"),
    "interrupted": answer(interrupted=True),
    "max_tokens": answer(finish_reason="length"),
    "content_filter": answer(finish_reason="content_filter"),
    "tools": answer(tool_steps=tuple(STEPS), cached=True),
    "fallback": answer(note="answered by fallback smollm2 (gpt-4o-mini: HTTP 503)"),
    "long": answer("x" * (MAX_DISPLAY_CHARS + 5)),
    **{f"format {fmt}": answer('```json\n{"a": 1}\n```', fmt=fmt)
       for fmt in VOCABULARY["formats"]},
    "bad json": answer("nope", fmt="json"),
    "schema": answer('{"name": "Paris", "population": 2102650}', schema=make_schema(City)),
    "schema invalid": answer('{"name": "Paris", "population": "many"}', fmt="json",
                             schema=make_schema(City)),
    "schema huge": answer(json.dumps({"items": [{"name": "<script>" + "x" * 5_000,
                                                 "population": i} for i in range(1_000)]}),
                          schema=CITIES),
    "schema deep": answer(json.dumps({"a": DEEP, "nan": 1}), schema=make_schema(
        {"type": "object"}, "anything")),
    "images": answer(attachments=IMAGES),
    "images, text format": answer(fmt="text", attachments=IMAGES[1:]),
}


@pytest.mark.parametrize("name", RESULTS)
def test_result_bundles_validate(name: str) -> None:
    bundle = result_bundle(RESULTS[name])
    validate(bundle[RESULT_MIME], "result")


def test_schema_answers_carry_the_value_bounded_or_the_errors() -> None:
    def part(name: str) -> dict[str, Any]:
        payload: dict[str, Any] = result_bundle(RESULTS[name])[RESULT_MIME]["schema"]
        return payload

    assert "schema" not in result_bundle(RESULTS["plain"])[RESULT_MIME]
    assert part("schema") == {"name": "City", "ok": True, "cut": False, "errors": [],
                              "value": {"name": "Paris", "population": 2102650}}
    invalid = part("schema invalid")
    assert (invalid["ok"], invalid["value"], len(invalid["errors"])) == (False, None, 1)
    assert "population" in invalid["errors"][0]
    huge = part("schema huge")
    limits = VOCABULARY["value_table"]
    assert huge["cut"] and len(huge["value"]) == limits["max_rows"]
    assert huge["value"][0]["name"] == "<script>" + "x" * (limits["max_leaf_chars"] - 8)
    node = part("schema deep")["value"]["a"]
    for _ in range(limits["max_depth"] - 1):
        node = node["d"]
    assert isinstance(node, str) and node.startswith('{"d": {"d"')  # compact JSON, cut
    assert len(node) <= limits["max_leaf_chars"]


def test_schema_values_bound_what_json_cannot_hold() -> None:
    from memories_magics.display.value_view import bounded

    assert bounded({"x": float("nan"), "y": [float("inf")], 3: "\ud800"}) == (
        {"x": "nan", "y": ["inf"], "3": "\ufffd"}, False)
    json.dumps(bounded({"x": float("-inf")})[0], allow_nan=False)


def kinds(result: LLMResult) -> dict[str, str]:
    return {item["kind"]: item["text"]
            for item in result_bundle(result)[RESULT_MIME]["footer_items"]}


def test_footer_items_say_what_happened() -> None:
    assert kinds(RESULTS["plain"]) == {
        "model": "smollm2", "tokens": "9 in / 33 out tokens", "latency": "2.81 s",
        "first_token": "first token 0.95 s", "cost": "$0 (local)"}
    assert kinds(RESULTS["cached"])["cached"] == "cached"
    assert kinds(RESULTS["hosted"])["tokens"] == "3 in / ? out tokens"
    assert kinds(RESULTS["hosted"])["cost"] == "<$0.0001 est."
    assert kinds(RESULTS["truncated"])["truncated"] == \
        "truncated: the stream ended early (connection dropped), not cached"
    assert kinds(RESULTS["interrupted"])["interrupted"].startswith("interrupted")
    assert kinds(RESULTS["max_tokens"])["max_tokens"] == "stopped at --max-tokens"
    assert kinds(RESULTS["tools"])["tools"] == \
        "2 tool calls replayed from cache (functions not re-run)"
    assert kinds(RESULTS["fallback"])["note"].startswith("answered by fallback")
    assert kinds(RESULTS["long"])["cut"].startswith(f"showing {MAX_DISPLAY_CHARS:,} of")
    # The text/plain footer is the same items, joined.
    plain = result_bundle(RESULTS["cached"])["text/plain"]
    assert plain.endswith("[smollm2 · 9 in / 33 out tokens · 2.81 s · first token 0.95 s · "
                          "$0 (local) · cached]")


def test_tool_steps_are_in_the_payload() -> None:
    steps = result_bundle(RESULTS["tools"])[RESULT_MIME]["tool_steps"]
    assert steps[1] == {"name": "get_weather", "arguments": {"city": 3},
                        "result": "TypeError: city", "is_error": True}


def column(result: LLMResult | None, error: str | None = None) -> ModelOutcome:
    spec = result.spec if result is not None else HOSTED
    return ModelOutcome(spec, Request.from_prompt(spec.provider, spec.name, "q"), result, error)


COMPARES = {
    "with an error column": lambda: summarise(
        "Say hello.", [column(RESULTS["plain"]), column(RESULTS["cached"]),
                       column(None, "OPENAI_API_KEY is not set")], "consensus", "word"),
    "all failed": lambda: summarise(
        "Say hello.", [column(None, "boom"), column(None, "also boom")], "voting", "line"),
    "one model": lambda: summarise("q", [column(RESULTS["tools"])], "best_confidence", "char"),
    "long answers": lambda: summarise(
        "p" * (MAX_DISPLAY_CHARS + 1), [column(RESULTS["long"]), column(RESULTS["plain"])],
        "consensus", "word"),
}


@pytest.mark.parametrize("name", COMPARES)
def test_compare_bundles_validate(name: str) -> None:
    result: CompareResult = COMPARES[name]()
    payload = compare_bundle(result)[COMPARE_MIME]
    validate(payload, "compare")
    for text in [payload["prompt"], payload["aggregate"]["text"] if payload["aggregate"] else "",
                 *(c["text"] for c in payload["results"])]:
        assert len(text) <= MAX_DISPLAY_CHARS


def test_sent_images_are_in_the_payload_only_when_there_are_some() -> None:
    for name, result in RESULTS.items():
        assert ("sent" in result_bundle(result)[RESULT_MIME]) == name.startswith("images"), name
    bundle = result_bundle(RESULTS["images"])
    sent = bundle[RESULT_MIME]["sent"]
    assert [(i["name"], i["width"], i["height"]) for i in sent] == [
        ("fig", 640, 480), ('{"<b>x</b>"}', 20, 20)]
    # The same thumbnails as the kernel's HTML, in its order, within the schema's limit.
    assert [i["url"] for i in sent] == [
        part.split('"')[0] for part in bundle["text/html"].split('<img src="')[1:]]
    limit = SCHEMA["definitions"]["sentImage"]["properties"]["url"]["maxLength"]
    assert all(len(i["url"]) <= limit for i in sent), [len(i["url"]) for i in sent]
    # The most images any provider takes in one request are all shown.
    from memories_magics.providers import provider_class, provider_names

    assert max(provider_class(p).image_limits.max_images for p in provider_names()) == \
        SCHEMA["definitions"]["sent"]["maxItems"]


def test_a_comparison_carries_its_images_once_above_its_columns() -> None:
    def outcome(result: LLMResult) -> ModelOutcome:
        return ModelOutcome(result.spec, result.request, result, None)

    with_images = answer(attachments=IMAGES)
    result = summarise("Say hello.", [outcome(with_images), outcome(answer(spec=HOSTED,
                       attachments=IMAGES))], "consensus", "word")
    payload = compare_bundle(result)[COMPARE_MIME]
    validate(payload, "compare")
    assert payload["sent"] == result_bundle(with_images)[RESULT_MIME]["sent"]
    assert not any("sent" in column for column in payload["results"])
    assert "sent" not in compare_bundle(COMPARES["one model"]())[COMPARE_MIME]
    with pytest.raises(jsonschema.ValidationError):  # only our data URLs
        validate({**payload, "sent": [{**payload["sent"][0], "url": "javascript:alert(1)"}]},
                 "compare")


def test_schema_enums_are_the_vocabulary() -> None:
    definitions = SCHEMA["definitions"]
    result = definitions["result"]["properties"]
    compare = definitions["compare"]["properties"]
    assert result["format"]["enum"] == VOCABULARY["formats"]
    assert result["finish_reason"]["enum"] == [*VOCABULARY["finish_reasons"], None]
    assert definitions["footerItem"]["properties"]["kind"]["enum"] == VOCABULARY["footer_kinds"]
    assert definitions["diffOp"]["items"][0]["enum"] == VOCABULARY["diff_ops"]
    assert compare["aggregate"]["anyOf"][1]["properties"]["method"]["enum"] == \
        VOCABULARY["aggregation_methods"]
    assert compare["diff"]["anyOf"][1]["properties"]["mode"]["enum"] == VOCABULARY["diff_modes"]


def test_the_schema_rejects_drift() -> None:
    payload = result_bundle(RESULTS["plain"])[RESULT_MIME]
    for broken in ({**payload, "finish_reason": "end_turn"}, {**payload, "footer": "x"},
                   {**payload, "footer_items": [{"kind": "vendor", "text": "x"}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, "result")
