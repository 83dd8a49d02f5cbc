"""``--samples-out``: every sample, kept or rejected, with the same resume guarantees as the
output (the real TaskLog): a job stopped part-way and re-run ends with each sample exactly
once, and a kill between the two files' commits neither duplicates nor loses samples."""

import asyncio
import json

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from tests.trainers.test_rejection_sampling import CannedServer
from trainers.client import RolloutClient, SamplingParams
from trainers.rejection_sampling import SamplingJob, run_job
from trainers.rollout import sample_seed


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def env():
    return gym.make("atropos_envs/Format-v0").unwrapped


@pytest.fixture()
def server(env):
    replies = {}
    for task_id in env.task_ids(4):
        answer = env.get_task(task_id)["answer"]
        texts = [
            f"<think>so {answer}</think> \\boxed{{{answer}}}",
            "<think>hm</think> \\boxed{-1}",
            "no idea",
        ]
        replies.update({sample_seed(0, task_id, i): text for i, text in enumerate(texts)})
    canned = CannedServer(replies, "no idea")
    yield canned
    canned.close()


def job(**fields):
    return SamplingJob(
        env_id="atropos_envs/Format-v0",
        num_tasks=4,
        samples_per_task=3,
        keep_per_task=1,
        sampling=SamplingParams(max_tokens=32, temperature=0.7),
        model="canned",
        **{"tasks_in_flight": 1, **fields},
    )


def run(job, env, url, out, stop_after=None):
    def on_task_done(done, total):
        if stop_after is not None and done >= stop_after:
            raise Stop

    async def main():
        async with RolloutClient([url], model="canned", give_up_after_s=10) as client:
            return await run_job(job, env, client, out, on_task_done=on_task_done)

    return asyncio.run(main())


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_sample_once_across_a_resume(env, server, tmp_path):
    out = tmp_path / "sft.jsonl"
    with pytest.raises(Stop):
        run(job(), env, server.url, out, stop_after=2)
    samples_file = tmp_path / "sft.samples.jsonl"
    assert len(lines(samples_file)) == 2 * 3
    summary = run(job(), env, server.url, out)
    assert job().samples_path(out) == samples_file
    samples = lines(samples_file)
    keys = [(s["metadata"]["task_id"], s["metadata"]["sample_index"]) for s in samples]
    assert sorted(keys) == sorted((t, i) for t in env.task_ids(4) for i in range(3))
    kept = [s for s in samples if s["metadata"]["kept"]]
    assert len(kept) == len(lines(out)) == summary["kept"] == 4
    assert sorted(s["messages"][-1]["content"] for s in kept) == sorted(
        r["messages"][-1]["content"] for r in lines(out)
    )
    meta = samples[0]["metadata"]
    assert meta["sampling"]["temperature"] == 0.7 and meta["prompt_tokens"] == 3 and meta["turns"] == 1
    assert {s["metadata"]["outcome"] for s in samples} == {"ok", "invalid"}  # "no idea" is malformed
    assert all(isinstance(s["metadata"]["reason"], str) and s["metadata"]["reason"] for s in samples)
    assert all(s["metadata"]["completion_tokens"] > 0 for s in samples)


def test_a_kill_between_the_two_commits(env, server, tmp_path):
    out = tmp_path / "eval.jsonl"
    run(job(samples_out=str(tmp_path / "all.jsonl")), env, server.url, out)
    before = (tmp_path / "all.jsonl").read_bytes()
    progress = tmp_path / "eval.jsonl.progress"  # the output's last commit never happened
    progress.write_text("".join(progress.read_text().splitlines(keepends=True)[:-1]))
    summary = run(job(samples_out=str(tmp_path / "all.jsonl")), env, server.url, out)
    assert (tmp_path / "all.jsonl").read_bytes() == before and summary["tasks"] == 4
    # tasks committed before a samples file was on are not sampled again for it (no server needed)
    run(job(samples_out=str(tmp_path / "later.jsonl")), env, "http://127.0.0.1:9", out)
    assert lines(tmp_path / "later.jsonl") == []


def test_samples_out_is_not_a_resume_setting(env, server, tmp_path):
    out = tmp_path / "sft.jsonl"
    run(job(samples_out="none"), env, server.url, out)
    assert not (tmp_path / "sft.samples.jsonl").exists()
    assert job(samples_out="x").settings() == job().settings()
    with pytest.raises(ValueError, match="must differ"):
        job(samples_out=str(out)).samples_path(out)


def drop_last_samples_line(tmp_path):
    progress = tmp_path / "sft.samples.jsonl.progress"
    progress.write_bytes(b"".join(progress.read_bytes().splitlines(keepends=True)[:-1]))


def cut_last_sample(tmp_path):
    samples = tmp_path / "sft.samples.jsonl"
    samples.write_bytes(b"".join(samples.read_bytes().splitlines(keepends=True)[:-1]))


def delete_samples(tmp_path):
    (tmp_path / "sft.samples.jsonl").unlink()


def swap_output_lines(tmp_path):
    progress = tmp_path / "sft.jsonl.progress"
    lines = progress.read_bytes().splitlines(keepends=True)
    progress.write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))


def drop_first_output_line(tmp_path):  # task 0's records stay uncommitted: it is redone, after the others
    progress = tmp_path / "sft.jsonl.progress"
    lines = progress.read_bytes().splitlines(keepends=True)
    progress.write_bytes(b"".join([lines[0], *lines[2:]]))


def drop_both_first_lines(tmp_path):
    drop_first_output_line(tmp_path)
    progress = tmp_path / "sft.samples.jsonl.progress"
    lines = progress.read_bytes().splitlines(keepends=True)
    progress.write_bytes(b"".join([lines[0], *lines[2:]]))


def files_of(directory):
    names = ("sft.jsonl", "sft.samples.jsonl", "sft.jsonl.progress", "sft.samples.jsonl.progress")
    return {name: (directory / name).read_bytes() for name in names}


@pytest.mark.parametrize(
    "damage",
    [
        drop_last_samples_line,
        cut_last_sample,
        delete_samples,
        swap_output_lines,
        drop_first_output_line,
        drop_both_first_lines,
    ],
)
def test_a_resume_ends_byte_identical_to_an_uninterrupted_run(damage, env, server, tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    expected = run(job(), env, server.url, reference / "sft.jsonl")
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    run(job(), env, server.url, resumed / "sft.jsonl")
    damage(resumed)
    summary = run(job(), env, server.url, resumed / "sft.jsonl")
    assert files_of(resumed) == files_of(reference)
    for s in (summary, expected):  # when and how long: the rest is the same
        s.pop("wall_s_this_run"), s.pop("provenance")
    assert summary == expected


def test_the_output_is_in_task_order_whatever_order_tasks_finish_in(env, server, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    run(job(), env, server.url, tmp_path / "one" / "sft.jsonl")
    run(job(tasks_in_flight=4), env, server.url, tmp_path / "many" / "sft.jsonl")
    assert files_of(tmp_path / "many") == files_of(tmp_path / "one")
    samples = lines(tmp_path / "many" / "sft.samples.jsonl")
    order = [(s["metadata"]["task_id"], s["metadata"]["sample_index"]) for s in samples]
    assert order == [(t, i) for t in env.task_ids(4) for i in range(3)]
