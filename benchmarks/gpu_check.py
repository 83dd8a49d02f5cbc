"""GPU check: GRPO and PPO updates of a real causal LM on recorded rollout tokens, for each
precision, with and without gradient checkpointing and chunked log-probs.

    python -m benchmarks.gpu_check                         # on a GPU machine (not run on one yet)
    python -m benchmarks.gpu_check --device cpu --samples 4 --steps 1 --only float32   # smoke test
    python -m benchmarks.gpu_check --record                # (here) record the batch again

What it needs there: PyTorch, transformers and peft (no vLLM, TRL, env or hub access); the
model is a Hugging Face folder (``--model``; default: the embedded SmolLM2-135M-Instruct,
converted here with ``atropos-envs model``, 540 MB in float32, so it travels beside the repo).
The batch, ``benchmarks/data/gpu_check_batch.json``, holds real rollouts of the embedded model
on Format-v0 (token ids, sampling log-probs, rewards; recorded with ``--record``), repeated
``--repeat`` times to fill the GPU. Every weight is trained (``lora_rank 0``) with the
trainers' own ``GRPOTrainer`` / ``PPOTrainer`` ``update``. Per setting: the median step time
after one warm-up step, trained tokens per second and peak GPU memory
(``torch.cuda.max_memory_allocated``; on the CPU, the process's peak RSS so far). Appends a
table to benchmarks/results/gpu.md (``--out``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BATCH = ROOT / "benchmarks" / "data" / "gpu_check_batch.json"


def record(path: Path, *, tasks: int = 4, group: int = 8, max_new_tokens: int = 128) -> None:
    """Sample ``group`` replies per Format-v0 task with the embedded model (Hugging Face
    generate, temperature 1), score them with the env, keep tokens and sampling log-probs."""
    import gymnasium as gym
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import atropos_envs  # noqa: F401 - registers the envs
    from trainers.models import ensure_default_model

    model_path = ensure_default_model()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    env = gym.make("atropos_envs/Format-v0").unwrapped
    torch.manual_seed(0)
    samples = []
    for task_id in env.task_ids(tasks):
        messages = env.start(task_id).observation
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + "<think>"
        prompt = tokenizer(text, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(
                prompt.repeat(group, 1),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=tokenizer.eos_token_id,
            )
        logprobs = torch.stack(out.scores, 1).float().log_softmax(-1)
        for row in range(group):
            tokens = out.sequences[row, prompt.shape[1] :].tolist()
            if tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(tokenizer.eos_token_id) + 1]
            reply = "<think>" + tokenizer.decode(tokens, skip_special_tokens=True)
            reward = float(env.start(task_id).step(reply)[1])
            sampled = [float(logprobs[row, i, t]) for i, t in enumerate(tokens)]
            samples.append(
                {
                    "prompt_ids": prompt[0].tolist(),
                    "completion_ids": tokens,
                    "sampling_logprobs": sampled,
                    "reward": reward,
                    "group_id": str(task_id),
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"model": model_path.name, "env": "atropos_envs/Format-v0", "samples": samples})
    )
    print(
        f"recorded {len(samples)} samples, "
        f"mean reward {statistics.mean(s['reward'] for s in samples):.3f} -> {path}"
    )


def load_batch(path: Path, *, samples: int | None, repeat: int):
    from trainers.batch import Batch, TokenSample

    rows = json.loads(path.read_text())["samples"][:samples]
    tokens = []
    for copy in range(repeat):
        for r in rows:
            n = len(r["completion_ids"])
            tokens.append(
                TokenSample(
                    r["prompt_ids"],
                    r["completion_ids"],
                    [1] * n,
                    r["sampling_logprobs"],
                    r["reward"],
                    f"{copy}:{r['group_id']}",
                )
            )
    return Batch(0, 0, tokens, [True] * len(tokens), 0, 0, 0.0)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_setting(algorithm: str, settings: dict, *, model: Path, batch, steps: int, micro_batch: int) -> dict:
    from trainers.config import GRPOConfig, PPOConfig
    from trainers.grpo import GRPOTrainer
    from trainers.ppo import PPOTrainer

    config_class, trainer_class = (
        (GRPOConfig, GRPOTrainer) if algorithm == "grpo" else (PPOConfig, PPOTrainer)
    )
    extra = {"ppo_epochs": 1} if algorithm == "ppo" else {}
    config = config_class(
        lora_rank=0, learning_rate=1e-6, micro_batch=micro_batch, report_to=[], **extra, **settings
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_class(config, None, model, [], out)
        device = trainer.precision.device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(steps + 1):  # the first is a warm-up
            started = time.perf_counter()
            metrics = trainer.update(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - started)
        peak = peak_memory_mib(device)
        described = trainer.precision.describe()
        del trainer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    step_s = statistics.median(times[1:]) if steps else times[0]
    tokens = sum(len(s.prompt_ids) + len(s.completion_ids) for s in batch.samples)
    return {
        "algorithm": algorithm,
        **settings,
        "where": described,
        "step_s": step_s,
        "tokens_per_s": tokens / step_s,
        "peak_mib": peak,
        "loss": metrics.get("loss"),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument(
        "--model", type=Path, default=None, help="Hugging Face folder; default: the embedded model"
    )
    parser.add_argument("--batch", type=Path, default=BATCH)
    parser.add_argument("--samples", type=int, default=None, help="use the first N recorded samples")
    parser.add_argument("--repeat", type=int, default=4, help="copies of the recorded batch in one update")
    parser.add_argument("--steps", type=int, default=3, help="timed updates per setting (after one warm-up)")
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--only", choices=("float32", "bfloat16"), default=None, help="one precision only")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu.md")
    parser.add_argument(
        "--record", action="store_true", help="record the batch (needs the envs and the embedded model)"
    )
    parser.add_argument("--record-tasks", type=int, default=4)
    parser.add_argument("--record-group", type=int, default=8)
    parser.add_argument("--record-tokens", type=int, default=128, help="max new tokens per recorded reply")
    args = parser.parse_args(argv)
    if args.record:
        record(
            args.batch, tasks=args.record_tasks, group=args.record_group, max_new_tokens=args.record_tokens
        )
        return []
    if args.model is None:
        from trainers.models import ensure_default_model

        args.model = ensure_default_model()
    batch = load_batch(args.batch, samples=args.samples, repeat=args.repeat)
    dtypes = [args.only] if args.only else ["float32", "bfloat16"]
    results = []
    for algorithm in ("grpo", "ppo"):
        for dtype in dtypes:
            for checkpointing in (False, True):
                for chunk in (0, 1024):
                    settings = {
                        "device": args.device,
                        "dtype": dtype,
                        "gradient_checkpointing": checkpointing,
                        "logprob_chunk": chunk,
                    }
                    results.append(
                        run_setting(
                            algorithm,
                            settings,
                            model=args.model,
                            batch=batch,
                            steps=args.steps,
                            micro_batch=args.micro_batch,
                        )
                    )
                    print(json.dumps(results[-1]), flush=True)
    write_table(args.out, results, batch=batch, model=args.model)
    return results


def write_table(path: Path, results: list[dict], *, batch, model: Path) -> None:
    where = torch.cuda.get_device_name() if results and "cuda" in results[0]["where"] else "CPU"
    tokens = sum(len(s.prompt_ids) + len(s.completion_ids) for s in batch.samples)
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {where}, torch {torch.__version__}\n",
        f"{model.name}, every weight trained; one update = {len(batch.samples)} sequences, {tokens} tokens "
        "(PPO: 1 epoch). Peak memory: GPU allocated (CPU: process peak RSS so far).\n",
        "| algorithm | precision | grad. checkpointing | log-probs | step (s) | tokens/s | peak memory (MiB) "
        "|",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        chunk = "full logits" if not r["logprob_chunk"] else f"chunks of {r['logprob_chunk']}"
        lines.append(
            f"| {r['algorithm']} | {r['where']} | {'on' if r['gradient_checkpointing'] else 'off'} "
            f"| {chunk} | "
            f"{r['step_s']:.3f} | {r['tokens_per_s']:.0f} | {r['peak_mib']:.0f} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
