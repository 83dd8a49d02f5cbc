"""Exploit probes: degenerate and adversarial policies that try to get paid without doing
the task, run against an env (``atropos-envs probe --env NAME``).

A probe is a fixed policy: a list of assistant turns, the last one repeated until the
episode ends (``repeat_observation`` instead replays the env's last message each turn).
Three sources, all run on every task:

- generic probes, the same for every env (``generic_probes``): empty, whitespace, one
  token, echoes of the user and system prompts, the last observation repeated, ~100 kB of
  junk, format-only shells (``<think></think>`` + an empty ``\\boxed{}``, ``<answer>``,
  ``{}``, code fence or a ``<tool_call>`` without a name) and hostile unicode;
- the env's own, from ``env.probes(task)`` (a hook on ``TextEnv``);
- plugins' probes, from the entry-point group ``atropos_envs.probes``: each value is a
  callable ``(env, task) -> dict[str, list[str]]`` (return ``{}`` for envs it does not target).

A probe passes the env (a finding) when an episode reaches the pass bar (default 0.5). The
honest ``env.reference_answer(task)``, where the env can write one, is scored beside them.
Pure env side: nothing here talks to a model or a server.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from atropos_envs.core import OUTCOMES, TextEnv

PASS_BAR = 0.5
ENTRY_POINT_GROUP = "atropos_envs.probes"
REPEAT_OBSERVATION = "repeat_observation"  # the one generic probe whose turns depend on the env's replies
JUNK_CHARS = 100_000
HOSTILE_UNICODE = (
    "\u202eredro lanif eht si siht\u202c \u2067\u2066x\u2069"  # RTL/LTR overrides and isolates
    "\u200d\u200d\u200c\u200b\ufeff\u2060"  # zero-width joiners, spaces, BOM, word joiner
    "\ud800\udfff\udbff"  # lone surrogates (not encodable as UTF-8)
    "\x00\x00\x7f\x1b[2J"  # NUL, DEL, an ANSI escape
    "e\u0301\u0301\u0301\u0301 \ufffd\U0010ffff\ufdd0"  # stacked combining marks, replacement, noncharacters
)
FORMAT_SHELLS = {
    "shell_boxed": "<think></think>\n\\boxed{}",
    "shell_answer_tag": "<think></think>\n<answer></answer>",
    "shell_json": "<think></think>\n{}",
    "shell_code_fence": "<think></think>\n```python\n```",
    "shell_tool_call": '<think></think>\n<tool_call>\n{"arguments": {}}\n</tool_call>',
    "shell_placeholders": '<think>...</think>\n\\boxed{...} <answer>...</answer> {"answer": "..."}',
}

Probes = dict[str, list[str]]
ProbeSource = Callable[[TextEnv, dict[str, Any]], Probes]


def _junk(seed: str, size: int = JUNK_CHARS) -> str:
    """Deterministic printable junk: words, digits, brackets and tags, ``size`` characters."""
    rng = random.Random(seed)
    pieces = [
        "lorem",
        "ipsum",
        "42",
        "3.14",
        "{",
        "}",
        "[",
        "]",
        "<answer>",
        "</think>",
        "\\boxed{",
        "```",
        "\n",
        "true",
        "null",
        "the",
        "answer",
        "is",
        "-7",
        "e^x",
        "(",
        ")",
        '"',
        ",",
        ":",
    ]
    out, n = [], 0
    while n < size:
        piece = rng.choice(pieces) + " "
        out.append(piece)
        n += len(piece)
    return "".join(out)[:size]


def _first(messages: list[dict[str, str]], role: str) -> str:
    return next((m["content"] for m in messages if m.get("role") == role), "")


def generic_probes(env: TextEnv, task: dict[str, Any]) -> Probes:
    """The probes every env faces, built from the task's prompt."""
    messages = env.prompt(task)
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return {
        "empty": [""],
        "whitespace": [" \n\t \n"],
        "one_token": ["yes"],
        "echo_prompt": [user],
        "echo_system": [_first(messages, "system")],
        REPEAT_OBSERVATION: [],  # filled turn by turn with the env's last message
        "junk_100kB": [_junk(f"{type(env).__name__}:{task.get('id')}")],
        **{name: [text] for name, text in FORMAT_SHELLS.items()},
        "hostile_unicode": [HOSTILE_UNICODE],
    }


def plugin_probe_sources() -> list[tuple[str, ProbeSource]]:
    """(entry-point name, callable) for every installed ``atropos_envs.probes`` entry point."""
    sources = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            fn = ep.load()
        except Exception as exc:  # a broken plugin is reported by name, not as a traceback
            raise ValueError(
                f"probe plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(fn):
            raise ValueError(f"probe plugin {ep.name!r} ({ep.value}) must be a callable (env, task) -> dict")
        sources.append((ep.name, fn))
    return sources


def _checked(probes: Any, where: str) -> Probes:
    if not isinstance(probes, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and v and all(isinstance(t, str) for t in v)
        for k, v in probes.items()
    ):
        raise ValueError(
            f"{where} must return a dict of probe name -> non-empty list of assistant turns (str)"
        )
    return probes


@dataclass
class ProbeStats:
    """How one probe fared over the tasks."""

    name: str
    source: str  # "generic", "env", "plugin:<entry point>" or "reference"
    rewards: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    best: tuple[float, str, str] | None = None  # (reward, task id, reason) of its best episode
    slowest_s: float = 0.0  # the longest episode (scoring included), to spot quadratic scorers

    def add(self, task_id: str, reward: float, outcome: str, reason: str, seconds: float = 0.0) -> None:
        self.slowest_s = max(self.slowest_s, seconds)
        self.rewards.append(reward)
        self.outcomes[outcome] += 1
        if self.best is None or reward > self.best[0]:
            self.best = (reward, task_id, reason)

    @property
    def mean_reward(self) -> float:
        return sum(self.rewards) / len(self.rewards) if self.rewards else 0.0

    def at_bar(self, bar: float) -> int:
        return sum(r >= bar for r in self.rewards)

    def as_dict(self, bar: float) -> dict[str, Any]:
        episodes = len(self.rewards)
        best = (
            None
            if self.best is None
            else {"reward": self.best[0], "task_id": self.best[1], "reason": self.best[2]}
        )
        return {
            "probe": self.name,
            "source": self.source,
            "episodes": episodes,
            "mean_reward": self.mean_reward,
            "max_reward": max(self.rewards, default=0.0),
            "at_bar": self.at_bar(bar),
            "share_at_bar": self.at_bar(bar) / episodes if episodes else 0.0,
            "outcomes": {o: self.outcomes[o] for o in OUTCOMES if self.outcomes[o]},
            "best": best,
            "slowest_s": round(self.slowest_s, 3),
        }


@dataclass
class ProbeReport:
    env_id: str
    bar: float
    task_ids: list[str]
    probes: list[ProbeStats]
    reference: ProbeStats | None  # None: the env writes no reference answer

    @property
    def exploits(self) -> list[ProbeStats]:
        """The probes that reached the bar on at least one task."""
        return [p for p in self.probes if p.at_bar(self.bar)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env_id,
            "bar": self.bar,
            "tasks": len(self.task_ids),
            "task_ids": self.task_ids,
            "passed": not self.exploits,
            "exploits": [f"{p.source}:{p.name}" for p in self.exploits],
            "probes": [p.as_dict(self.bar) for p in self.probes],
            "reference": None if self.reference is None else self.reference.as_dict(self.bar),
        }


def play(env: TextEnv, task_id: str, turns: list[str] | None) -> tuple[float, str, str]:
    """(reward, outcome, reason) of one episode of a fixed policy; ``turns=None`` repeats the
    last observation each turn. An env that raises is recorded as outcome ``error``."""
    try:
        episode = env.start(task_id)
        for turn in range(env.max_turns):
            action = episode.messages[-1]["content"] if turns is None else turns[min(turn, len(turns) - 1)]
            _, reward, terminated, truncated, info = episode.step(action)
            if terminated or truncated:
                return float(reward), str(info.get("outcome", "ok")), str(info.get("reason", ""))
        return 0.0, "error", f"the episode did not end within max_turns={env.max_turns}"
    except Exception as exc:  # the report shows it; the contract checker is where raising fails
        return (
            0.0,
            "error",
            f"the env raised {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        )


def run_probes(
    env: TextEnv,
    *,
    env_id: str = "",
    task_ids: Iterable[str] | None = None,
    num_tasks: int = 20,
    bar: float = PASS_BAR,
    plugins: list[tuple[str, ProbeSource]] | None = None,
    on_task_done: Callable[[int, int], None] | None = None,
) -> ProbeReport:
    """Every probe (generic, the env's, plugins') and the reference answer on each task.

    ``task_ids`` default to the env's first ``num_tasks``; ``plugins`` default to the
    installed ``atropos_envs.probes`` entry points."""
    env = getattr(env, "unwrapped", env)
    ids = list(task_ids) if task_ids is not None else env.task_ids(num_tasks)
    if not ids:
        raise ValueError("no tasks to probe: pass a task file with tasks or --tasks N with N >= 1")
    plugins = plugin_probe_sources() if plugins is None else plugins
    stats: dict[tuple[str, str], ProbeStats] = {}
    reference: ProbeStats | None = None
    for done, task_id in enumerate(ids, 1):
        task = env.get_task(task_id)
        sources = [
            ("generic", generic_probes(env, task)),
            ("env", _checked(env.probes(task), f"{type(env).__name__}.probes")),
        ]
        for name, fn in plugins:
            sources.append((f"plugin:{name}", _checked(fn(env, task), f"probe plugin {name!r}")))
        for source, probes in sources:
            for name, turns in probes.items():
                entry = stats.setdefault((source, name), ProbeStats(name, source))
                dynamic = name == REPEAT_OBSERVATION and source == "generic"
                started = time.monotonic()
                entry.add(
                    task_id, *play(env, task_id, None if dynamic else turns), time.monotonic() - started
                )
        honest = env.reference_answer(task)
        if honest is not None:
            reference = reference or ProbeStats("reference_answer", "reference")
            started = time.monotonic()
            turns = _checked({"reference": honest}, "reference_answer")["reference"]
            reference.add(task_id, *play(env, task_id, turns), time.monotonic() - started)
        if on_task_done:
            on_task_done(done, len(ids))
    return ProbeReport(
        env_id or type(env).__name__, bar, [str(t) for t in ids], list(stats.values()), reference
    )


def _printable(text: str) -> str:
    """Text any terminal can take: lone surrogates and control characters escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def report_table(report: ProbeReport) -> Any:
    """The report as a rich table: one row per probe, the reference answer last."""
    from rich.table import Table

    verdict = (
        "no probe reached the bar"
        if not report.exploits
        else f"{len(report.exploits)} probe(s) reached the bar"
    )
    table = Table(title=f"{report.env_id}: {len(report.task_ids)} tasks, bar {report.bar} ({verdict})")
    for column, justify in (
        ("probe", "left"),
        ("source", "left"),
        ("mean", "right"),
        ("max", "right"),
        (f">= {report.bar}", "right"),
        ("max s", "right"),
        ("outcomes", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("best episode", ratio=1)
    rows = [*report.probes, *([report.reference] if report.reference else [])]
    for stats in rows:
        row = stats.as_dict(report.bar)
        share = f"{row['at_bar']}/{row['episodes']}"
        best = row["best"] or {}
        style = "bold red" if stats.source != "reference" and row["at_bar"] else None
        table.add_row(
            _printable(stats.name),
            stats.source,
            f"{row['mean_reward']:.3f}",
            f"{row['max_reward']:.3f}",
            share,
            f"{row['slowest_s']:.1f}",
            " ".join(f"{k}:{v}" for k, v in row["outcomes"].items()),
            _printable(f"task {best.get('task_id')}: {best.get('reason', '')}"[:60]),
            style=style,
        )
    if report.reference is None:
        table.caption = "the env writes no reference answer (TextEnv.reference_answer)"
    return table


def write_report(report: ProbeReport, console: Any, json_out: str | None = None) -> None:
    """Print the table on ``console``; write the JSON to ``json_out`` (a path, or ``-`` for stdout)."""
    import json
    import sys
    from pathlib import Path

    console.print(report_table(report))
    if json_out is None:
        return
    text = (
        json.dumps(report.as_dict(), indent=2) + "\n"
    )  # ASCII-escaped: lone surrogates in reasons stay writable
    if json_out == "-":
        sys.stdout.write(text)
    else:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(text)
