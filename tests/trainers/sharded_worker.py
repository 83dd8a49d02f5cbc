"""One full-parameter GRPO step of a small Llama, unsharded or sharded over the processes.

    python tests/trainers/sharded_worker.py OUT --engine single
    torchrun --nproc_per_node 2 tests/trainers/sharded_worker.py OUT --engine fsdp2|zero3

fsdp2: native ``torch.distributed.fsdp.fully_shard`` (each decoder layer, then the root);
zero3: ``deepspeed.initialize`` with ZeRO stage 3 and the same torch AdamW. Both over gloo
with a 60 s process-group timeout, so that a desync fails instead of hanging. Every rank
trains on its share of the batch (``trainers.distributed.share``) with the loss normalised
over the whole batch and multiplied by the ranks (the engines average gradients); then the
weights are gathered to rank 0 (``trainers.distributed.gathered_state_dict``), which writes
them, the loss and the gradient norm to OUT (torch.save).
Used by tests/trainers/test_fsdp_zero.py.
"""

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trainers.advantages import batch_total, clipped_policy_loss, group_advantages  # noqa: E402
from trainers.batch import TokenSample  # noqa: E402
from trainers.distributed import gathered_state_dict, padding, share  # noqa: E402
from trainers.logprobs import completion_logprobs, pack  # noqa: E402

TIMEOUT = timedelta(seconds=60)
LR, MAX_NORM = 1e-3, 1.0


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,  # like SmolLM2: the output head is the embedding
    )
    return LlamaForCausalLM(config).float()


def fixed_batch(count: int = 7) -> list[TokenSample]:
    """Seven samples in two groups (an odd count: rank 1 gets a padding sample)."""
    generator = torch.Generator().manual_seed(1)
    samples = []
    for i in range(count):
        prompt = torch.randint(0, 256, (6,), generator=generator).tolist()
        completion = torch.randint(0, 256, (3 + i % 4,), generator=generator).tolist()
        reward = float(torch.rand((), generator=generator))
        samples.append(
            TokenSample(
                prompt, completion, [1] * len(completion), [0.0] * len(completion), reward, str(i % 2)
            )
        )
    return samples


def set_sampling_logprobs(model, samples: list[TokenSample], chunk: int) -> None:
    """The starting policy sampled them: ratio 1 on the first step (computed before sharding)."""
    with torch.no_grad():
        new, _ = completion_logprobs(model, pack(samples, torch.device("cpu")), chunk_tokens=chunk)
    for row, sample in enumerate(samples):
        sample.sampling_logprobs = new[row, : len(sample.completion_ids)].tolist()


def shard(model, engine: str):
    """(model, optimizer, step) for the engine; ``step`` clips and steps the optimizer, and
    returns the global gradient norm."""
    if engine == "zero3":
        import deepspeed

        deepspeed.init_distributed(dist_backend="gloo", timeout=TIMEOUT)
        config = {
            "train_micro_batch_size_per_gpu": 1,
            "gradient_accumulation_steps": 1,
            "gradient_clipping": MAX_NORM,
            "zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True},
            "zero_allow_untested_optimizer": True,
        }
        optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
        engine_, optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)

        def ds_step() -> float:
            engine_.step()
            return float(engine_.get_global_grad_norm())

        return engine_, optimizer, ds_step
    if engine == "fsdp2":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        torch.distributed.init_process_group("gloo", timeout=TIMEOUT)
        mesh = init_device_mesh("cpu", (torch.distributed.get_world_size(),))
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)

    def step() -> float:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # a DTensor under FSDP2
        optimizer.step()
        return float(norm)

    return model, optimizer, step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--engine", choices=("single", "fsdp2", "zero3"), required=True)
    parser.add_argument("--chunk", type=int, default=0, help="logprob_chunk (0: the model's logits)")
    args = parser.parse_args()
    model, samples = tiny_llama(), fixed_batch()
    set_sampling_logprobs(model, samples, args.chunk)
    model, optimizer, step = shard(model, args.engine)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))

    rewards = torch.tensor([s.reward for s in samples])
    groups = torch.tensor([int(s.group_id) for s in samples])
    advantages = group_advantages(rewards, groups, "grpo")
    total = batch_total([s.mask for s in samples], "token_mean")
    mine = share(len(samples), rank, world)
    rows = [samples[i] if i is not None else padding(samples[0]) for i in mine]
    row_advantages = torch.tensor([float(advantages[i]) if i is not None else 0.0 for i in mine])

    model.train()
    packed = pack(rows, torch.device("cpu"))
    new, _ = completion_logprobs(model, packed, chunk_tokens=args.chunk)
    loss, _ = clipped_policy_loss(
        new, packed.sampling_logprobs, row_advantages, packed.mask, aggregation="token_mean", total=total
    )
    if args.engine == "zero3":
        model.backward(loss * world)  # the engine averages the ranks' gradients
    else:
        (loss * world).backward()
    grad_norm = step()
    loss = loss.detach()
    if world > 1:
        torch.distributed.all_reduce(loss)
    state = gathered_state_dict(model)  # every rank joins the gather; rank 0 gets the weights
    if rank == 0:
        torch.save({"state": state, "loss": float(loss), "grad_norm": grad_norm, "world": world}, args.out)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
