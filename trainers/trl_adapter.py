"""Drive atropos-envs environments from TRL's ``GRPOTrainer``.

Two ways, both with TRL's own loop, loss and logging:

- Reward functions (single-turn envs; TRL generates): the dataset holds each task's
  prompt and id, and ``EnvReward`` scores a completion by running it through the env.

      trainer = GRPOTrainer(
          model, reward_funcs=[EnvReward(env)], train_dataset=env_dataset(env, 256), args=...
      )

- ``EnvRollouts`` as ``rollout_func`` (any env, multi-turn tool use included): episodes
  run against our vLLM server(s) through our rollout loop; TRL receives the token ids,
  the sampling logprobs, the generated-token mask (``env_mask``: tool output is not
  trained on) and the env's reward. TRL's own vLLM weight sync is NCCL-only and needs a
  CUDA trainer, so the new weights are pushed with ``trainers.weight_sync`` (LoRA
  hot-load or in-place reload) whenever TRL's global step moves.

      rollouts = EnvRollouts(env, ["http://127.0.0.1:8000"], max_tokens=64)
      trainer = GRPOTrainer(model, reward_funcs=[rollouts.reward], train_dataset=env_dataset(env, 256),
                            rollout_func=rollouts, args=GRPOConfig(..., num_generations=8))
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from trainers.batch import token_sample
from trainers.client import RolloutClient, SamplingParams
from trainers.rollout import run_episode
from trainers.weight_sync import make_weight_sync


def env_name(env) -> str:
    return env.spec.id.split("/")[-1] if getattr(env, "spec", None) else type(env).__name__


def env_dataset(env, num_tasks: int | None, start: int = 0):
    """A ``datasets.Dataset`` of the env's tasks: ``prompt`` (chat messages) and ``task_id``."""
    from datasets import Dataset

    ids = env.task_ids(num_tasks, start)
    return Dataset.from_list(
        [{"prompt": env.start(task_id).observation, "task_id": task_id} for task_id in ids]
    )


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(
        m.get("content") or "" for m in completion if m.get("role") == "assistant"
    )  # conversational


class EnvReward:
    """A TRL reward function: each completion is the env's action on its task."""

    def __init__(self, env):
        self.env = env
        self.__name__ = f"atropos_{env_name(env)}"  # TRL logs rewards under the function's name

    def __call__(self, prompts: list, completions: list, task_id: list[str], **kwargs: Any) -> list[float]:
        rewards = []
        for completion, task in zip(completions, task_id):
            episode = self.env.start(task)
            _, reward, terminated, truncated, _ = episode.step(_text(completion))
            if not (terminated or truncated):
                raise ValueError(
                    f"{env_name(self.env)} is multi-turn: pass EnvRollouts as GRPOTrainer's rollout_func"
                )
            rewards.append(float(reward))
        return rewards


class EnvRollouts:
    """A TRL ``rollout_func``: whole episodes through our rollout loop and vLLM servers."""

    def __init__(
        self,
        env,
        server_urls: list[str],
        max_tokens: int = 256,
        temperature: float = 1.0,
        assistant_prefix: str = "",
        weight_sync: str = "auto",
        seed: int = 0,
        work_dir: Path | None = None,
    ):
        self.env, self.urls, self.seed, self.assistant_prefix = env, list(server_urls), seed, assistant_prefix
        self.sampling = SamplingParams(max_tokens=max_tokens, temperature=temperature)
        self.weight_sync, self.sync, self.synced_step = weight_sync, None, 0
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="atropos-trl-"))
        self.calls = 0
        self._by_prompt: dict[str, str] | None = None
        self.__name__ = f"atropos_{env_name(env)}_rollouts"

    def _task_id(self, prompt: list[dict[str, str]]) -> str:
        key = json.dumps(prompt, sort_keys=True)
        if key not in (self._by_prompt or {}):
            raise KeyError(
                "a prompt that env_dataset did not produce: "
                "build the train dataset with env_dataset(env, ...)"
            )
        return self._by_prompt[key]

    def index(self, dataset) -> None:
        """Learn which task each prompt belongs to (TRL hands rollout_func prompts only)."""
        self._by_prompt = {json.dumps(row["prompt"], sort_keys=True): row["task_id"] for row in dataset}

    def _publish(self, trainer) -> None:
        step = trainer.state.global_step
        if step == self.synced_step:
            return
        model = trainer.accelerator.unwrap_model(trainer.model)
        if self.sync is None:
            self.sync = make_weight_sync(
                self.weight_sync, hasattr(model, "peft_config"), self.urls, [], self.work_dir
            )
        self.sync.publish(model, step)
        self.synced_step = step

    def __call__(self, prompts: list, trainer) -> dict[str, list]:
        """One episode per prompt entry (TRL repeats each prompt num_generations times)."""
        if self._by_prompt is None:
            self.index(trainer.train_dataset)
        self._publish(trainer)
        self.calls += 1
        rollouts = asyncio.run(self._run([self._task_id(p) for p in prompts]))
        eos = trainer.processing_class.eos_token_id
        samples = [token_sample(r, r.task_id, self.synced_step, eos) for r in rollouts]
        return {
            "prompt_ids": [s.prompt_ids for s in samples],
            "completion_ids": [s.completion_ids for s in samples],
            "logprobs": [s.sampling_logprobs for s in samples],
            "env_mask": [s.mask for s in samples],
            "env_reward": [s.reward for s in samples],
        }

    async def _run(self, task_ids: list[str]):
        served = self.sync.served if self.sync is not None else None
        base_seed = self.seed * 1_000_003 + self.calls
        seen: dict[str, int] = {}
        episodes = []
        async with RolloutClient(self.urls, model=served) as client:
            for task_id in task_ids:
                seen[task_id] = (
                    seen.get(task_id, -1) + 1
                )  # the i-th copy of a prompt is sample i of its group
                episodes.append(
                    run_episode(
                        self.env,
                        task_id,
                        sample_index=seen[task_id],
                        client=client,
                        sampling=self.sampling,
                        base_seed=base_seed,
                        assistant_prefix=self.assistant_prefix,
                    )
                )
            return await asyncio.gather(*episodes)

    def reward(self, prompts: list, completions: list, env_reward: list[float], **kwargs: Any) -> list[float]:
        """The reward function to pair with this rollout_func: the env's score of each episode."""
        return [float(r) for r in env_reward]
