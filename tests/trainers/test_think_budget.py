"""Thinking budgets (trainers/think.py), the termination-training record through TRL 1.16's own
dataset preparation, and overlong handling in GRPO/PPO (trainers/advantages.py). Tokens are the
real SmolLM2 tokenizer's; the server side is tests/e2e/test_think_e2e.py."""

import dataclasses

import pytest
from datasets import Dataset
from transformers import AutoTokenizer

from trainers.advantages import overlong_adjust, soft_overlong_penalty
from trainers.batch import Batch, TokenSample, token_sample
from trainers.config import GRPOConfig, PPOConfig, TrainConfig
from trainers.models import ensure_default_model
from trainers.rejection_sampling import SamplingJob, think_summary
from trainers.rollout import Rollout, Turn
from trainers.think import IGNORE, THINK_CLOSE, ThinkBudget, termination_record, think_budget

SMALL = dict(lora_rank=4, lora_alpha=8, micro_batch=4, report_to=[], learning_rate=1e-3)


@pytest.fixture(scope="module")
def model_path():
    return ensure_default_model()


@pytest.fixture(scope="module")
def tokenizer(model_path):
    return AutoTokenizer.from_pretrained(model_path)


def forced_rollout(tokenizer, reasoning="Let me add seven and five carefully one", answer="\n\\boxed{12}"):
    """A reply as the budgeted rollout records it: the reasoning cut at the budget (first turn),
    then the answer generated after the inserted </think> (second turn, prompt = all before it)."""
    messages = [{"role": "user", "content": "What is 7 + 5?"}, {"role": "assistant", "content": "<think>"}]
    text = tokenizer.apply_chat_template(messages, continue_final_message=True, tokenize=False)
    prompt = tokenizer.encode(text, add_special_tokens=False)
    think = tokenizer.encode(reasoning, add_special_tokens=False)
    close = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)
    tail = tokenizer.encode(answer, add_special_tokens=False) + [tokenizer.eos_token_id]
    turns = [
        Turn(
            prompt,
            think,
            [-0.5] * len(think),
            "length",
            think_part=True,
            think_forced=True,
            think_tokens=len(think),
        ),
        Turn(prompt + think + close, tail, [-0.25] * len(tail), "stop", reward=1.0),
    ]
    text = f"<think>{reasoning}{THINK_CLOSE}{answer}"
    return Rollout(
        "7",
        0,
        [messages[0], {"role": "assistant", "content": text}],
        1.0,
        {"correct": 1.0},
        "ok",
        True,
        False,
        turns,
    ), close


def test_budget_settings():
    assert think_budget(0, 0, 256) is None
    assert think_budget(64, 0, 256) == ThinkBudget(64, 256)  # the answer's budget defaults to max_tokens
    assert think_budget(64, 32, 256) == ThinkBudget(64, 32)
    with pytest.raises(ValueError, match="answer_budget needs think_budget"):
        think_budget(0, 32, 256)
    with pytest.raises(ValueError, match="think_budget must be a positive integer"):
        think_budget(-1, 0, 256)
    with pytest.raises(ValueError, match="answer_budget needs think_budget"):
        SamplingJob(env_id="x", answer_budget=8).validate()
    with pytest.raises(ValueError, match="think_budget must be an integer >= 0"):
        SamplingJob(env_id="x", think_budget=-3).validate()
    # outputs written before these options existed resume: defaults are left out of the fingerprint
    assert "think_budget" not in SamplingJob(env_id="x").settings()
    assert SamplingJob(env_id="x", think_budget=8).settings()["think_budget"] == 8


def test_a_forced_reply_is_two_turns_and_its_inserted_tokens_are_not_trained(tokenizer):
    rollout, close = forced_rollout(tokenizer)
    reasoning, answer = rollout.turns
    assert rollout.think_forced and rollout.think_tokens == len(reasoning.token_ids)
    assert not rollout.hit_token_limit  # the budget cut the reasoning, not the reply's token limit
    assert rollout.longest_reply == len(reasoning.token_ids) + len(answer.token_ids)
    sample = token_sample(rollout, "g", end_of_turn=tokenizer.eos_token_id)
    n = len(reasoning.token_ids)
    assert sample.completion_ids == reasoning.token_ids + close + answer.token_ids
    assert sample.mask == [1] * n + [0] * len(close) + [1] * len(answer.token_ids)
    assert sample.sampling_logprobs[n : n + len(close)] == [0.0] * len(close)
    assert (sample.think_forced, sample.hit_token_limit, sample.longest_reply) == (
        True,
        False,
        rollout.longest_reply,
    )
    # a budgeted answer cut by its own limit is overlong
    cut = dataclasses.replace(rollout, turns=[reasoning, dataclasses.replace(answer, finish_reason="length")])
    assert cut.hit_token_limit


def test_termination_record_trains_only_the_inserted_tokens_through_trl(tokenizer, model_path, tmp_path):
    from trl import SFTConfig, SFTTrainer

    rollout, close = forced_rollout(tokenizer)
    record = termination_record(rollout, env_id="Format", model="SmolLM2", budget=ThinkBudget(9, 32))
    assert record["metadata"]["inserted_tokens"] == len(close) == 3
    trainer = SFTTrainer(
        model=str(model_path),
        args=SFTConfig(output_dir=str(tmp_path), report_to=[], max_length=512, use_cpu=True),
        train_dataset=Dataset.from_list([record]),
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset[0]
    assert prepared["input_ids"] == record["input_ids"]
    batch = trainer.data_collator([{k: prepared[k] for k in ("input_ids", "labels")}])
    labels = batch["labels"][0].tolist()
    trained = [i for i, label in enumerate(labels) if label != IGNORE]
    start = record["metadata"]["inserted_at"]
    assert trained == list(range(start, start + len(close)))  # the loss covers </think> and nothing else
    assert tokenizer.decode([record["input_ids"][i] for i in trained]) == THINK_CLOSE
    assert tokenizer.decode(record["input_ids"][:start]).endswith("one")  # the reasoning, cut, is context


def test_trl_text_prompt_completion_would_train_an_eos_after_the_termination(tokenizer, model_path, tmp_path):
    """Why the record is tokenized: TRL 1.16 appends EOS to a text completion, so a prompt/completion
    record with the completion "</think>" would teach the model to end its turn right after it."""
    from trl import SFTConfig, SFTTrainer

    trainer = SFTTrainer(
        model=str(model_path),
        args=SFTConfig(output_dir=str(tmp_path), report_to=[], max_length=512, use_cpu=True),
        train_dataset=Dataset.from_list([{"prompt": "<think>Let me add", "completion": THINK_CLOSE}]),
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset[0]
    trained = [t for t, label in zip(prepared["input_ids"], prepared["labels"]) if label != IGNORE]
    assert trained[-1] == tokenizer.eos_token_id


def test_no_record_without_a_forced_reply(tokenizer):
    rollout, _ = forced_rollout(tokenizer)
    reasoning, answer = rollout.turns
    natural = dataclasses.replace(rollout, turns=[dataclasses.replace(reasoning, think_forced=False), answer])
    assert termination_record(natural, env_id="x", model="m", budget=ThinkBudget(9, 32)) is None


def test_think_summary_reports_the_overlong_rate_and_mean_thinking_length():
    entries = [{"think_forced": 3, "think_tokens": 40}, {"think_forced": 1, "think_tokens": 24}, {}]
    assert think_summary(entries, 8) == {"overlong_rate": 0.5, "think_forced": 4, "mean_think_tokens": 8.0}


# ---- overlong replies in GRPO / PPO ------------------------------------------------------------------------
def sample(length, hit=False, reward=1.0):
    return TokenSample(
        [1, 2],
        list(range(length)),
        [1] * length,
        [-0.1] * length,
        reward,
        "g",
        turn_rewards=[(length - 1, reward)],
        hit_token_limit=hit,
        longest_reply=length,
    )


def test_soft_overlong_penalty_is_dapos():
    # limit 100, buffer 20: nothing up to 80 tokens, then linear to -1 at 100 (and beyond)
    assert [soft_overlong_penalty(n, 100, 20) for n in (10, 80, 90, 95, 100, 130)] == pytest.approx(
        [0.0, 0.0, -0.5, -0.75, -1.0, -1.0]
    )
    assert soft_overlong_penalty(100, 100, 20, penalty=0.5) == pytest.approx(-0.5)


def test_overlong_adjust_keeps_masks_or_penalises():
    samples = [sample(100, hit=True), sample(90), sample(10), sample(50, reward=0.0)]
    same, metrics = overlong_adjust(samples, how="keep", limit=100, buffer=20, penalty=1.0)
    assert same == samples and metrics == {"overlong_rate": 0.25, "think_forced_rate": 0.0}
    masked, _ = overlong_adjust(samples, how="mask", limit=100, buffer=20, penalty=1.0)
    assert masked[0].mask == [0] * 100 and masked[1:] == samples[1:]
    soft, metrics = overlong_adjust(samples, how="soft", limit=100, buffer=20, penalty=1.0)
    assert [s.reward for s in soft] == pytest.approx([0.0, 0.5, 1.0, 0.0])
    assert soft[1].turn_rewards == [(89, pytest.approx(0.5))]  # PPO's terminal reward too
    assert metrics["overlong_penalty_mean"] == pytest.approx(-1.5 / 4)
    assert samples[0].reward == 1.0 and samples[0].mask == [1] * 100  # the batch itself is unchanged


@pytest.mark.parametrize(
    "change, message",
    [
        ({"overlong": "drop"}, "overlong must be one of"),
        ({"overlong": "soft", "overlong_buffer": 0}, "overlong_buffer must be in"),
        ({"overlong": "soft", "overlong_buffer": 65}, r"overlong_buffer must be in \[1, 64\]"),
        ({"answer_budget": 16}, "answer_budget needs think_budget"),
        ({"think_budget": -1}, "think_budget must be >= 0"),
        ({"overlong_penalty": -1.0}, "overlong_penalty must be >= 0"),
    ],
)
def test_bad_overlong_settings_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()


def test_reply_limit_counts_reasoning_and_answer():
    assert TrainConfig(max_tokens=64).reply_limit() == 64
    assert TrainConfig(max_tokens=64, think_budget=100).reply_limit() == 164
    assert TrainConfig(max_tokens=64, think_budget=100, answer_budget=20).reply_limit() == 120


@pytest.mark.parametrize("algorithm", ["grpo", "ppo"])
def test_updates_report_the_overlong_rate(model_path, tokenizer, tmp_path, algorithm):
    from trainers.grpo import GRPOTrainer
    from trainers.ppo import PPOTrainer

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say yes."}], add_generation_prompt=True, tokenize=False
    )
    prompt = tokenizer.encode(text, add_special_tokens=False)
    replies = [
        tokenizer.encode(t) for t in ("Yes yes yes yes yes yes yes yes", "Yes.", "No.", "Yes, surely.")
    ]
    samples = [
        TokenSample(
            prompt,
            r,
            [1] * len(r),
            [-1.0] * len(r),
            [0.0, 1.0, 0.0, 1.0][i],
            "0",
            turn_rewards=[(len(r) - 1, [0.0, 1.0, 0.0, 1.0][i])],
            hit_token_limit=i == 0,
            longest_reply=len(r),
        )
        for i, r in enumerate(replies)
    ]
    batch = Batch(0, 1, samples, [True] * 4, 0, 0, 0.0)
    if algorithm == "grpo":
        trainer = GRPOTrainer(
            GRPOConfig(**SMALL, max_tokens=8, overlong="soft", overlong_buffer=4),
            None,
            model_path,
            [],
            tmp_path,
        )
    else:
        trainer = PPOTrainer(
            PPOConfig(**SMALL, max_tokens=8, overlong="mask", ppo_epochs=1), None, model_path, [], tmp_path
        )
    metrics = trainer.update(batch)
    assert metrics["overlong_rate"] == 0.25 and metrics["think_forced_rate"] == 0.0
    assert ("overlong_penalty_mean" in metrics) == (algorithm == "grpo")
    assert batch.samples[0].reward == 0.0 and batch.samples[0].mask == [1] * len(replies[0])
