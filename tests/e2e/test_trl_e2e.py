"""TRL's GRPOTrainer driving our envs: with TRL generating (reward function) and with our
rollout loop and vLLM server generating (rollout_func, multi-turn tool use)."""

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401  (registers the envs)
from trainers.models import ensure_default_model
from trainers.trl_adapter import EnvReward, EnvRollouts, env_dataset

pytestmark = pytest.mark.e2e


def _args(tmp_path, **overrides):
    from trl import GRPOConfig

    settings = dict(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=16,
        learning_rate=1e-5,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=False,
        use_cpu=True,
        seed=0,
    )
    return GRPOConfig(**{**settings, **overrides})


def test_trl_generates_and_our_env_scores(tmp_path):
    from trl import GRPOTrainer

    env = gym.make("atropos_envs/InstructionFollowing-v0", max_constraints=1).unwrapped
    trainer = GRPOTrainer(
        model=str(ensure_default_model()),
        reward_funcs=[EnvReward(env)],
        train_dataset=env_dataset(env, 4),
        args=_args(tmp_path),
    )
    trainer.train()
    logged = trainer.state.log_history[0]
    assert "rewards/atropos_InstructionFollowing-v0/mean" in logged, logged
    assert 0.0 <= logged["rewards/atropos_InstructionFollowing-v0/mean"] <= 1.0


def test_trl_trains_on_our_multi_turn_rollouts_and_pushes_the_adapter(vllm_server, tmp_path):
    import httpx
    from peft import LoraConfig
    from trl import GRPOTrainer

    env = gym.make("atropos_envs/ToolUse-v0").unwrapped
    rollouts = EnvRollouts(
        env, [vllm_server.url], max_tokens=32, assistant_prefix="<tool_call>", work_dir=tmp_path / "sync"
    )
    seen = []

    def rollout_func(prompts, trainer):
        seen.append(rollouts(prompts, trainer))
        return seen[-1]

    trainer = GRPOTrainer(
        model=str(ensure_default_model()),
        reward_funcs=[rollouts.reward],
        train_dataset=env_dataset(env, 8),
        rollout_func=rollout_func,
        peft_config=LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]),
        args=_args(tmp_path, max_steps=2, learning_rate=1e-3),
    )
    trainer.train()
    assert len(seen) == 2 and all(len(batch["completion_ids"]) == 4 for batch in seen)
    masks = [m for batch in seen for m in batch["env_mask"]]
    assert any(0 in m for m in masks) and all(
        1 in m for m in masks
    )  # tool output is masked, model tokens are not
    served = [m["id"] for m in httpx.get(f"{vllm_server.url}/v1/models").json()["data"]]
    assert "policy-v1" in served  # the second batch was sampled by the adapter TRL trained in step 1
