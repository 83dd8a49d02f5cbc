"""Every benchmark, one after another, each appending to its results file.

    python -m benchmarks.run_all            # all (~1.5 h on 2 CPU cores, mostly the training curves)
    python -m benchmarks.run_all --quick    # smaller sizes, no training curves (~15 min)

Each benchmark starts (and stops) its own vLLM server where it needs one, so a run that
changes the served weights cannot affect the next. Peers (lm-eval's IFEval port,
math-verify, reasoning-gym, BFCL's checker, IFBench, TRL) are fetched by the benchmarks themselves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# (module, arguments for the full run, arguments for --quick or None to skip it there)
BENCHMARKS = [
    ("benchmarks.sandbox_overhead", ["--runs", "200"], ["--runs", "50"]),
    ("benchmarks.ifeval_agreement", ["--pairs", "3000"], ["--pairs", "300"]),
    ("benchmarks.scoring_agreement", ["--cases", "2000"], ["--cases", "300"]),
    ("benchmarks.math_agreement", [], ["--per-dataset", "5"]),
    ("benchmarks.bfcl_agreement", [], ["--limit", "50"]),
    ("benchmarks.code_dataset_agreement", [], ["--limit", "20"]),
    ("benchmarks.if_gate_ifbench", [], []),
    ("benchmarks.rollout_throughput", ["--reps", "3"], ["--reps", "1"]),
    ("benchmarks.trainer_vs_trl", ["--steps", "5"], ["--steps", "3"]),
    *(
        ("benchmarks.train_curve", ["--name", name, "--steps", "20"], None)
        for name in ("grpo_format", "grpo_if", "ppo_if")
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    commands = [
        [module, *(quick if args.quick else full)]
        for module, full, quick in BENCHMARKS
        if quick or not args.quick
    ]
    for command in commands:
        started = time.monotonic()
        print(f"\n=== python -m {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, "-m", *command], check=False).returncode:
            failed.append(command[0])
        print(f"=== {command[0]}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
