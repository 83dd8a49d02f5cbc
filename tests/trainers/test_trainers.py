"""The GRPO and PPO updates on fixed batches of real SmolLM2 tokens (no server): weights
move, the critic learns, checkpoints carry the algorithm's state, bad settings are refused."""

import pytest
import torch

from trainers.batch import TokenSample
from trainers.grpo import GRPOConfig, GRPOTrainer
from trainers.metrics import MetricsLog, read_metrics
from trainers.models import ensure_default_model
from trainers.ppo import PPOConfig, PPOTrainer, whiten
from trainers.trainer import Batch, TrainConfig
from trainers.weight_sync import make_weight_sync

SMALL = dict(lora_rank=4, lora_alpha=8, micro_batch=4, report_to=[], learning_rate=1e-3)


@pytest.fixture(scope="module")
def model_path():
    return ensure_default_model()


def _batch(model_path, rewards):
    """Real chat-templated prompts and replies; the sampling logprobs are the model's own."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say yes or no."}], add_generation_prompt=True, tokenize=False
    )
    prompt = tokenizer.encode(text)
    samples = []
    for i, reward in enumerate(rewards):
        reply = tokenizer.encode(["Yes.", "No.", "Yes, surely.", "No, never."][i % 4])
        samples.append(TokenSample(prompt, reply, [1] * len(reply), [-1.0] * len(reply), reward, str(i // 4)))
    return Batch(0, 1, samples, [True] * len(samples), 0, 0, 0.0)


def _with_own_logprobs(trainer, batch):
    with torch.no_grad():
        new, _, mask, _ = trainer.forward(batch.samples)
    for row, sample in enumerate(batch.samples):
        sample.sampling_logprobs = new[row, : len(sample.completion_ids)].tolist()
    return batch


def test_grpo_update_moves_the_adapter_towards_rewarded_replies(model_path, tmp_path):
    trainer = GRPOTrainer(GRPOConfig(**SMALL), None, model_path, [], tmp_path)
    batch = _with_own_logprobs(trainer, _batch(model_path, [1.0, 0.0, 1.0, 0.0]))
    before, _, _, _ = trainer.forward(batch.samples)
    metrics = trainer.update(batch)
    after, _, mask, _ = trainer.forward(batch.samples)
    gain = ((after - before) * mask).sum(-1)
    assert gain[0] > gain[1] and gain[2] > gain[3]  # rewarded replies became likelier relative to the others
    assert metrics["clip_fraction"] == 0.0 and metrics["grad_norm"] > 0


def test_ppo_critic_learns_and_its_state_is_checkpointed(model_path, tmp_path):
    trainer = PPOTrainer(PPOConfig(**SMALL, ppo_epochs=1), None, model_path, [], tmp_path)
    batch = _with_own_logprobs(trainer, _batch(model_path, [1.0, 0.0, 1.0, 0.0]))
    losses = [trainer.update(batch)["value_loss"] for _ in range(4)]
    assert losses[-1] < losses[0] * 0.8, losses  # the value head fits the returns it is shown
    assert trainer.value_head.linear.weight.abs().sum() > 0
    trainer._checkpoint()
    resumed = PPOTrainer(PPOConfig(**SMALL, ppo_epochs=1), None, model_path, [], tmp_path)
    assert torch.equal(resumed.value_head.linear.weight, trainer.value_head.linear.weight)
    with pytest.raises(ValueError, match="other settings"):
        GRPOTrainer(GRPOConfig(**SMALL), None, model_path, [], tmp_path)  # a PPO run folder is not a GRPO one


def test_checkpoint_restores_the_schedule_and_the_data_position(model_path, tmp_path):
    config = GRPOConfig(**SMALL, lr_schedule="linear", steps=4)
    trainer = GRPOTrainer(config, None, model_path, [], tmp_path)
    for _ in range(2):
        trainer.scheduler.step()
    trainer.step, trainer.data_position = 2, 8
    trainer._checkpoint()
    resumed = GRPOTrainer(GRPOConfig(**SMALL, lr_schedule="linear", steps=4), None, model_path, [], tmp_path)
    assert (
        resumed.scheduler.get_last_lr() == trainer.scheduler.get_last_lr() == [pytest.approx(5e-4)]
    )  # halfway down
    assert (resumed.step, resumed.data_position) == (2, 8)
    (tmp_path / "checkpoint").rename(
        tmp_path / "checkpoint.old"
    )  # as if killed between _checkpoint's renames
    again = GRPOTrainer(GRPOConfig(**SMALL, lr_schedule="linear", steps=4), None, model_path, [], tmp_path)
    assert (again.step, again.data_position) == (2, 8)


def test_whiten_uses_generated_tokens_only():
    values, mask = torch.tensor([[1.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    out = whiten(values, mask)
    assert out.tolist()[0] == pytest.approx([-1.0, 1.0, 0.0], abs=1e-4)


def test_metrics_log_trims_to_the_checkpoint_and_writes_tensorboard(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 1, "mean_reward": 0.1}\n{"step": 2, "mean_reward": 0.2}\n{"step": 3, "mean'
    )
    log = MetricsLog(tmp_path, ["tensorboard"], {}, resume_step=1)
    log.write({"step": 2, "mean_reward": 0.5, "note": "text is skipped by tensorboard"})
    log.close()
    assert [r["mean_reward"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [0.1, 0.5]
    assert any((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="report_to"):
        MetricsLog(tmp_path, ["mlflow"], {}, 0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"uniform_groups": "refil"}, "uniform_groups"),
        ({"group_size": 0}, "group_size"),
        ({"max_staleness": -1}, "max_staleness"),
        ({"lr_schedule": "wsd"}, "lr_schedule"),
    ],
)
def test_bad_settings_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()


def test_weight_sync_must_fit_the_kind_of_training(tmp_path):
    with pytest.raises(ValueError, match="does not fit"):
        make_weight_sync("reload", True, ["http://127.0.0.1:9"], [], tmp_path)
    with pytest.raises(ValueError, match="auto, lora, reload, restart, nccl"):
        make_weight_sync("ipc", False, ["http://127.0.0.1:9"], [], tmp_path)
