"""Thinking budgets: a reply's reasoning is cut at ``think_budget`` tokens and the answer follows.

A budgeted reply is generated in two requests to the same server:
1. the reply, up to ``think_budget`` tokens, stopping at ``</think>`` (kept in the output);
2. when the think block closed in time, or was cut by the budget (then ``</think>`` is
   inserted), the answer: up to ``answer_budget`` tokens, a continuation of exactly the tokens
   so far (``/v1/completions`` with a token-id prompt: the prompt, the reasoning as sampled, the
   inserted ``</think>`` tokens), so no text is re-tokenized.

The two parts are two ``Turn``s of the rollout: the second one's prompt is the first one's
prompt and tokens plus the inserted tokens, so the token batch (``trainers.batch``) lines them
up as it does any turn and masks the inserted tokens (they were not sampled). A reply that
never opened a think block, or ended without closing it (end of turn, an env stop string), is
the first request alone, as without a budget.

``termination_record`` turns a forced reply into a termination-training record: the tokens
as sampled with ``labels`` that train only the inserted ``</think>`` (the format TRL 1.16's
SFTTrainer takes as already tokenized and keeps as is; see ``termination_record``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from trainers.client import Completion, RequestRejected, RolloutClient, SamplingParams

if TYPE_CHECKING:
    from trainers.rollout import Rollout

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
IGNORE = -100  # the label of a token that is not trained (PyTorch's cross-entropy ignore_index)


@dataclass
class ThinkBudget:
    think: int  # tokens of reasoning before </think> is forced
    answer: int  # tokens of the answer after </think>

    def validate(self) -> None:
        for name, value in (("think_budget", self.think), ("answer_budget", self.answer)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def think_budget(think: int, answer: int, max_tokens: int) -> ThinkBudget | None:
    """The budget of a job or run: None when ``think`` is 0 (no budget); an ``answer`` of 0 is
    ``max_tokens``."""
    if not think:
        if answer:
            raise ValueError("answer_budget needs think_budget (it is the answer's budget after </think>)")
        return None
    budget = ThinkBudget(think, answer or max_tokens)
    budget.validate()
    return budget


_CLOSE_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> its model's </think> ids


async def close_tokens(client: RolloutClient) -> list[int]:
    """The served model's tokens of ``</think>`` (asked once per client)."""
    if client not in _CLOSE_IDS:
        _CLOSE_IDS[client] = await client.tokenize(THINK_CLOSE)
    return list(_CLOSE_IDS[client])


@dataclass
class BudgetedReply:
    parts: list[Completion]  # one (no think block to close) or two (reasoning, answer)
    text: str  # the reply as the env sees it (without the assistant prefix)
    forced: bool  # </think> was inserted at the budget
    think_tokens: int | None  # tokens of reasoning (None when the reply opened no think block)


async def budgeted_reply(
    client: RolloutClient,
    messages: list[dict[str, str]],
    sampling: SamplingParams,
    budget: ThinkBudget,
    *,
    seed: int | None,
    prefix: str = "",
) -> BudgetedReply:
    """One assistant reply with its reasoning cut at ``budget.think`` tokens (see the module)."""
    reasoning = replace(sampling, max_tokens=budget.think, stop=[*sampling.stop, THINK_CLOSE])
    (first,) = await client.chat(
        messages,
        reasoning,
        n=1,
        seed=seed,
        assistant_prefix=prefix,
        extra_body={"include_stop_str_in_output": True},
    )
    so_far = prefix + first.text
    opened = THINK_OPEN in so_far
    closed = first.finish_reason == "stop" and first.stop_reason == THINK_CLOSE
    forced = first.finish_reason == "length" and opened and THINK_CLOSE not in so_far
    if not (closed or forced):
        return BudgetedReply([first], first.text, False, len(first.token_ids) if opened else None)
    inserted = await close_tokens(client) if forced else []
    answer_sampling = replace(sampling, max_tokens=budget.answer)
    try:
        answer = await client.continue_tokens(
            first.prompt_token_ids + first.token_ids + inserted, answer_sampling, seed
        )
    except RequestRejected:  # the context is full: the reply ends with its reasoning
        return BudgetedReply([first], first.text, forced, len(first.token_ids))
    text = first.text + (THINK_CLOSE if forced else "") + answer.text
    return BudgetedReply([first, answer], text, forced, len(first.token_ids))


def termination_record(
    rollout: Rollout, *, env_id: str, model: str, budget: ThinkBudget
) -> dict[str, Any] | None:
    """A termination-training record of a rollout's first forced reply, or None without one.

    ``input_ids``: the reply's prompt, its reasoning as sampled (cut at the budget), the
    inserted ``</think>`` tokens and the answer that followed; ``labels``: -100 everywhere but
    on the inserted tokens, so only the termination is trained. TRL 1.16's SFTTrainer reads a
    dataset with ``input_ids`` as already tokenized and keeps a ``labels`` column as is (its
    text prompt/completion format would append EOS after the completion, training the model to
    end its turn right after ``</think>``; assistant masks train whole messages). The ids are the
    served model's: train the same tokenizer's model on them."""
    for index, turn in enumerate(rollout.turns[:-1]):
        if not turn.think_forced:
            continue
        answer = rollout.turns[index + 1]
        context = turn.prompt_token_ids + turn.token_ids
        inserted = answer.prompt_token_ids[len(context) :]
        if answer.prompt_token_ids[: len(context)] != context or not inserted:
            return None
        input_ids = answer.prompt_token_ids + answer.token_ids
        start = len(context)
        labels = [IGNORE] * start + inserted + [IGNORE] * (len(input_ids) - start - len(inserted))
        return {
            "input_ids": input_ids,
            "labels": labels,
            "metadata": {
                "env": env_id,
                "task_id": rollout.task_id,
                "sample_index": rollout.sample_index,
                "model": model,
                "think_budget": budget.think,
                "answer_budget": budget.answer,
                "think_tokens": len(turn.token_ids),
                "inserted_at": start,
                "inserted_tokens": len(inserted),
                "reward": rollout.reward,
                "outcome": rollout.outcome,
            },
        }
    return None
