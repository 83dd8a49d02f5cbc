import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from atropos_envs.tasks import (
    FileTasks,
    TaskFieldError,
    TaskFileError,
    optional_bool,
    record_task_id,
    require_choice,
    require_int,
    require_list,
    require_str,
)


def strict_loader(record):
    return {
        "prompt": require_str(record, "prompt"),
        "n": require_int(record, "n", minimum=1, maximum=10),
        "flag": optional_bool(record, "flag", False),
    }


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def test_errors_name_the_1_based_line_and_the_field(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"prompt": "a", "n": 1}, "", {"prompt": "b", "n": "100"}])
    with pytest.raises(TaskFileError) as err:
        FileTasks(path, strict_loader)
    assert str(err.value) == f"{path} line 3, field 'n': expected an integer, got '100' (str)"
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "row,message",
    [
        ({"n": 1}, "field 'prompt': missing"),
        ({"prompt": "  ", "n": 1}, "field 'prompt': expected a non-empty string"),
        ({"prompt": 3, "n": 1}, "field 'prompt': expected a string, got 3 (int)"),
        ({"prompt": "p", "n": 11}, "field 'n': expected an integer between 1 and 10, got 11"),
        ({"prompt": "p", "n": True}, "field 'n': expected an integer, got True (bool)"),
        (
            {"prompt": "p", "n": 2, "flag": "false"},
            "field 'flag': expected true or false (JSON booleans), got 'false'",
        ),
        ({"prompt": "p", "n": 2, "flag": 0}, "field 'flag': expected true or false"),
        (
            {"id": [1], "prompt": "p", "n": 2},
            "field 'id': a task id must be a non-empty string or an integer",
        ),
    ],
)
def test_typed_readers_refuse_wrong_values(tmp_path, row, message):
    with pytest.raises(TaskFileError, match="line 1, " + message.replace("(", r"\(").replace(")", r"\)")):
        FileTasks(write_jsonl(tmp_path / "t.jsonl", [row]), strict_loader)


def test_list_and_choice_readers():
    assert require_list({"k": ["a"]}, "k", item_type=str) == ["a"]
    with pytest.raises(TaskFieldError, match=r"field 'k\[1\]': expected dict, got \[1\] \(list\)"):
        require_list({"k": [{}, [1]]}, "k", item_type=dict)
    with pytest.raises(TaskFieldError, match="expected a non-empty list"):
        require_list({"k": []}, "k")
    with pytest.raises(TaskFieldError, match="expected int, got True"):
        require_list({"k": [True]}, "k", item_type=int)
    assert require_choice({}, "mode", ("a", "b"), default="a") == "a"
    with pytest.raises(TaskFieldError, match="expected one of 'a', 'b', got 'c'"):
        require_choice({"mode": "c"}, "mode", ("a", "b"))


def test_lines_split_on_newline_only(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"prompt": "a\u2028b\u0085c\x0cd", "n": 1}, ensure_ascii=False) + "\r\n")
    assert "\u2028" in path.read_text(encoding="utf-8")
    assert FileTasks(str(path), strict_loader).get("0")["prompt"] == "a\u2028b\u0085c\x0cd"


def test_common_id_fields_are_task_ids(tmp_path):
    rows = [
        {"task_id": "HumanEval/1", "prompt": "a", "n": 1},
        {"task_id": 11, "prompt": "b", "n": 1},
        {"question_id": "abc123", "prompt": "c", "n": 1},
        {"problem_id": 7, "prompt": "d", "n": 1},
        {"key": 1000, "prompt": "e", "n": 1},
        {"id": "x", "task_id": "y", "prompt": "f", "n": 1},
        {"prompt": "g", "n": 1},
    ]
    tasks = FileTasks(write_jsonl(tmp_path / "t.jsonl", rows), strict_loader)
    assert tasks.ids() == ["HumanEval/1", "11", "abc123", "7", "1000", "x", "6"]
    assert tasks.get(11)["prompt"] == "b" and tasks.get("HumanEval/1")["id"] == "HumanEval/1"
    assert record_task_id({"id": None, "key": 3}, "0") == "3"


def test_duplicate_ids_name_both_lines(tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl", [{"id": "a", "prompt": "p", "n": 1}, {"id": "a", "prompt": "q", "n": 1}]
    )
    with pytest.raises(TaskFileError, match=r"line 2: duplicate task id 'a' \(also at .* line 1\)"):
        FileTasks(path, strict_loader)


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"prompt": ' + "[" * 5000 + "]" * 5000 + ', "n": 1}', "line 1: nested deeper than 100 levels"),
        ('{"prompt": "a", "n": ' + "9" * 5000 + "}", "line 1: not usable JSON"),
        ('{"prompt": "a",', "line 1: not valid JSON"),
        ("[1, 2]", "line 1: expected a JSON object, got list"),
    ],
)
def test_hostile_lines_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "t.jsonl"
    path.write_text(content + "\n")
    with pytest.raises(TaskFileError, match=message) as err:
        FileTasks(str(path), strict_loader)
    assert "\n" not in str(err.value)


def test_json_and_parquet_files(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"data": [{"prompt": "a", "n": 1}, {"prompt": "b", "n": 0}]}))
    with pytest.raises(
        TaskFileError, match=r"t.json list index 1, field 'n': expected an integer between 1 and 10"
    ):
        FileTasks(str(path), strict_loader)
    path.write_text("[" * 3000 + "]" * 3000)
    with pytest.raises(TaskFileError, match="nested deeper"):
        FileTasks(str(path), strict_loader)
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"prompt": pa.array([], pa.string()), "n": pa.array([], pa.int64())}), parquet)
    with pytest.raises(TaskFileError, match="t.parquet: no tasks"):
        FileTasks(str(parquet), strict_loader)
    pq.write_table(pa.table({"prompt": ["a", "b"], "n": [1, 1]}), parquet)
    assert FileTasks(str(parquet), strict_loader).ids() == ["0", "1"]
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(TaskFileError, match="bad.parquet: not a readable parquet file"):
        FileTasks(str(tmp_path / "bad.parquet"), strict_loader)
    (tmp_path / "latin1.jsonl").write_bytes(b'{"prompt": "caf\xe9", "n": 1}\n')
    with pytest.raises(TaskFileError, match="not UTF-8 text"):
        FileTasks(str(tmp_path / "latin1.jsonl"), strict_loader)


def test_a_loader_without_the_readers_still_fails_in_one_line(tmp_path):
    def careless(record):
        return {"q": record["question"].strip(), "first": record["tests"][0].get("input")}

    path = write_jsonl(tmp_path / "t.jsonl", [{"tests": []}])
    with pytest.raises(TaskFileError, match="line 1: missing field 'question'"):
        FileTasks(path, careless)
    path = write_jsonl(tmp_path / "t.jsonl", [{"question": "q", "tests": [3]}])
    with pytest.raises(TaskFileError, match="line 1: 'int' object has no attribute 'get'"):
        FileTasks(path, careless)


def test_reset_selects_a_task_by_a_dataset_id(tmp_path):
    import gymnasium as gym

    import atropos_envs  # noqa: F401

    rows = [
        {"task_id": "HumanEval/1", "question": "What is 1 + 1?", "answer": "2"},
        {"task_id": 11, "question": "What is 2 + 9?", "answer": "11"},
    ]
    env = gym.make("atropos_envs/Format-v0", tasks=write_jsonl(tmp_path / "t.jsonl", rows)).unwrapped
    assert env.reset(options={"task_id": "HumanEval/1"})[1]["task_id"] == "HumanEval/1"
    observation, info = env.reset(options={"task_id": 11})
    assert info["task_id"] == "11" and "2 + 9" in observation[-1]["content"]


@pytest.mark.parametrize(
    "line,message",
    [
        (
            '{"prompt": "a\\ud800b", "n": 1}',
            "line 2, field 'prompt': text holds a lone surrogate '\\\\ud800' at character 1",
        ),
        (
            '{"prompt": "p", "n": 1, "meta": {"tags": ["ok", "\\udfff"]}}',
            r"line 2, field 'meta.tags\[1\]': text holds a lone surrogate",
        ),
        (
            '{"prompt": "p", "n": 1, "\\udc00": 1}',
            r"line 2, field '\\udc00': its name holds a lone surrogate",
        ),
        ('{"prompt": "p", "n": 1, "prompt": "q"}', "line 2: the key 'prompt' appears twice in one object"),
        (
            '{"prompt": "p", "n": 1, "meta": [{"k": 1, "k": 1}]}',
            r"line 2, field 'meta\[0\]': the key 'k' appears twice",
        ),
    ],
)
def test_text_json_lets_through_silently_is_refused_naming_line_and_field(tmp_path, line, message):
    path = tmp_path / "t.jsonl"
    path.write_text('{"prompt": "a", "n": 1}\n' + line + "\n")
    with pytest.raises(TaskFileError, match=message) as refused:
        FileTasks(str(path), strict_loader)
    assert "\n" not in str(refused.value) and str(refused.value).startswith(str(path))
    str(refused.value).encode("utf-8")  # the message itself prints anywhere


def test_paired_surrogates_and_keys_in_other_records_are_fine(tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl", ['{"prompt": "smile \\ud83d\\ude00", "n": 1}', {"prompt": "p", "n": 2}]
    )
    assert FileTasks(path, strict_loader).get("0")["prompt"] == "smile \U0001f600"


def test_in_memory_tasks_and_json_files_are_checked_too(tmp_path):
    with pytest.raises(TaskFileError, match=r"tasks\[0\], field 'prompt': text holds a lone surrogate"):
        FileTasks([{"prompt": "\ud800", "n": 1}], strict_loader)
    path = tmp_path / "t.json"
    path.write_text('{"data": [{"prompt": "a", "n": 1, "n": 2}]}')
    with pytest.raises(TaskFileError, match="t.json list index 0: the key 'n' appears twice"):
        FileTasks(str(path), strict_loader)
    path.write_text('{"data": [{"prompt": "a", "n": 1}], "data": []}')
    with pytest.raises(TaskFileError, match="t.json: the key 'data' appears twice"):
        FileTasks(str(path), strict_loader)
