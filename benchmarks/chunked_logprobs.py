"""Peak memory and step time of a training micro-batch with and without chunked log-probs.

    python -m benchmarks.chunked_logprobs [--rows 4] [--completion 1024] [--steps 2]

SmolLM2-135M-Instruct (the embedded model, every weight trained, float32 on the CPU), a
micro-batch of ``rows`` chat prompts each followed by ``completion`` tokens of real text (the
README, tokenized; what is measured does not depend on which tokens were sampled), forward
+ backward of the summed log-probs. Each setting runs in its own process, so its peak RSS
(``ru_maxrss``) is its own. Appends a table to benchmarks/results/chunked_logprobs.md with
the machine's CPU model and its avx512/amx flags.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "chunked_logprobs.md"


def machine() -> str:
    from trainers.machine import cpu_summary

    return f"{cpu_summary()}, {os.cpu_count()} cores"


def measure(chunk: int, rows: int, completion: int, steps: int, checkpointing: bool = False) -> dict:
    import torch
    from transformers import AutoTokenizer

    from trainers.batch import TokenSample
    from trainers.config import TrainConfig
    from trainers.logprobs import completion_logprobs, pack
    from trainers.models import ensure_default_model
    from trainers.precision import Precision
    from trainers.trainer import load_policy

    path = ensure_default_model()
    precision = Precision(torch.device("cpu"), torch.float32)
    policy = load_policy(
        path, TrainConfig(lora_rank=0, gradient_checkpointing=checkpointing), precision
    ).train()
    tokenizer = AutoTokenizer.from_pretrained(path)
    text = tokenizer.encode((ROOT / "README.md").read_text())
    samples = []
    for row in range(rows):
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": f"Write page {row}."}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        reply = (text * 4)[row * 97 : row * 97 + completion]
        samples.append(TokenSample(list(prompt), reply, [1] * completion, [0.0] * completion, 0.0, "0"))
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        packed = pack(samples, precision.device)
        new, _ = completion_logprobs(policy, packed, chunk_tokens=chunk)
        (new * packed.mask).sum().backward()
        policy.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "chunk": chunk,
        "rows": rows,
        "completion": completion,
        "peak_rss_mib": round(peak),
        "after_load_mib": round(loaded),
        "step_s": round(min(times), 2),
        "tokens": rows * completion,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--completion", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--chunks", default="0,1024,256")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument(
        "--one", type=int, default=None, help=argparse.SUPPRESS
    )  # a child process: one setting
    args = parser.parse_args()
    if args.one is not None:
        print(
            json.dumps(measure(args.one, args.rows, args.completion, args.steps, args.gradient_checkpointing))
        )
        return
    rows = []
    for chunk in (int(c) for c in args.chunks.split(",")):
        command = [
            sys.executable,
            "-m",
            "benchmarks.chunked_logprobs",
            "--one",
            str(chunk),
            "--rows",
            str(args.rows),
            "--completion",
            str(args.completion),
            "--steps",
            str(args.steps),
            *(["--gradient-checkpointing"] if args.gradient_checkpointing else []),
        ]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {machine()}\n",
        "SmolLM2-135M, all weights, float32, gradient checkpointing "
        f"{'on' if args.gradient_checkpointing else 'off'}; {args.rows} rows x {args.completion} completion "
        f"tokens; load average {os.getloadavg()[0]:.1f}; forward + backward of the log-probs; best of "
        f"{args.steps} steps; peak RSS of the process (the model loaded: {rows[0]['after_load_mib']} MiB).\n",
        "| log-probs | peak RSS (MiB) | step (s) | tokens/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        name = "full logits (chunk 0)" if not r["chunk"] else f"chunked, {r['chunk']} tokens"
        lines.append(f"| {name} | {r['peak_rss_mib']} | {r['step_s']} | {r['tokens'] / r['step_s']:.0f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
