"""ToolReasoning-v0 and ReasoningGym-v0 against the real vLLM server (SmolLM2-135M): python runs
in the sandbox mid-reasoning, and the written records reload with `datasets` and re-score."""

import asyncio
import json

import pytest
from datasets import load_dataset

from atropos_envs.envs.reasoning_gym import ReasoningGymEnv
from atropos_envs.envs.tool_reasoning import STOP_SEQUENCES, ToolReasoningEnv
from atropos_envs.probes import play
from trainers.client import RolloutClient, SamplingParams
from trainers.rejection_sampling import SamplingJob, run_job

pytestmark = pytest.mark.e2e
# SmolLM2-135M never opens a python call on its own, and the code it writes into a started one is
# often left unclosed (invalid JSON): the prefill is one whole call, the model goes on after it
PREFIX = (
    '<think>I compute it with Python.\n<tool_call>{"name": "python", "arguments": '
    '{"code": "print(2 ** 64)"}}</tool_call>'
)


def sample(server, env, env_id, out, **job):
    job = SamplingJob(env_id=env_id, num_tasks=2, samples_per_task=2, keep_per_task=0, model="smollm2", **job)

    async def go():
        async with RolloutClient([server.url]) as client:
            return await run_job(job, env, client, out)

    return asyncio.run(go())


def test_tool_reasoning_runs_python_mid_reasoning_and_records_re_verify(vllm_server, tmp_path):
    env = ToolReasoningEnv(kinds=["big_sum"], max_turns=3)
    out = tmp_path / "tool_reasoning.jsonl"
    sampling = SamplingParams(max_tokens=64, stop=STOP_SEQUENCES)
    summary = sample(
        vllm_server, env, "atropos_envs/ToolReasoning-v0", out, sampling=sampling, assistant_prefix=PREFIX
    )
    records = load_dataset("json", data_files=str(out), split="train")
    assert summary["samples"] == len(records) == 4
    responses = [m["content"] for r in records for m in r["messages"] if m["role"] == "tool"]
    assert responses, "the prefilled call reaches the env, which answers it mid-reasoning"
    ran = [json.loads(t.split("\n")[1]) for t in responses]
    assert any(r.get("content") == "18446744073709551616\n" for r in ran), ran  # the sandbox ran it
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles[:3] == ["system", "user", "assistant"] and set(roles[3:]) <= {"assistant", "tool"}
        turns = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
        reward, _, _ = play(env, record["metadata"]["task_id"], turns)
        assert reward == pytest.approx(record["metadata"]["reward"])  # the record re-scores the same


def test_reasoning_gym_samples_are_scored_by_the_generator(vllm_server, tmp_path):
    env = ReasoningGymEnv(dataset="chain_sum", level=0)
    out = tmp_path / "reasoning_gym.jsonl"
    summary = sample(
        vllm_server,
        env,
        "atropos_envs/ReasoningGym-v0",
        out,
        sampling=SamplingParams(max_tokens=48),
        assistant_prefix="<think>",
    )
    records = load_dataset("json", data_files=str(out), split="train")
    assert summary["samples"] == len(records) == 4
    for record in records:
        meta = record["metadata"]
        assert meta["reason"] and 0.0 <= meta["reward"] <= 1.0
        reward, _, _ = play(env, meta["task_id"], [record["messages"][-1]["content"]])
        assert reward == pytest.approx(meta["reward"])
