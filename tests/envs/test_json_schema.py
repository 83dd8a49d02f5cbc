import json
import random
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs import TaskFileError
from atropos_envs.envs.schema_tasks import generate_schema_task
from rewards.json_schema import schema_errors
from tests.envs.helpers import reply

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
    },
    "required": ["name", "email"],
    "additionalProperties": False,
}
GOOD = {"name": "Ada", "email": "ada@example.com", "age": 36}


def make(**kwargs):
    return gym.make("atropos_envs/JsonSchema-v0", **kwargs).unwrapped


@pytest.mark.parametrize("complexity", [1, 2, 3])
def test_generated_instances_are_valid_and_repairs_start_invalid(complexity):
    for seed in range(100):
        rng = random.Random(seed)
        _, schema, value = generate_schema_task(rng, complexity)
        assert schema_errors(value, schema) == [], (seed, value)
    env = make(mode="repair", complexity=complexity)
    for i in range(30):
        task = env.get_task(i)
        assert schema_errors(task["invalid"], task["schema"]), task["invalid"]


def test_generator_uses_refs_and_combinators():
    _, schema, _ = generate_schema_task(random.Random(3), 3)
    text = json.dumps(schema)
    assert "$defs" in schema and "$ref" in text and "items" in schema["properties"]
    kinds = set()
    for seed in range(50):
        kinds |= {
            k
            for k in ("oneOf", "anyOf", "pattern", "enum", "format", "uniqueItems")
            if k in json.dumps(generate_schema_task(random.Random(seed))[1])
        }
    assert kinds == {"oneOf", "anyOf", "pattern", "enum", "format", "uniqueItems"}


def test_generate_task_scoring():
    env = make(tasks=[{"schema": SCHEMA, "entity": "person"}])
    assert reply(env, json.dumps(GOOD)) == (
        1.0,
        {
            "task_id": "0",
            "turn": 1,
            "reward": 1.0,
            "components": {"parseable": 1.0, "valid": 1.0},
            "reason": "valid",
            "outcome": "ok",
        },
    )
    reward, info = reply(env, json.dumps({**GOOD, "email": "not an email"}))
    assert reward == 0.1 and "email: 'not an email' is not a 'email'" in info["reason"]
    reward, info = reply(env, json.dumps({**GOOD, "extra": 1}))
    assert reward == 0.1 and "Additional properties" in info["reason"]
    reward, info = reply(env, "Here it is:\n```json\n" + json.dumps(GOOD) + "\n```")
    assert reward == 0.0 and "alone" in info["reason"] and info["outcome"] == "invalid"


def test_wrapped_json_is_accepted_only_where_the_task_allows():
    env = make(tasks=[{"schema": SCHEMA, "allow_wrapped": True}])
    assert reply(env, "Sure:\n```json\n" + json.dumps(GOOD) + "\n```\nDone.")[0] == 1.0
    assert reply(env, "The object is " + json.dumps(GOOD) + " as asked.")[0] == 1.0
    draft_then_fix = 'Draft:\n```json\n{"name": 1}\n```\nFixed:\n```json\n' + json.dumps(GOOD) + "\n```"
    assert reply(env, draft_then_fix)[0] == 1.0


def test_repair_rewards_minimal_changes():
    invalid = {"name": "Ada", "email": "ada@example.com", "age": 200, "nickname": "A"}
    env = make(tasks=[{"schema": SCHEMA, "invalid": invalid}])
    minimal, _ = reply(env, json.dumps({"name": "Ada", "email": "ada@example.com", "age": 36}))
    drastic, _ = reply(env, json.dumps({"name": "Zed", "email": "z@example.com"}))
    still_bad, info = reply(env, json.dumps(invalid))
    assert minimal == pytest.approx(0.7 + 0.3 * 2 / 4)  # every sound part kept, half the leaves
    assert drastic < 0.5 < minimal
    assert still_bad == 0.1 and info["components"]["valid"] == 0.0


def test_declared_draft_is_honoured():
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert schema_errors(5, draft4) and not schema_errors(4.9, draft4)


def test_hostile_replies_are_bounded():
    env = make(tasks=[{"schema": SCHEMA}])
    started = time.monotonic()
    for text in [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000,
        "x" * 300_000,
        "null",
        "1e999999",
        '"\\ud800"',
    ]:
        reward, info = reply(env, text)
        assert reward in (0.0, 0.1) and info["reason"]
    assert time.monotonic() - started < 10


def test_backtracking_user_pattern_is_cut_off():
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    env = make(tasks=[{"schema": schema}], score_timeout_s=1.0)
    started = time.monotonic()
    reward, info = reply(env, json.dumps({"s": "a" * 40 + "!"}))
    assert reward == 0.0 and "longer than 1 s" in info["reason"] and info["outcome"] == "timeout"
    assert time.monotonic() - started < 5


def test_task_files(tmp_path):
    path = tmp_path / "schemas.jsonl"
    path.write_text(json.dumps({"id": "s1", "schema": json.dumps(SCHEMA), "entity": "person"}) + "\n")
    assert make(tasks=str(path)).get_task("s1")["mode"] == "generate"
    path.write_text(json.dumps({"schema": {"type": "nonsense"}}) + "\n")
    with pytest.raises(TaskFileError, match="invalid schema"):
        make(tasks=str(path))
    path.write_text(json.dumps({"schema": SCHEMA, "mode": "repair"}) + "\n")
    with pytest.raises(TaskFileError, match="needs an 'invalid' object"):
        make(tasks=str(path))


def test_red_team_holes_are_closed(tmp_path):
    invalid = {"a": {"b": "x", "c": "y"}}
    env = make(
        tasks=[{"schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "invalid": invalid}]
    )
    clean = reply(env, json.dumps({"a": "x"}))[0]
    assert reply(env, json.dumps({"a": "z", "a/b": "x", "a/c": "y"}))[0] <= clean  # no path collision
    scratch, info = reply(
        make(tasks=[{"schema": SCHEMA, "invalid": {**GOOD, "age": "old"}}]),
        json.dumps({"name": "Zed", "email": "zed@example.org", "age": 1}),
    )
    assert scratch < 0.5 and info["components"]["valid"] == 1.0
    assert info["components"]["kept"] == pytest.approx(1 / 6)  # of name, email, "old" at age: half for age
    env = make(tasks=[{"schema": SCHEMA}])
    assert reply(env, "\u00a0" + json.dumps(GOOD))[0] == 0.0
    assert (
        reply(
            make(tasks=[{"schema": SCHEMA, "allow_wrapped": True}]),
            "```json\n" + json.dumps(GOOD) + " junk\n```",
        )[0]
        == 0.0
    )
    timed = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}
    assert reply(make(tasks=[{"schema": timed}]), '{"when": "yesterday"}')[0] == 0.1
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps({"schema": {"type": "object", "properties": {"v": {"format": "made-up"}}}}) + "\n"
    )
    with pytest.raises(TaskFileError, match="line 1, field 'schema': format 'made-up' cannot be checked"):
        make(tasks=str(path))
    with pytest.raises(TaskFileError, match="the boolean schema true accepts every value"):
        make(tasks=[{"schema": True}])


def test_non_json_numbers_and_duplicate_keys_are_refused():
    schema = {
        "type": "object",
        "properties": {"x": {"type": "number", "minimum": 0, "maximum": 10}},
        "required": ["x"],
    }
    env = make(tasks=[{"schema": schema}])
    assert reply(env, '{"x": 5}')[0] == 1.0
    for text in [
        '{"x": NaN}',
        '{"x": Infinity}',
        '{"x": -Infinity}',
        '{"x": 1e999}',
        "NaN",
        '{"x": 5, "x": 50}',
    ]:
        reward, info = reply(env, text)
        assert (reward, info["outcome"]) == (0.0, "invalid") and "not strict JSON" in info["reason"], text


def test_a_schema_without_root_type_still_wants_its_kind_of_value():
    props = {"properties": {"a": {"type": "integer"}}}
    env = make(
        tasks=[
            {"schema": props},
            {"schema": {"items": {"type": "integer"}}, "id": "arr"},
            {"schema": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}, "id": "any"},
        ]
    )
    for text in ["null", "0", "[]", '"x"', "true"]:
        reward, info = reply(env, text)
        assert reward == 0.1 and "(root): expected an object" in info["reason"], text
    assert reply(env, '{"a": 1}')[0] == 1.0
    assert reply(env, "{}", "arr")[0] == 0.1 and reply(env, "[1, 2]", "arr")[0] == 1.0
    assert reply(env, '{"b": 1}', "any")[0] == 1.0 and reply(env, "null", "any")[0] == 0.1


@pytest.mark.parametrize(
    "schema,message",
    [
        ({"$ref": "http://127.0.0.1:9/schema.json"}, "points outside the schema"),
        ({"properties": {"a": {"$ref": "file:///etc/passwd"}}}, "points outside the schema"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "points outside the schema"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "points to nothing in the schema"),
        ({"type": "nonsense"}, "invalid schema"),
    ],
)
def test_schemas_may_only_refer_inside_themselves(tmp_path, schema, message):
    path = tmp_path / "schemas.jsonl"
    path.write_text(json.dumps({"schema": schema}) + "\n")
    with pytest.raises(TaskFileError, match=f"line 1, field 'schema': .*{message}") as err:
        make(tasks=str(path))
    assert "\n" not in str(err.value) and "root:" not in str(err.value)


def test_local_refs_and_anchors_still_work():
    schema = {
        "$defs": {"n": {"$anchor": "num", "type": "integer"}},
        "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"$ref": "#num"}, "c": {"$ref": "#"}},
    }
    env = make(tasks=[{"schema": schema}])
    assert reply(env, '{"a": 1, "b": 2, "c": {"a": 3}}')[0] == 1.0
    assert reply(env, '{"a": 1, "c": {"a": "x"}}')[0] == 0.1


@pytest.mark.parametrize(
    "row,message",
    [
        ({"schema": SCHEMA, "allow_wrapped": "false"}, "field 'allow_wrapped': expected true or false"),
        ({"schema": SCHEMA, "mode": "fix"}, "field 'mode': expected one of 'generate', 'repair'"),
        ({"schema": SCHEMA, "entity": 3}, "field 'entity': expected a string"),
        ({"schema": "{not json"}, "field 'schema': the string is not JSON"),
        ({"schema": ["type", "object"]}, "field 'schema': expected a JSON Schema object"),
        ({"schema": SCHEMA, "mode": "repair"}, "field 'invalid': a repair task needs"),
    ],
)
def test_task_fields_are_checked_at_load(tmp_path, row, message):
    path = tmp_path / "schemas.jsonl"
    path.write_text(json.dumps({"schema": SCHEMA}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(TaskFileError, match=f"line 2, {message}"):
        make(tasks=str(path))


def test_probes_fail_and_the_reference_passes_on_generated_tasks():
    for mode in ("generate", "repair"):
        env = make(mode=mode)
        for i in range(100):  # 200 generated tasks in all
            task = env.get_task(i)
            for name, turns in env.probes(task).items():
                assert reply(env, turns[0], str(i))[0] < 0.5, (name, i)
            reward = reply(env, env.reference_answer(task)[0], str(i))[0]
            assert (
                reward == 1.0 if mode == "generate" else 0.7 <= reward <= 1.0
            )  # repair: every sound part kept
    assert (
        make(tasks=[{"schema": SCHEMA}]).reference_answer(make(tasks=[{"schema": SCHEMA}]).get_task("0"))
        is None
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=30,
    )
    | st.text(max_size=300)
)
def test_any_reply_scores_in_range_with_a_reason(value):
    env = make(tasks=[{"schema": SCHEMA, "invalid": {"name": 1}}])
    text = value if isinstance(value, str) else json.dumps(value)
    reward, info = reply(env, text)
    assert 0.0 <= reward <= 1.0 and info["reason"]


# ---- red team round 3: rounded numbers, ECMA patterns, e-mail, $ref loops, prose braces -------
def _generated_fields(env, n=60):
    """(task id, reference, top-level field name, field schema) over n generated tasks."""
    for i in range(n):
        task = env.get_task(i)
        for name, field in task["schema"]["properties"].items():
            if name in task["reference"]:
                yield str(i), task["reference"], name, field


def test_generated_tasks_refuse_rounded_numbers_newlines_and_bare_at_signs():
    env = make(mode="generate", complexity=1)
    seen = set()
    for task_id, reference, name, field in _generated_fields(env):
        good = json.dumps(reference)
        assert reply(env, good, task_id)[0] == 1.0
        if field.get("type") == "integer" and field["maximum"]:  # maximum + a digit a double drops
            text = good.replace(
                f'"{name}": {reference[name]}', f'"{name}": {field["maximum"]}.0000000000000001'
            )
            reward, info = reply(env, text, task_id)
            assert (reward, info["outcome"]) == (0.0, "invalid") and "not exactly a double" in info["reason"]
            seen.add("integer")
        elif "pattern" in field:
            reward, info = reply(env, json.dumps({**reference, name: reference[name] + "\n"}), task_id)
            assert reward == 0.1 and f"does not match {field['pattern']!r}" in info["reason"]
            seen.add("pattern")
        elif field.get("format") == "email":
            for bad in ("@", "a@", "a@b@c", " @ "):
                assert reply(env, json.dumps({**reference, name: bad}), task_id)[0] == 0.1, bad
            seen.add("email")
    assert seen == {"integer", "pattern", "email"}


def test_a_schema_whose_refs_loop_is_refused_at_load(tmp_path):
    path = tmp_path / "loop.jsonl"
    loop = {"type": "object", "properties": {"a": {"$id": "file:///x/ext.json", "$ref": "#"}}}
    path.write_text(json.dumps({"schema": loop}) + "\n")
    with pytest.raises(
        TaskFileError, match="line 1, field 'schema': the subschema at /properties/a refers back to itself"
    ):
        make(tasks=str(path))


def test_wrapped_json_skips_braces_in_prose_and_refuses_two_objects():
    env = make(tasks=[{"schema": SCHEMA, "allow_wrapped": True}])
    good = json.dumps(GOOD)
    assert reply(env, "Use {curly} notation: " + good)[0] == 1.0
    reward, info = reply(env, good + " or " + json.dumps({**GOOD, "age": 1}))
    assert (reward, info["outcome"]) == (0.0, "invalid") and "2 separate JSON objects" in info["reason"]


def test_user_patterns_and_emails_follow_the_standards():
    schema = {
        "type": "object",
        "properties": {"zip": {"type": "string", "pattern": "^\\d{5}$"}, "to": {"format": "idn-email"}},
        "required": ["zip", "to"],
    }
    env = make(tasks=[{"schema": schema}])
    assert reply(env, '{"zip": "12345", "to": "j\\u00fcrgen@b\\u00fccher.de"}')[0] == 1.0
    for bad in ('"12345\\n"', '"\\uff11\\uff12\\uff13\\uff14\\uff15"'):
        assert reply(env, '{"zip": ' + bad + ', "to": "a@b.de"}')[0] == 0.1, bad
    assert reply(env, '{"zip": "12345", "to": "@"}')[0] == 0.1
    reward, info = reply(env, '{"zip": "12345", "to": "a\\ud800@b.de"}')
    assert (reward, info["outcome"]) == (0.0, "invalid") and "lone surrogate" in info["reason"]


def test_second_red_team_pattern_numbers_and_time_findings(tmp_path):
    def task(pattern):
        return {"schema": {"type": "object", "properties": {"x": {"type": "string", "pattern": pattern}}}}

    env = make(tasks=[task("^\\s+$"), task("^[^\\W]+$"), task("^a{,3}$")])
    assert reply(env, '{"x": "\\u001c"}', "0")[0] == 0.1  # Python's \s; not ECMA's
    assert reply(env, '{"x": "\\ufeff"}', "0")[0] == 1.0
    assert reply(env, '{"x": "\\u00e9"}', "1")[0] == 0.1
    assert [reply(env, f'{{"x": "{x}"}}', "2")[0] for x in ("aa", "a{,3}")] == [0.1, 1.0]
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(task("(?P<n>a)")) + "\n")
    with pytest.raises(TaskFileError, match="line 1, field 'schema': pattern .* is not ECMA-262: the group"):
        make(tasks=str(path))
    numbers = make(tasks=[{"schema": {"type": "object", "properties": {"n": {"type": "number"}}}}])
    assert [reply(numbers, f'{{"n": {n}}}')[0] for n in ("1e23", "6.022e23", "1e308")] == [1.0] * 3
    stamp = make(tasks=[{"schema": {"type": "object", "properties": {"t": {"format": "date-time"}}}}])
    assert reply(stamp, '{"t": "2016-12-31T23:59:60Z"}')[0] == 1.0


def test_validity_agrees_with_jsonschema_rs():
    """jsonschema-rs (PyPI; Rust, ECMA-262 patterns, its own format checks) as the reference
    on generated tasks: the instance, a corruption, and the near-miss probes."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    env = make(mode="generate")
    checked = 0
    for i in range(60):
        task = env.get_task(i)
        replies = [json.dumps(task["reference"])]
        probes = env.probes(task).items()  # the rounded-number one is refused before any validator
        replies += [turns[0] for name, turns in probes if name.startswith(("newline", "bare @"))]
        for address in ("a@b", '"q r"@example.org', "a@[192.0.2.1]", "a..b@x.org", "a@x.org\n"):
            replies.append(json.dumps({**task["reference"], "email": address}))
        reference = jsonschema_rs.validator_for(task["schema"], validate_formats=True)
        for text in replies:
            ours = reply(env, text, str(i))[1]["components"]["valid"] == 1.0
            assert ours is reference.is_valid(json.loads(text)), text
            checked += 1
    assert checked > 350
