"""Resume must neither lose nor invent data: the progress file is checked against the data
on disk, corrupted in every way we know of, and the job must end with exactly the records an
uninterrupted run keeps, or stop with one line and nothing lost."""

import asyncio
import json

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from trainers.client import RolloutClient, ServerUnavailable
from trainers.rejection_sampling import (
    SamplingJob,
    run_job,
    select,
    summarize,
    task_stats,
    to_record,
)
from trainers.rollout import Rollout
from trainers.task_log import OutputMismatch, TaskLog, fingerprint

JOB = SamplingJob(
    env_id="atropos_envs/Format-v0", num_tasks=6, samples_per_task=3, keep_per_task=2, model="scripted"
)
DEAD_SERVER = "http://127.0.0.1:9"


def replies(task):
    """A scripted policy: two honest answers in different words and one wrong; all wrong on
    task 4 (a committed task with no records)."""
    answer = task["answer"] if task["id"] != "4" else "-2"
    return [
        f"<think>working it out gives {answer}</think> \\boxed{{{answer}}}",
        f"<think>the result is {answer}, checked twice</think> \\boxed{{{answer}}}",
        "<think>a guess</think> \\boxed{-1}",
    ]


def rollouts(env, task_id):
    found = []
    for i, reply in enumerate(replies(env.get_task(task_id))):
        episode = env.start(task_id)
        _, _, terminated, truncated, info = episode.step(reply)
        found.append(
            Rollout(
                task_id,
                i,
                episode.observation,
                float(info["reward"]),
                dict(info["components"]),
                str(info["reason"]),
                terminated,
                truncated,
            )
        )
    return found


def commit(log, env, task_id):
    done = rollouts(env, task_id)
    log.commit(task_id, [to_record(r, JOB) for r in select(done, JOB)], task_stats(done, JOB.threshold))


def finish(out, env):
    """Resume and run every task not yet committed; what the first look found, and the summary."""
    with TaskLog(out, JOB.settings()) as log:
        found = set(log.done)
        for task_id in env.task_ids(JOB.num_tasks):
            if task_id not in log.done:
                commit(log, env, task_id)
        summary = summarize(log.entries, JOB, 0.0)
    return found, summary


@pytest.fixture(scope="module")
def env():
    return gym.make(JOB.env_id).unwrapped


@pytest.fixture(scope="module")
def reference(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out.jsonl"
    _, summary = finish(out, env)
    assert 0 < summary["kept"] < summary["samples"]  # the policy is neither all right nor all wrong
    return sorted(out.read_text().splitlines()), summary


def progress_of(out):
    return out.with_name(out.name + ".progress")


def interrupted(out, env, tasks=3):
    """A run killed while writing task `tasks`: its records are written, its progress line is not."""
    with TaskLog(out, JOB.settings()) as log:
        for task_id in env.task_ids(tasks):
            commit(log, env, task_id)
    partial = rollouts(env, str(tasks))
    with open(out, "a") as f:
        f.write("".join(json.dumps(to_record(r, JOB)) + "\n" for r in partial[:2]) + '{"messages": [')
    return [json.loads(line) for line in progress_of(out).read_text().splitlines()]


def append(path, *lines):
    with open(path, "a") as f:
        f.writelines(line + "\n" for line in lines)


def foreign_line(end_offset):
    other = fingerprint({**JOB.settings(), "seed": 1})
    return json.dumps(
        {
            "job": other,
            "task_id": "4",
            "start_offset": 0,
            "end_offset": end_offset,
            "records": 1,
            "sha256": "0" * 64,
            "rewards": [1.0],
            "passed": 1,
            "hit_token_limit": 0,
            "completion_tokens": 1,
        }
    )


def corrupt_foreign_larger(out, entries):
    append(progress_of(out), foreign_line(out.stat().st_size + 10**6))
    append(progress_of(out), json.dumps({"task_id": "5", "end_offset": 10**6, "records": 1}))  # a line of old
    return {"0", "1", "2"}


def corrupt_foreign_smaller(out, entries):
    append(progress_of(out), foreign_line(5))
    return {"0", "1", "2"}


def corrupt_data_shorter(out, entries):
    with open(out, "r+b") as f:
        f.truncate(entries[3]["end_offset"] - 10)  # entries[0] is the header: task 2 lost its tail
    return {"0", "1"}


def corrupt_duplicate_line(out, entries):
    text = progress_of(out).read_text().splitlines()
    append(progress_of(out), text[2], text[1])
    return {"0", "1", "2"}


def corrupt_malformed_lines(out, entries):
    lines = progress_of(out).read_text().splitlines()
    bad_types = {**entries[2], "start_offset": "0", "records": None}
    lines[2:2] = ["[1, 2]", '{"task_id": 5}', "null", '"x"', "not json {", json.dumps(bad_types)]
    progress_of(out).write_text("\n".join(lines) + "\n")
    return {"0", "1", "2"}


def corrupt_lost_line(out, entries):
    lines = progress_of(out).read_text().splitlines()
    del lines[2]  # task 1: its records stay in the middle of the data file, uncommitted
    progress_of(out).write_text("\n".join(lines) + "\n")
    return {"0", "2"}


def corrupt_own_line_without_data(out, entries):
    append(
        progress_of(out),
        json.dumps({**entries[3], "task_id": "4", "start_offset": 10**6, "end_offset": 10**6 + 9}),
    )
    return {"0", "1", "2"}


def corrupt_crash_mid_repair(out, entries):
    """A repair that rewrote the data file (task 1 dropped) and died before the progress file."""
    records = [line for line in out.read_text().splitlines(keepends=True) if '"task_id": "1"' not in line]
    out.write_text("".join(records))
    lines = progress_of(out).read_text().splitlines()
    del lines[2]
    progress_of(out).write_text("\n".join(lines) + "\n")  # task 2's offsets are now stale
    return {"0", "2"}


CORRUPTIONS = [
    corrupt_foreign_larger,
    corrupt_foreign_smaller,
    corrupt_data_shorter,
    corrupt_duplicate_line,
    corrupt_malformed_lines,
    corrupt_lost_line,
    corrupt_own_line_without_data,
    corrupt_crash_mid_repair,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.removeprefix("corrupt_"))
def test_resume_repairs_a_corrupted_progress_file(corrupt, env, reference, tmp_path):
    out = tmp_path / "out.jsonl"
    committed = corrupt(out, interrupted(out, env))
    found, summary = finish(out, env)
    assert found == committed
    data = out.read_bytes()
    assert b"\0" not in data
    assert sorted(data.decode().splitlines()) == reference[0]
    assert summary == reference[1]
    assert finish(out, env)[0] == set(env.task_ids(JOB.num_tasks))  # and the repaired files resume cleanly


def test_a_kill_mid_task_leaves_no_partial_records(env, reference, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    append(progress_of(out), '{"task_id": "3", "end_of')  # torn: the kill hit the progress line too
    progress_of(out).write_bytes(progress_of(out).read_bytes()[:-1])
    assert finish(out, env)[0] == {"0", "1", "2"}
    assert sorted(out.read_text().splitlines()) == reference[0]


def test_resume_through_run_job_needs_no_server_when_all_was_committed(env, reference, tmp_path):
    out = tmp_path / "out.jsonl"
    finish(out, env)
    entries = [json.loads(line) for line in progress_of(out).read_text().splitlines()]
    corrupt_duplicate_line(out, entries)
    corrupt_foreign_larger(out, entries)
    append(progress_of(out), "[]", "{")

    async def go():
        async with RolloutClient([DEAD_SERVER], model="m", give_up_after_s=1) as client:
            return await run_job(JOB, env, client, out)

    summary = asyncio.run(go())
    assert "cpu" in json.dumps(summary.pop("provenance"))  # how it was produced: run_job adds it
    assert {**summary, "wall_s_this_run": 0.0} == reference[1]
    assert sorted(out.read_text().splitlines()) == reference[0]


def test_run_job_that_must_redo_a_task_keeps_what_was_committed(env, reference, tmp_path):
    out = tmp_path / "out.jsonl"
    entries = interrupted(out, env)
    corrupt_data_shorter(out, entries)

    async def go():
        async with RolloutClient([DEAD_SERVER], model="m", give_up_after_s=1) as client:
            return await run_job(JOB, env, client, out)

    with pytest.raises(ServerUnavailable, match="127.0.0.1:9"):  # no server: the job stops ...
        asyncio.run(go())
    kept = out.read_text().splitlines()  # ... with tasks 0 and 1 intact
    assert kept == [line for line in reference_lines_of(env, ["0", "1"])]
    assert finish(out, env)[0] == {"0", "1"}
    assert sorted(out.read_text().splitlines()) == reference[0]


def reference_lines_of(env, task_ids):
    return [
        json.dumps(to_record(r, JOB), ensure_ascii=False)
        for t in task_ids
        for r in select(rollouts(env, t), JOB)
    ]


def test_edited_records_stop_the_job_with_one_line_and_nothing_lost(env, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    out.write_text(out.read_text().replace('"sample_index": 0', '"sample_index": 7', 1))
    before = (out.read_bytes(), progress_of(out).read_bytes())
    with pytest.raises(OutputMismatch) as refused:
        TaskLog(out, JOB.settings())
    assert (
        str(out) in str(refused.value) and "\n" not in str(refused.value) and "task '0'" in str(refused.value)
    )
    assert (out.read_bytes(), progress_of(out).read_bytes()) == before


def test_refuses_a_progress_file_of_the_old_format(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"v": 1}\n')
    progress_of(out).write_text(
        json.dumps({"settings": JOB.settings()}) + '\n{"task_id": "a", "end_offset": 9}\n'
    )
    with pytest.raises(OutputMismatch, match="older version"):
        TaskLog(out, JOB.settings())
    assert out.read_text() == '{"v": 1}\n'


def test_a_second_writer_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    with TaskLog(out, JOB.settings()):
        with pytest.raises(OutputMismatch, match="being written by another process"):
            TaskLog(out, JOB.settings())
    TaskLog(out, JOB.settings()).close()


def test_records_must_name_their_task(tmp_path):
    with TaskLog(tmp_path / "out.jsonl", JOB.settings()) as log:
        with pytest.raises(ValueError, match="names task 'b'"):
            log.commit("a", [{"metadata": {"task_id": "b"}}], {})
        log.commit("a", [{"metadata": {"task_id": "a"}}], {})
        with pytest.raises(ValueError, match="already committed"):
            log.commit("a", [], {})


def test_refuses_to_mix_settings(tmp_path):
    out = tmp_path / "out.jsonl"
    TaskLog(out, {"env": "x", "n": 2}).close()
    with pytest.raises(OutputMismatch, match=r"other settings \(n\)"):
        TaskLog(out, {"env": "x", "n": 3})
    TaskLog(out, {"env": "x", "n": 3}, overwrite=True).close()


def test_refuses_a_foreign_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"not": "ours"}\n')
    with pytest.raises(OutputMismatch, match="no progress file"):
        TaskLog(out, {"env": "x"})


def test_a_line_that_is_no_record_stops_the_job_and_is_kept(env, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    text = out.read_text().splitlines(keepends=True)
    out.write_text("".join(text[:1] + ['{"note": "added by hand"}\n'] + text[1:]))
    before = out.read_bytes()
    with pytest.raises(OutputMismatch, match=f"{out} line 2 is not a record naming its task"):
        TaskLog(out, JOB.settings())
    assert out.read_bytes() == before


def test_a_header_whose_fingerprint_differs_is_refused_not_read_as_foreign(env, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    lines = progress_of(out).read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    lines[0] = json.dumps({**header, "job": "0" * 16}) + "\n"  # as if the fingerprint were computed otherwise
    progress_of(out).write_text("".join(lines))
    before = out.read_bytes()
    with pytest.raises(OutputMismatch, match="names job '0000000000000000'"):
        TaskLog(out, JOB.settings())
    assert out.read_bytes() == before


def test_a_record_with_a_lone_surrogate_is_written_as_valid_json():
    from trainers.task_log import record_line

    line = record_line({"messages": [{"role": "assistant", "content": "bad \ud800 text, é"}]})
    assert json.loads(line.decode("utf-8"))["messages"][0]["content"] == "bad \ud800 text, é"


def test_swapped_progress_lines_do_not_reorder_the_data(env, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    before = out.read_bytes()
    lines = progress_of(out).read_text().splitlines(keepends=True)
    progress_of(out).write_text("".join([lines[0], lines[3], lines[1], lines[2]]))
    with TaskLog(out, JOB.settings()) as log:
        assert log.done == {"0", "1", "2"}
        assert [e["task_id"] for e in log.entries] == ["0", "1", "2"]  # the order on disk
    committed = b"".join(line for line in before.splitlines(keepends=True) if b'"task_id": "3"' not in line)
    assert out.read_bytes() == committed[: committed.rindex(b"\n") + 1]  # only the unfinished tail went


@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"job": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
def test_a_progress_line_nested_too_deep_is_ignored_as_malformed(env, line, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    with open(progress_of(out), "ab") as f:
        f.write(line + b"\n")
    with TaskLog(out, JOB.settings()) as log:
        assert log.done == {"0", "1", "2"}
        assert any("is malformed; ignored" in note for note in log.repairs)


def test_a_data_line_nested_too_deep_stops_the_job_with_one_line(env, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    with open(out, "ab") as f:
        f.write(b"\n" + b"[" * 100_000 + b"\n")
    with pytest.raises(OutputMismatch, match="is not a record naming its task"):
        TaskLog(out, JOB.settings())


@pytest.mark.parametrize("which", ["out", "progress", "lock"])
def test_a_directory_in_place_of_a_file_is_one_line(env, which, tmp_path):
    out = tmp_path / "out.jsonl"
    interrupted(out, env)
    path = {"out": out, "progress": progress_of(out), "lock": tmp_path / ".out.jsonl.lock"}[which]
    path.unlink()
    path.mkdir()
    with pytest.raises(OutputMismatch) as refused:
        TaskLog(out, JOB.settings())
    message = str(refused.value)
    assert message.startswith(f"{path} is not a regular file") and "\n" not in message


def test_sort_leaves_the_bytes_of_a_run_in_task_order(env, tmp_path):
    in_order, shuffled = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ids = env.task_ids(JOB.num_tasks)
    for out, order in ((in_order, ids), (shuffled, [ids[i] for i in (3, 0, 5, 4, 1, 2)])):
        with TaskLog(out, JOB.settings()) as log:
            for task_id in order:
                commit(log, env, task_id)
            log.sort(ids)
            assert [e["task_id"] for e in log.entries] == ids
            commit(log, env, "9")  # the log goes on after a sort
    assert shuffled.read_bytes() == in_order.read_bytes()
    with TaskLog(shuffled, JOB.settings()) as log:  # and resumes cleanly
        assert log.done == {*ids, "9"} and not log.repairs and not log.lost
        assert [e["task_id"] for e in log.entries] == [*ids, "9"]


def test_lost_names_the_tasks_whose_records_were_on_disk_but_not_committed(env, tmp_path):
    out = tmp_path / "out.jsonl"
    entries = interrupted(out, env)  # task 3: records written, its progress line not
    corrupt_lost_line(out, entries)  # task 1: its progress line gone
    with TaskLog(out, JOB.settings()) as log:
        assert log.done == {"0", "2"} and log.lost == {"1", "3"}
    with open(out, "r+b") as f:  # task 2's last record cut: its progress line promises one more
        f.truncate(out.read_bytes().rstrip(b"\n").rindex(b"\n") + 1)
    with TaskLog(out, JOB.settings()) as log:
        assert log.done == {"0"} and log.lost == {"2"}


def test_a_directory_in_place_of_the_summary_stops_the_job_before_any_work(env, tmp_path):
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.summary.json").mkdir()

    async def go():
        async with RolloutClient([DEAD_SERVER], model="m", give_up_after_s=1) as client:
            return await run_job(JOB, env, client, out)

    with pytest.raises(OutputMismatch, match=r"out.jsonl.summary.json is a directory; remove it"):
        asyncio.run(go())
    assert not out.exists()
