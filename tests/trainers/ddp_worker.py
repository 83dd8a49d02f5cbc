"""One GRPO update of SmolLM2 (LoRA) on a fixed batch, in one process or under torchrun.

    python tests/trainers/ddp_worker.py OUT [--trained 0,1,2,...]
    ACCELERATE_USE_CPU=true torchrun --nproc_per_node 2 tests/trainers/ddp_worker.py OUT ...

Rank 0 writes the trained parameters and the update's metrics to OUT (torch.save).
Used by tests/trainers/test_distributed.py.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trainers.batch import Batch, TokenSample  # noqa: E402
from trainers.config import GRPOConfig  # noqa: E402
from trainers.grpo import GRPOTrainer  # noqa: E402
from trainers.models import ensure_default_model  # noqa: E402

REPLIES = ["Yes.", "No.", "Yes, surely.", "No, never.", "Maybe.", "Yes!", "No way.", "I think so."]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--trained", default="0,1,2,3,4,5,6,7", help="indices of the samples that are trained"
    )
    parser.add_argument("--aggregation", default="token_mean")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    model_path = ensure_default_model()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say yes or no."}], add_generation_prompt=True, tokenize=False
    )
    prompt = tokenizer.encode(text)
    samples = []
    for i, reply in enumerate(REPLIES):
        ids = tokenizer.encode(reply)
        samples.append(
            TokenSample(
                prompt, ids, [1] * len(ids), [0.0] * len(ids), float(reply.startswith("Yes")), str(i // 4)
            )
        )
    trained = {int(i) for i in args.trained.split(",") if i}
    config = GRPOConfig(
        lora_rank=4,
        lora_alpha=8,
        micro_batch=2,
        learning_rate=1e-4,
        report_to=[],
        device="cpu",
        dtype="float32",
        aggregation=args.aggregation,
        process_group_timeout_s=60,
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = GRPOTrainer(config, None, model_path, [], out)
        with torch.no_grad():
            new, _, _, _ = trainer.forward(samples, trainer.policy)
        for row, sample in enumerate(samples):  # the starting policy sampled them: ratio 1
            sample.sampling_logprobs = new[row, : len(sample.completion_ids)].tolist()
        batch = Batch(0, 1, samples, [i in trained for i in range(len(samples))], 0, 0, 0.0)
        metrics = trainer.update(batch)
        if trainer.processes.main:
            params = {n: p.detach().clone() for n, p in trainer.policy.named_parameters() if p.requires_grad}
            torch.save({"params": params, "metrics": metrics, "world": trainer.processes.world}, args.out)


if __name__ == "__main__":
    main()
