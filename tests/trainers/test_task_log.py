import json

import pytest

from trainers.task_log import OutputMismatch, TaskLog

SETTINGS = {"env": "x", "n": 2}


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_commits_and_resumes(tmp_path):
    out = tmp_path / "out.jsonl"
    with TaskLog(out, SETTINGS) as log:
        log.commit("a", [{"v": 1}, {"v": 2}], {"rewards": [1, 1]})
        log.commit("b", [], {"rewards": [0, 0]})
    with TaskLog(out, SETTINGS) as log:
        assert log.done == {"a", "b"}
        log.commit("c", [{"v": 3}], {"rewards": [1, 0]})
        with pytest.raises(ValueError, match="already committed"):
            log.commit("a", [{"v": 9}], {})
    assert lines(out) == [{"v": 1}, {"v": 2}, {"v": 3}]


def test_a_kill_mid_task_leaves_no_partial_records(tmp_path):
    out = tmp_path / "out.jsonl"
    with TaskLog(out, SETTINGS) as log:
        log.commit("a", [{"v": 1}], {"rewards": [1]})
    # a kill while writing task b: its records are (partly) written, its progress line is torn
    with open(out, "a") as f:
        f.write('{"v": 2}\n{"v": 3')
    with open(out.with_name("out.jsonl.progress"), "a") as f:
        f.write('{"task_id": "b", "end_of')
    with TaskLog(out, SETTINGS) as log:
        assert log.done == {"a"}
        log.commit("b", [{"v": 2}, {"v": 3}], {"rewards": [1, 1]})
    assert lines(out) == [{"v": 1}, {"v": 2}, {"v": 3}]
    assert [e["task_id"] for e in lines(out.with_name("out.jsonl.progress"))[1:]] == ["a", "b"]


def test_refuses_to_mix_settings(tmp_path):
    out = tmp_path / "out.jsonl"
    TaskLog(out, SETTINGS).close()
    with pytest.raises(OutputMismatch, match=r"other settings \(n\)"):
        TaskLog(out, {"env": "x", "n": 3})
    TaskLog(out, {"env": "x", "n": 3}, overwrite=True).close()


def test_refuses_a_foreign_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"not": "ours"}\n')
    with pytest.raises(OutputMismatch, match="no progress file"):
        TaskLog(out, SETTINGS)
