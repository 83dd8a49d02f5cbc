"""Agreement and speed of our instruction checks vs the reference IFEval checks.

    python -m benchmarks.ifeval_agreement [--pairs 5000]

Tasks come from InstructionFollowing-v0's generator (IFEval ids only); responses are
built from fragments that each constraint looks at (bullets, titles, sections, commas,
capitals, quotes, JSON, postscripts, dividers, other languages...), so both sides of
every verdict are exercised. Prints a table and appends a row to results/ifeval_agreement.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

FRAGMENTS = [
    "The river runs past the old lantern.",
    "Section 1",
    "SECTION 2",
    "* first point",
    "- second point",
    "** bold **",
    "*highlighted part*",
    "<<A Title>>",
    "P.S. see you soon.",
    "P.P.S one more thing.",
    "***",
    "******",
    "\n\n",
    "\n",
    "Dr. Smith arrived at 5 p.m. today.",
    "It rained! Did it? Yes.",
    '"',
    "Any other questions?",
    "Thanks for reading.",
    '{"answer": {"value": 1}}',
    "```json",
    "```",
    "[name]",
    "[address]",
    "THIS IS LOUD",
    "quiet lowercase words",
    "Bonjour, je suis très content de vous voir aujourd'hui.",
    "Hola, ¿cómo estás? Muy bien, gracias.",
    "My answer is yes.",
    "compass",
    "meadow",
    "garden signal",
    "orbit, harbor, velvet",
    "zebra quiz",
    "  ",
    "a, b, c",
    "Is there anything else I can help with?",
]


def random_response(rng: random.Random, prompt: str) -> str:
    parts = [prompt.split(".")[0] + "."] if rng.random() < 0.15 else []
    parts += [rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 12))]
    text = " ".join(parts) if rng.random() < 0.5 else "\n".join(parts)
    return text.upper() if rng.random() < 0.08 else text.lower() if rng.random() < 0.08 else text


def cpu_description() -> str:
    """The CPU model and its avx512/amx support."""
    from trainers.machine import cpu_summary

    return cpu_summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000)
    args = parser.parse_args()

    from atropos_envs.envs.instruction_following import InstructionFollowingEnv
    from benchmarks.reference_ifeval import load_reference, reference_verdicts
    from rewards.instruction_following import check_all

    registry = load_reference()
    env = InstructionFollowingEnv(include_new=False, max_constraints=3)
    rng = random.Random(0)
    agree, total, per_id = Counter(), Counter(), Counter()
    ours_s = ref_s = 0.0
    disagreements = []
    for i in range(args.pairs):
        task = env.get_task(i)
        response = random_response(rng, task["prompt"])
        t0 = time.perf_counter()
        ours = check_all(task["instruction_id_list"], task["kwargs"], response)
        t1 = time.perf_counter()
        ref = reference_verdicts(registry, task["instruction_id_list"], task["kwargs"], response)
        t2 = time.perf_counter()
        ours_s, ref_s = ours_s + t1 - t0, ref_s + t2 - t1
        for mode in ("strict", "loose"):
            for iid, a, b in zip(task["instruction_id_list"], ours[mode], ref[mode]):
                total[mode] += 1
                per_id[iid] += 1
                if a == b:
                    agree[mode] += 1
                elif len(disagreements) < 10:
                    disagreements.append((mode, iid, response[:120], a, b))
    strict, loose = agree["strict"] / total["strict"], agree["loose"] / total["loose"]
    print(f"{'verdicts':<10}{'compared':>10}{'agree':>10}")
    for mode in ("strict", "loose"):
        print(f"{mode:<10}{total[mode]:>10}{agree[mode] / total[mode]:>10.4%}")
    print(f"instruction ids covered: {len(per_id)}; time ours/reference: {ours_s / ref_s:.2f}")
    for row in disagreements:
        print("DISAGREE", row)
    results = Path(__file__).resolve().parent / "results" / "ifeval_agreement.md"
    if not results.exists():
        results.write_text(
            "| date | machine | pairs | strict agree | loose agree | ids | time ours/ref |\n"
            "|---|---|---|---|---|---|---|\n"
        )
    with results.open("a") as f:
        f.write(
            f"| {datetime.now(timezone.utc):%Y-%m-%d} | {cpu_description()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()} | {args.pairs} | {strict:.4%} | {loose:.4%} | "
            f"{len(per_id)} | "
            f"{ours_s / ref_s:.2f} |\n"
        )


if __name__ == "__main__":
    main()
