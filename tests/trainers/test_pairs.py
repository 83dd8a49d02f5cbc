"""Preference pairs (trainers/pairs.py): which samples pair up, the resumable side output, and the
records through ``datasets`` and TRL 1.16 DPOTrainer's own dataset preparation (SmolLM2, no download)."""

import json

import gymnasium as gym
import pytest
from datasets import load_dataset

import atropos_envs  # noqa: F401 - registers the envs
from trainers.models import ensure_default_model
from trainers.pairs import had_tool_error, pair_record, preference_pairs, split_prompt
from trainers.rejection_sampling import SamplingJob, pair_records, side_outputs
from trainers.rollout import Rollout, Turn
from trainers.task_log import OutputMismatch


def scored(env, task_id, index, reply, outcome=None):
    """A rollout of one reply, scored by the real env (Format-v0)."""
    episode = env.start(task_id)
    _, reward, terminated, truncated, info = episode.step(reply)
    return Rollout(
        task_id,
        index,
        [dict(m) for m in episode.messages],
        reward,
        info["components"],
        info["reason"],
        terminated,
        truncated,
        [Turn([1], [2, 3], [-0.1, -0.1], "stop", reward=reward)],
        outcome or info["outcome"],
    )


@pytest.fixture(scope="module")
def format_samples():
    env = gym.make("atropos_envs/Format-v0").unwrapped
    task_id = env.task_ids(1)[0]
    answer = env.start(task_id).task["answer"]
    replies = [
        "<think>guess</think> \\boxed{0}",  # wrong answer: 0.2
        f"<think>Multiply them.</think> \\boxed{{{answer}}}",
        "no think block at all",  # invalid: 0
        f"<think>Repeated addition gives it.</think> \\boxed{{{answer}}}",
        "<think>another guess</think> \\boxed{1}",
    ]
    rollouts = [scored(env, task_id, i, reply) for i, reply in enumerate(replies)]
    rollouts[4].outcome = "error"  # as if the env had failed on it: not the reply's fault
    return rollouts


def tool_episode(index, reward, calls):
    """A multi-turn tool-use episode: each call's tool reply is an error or a result."""
    messages = [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    for ok in calls:
        messages.append({"role": "assistant", "content": '<tool_call>{"name": "weather"}</tool_call>'})
        reply = {"name": "weather", "content": "4 C"} if ok else {"name": "weather", "error": "missing city"}
        messages.append({"role": "tool", "content": json.dumps(reply)})
    messages.append(
        {"role": "assistant", "content": "It is 4 C in Oslo." if reward else "I could not find it."}
    )
    turns = [Turn([1], [2], [-0.1], "stop") for _ in range(len(calls) + 1)]
    return Rollout("w", index, messages, reward, {}, "r", True, False, turns)


def test_a_verified_sample_is_paired_with_a_failed_one(format_samples):
    pairs = preference_pairs(format_samples, threshold=1.0, limit=4, near=0.9)
    assert [(k, c.sample_index, r.sample_index) for k, c, r in pairs] == [
        ("verified_vs_failed", 1, 0),
        ("verified_vs_failed", 3, 2),
    ]  # sample 4 (an env failure) is never a rejected one
    assert len(preference_pairs(format_samples, threshold=1.0, limit=1, near=0.9)) == 1
    assert preference_pairs(format_samples[1:2], threshold=1.0, limit=4, near=0.9) == []  # nothing failed


def test_a_corrected_trajectory_is_paired_with_an_uncorrected_one_first():
    rollouts = [
        tool_episode(0, 1.0, [True]),  # verified, nothing to correct
        tool_episode(1, 0.0, [False, False]),  # failed call, never recovered
        tool_episode(2, 1.0, [False, True]),  # failed call, then corrected
        tool_episode(3, 0.0, [True]),  # failed without a tool error
    ]
    assert [had_tool_error(r) for r in rollouts] == [False, True, True, False]
    pairs = preference_pairs(rollouts, threshold=1.0, limit=4, near=0.9)
    assert [(k, c.sample_index, r.sample_index) for k, c, r in pairs] == [
        ("corrected_vs_uncorrected", 2, 1),
        ("verified_vs_failed", 0, 3),
    ]
    record = pair_record(*pairs[0], env_id="ToolUse", model="m")
    assert record["prompt"] == rollouts[2].messages[:2]
    assert [m["role"] for m in record["chosen"]] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert record["rejected"][-1]["content"] == "I could not find it."


def test_pairs_need_the_same_prompt(format_samples):
    other = Rollout(
        "t",
        9,
        [{"role": "user", "content": "another prompt"}, {"role": "assistant", "content": "x"}],
        0.0,
        {},
        "r",
        True,
        False,
        [Turn([1], [2], [-0.1], "stop")],
    )
    assert preference_pairs([format_samples[1], other], threshold=1.0, limit=2, near=0.9) == []
    assert split_prompt(other.messages) == (other.messages[:1], other.messages[1:])


def test_the_pairs_output_resumes_like_the_sft_output(format_samples, tmp_path):
    job = SamplingJob(env_id="atropos_envs/Format-v0", keep_per_task=2, model="m")
    out = tmp_path / "pairs.jsonl"
    with side_outputs(job, pairs_out=out, termination_out=None, overwrite=False) as (side,):
        side.log.commit("0", pair_records(format_samples, job), {})
    before = out.read_bytes()
    with side_outputs(job, pairs_out=out, termination_out=None, overwrite=False) as (side,):
        assert side.log.done == {"0"} and side.name == "pairs" and side.log.entries[0]["records"] == 2
    assert out.read_bytes() == before
    out.write_bytes(before.replace(b"Multiply", b"Divide"))  # an edited record stops the job
    with pytest.raises(OutputMismatch, match="differ"):
        with side_outputs(job, pairs_out=out, termination_out=None, overwrite=False):
            pass
    out.write_bytes(before)
    other = SamplingJob(env_id="atropos_envs/Format-v0", keep_per_task=2, model="m", select="best")
    with pytest.raises(OutputMismatch, match="other settings"):
        with side_outputs(other, pairs_out=out, termination_out=None, overwrite=False):
            pass
    with pytest.raises(ValueError, match="--termination-out needs --think-budget"):
        with side_outputs(job, pairs_out=None, termination_out=tmp_path / "t.jsonl", overwrite=False):
            pass


def test_pairs_load_with_datasets_and_pass_dpo_preparation(format_samples, tmp_path):
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    job = SamplingJob(env_id="atropos_envs/Format-v0", keep_per_task=2, model="m")
    multi = [tool_episode(0, 1.0, [False, True]), tool_episode(1, 0.0, [False])]
    records = pair_records(format_samples, job) + pair_records(multi, job)
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    dataset = load_dataset("json", data_files=str(path), split="train")
    assert len(dataset) == 3 and dataset[0]["chosen"][0]["role"] == "assistant"
    model = ensure_default_model()
    tokenizer = AutoTokenizer.from_pretrained(model)
    trainer = DPOTrainer(
        model=str(model),
        args=DPOConfig(output_dir=str(tmp_path / "dpo"), report_to=[], use_cpu=True, max_length=512),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset
    assert len(prepared) == 3
    for record, row in zip(records, prepared):
        chosen, rejected = tokenizer.decode(row["chosen_ids"]), tokenizer.decode(row["rejected_ids"])
        assert record["chosen"][-1]["content"] in chosen and record["rejected"][-1]["content"] in rejected
        assert record["prompt"][-1]["content"] in tokenizer.decode(row["prompt_ids"])
    batch = trainer.data_collator([prepared[i] for i in range(3)])
    assert batch["input_ids"].shape[0] == 6  # chosen and rejected of each pair
