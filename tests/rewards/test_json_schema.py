import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards.json_schema import (
    NotStrictJSON,
    check_refs,
    extract_json,
    implied_root_types,
    json_closeness,
    nesting_depth,
    repair_closeness,
    root_type_error,
    schema_errors,
    schema_refs,
    sound_paths,
    strict_loads,
)


def test_nesting_and_closeness():
    assert nesting_depth('{"a": "[[[[", "b": [[1]]}') == 3
    assert nesting_depth('"\\"[" [1]') == 1
    assert json_closeness({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}}) == 0.5
    assert json_closeness({}, {}) == 1.0
    assert json_closeness({"a": 1}, {"a": 1, "b": 2}) == 0.5


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "[Infinity]",
        '{"a": -Infinity}',
        "1e400",
        "-1e400",
        '{"a": 1, "a": 2}',
        '[{"k": {"x": 1, "x": 1}}]',
    ],
)
def test_strict_loads_refuses_what_json_does_not_allow(text):
    json.loads(text)  # Python's json accepts every one of these
    with pytest.raises(NotStrictJSON):
        strict_loads(text)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False, min_value=-(2.0**53), max_value=2.0**53)
        | st.text(max_size=10),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
        max_leaves=20,
    )
)
def test_strict_loads_agrees_with_json_on_json(value):
    text = json.dumps(value)
    assert strict_loads(text) == json.loads(text)


def test_extract_json_reasons():
    assert extract_json(" [1, 2] ") == ([1, 2], "ok")
    assert extract_json("NaN") == (None, "not strict JSON: NaN is not a JSON value")
    assert extract_json('{"a": 1, "a": 2}')[1].startswith("not strict JSON: duplicate key 'a'")
    assert extract_json("```json\n{}\n```") == (
        None,
        "reply must be the JSON value alone (no code fence or prose)",
    )
    assert extract_json("```json\n{}\n```", allow_wrapped=True) == ({}, "ok")
    assert extract_json('```\n{"v": NaN}\n```', allow_wrapped=True)[1].startswith("not strict JSON")
    assert extract_json("[" * 100 + "]" * 100) == (None, "JSON nested deeper than 64")


def test_implied_root_types():
    assert implied_root_types({"type": "object"}) is None
    assert implied_root_types({"enum": [None, 1]}) is None
    assert implied_root_types({"properties": {}}) == ("object",)
    assert implied_root_types({"required": ["a"], "$defs": {}}) == ("object",)
    assert implied_root_types({"items": {}, "minItems": 1}) == ("array",)
    assert implied_root_types({"minimum": 1}) == ("number",)
    assert implied_root_types({"pattern": "^a"}) == ("string",)
    assert implied_root_types({"oneOf": [{"required": ["a"]}]}) == ("object", "array")
    assert implied_root_types({}) == ("object", "array")
    assert root_type_error({}, {"properties": {}}) is None
    assert root_type_error(True, {"minimum": 0}) == "(root): expected a number, got a boolean"
    assert root_type_error(None, {}) == "(root): expected an object or an array, got null"


def test_schema_errors_include_the_implied_root_type():
    schema = {"properties": {"a": {"type": "integer"}}}
    assert schema_errors({"a": 1}, schema) == []
    assert schema_errors(None, schema) == ["(root): expected an object, got null"]
    assert schema_errors("x", {"required": ["a"]}) == ["(root): expected an object, got a string"]


def test_refs_must_stay_inside_the_schema():
    schema = {
        "$defs": {"a": {"$anchor": "A", "type": "string"}, "b": {"$ref": "#/$defs/a"}},
        "properties": {"x": {"$ref": "#A"}, "y": {"$ref": "#"}, "$ref": {"type": "string"}},
    }
    assert sorted(schema_refs(schema)) == ["#", "#/$defs/a", "#A"]
    check_refs(schema)
    with_id = {
        "$id": "https://example.com/s.json",
        "$defs": {"a": {}},
        "properties": {"x": {"$ref": "#/$defs/a"}},
    }
    check_refs(with_id)
    for ref in ("http://example.com/s.json", "file:///etc/passwd", "s.json", "//host/x", "urn:x"):
        with pytest.raises(ValueError, match="points outside the schema"):
            check_refs({"properties": {"x": {"$ref": ref}}})
    with pytest.raises(ValueError, match="points outside the schema"):
        check_refs({"$dynamicRef": "https://example.com/meta"})
    with pytest.raises(ValueError, match="points to nothing"):
        check_refs({"properties": {"x": {"$ref": "#/$defs/none"}}})
    deep = {"x": 1}
    for _ in range(5000):
        deep = {"not": deep}
    assert schema_refs(deep) == []


def test_validation_never_retrieves(monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("the validator tried to fetch a URL")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(ValueError, match="points outside the schema"):
        schema_errors({}, {"$ref": "http://127.0.0.1:9/x.json"})
    with pytest.raises(ValueError, match="points outside the schema"):
        schema_errors({}, {"properties": {"a": {"$ref": "file:///etc/hostname"}}})


# ---- red-team regressions (repair closeness, formats, exact numbers, whitespace) ----------------
REPAIR_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_leaf_paths_escape_slashes_like_json_pointer():
    original = {"a": {"b": "x", "c": "y"}}
    assert json_closeness(original, {"a": "z", "a/b": "x", "a/c": "y"}) == 0.0  # was 2/3 (path collision)
    assert json_closeness({"a/b": 1}, {"a": {"b": 1}}) == 0.0
    assert json_closeness({"~1": 1}, {"~1": 1}) == 1.0


def test_repair_closeness_keeps_the_sound_parts():
    original = {"name": "Ada", "age": "36", "tags": ["x", "y"], "extra": 1}
    assert sound_paths(original, REPAIR_SCHEMA) == {"/name", "/tags/0", "/tags/1", "/age/~"}  # mistyped
    minimal = {"name": "Ada", "age": 36, "tags": ["x", "y"]}
    assert repair_closeness(original, minimal, REPAIR_SCHEMA) == (1.0, 0.8)  # "36" -> 36: same leaf
    assert repair_closeness(original, {**minimal, "name": ["Ada"]}, REPAIR_SCHEMA)[0] == 0.75  # a sound leaf
    assert repair_closeness({"n": 118, "s": "x"}, {"n": 1.18e2, "s": "x"}, {"type": "object"}) == (1.0, 1.0)
    scratch = {"name": "Bob", "age": 1}
    assert repair_closeness(original, scratch, REPAIR_SCHEMA) == (0.125, 0.0)  # half: a value at age
    assert repair_closeness(original, {"name": "Bob", "age": 36}, REPAIR_SCHEMA)[0] == 0.25  # its content
    # nothing sound (the only leaves are under the error): a value kept at the bad place counts
    whole = {"a": {"b": "x"}}
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert repair_closeness(whole, {"a": "x"}, schema)[0] == 1.0
    assert repair_closeness(whole, {"b": "x"}, schema)[0] == 0.0


OPTIONAL_SCHEMA = {
    "type": "object",
    "properties": {
        "sku": {"type": "string"},
        "n": {"type": "integer", "maximum": 9},
        "tags": {"type": "array", "items": {"type": "string"}},
        "a": {"type": "string"},
        "b": {"type": "string"},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "original,fixed,deleted",
    [
        ({"sku": ["FV-097"], "a": "x", "b": "y"}, {"sku": "FV-097", "a": "x", "b": "y"}, ["sku"]),  # unwrap
        ({"tags": "maple", "a": "x", "b": "y"}, {"tags": ["maple"], "a": "x", "b": "y"}, ["tags"]),  # wrap
        ({"n": "7", "a": "x", "b": "y"}, {"n": 7, "a": "x", "b": "y"}, ["n"]),  # a number from its string
        ({"n": 12, "a": "x", "b": "y"}, {"n": 9, "a": "x", "b": "y"}, ["n"]),  # a value brought in range
        ({"sku": 5, "tags": ["x", 1]}, {"sku": "5", "tags": ["x", "1"]}, ["sku", "tags"]),
    ],
)
def test_a_repair_that_keeps_the_value_beats_deleting_it(original, fixed, deleted):
    # red team: deleting every field a validator complains about scored above the right repair
    attack = {key: value for key, value in original.items() if key not in deleted}
    assert not schema_errors(fixed, OPTIONAL_SCHEMA) and not schema_errors(attack, OPTIONAL_SCHEMA)
    kept_fix, close_fix = repair_closeness(original, fixed, OPTIONAL_SCHEMA)
    kept_del, close_del = repair_closeness(original, attack, OPTIONAL_SCHEMA)
    assert kept_fix == 1.0 and kept_del < 1.0
    assert 0.7 * kept_fix + 0.3 * close_fix > 0.7 * kept_del + 0.3 * close_del


def test_a_mistyped_value_keeps_its_content_and_other_bad_values_their_place():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}, "e": {"enum": ["a"]}}}
    original = {"n": "7", "e": "b"}
    assert sound_paths(original, schema) == {"/n/~", "/e/"}
    assert repair_closeness(original, {"n": 7, "e": "a"}, schema)[0] == 1.0
    assert repair_closeness(original, {"n": 3, "e": "a"}, schema)[0] == 0.75  # another number: half
    assert repair_closeness(original, {"e": "a"}, schema)[0] == 0.5  # deleted: nothing


def test_what_the_schema_forbids_is_removed_not_kept():
    original = {"a": "x", "extra": 2}  # additionalProperties: false
    assert sound_paths(original, OPTIONAL_SCHEMA) == {"/a"}
    assert repair_closeness(original, {"a": "x"}, OPTIONAL_SCHEMA)[0] == 1.0


@pytest.mark.parametrize(
    "fmt,bad,good",
    [
        ("date-time", "yesterday", "2024-05-01T10:00:00Z"),
        ("uri", "not a uri", "https://example.com/a"),
        ("hostname", "!!!", "example.com"),
        ("time", "noon", "10:00:00Z"),
        ("duration", "long", "P3D"),
        ("json-pointer", "a/b", "/a/b"),
        ("uri-reference", "\\\\x y", "/a?b=1"),
    ],
)
def test_every_format_is_checked(fmt, bad, good):
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": fmt}}}
    assert schema_errors({"v": bad}, schema) and not schema_errors({"v": good}, schema)


def test_a_format_that_cannot_be_checked_is_refused():
    with pytest.raises(ValueError, match="format 'made-up' cannot be checked"):
        schema_errors({}, {"type": "object", "properties": {"v": {"format": "made-up"}}})
    data = {"type": "object", "properties": {"v": {"const": {"format": "made-up", "$ref": "http://x"}}}}
    assert schema_errors({"v": {"format": "made-up", "$ref": "http://x"}}, data) == []  # data, not schema
    assert schema_refs(data) == []


def test_numbers_are_exact():
    assert not schema_errors(0.3, {"type": "number", "multipleOf": 0.1})
    assert schema_errors(0.35, {"type": "number", "multipleOf": 0.1})
    assert not schema_errors(10**30, {"type": "integer", "multipleOf": 5})
    for text in ("10.00000000000000000001", "9.99999999999999999999"):
        with pytest.raises(NotStrictJSON, match="not exactly a double"):
            strict_loads(text)
    assert strict_loads("0.1234567890123456") == 0.1234567890123456


@pytest.mark.parametrize(
    "text,read_as",
    [
        ("328.00000000000001", "328.0"),  # was validated as 328: an integer, not above maximum 328
        ("2.0000000000000001", "2.0"),
        ("1e-400", "0.0"),  # underflow
        ("-1e-400", "-0.0"),
        ("0.10000000000000001", "0.1"),
        ("9007199254740993.0", "9007199254740992.0"),  # the integer 2**53 + 1 is no double
        (
            "1.00000000000000001e23",
            "1.0000000000000001e+23",
        ),  # more digits than the double holds, at any magnitude
        ("1152921504606846977.0", "1.152921504606847e+18"),
    ],
)
def test_numbers_a_double_does_not_hold_as_written_are_refused(text, read_as):
    with pytest.raises(
        NotStrictJSON, match=f"not exactly a double \\(it would be read as {re.escape(read_as)}\\)"
    ):
        strict_loads(f"[{text}]")
    assert extract_json(f'{{"a": {text}}}')[1].startswith("not strict JSON: number")


@pytest.mark.parametrize(
    "text,value",
    [
        ("0.1", 0.1),
        ("0.10000000000000000000", 0.1),  # trailing zeros change nothing
        # I-JSON: numbers are doubles; a double's shortest round-trip form is right at any magnitude
        ("1e23", 1e23),
        ("6.022e23", 6.022e23),
        ("1.5e300", 1.5e300),
        ("1e308", 1e308),
        ("1.152921504606847e+18", 2.0**60),
        ("1152921504606846976.0", 2.0**60),  # the double's exact value
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("5e1", 50.0),
        ("1E-5", 1e-5),
        ("-0.0", -0.0),
        ("0.30000000000000004", 0.30000000000000004),
        ("9007199254740992.0", 2.0**53),
        ("1e20", 1e20),  # exactly a double
        ("5e-324", 5e-324),
        ("9007199254740993", 9007199254740993),  # integers stay exact ints
        ("1" + "0" * 300, 10**300),
    ],
)
def test_numbers_a_double_holds_are_read(text, value):
    assert strict_loads(text) == value and type(strict_loads(text)) is type(value)


def test_bounds_see_the_number_written():
    maximum = {"type": "number", "maximum": 9007199254740992}
    assert schema_errors(strict_loads("9007199254740993"), maximum)
    assert schema_errors(strict_loads("1e20"), maximum)
    with pytest.raises(NotStrictJSON, match="exponent out of range"):
        strict_loads("0e99999999999999999999")


@pytest.mark.parametrize("text", ['["\\ud800"]', '{"\\udc00": 1}', '"a\\ude00b"', '"\ud800"'])
def test_lone_surrogates_are_refused(text):
    with pytest.raises(NotStrictJSON, match="lone surrogate"):
        strict_loads(text)


def test_surrogate_pairs_and_escaped_backslashes_are_text():
    assert strict_loads('"\\ud83d\\ude00"') == "\U0001f600"
    assert strict_loads('"\\\\ud800"') == "\\ud800"


def test_wrapped_json_is_the_one_object_in_the_prose():
    good = '{"a": {"b": [1, {"c": 2}]}}'
    assert extract_json("Use {curly} notation: " + good, allow_wrapped=True) == (
        {"a": {"b": [1, {"c": 2}]}},
        "ok",
    )
    assert extract_json("Sets look like {1, 2}; here: " + good + " (done {x})", allow_wrapped=True)[1] == "ok"
    assert extract_json(good + " or " + good, allow_wrapped=True) == (
        None,
        "reply holds 2 separate JSON objects; give one",
    )
    assert (
        extract_json("{} then " + good, allow_wrapped=True)[1]
        == "reply holds 2 separate JSON objects; give one"
    )
    assert extract_json("[" + good + ", " + good + "]", allow_wrapped=True)[1] == "ok"  # one JSON value
    assert extract_json('Here: {"v": NaN} ok', allow_wrapped=True)[1].startswith("not strict JSON")
    assert extract_json("Use {curly} notation: " + good) == (None, "reply is not valid JSON")
    assert extract_json("{" * 300 + "x", allow_wrapped=True) == (None, "JSON nested deeper than 64")
    assert extract_json('{"k": "' + "{ " * 5000, allow_wrapped=True) == (None, "reply is not valid JSON")


def test_only_json_whitespace_and_no_junk_in_a_fence():
    assert extract_json('\u00a0{"a": 1}')[0] is None
    assert extract_json(' \t\r\n{"a": 1}\n ')[0] == {"a": 1}
    assert extract_json('```json\n{"a": 1} junk\n```', allow_wrapped=True)[0] is None
    assert extract_json('Sure:\n```json\n{"a": 1}\n```', allow_wrapped=True)[0] == {"a": 1}


@pytest.mark.parametrize(
    "schema,where",
    [
        (
            {"type": "object", "properties": {"a": {"$id": "file:///x/ext.json", "$ref": "#"}}},
            "/properties/a",
        ),
        ({"allOf": [{"$ref": "#"}]}, "(root)"),
        (
            {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"},
            "/",
        ),
        ({"anyOf": [{"type": "string"}, {"$ref": "#"}]}, "(root)"),
        ({"properties": {"a": {"$id": "urn:a", "if": {"$ref": "#"}}}}, "/properties/a"),
        ({"dependentSchemas": {"k": {"$ref": "#"}}}, "(root)"),
    ],
)
def test_ref_loops_are_refused(schema, where):
    with pytest.raises(ValueError, match=f"subschema at {re.escape(where)}.*refers back to itself") as err:
        schema_errors({}, schema)
    assert "\n" not in str(err.value)


def test_recursion_through_the_instance_is_no_loop():
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}
    assert schema_errors({"children": [{"children": []}]}, tree) == []
    draft7 = {  # before 2019-09, $ref ignores its siblings, $id included: "#" is the root
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {"a": {"$id": "http://example.com/a.json", "$ref": "#"}},
    }
    assert schema_errors({"a": {"a": {}}}, draft7) == []
    sub = {"properties": {"a": {"$id": "urn:a", "properties": {"b": {"$ref": "#"}}}}}
    assert schema_errors({"a": {"b": {"b": {}}}}, sub) == []
