"""Thinking budget end to end: the real vLLM server, the real SmolLM2, Format-v0.

With an 8-token budget SmolLM2 never closes its reasoning in time: ``</think>`` is inserted,
the answer is generated as a token-exact continuation, and the env scores the reply (it sees a
closed think block). Tiny (2 tasks x 4 samples, 32 tokens each): seconds on the session server.
"""

import asyncio
import json

import gymnasium as gym
import pytest
from datasets import load_dataset
from transformers import AutoTokenizer

import atropos_envs  # noqa: F401 - registers the envs
from trainers.batch import token_sample
from trainers.client import RolloutClient, SamplingParams
from trainers.models import ensure_default_model
from trainers.rejection_sampling import SamplingJob, run_job
from trainers.rollout import run_episode
from trainers.think import IGNORE, THINK_CLOSE, ThinkBudget

pytestmark = pytest.mark.e2e
BUDGET = ThinkBudget(think=8, answer=24)


def _episodes(url: str, env, task_ids: list[str]):
    async def go():
        async with RolloutClient([url]) as client:
            close_ids = await client.tokenize(THINK_CLOSE)
            rollouts = await asyncio.gather(
                *(
                    run_episode(
                        env,
                        task_id,
                        sample_index=i,
                        client=client,
                        sampling=SamplingParams(max_tokens=32, temperature=0.8),
                        assistant_prefix="<think>",
                        think_budget=BUDGET,
                    )
                    for task_id in task_ids
                    for i in range(4)
                )
            )
            return close_ids, rollouts

    return asyncio.run(go())


def test_reasoning_is_cut_at_the_budget_and_the_answer_still_scored(vllm_server):
    env = gym.make("atropos_envs/Format-v0").unwrapped
    close_ids, rollouts = _episodes(vllm_server.url, env, env.task_ids(2))
    forced = [r for r in rollouts if r.think_forced]
    assert len(forced) >= 4, [r.messages[-1]["content"] for r in rollouts]  # 8 tokens: reasoning never ends
    for rollout in forced:
        reasoning, answer = rollout.turns
        assert reasoning.think_forced and len(reasoning.token_ids) == BUDGET.think == rollout.think_tokens
        # the answer continues exactly the tokens so far, with the inserted </think>
        assert answer.prompt_token_ids == reasoning.prompt_token_ids + reasoning.token_ids + close_ids
        assert 0 < len(answer.token_ids) <= BUDGET.answer
        assert len(answer.logprobs) == len(answer.token_ids) and all(lp <= 0 for lp in answer.logprobs)
        reply = rollout.messages[-1]["content"]
        assert reply.startswith("<think>") and reply.count(THINK_CLOSE) >= 1
        # scored by the env on the whole reply: it saw the think block closed
        assert set(rollout.components) == {"format", "correct"} and "missing </think>" not in rollout.reason
        assert rollout.outcome in ("ok", "invalid")
        # training sees the sampled tokens (mask 1) and the inserted ones (mask 0)
        sample = token_sample(rollout, "g")
        start = len(reasoning.token_ids)
        assert sample.completion_ids[start : start + len(close_ids)] == close_ids
        assert sample.mask == [1] * start + [0] * len(close_ids) + [1] * len(answer.token_ids)
        assert sample.think_forced and sample.hit_token_limit == (answer.finish_reason == "length")


def test_sample_writes_termination_records_that_train_only_the_inserted_tokens(vllm_server, tmp_path):
    env = gym.make("atropos_envs/Format-v0").unwrapped
    job = SamplingJob(
        env_id="atropos_envs/Format-v0",
        num_tasks=2,
        samples_per_task=4,
        threshold=1.0,
        sampling=SamplingParams(max_tokens=32, temperature=0.8),
        assistant_prefix="<think>",
        think_budget=BUDGET.think,
        answer_budget=BUDGET.answer,
        model="smollm2",
    )

    async def go():
        async with RolloutClient([vllm_server.url]) as client:
            return await run_job(
                job,
                env,
                client,
                tmp_path / "sft.jsonl",
                pairs_out=tmp_path / "pairs.jsonl",
                termination_out=tmp_path / "term.jsonl",
            )

    summary = asyncio.run(go())
    assert summary["samples"] == 8 and summary["overlong_rate"] >= 0.5
    assert 0 < summary["mean_think_tokens"] <= BUDGET.think
    saved = json.loads((tmp_path / "sft.jsonl.summary.json").read_text())
    assert saved["termination_records"] == summary["termination_records"] >= 4
    records = load_dataset("json", data_files=str(tmp_path / "term.jsonl"), split="train")
    tokenizer = AutoTokenizer.from_pretrained(ensure_default_model())
    for record in records:
        trained = [t for t, label in zip(record["input_ids"], record["labels"]) if label != IGNORE]
        assert tokenizer.decode(trained) == THINK_CLOSE
        at = record["metadata"]["inserted_at"]
        assert tokenizer.decode(record["input_ids"][at - BUDGET.think : at]).strip()  # the cut reasoning

    written = {p.name: p.read_bytes() for p in tmp_path.glob("*.jsonl")}
    assert asyncio.run(go())["samples"] == 8  # a re-run resumes: every task is done, nothing is sampled
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.jsonl")} == written
    for lost in ("term.jsonl", "term.jsonl.progress"):  # a side output lost: its tasks are redone
        (tmp_path / lost).unlink()
    assert asyncio.run(go())["termination_records"] >= 4
    assert (tmp_path / "sft.jsonl").read_bytes() == written["sft.jsonl"]  # the SFT output is not touched
