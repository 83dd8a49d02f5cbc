"""Every benchmark, one after another, each appending to its results file.

    python -m benchmarks.run_all            # all (~1.5 h on 2 CPU cores, mostly the training curves)
    python -m benchmarks.run_all --quick    # smaller sizes, no training curves (~15 min)

Each benchmark starts (and stops) its own vLLM server where it needs one, so a run that
changes the served weights cannot affect the next. Peers (lm-eval's IFEval port,
math-verify, BFCL's checker, TRL) are fetched by the benchmarks themselves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

FULL = [
    ["benchmarks.sandbox_overhead", "--runs", "200"],
    ["benchmarks.ifeval_agreement", "--pairs", "3000"],
    ["benchmarks.scoring_agreement", "--cases", "2000"],
    ["benchmarks.rollout_throughput", "--reps", "3"],
    ["benchmarks.trainer_vs_trl", "--steps", "5"],
    ["benchmarks.train_curve", "--name", "grpo_format", "--steps", "20"],
    ["benchmarks.train_curve", "--name", "grpo_if", "--steps", "20"],
    ["benchmarks.train_curve", "--name", "ppo_if", "--steps", "20"],
]
QUICK = [
    ["benchmarks.sandbox_overhead", "--runs", "50"],
    ["benchmarks.ifeval_agreement", "--pairs", "300"],
    ["benchmarks.scoring_agreement", "--cases", "300"],
    ["benchmarks.rollout_throughput", "--reps", "1"],
    ["benchmarks.trainer_vs_trl", "--steps", "3"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for command in QUICK if args.quick else FULL:
        started = time.monotonic()
        print(f"\n=== python -m {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, "-m", *command], check=False).returncode:
            failed.append(command[0])
        print(f"=== {command[0]}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
