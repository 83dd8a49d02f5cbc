"""Fuzzed task files for every built-in env: each load either fails with one line naming
the file's line and the field (TaskFileError), or gives tasks whose fields have the types
the env reads, that the env can prompt with and score. Never another exception type.

Each file holds a few valid records and then one mutated record (a field removed, given a
value of another type, a huge or deeply nested value, a string "false" for a boolean...),
so the error must name that record's 1-based line."""

from __future__ import annotations

import copy
import json
import os
import tempfile

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import atropos_envs  # noqa: F401
from atropos_envs.core import Trajectory
from atropos_envs.tasks import MAX_TASK_DEPTH, TaskFileError

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
    "additionalProperties": False,
}

# A valid record per env (and the field paths the fuzzer changes), after each env's task_schema.
BASES = {
    "Format-v0": {"question": "What is 2 + 3?", "answer": "5", "answer_format": "boxed"},
    "InstructionFollowing-v0": {
        "prompt": "Describe a river. Answer with at least 10 words.",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"num_words": 10, "relation": "at least"}],
    },
    "JsonSchema-v0": {
        "schema": SCHEMA,
        "entity": "person",
        "mode": "repair",
        "invalid": {"name": 3},
        "allow_wrapped": False,
    },
    "Code-v0": {
        "question": "Print the sum of two integers read from stdin.",
        "tests": [{"input": "1 2\n", "output": "3"}],
    },
    "ToolUse-v0": {
        "question": "What is 2 + 2?",
        "ground_truth": [{"calculator": {"expression": ["2 + 2", "2+2"]}}],
        "answer": [4],
    },
}
EXTRA_PATHS = {
    "InstructionFollowing-v0": [
        ("kwargs", 0, "num_words"),
        ("kwargs", 0, "relation"),
        ("kwargs", 0),
        ("instruction_id_list", 0),
    ],
    "JsonSchema-v0": [("schema", "properties"), ("schema", "type"), ("schema", "required")],
    "Code-v0": [("tests", 0), ("tests", 0, "input"), ("tests", 0, "output")],
    "ToolUse-v0": [("ground_truth", 0), ("ground_truth", 0, "calculator")],
}
# Colleagues are fixing these loaders in parallel: their findings are reported, not failed.


def deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "false", "true", "0", "100", "a\u2028b", "\u202e\u200b", "x" * 100_000]),
    st.sampled_from(["a\ud800b", "\udfff", ["ok", "\ud83d"], {"\udc00": 1}]),  # lone surrogates: not Unicode
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from([deep(20), deep(MAX_TASK_DEPTH + 5), [[1]], [{}], {"a": {"b": []}}]),
)


def mutate(base: dict, path: tuple, action: str, value) -> dict:
    record = copy.deepcopy(base)
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        if isinstance(parent, list):
            parent.pop(path[-1])
        else:
            parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return record


def check_loaded(name: str, env, task: dict) -> None:
    """A load must give tasks of the types the env reads, and the env must prompt and score them."""
    messages = env.prompt(task)
    assert all(isinstance(m["content"], str) for m in messages)
    json.dumps([task, messages], ensure_ascii=False).encode("utf-8")  # what a job writes and sends
    if name == "Format-v0":
        assert (
            isinstance(task["question"], str) and isinstance(task["answer"], str) and task["question"].strip()
        )
    elif name == "InstructionFollowing-v0":
        assert all(isinstance(k, dict) for k in task["kwargs"])
    elif name == "JsonSchema-v0":
        assert isinstance(task["schema"], dict) and isinstance(task["allow_wrapped"], bool)
        assert isinstance(task["entity"], str)
    elif name == "Code-v0":
        assert isinstance(task["question"], str) and task["tests"]
        return  # scoring would run the sandbox; the types are what matters here
    elif name == "ToolUse-v0":
        assert isinstance(task["question"], str) and isinstance(task["ground_truth"], list)
    reply = {"role": "assistant", "content": "A river runs through the quiet valley below the hills today."}
    score = env.score(Trajectory(task, [*messages, reply], env.initial_state(task)))
    assert score.outcome != "error", score.reason


def load_mutated(name: str, path: tuple, action: str, value, valid_before: int):
    lines = [json.dumps({**BASES[name], "id": f"ok{i}"}) for i in range(valid_before)]
    lines.append(json.dumps(mutate(BASES[name], path, action, value)))
    fd, file = tempfile.mkstemp(suffix=".jsonl", prefix="atropos-fuzz-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        return gym.make(f"atropos_envs/{name}", tasks=file).unwrapped, file
    finally:
        os.unlink(file)


def fuzz_case(name: str):
    paths = [(k,) for k in BASES[name]] + EXTRA_PATHS.get(name, [])
    return st.tuples(st.sampled_from(paths), st.sampled_from(["delete", "set"]), HOSTILE, st.integers(0, 3))


def run_case(name: str, case) -> None:
    path, action, value, valid_before = case
    line = valid_before + 1
    try:
        env, _ = load_mutated(name, path, action, value, valid_before)
    except TaskFileError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert f"line {line}" in message, message
        generic = ("not valid JSON", "nested deeper", "not usable JSON")
        named = "field '" in message or str(path[0]) in message
        assert any(g in message for g in generic) or named, f"no field named: {message}"
        return
    except Exception as exc:  # noqa: BLE001 - exactly what the fuzz test is looking for
        pytest.fail(
            f"{name}: {type(exc).__name__} instead of TaskFileError for {path} {action} {value!r:.80}: {exc}"
        )
    task = env.get_task(env.task_ids()[-1])
    check_loaded(name, env, task)


@pytest.mark.parametrize("name", sorted(BASES))
def test_base_records_load(name):
    env, _ = load_mutated(name, ("id",), "set", "x", 2)
    check_loaded(name, env, env.get_task("x"))


@pytest.mark.parametrize("name", sorted(BASES))
def test_fuzzed_task_files_fail_in_one_line_or_load_right(name):
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(fuzz_case(name))
    def inner(case):
        run_case(name, case)

    inner()


@pytest.mark.parametrize("name", sorted(BASES))
def test_a_key_given_twice_is_refused_naming_the_line_and_the_key(name, tmp_path):
    """JSON keeps the last of two equal keys silently; a task file's record must not."""
    first = json.dumps({**BASES[name], "id": "ok0"})
    field = next(iter(BASES[name]))
    twice = json.dumps(BASES[name])[:-1] + f", {json.dumps(field)}: {json.dumps(BASES[name][field])}}}"
    path = tmp_path / "t.jsonl"
    path.write_text(first + "\n" + twice + "\n")
    with pytest.raises(TaskFileError) as refused:
        gym.make(f"atropos_envs/{name}", tasks=str(path))
    assert str(refused.value) == (
        f"{path} line 2: the key {field!r} appears twice in one object "
        "(JSON would keep the last one silently); keep one"
    )
