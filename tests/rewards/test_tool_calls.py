import json

from rewards.tool_answers import answer_correct, answer_items
from rewards.tool_calls import (
    MAX_DEPTH,
    bfcl_schema,
    call_matches,
    close_trailing_call,
    json_depth,
    match_calls,
    parse_tool_calls,
)


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


def fn(**properties):
    return {"name": "f", "parameters": {"type": "dict", "properties": properties, "required": []}}


# ---- parsing ----------------------------------------------------------------------------------
def test_parse_reports_malformed_calls_and_skips_think():
    text = (
        '<think><tool_call>{"name":"x"}</tool_call></think>'
        '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}'
        "</tool_call><tool_call>[]</tool_call><tool_call>"
    )
    calls, errors = parse_tool_calls(text)
    assert calls == [call("f", a=1)] and len(errors) == 2


def test_over_deep_arguments_are_refused_at_parse_time():
    for depth in (MAX_DEPTH + 1, 500, 990):
        nested = "[" * depth + "]" * depth
        calls, errors = parse_tool_calls(
            f'<tool_call>{{"name": "f", "arguments": {{"a": {nested}}}}}</tool_call>'
        )
        assert calls == [] and ("deeper than" in errors[0] or "not valid JSON" in errors[0])
    assert json_depth({"a": [[1]]}) == 3
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_tool_calls(f'<tool_call>{{"name": "f", "arguments": {{"a": {ok}}}}}</tool_call>')[0]


# ---- BFCL type translation ----------------------------------------------------------------------
def test_bfcl_schema_translates_types_and_keeps_a_parameter_named_type():
    schema = {
        "type": "dict",
        "properties": {
            "type": {"type": "string", "enum": ["a", "b"]},
            "ratio": {"type": "float"},
            "pair": {"type": "tuple", "items": {"type": "float"}},
            "anything": {"type": "any", "description": "x"},
        },
        "required": ["type"],
    }
    out = bfcl_schema(schema)
    assert out["type"] == "object" and out["properties"]["type"] == {"type": "string", "enum": ["a", "b"]}
    assert out["properties"]["ratio"] == {"type": "number"}
    assert out["properties"]["pair"] == {"type": "array", "items": {"type": "number"}}
    assert out["properties"]["anything"] == {"description": "x"} and out["required"] == ["type"]


# ---- matching like BFCL's checker ------------------------------------------------------------------
def test_dict_arguments_match_key_by_key_with_string_normalisation():
    spec = fn(filters={"type": "dict", "properties": {}})
    truth = {"f": {"filters": [{"city": ["New York", "NYC"], "days": [3], "unit": ["", "celsius"]}]}}
    assert not call_matches(call("f", filters={"city": "new york", "days": 3}), truth, spec)
    assert not call_matches(call("f", filters={"city": "NYC", "days": 3, "unit": "Celsius"}), truth, spec)
    assert call_matches(call("f", filters={"city": "Boston", "days": 3}), truth, spec)
    assert call_matches(call("f", filters={"city": "NYC"}), truth, spec)  # a required key is missing
    assert call_matches(call("f", filters={"city": "NYC", "days": 3, "extra": 1}), truth, spec)


def test_bool_is_not_int_even_inside_lists():
    spec = fn(flags={"type": "array", "items": {"type": "boolean"}}, n={"type": "integer"})
    truth = {"f": {"flags": [[True, False]], "n": ["", 1]}}
    assert not call_matches(call("f", flags=[True, False]), truth, spec)
    assert call_matches(call("f", flags=[1, 0]), truth, spec)
    assert call_matches(call("f", flags=[True, False], n=True), truth, spec)
    assert not call_matches(call("f", flags=[True, False], n=1), truth, spec)


def test_int_for_float_strings_normalised_lists_of_dicts_and_optionals():
    spec = fn(
        x={"type": "float"},
        s={"type": "string"},
        rows={"type": "array", "items": {"type": "dict"}},
        tags={"type": "array", "items": {"type": "string"}},
    )
    truth = {
        "f": {"x": [2.0], "s": ["April 1, 2024"], "rows": ["", [{"a": [1]}]], "tags": ["", ["New-York"]]}
    }
    assert not call_matches(call("f", x=2, s="april 1 2024"), truth, spec)
    assert not call_matches(
        call("f", x=2.0, s="April 1,2024", rows=[{"a": 1}], tags=["new york"]), truth, spec
    )
    assert call_matches(call("f", x=2.0, s="April 2, 2024"), truth, spec)
    assert call_matches(call("f", x="2.0", s="April 1, 2024"), truth, spec)
    assert call_matches(call("f", x=2.0, s="April 1, 2024", rows=[{"a": 2}]), truth, spec)
    assert call_matches(call("f", s="April 1, 2024"), truth, spec)  # x is not optional


def test_parallel_calls_match_in_any_order_and_count():
    truth = [{"g": {"city": ["Paris"]}}, {"g": {"city": ["Boston"]}}]
    assert match_calls([call("g", city="boston"), call("g", city="paris")], truth)[0]
    assert not match_calls([call("g", city="paris")], truth)[0]
    assert not match_calls([call("g", city="paris")] * 2, truth)[0]
    assert match_calls([call("f", a=1)], [{"f": {"a": [1.0]}}])[0]


# ---- the final answer -------------------------------------------------------------------------
def test_the_answer_must_state_each_value_not_list_candidates():
    assert answer_correct("<answer>1234.5</answer>", [1234.5])[0]
    assert answer_correct("<answer>[12, 7.25]</answer>", [7.25, 12])[0]
    assert answer_correct("<answer>$1,234.50</answer>", [1234.5])[0]
    assert answer_correct("<answer>Vorel Tam and 12 units</answer>", ["vorel tam", 12])[0]
    assert answer_correct('<answer>{"a": "Oslo", "b": 3}</answer>', ["oslo", 3])[0]
    assert not answer_correct("<answer>1234.5, 1000, 77</answer>", [1234.5])[0]
    assert not answer_correct("<answer>Paris, Tokyo, Lima</answer>", ["Tokyo"])[0]
    assert not answer_correct("<answer>it is 1234.5 or 1200</answer>", [1234.5])[0]
    assert not answer_correct("<answer>[12, 12]</answer>", [12, 7.25])[0]
    assert not answer_correct("1234.5", [1234.5])[0]  # no <answer>
    assert not answer_correct(f"<answer>{json.dumps(list(range(100)))}</answer>", [5])[0]
    assert answer_items("a; b\nc") == ["a", "b", "c"]


def test_a_call_left_open_at_the_end_is_closed():
    body = '<tool_call>{"name": "f", "arguments": {}}'
    assert close_trailing_call(body) == body + "</tool_call>"
    assert parse_tool_calls(close_trailing_call(body)) == ([call("f")], [])
    closed = body + "</tool_call>"
    assert close_trailing_call(closed) == closed  # nothing to close
    assert close_trailing_call(closed + "<tool_call>{x") == closed + "<tool_call>{x</tool_call>"
    assert parse_tool_calls(close_trailing_call(closed + "<tool_call>{x"))[1]  # still malformed
