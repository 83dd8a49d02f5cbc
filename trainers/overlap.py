"""Near-duplicate tasks between a training source and an evaluation set (contamination check).

Each task becomes its prompt text (the user turns), lower-cased and split into word and
punctuation tokens. Two signals, after GPT-3's contamination analysis (Brown et al., 2020,
appendix C: an evaluation example is dirty when it shares a 13-gram with the training data)
and a near-duplicate score, each against one training task:

- **13-grams**: how many 13-token spans the eval task shares with the training task
  (``shared_13grams``, GPT-3's signal: one shared span made an example "dirty"), and which
  share of the eval task's spans lie in it (``contained``: a training prompt repeated inside a
  longer eval prompt). A text shorter than 13 tokens is one span (short prompts match whole).
- **Jaccard**: |A & B| / |A | B| of the two tasks' sets of token 8-grams.

Candidates are the training tasks sharing rare spans with the eval task (spans that more than
``common`` training tasks share, a generator's template or a schema every task repeats, say
nothing about one task and are skipped, as GPT-3 dropped frequent 13-grams): every one with a
shared 13-gram, the ``CANDIDATES`` sharing the most 8-grams, and any with the identical text;
the best by max(Jaccard, contained) is reported. An eval task is a near duplicate when its
text is identical after normalisation, or its Jaccard or contained share is at least
``jaccard_at`` (0.5 by default). One shared 13-gram alone is not enough: on HumanEval split
100/64 it joins 12 unrelated problems (phrases such as "given a positive integer n, return
the ..."). Sources: a task file (JSONL/JSON/parquet: the first text field of ``TEXT_FIELDS``,
or rendered through an env with ``env``), an SFT/evaluate/samples output (``messages``: the
user turns), or ``gen:ENV[:FIRST[:COUNT]]``, the env's own generator from task FIRST on.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LONG_N = 13  # GPT-3's contamination n-gram
SHORT_N = 8  # the Jaccard n-gram
CANDIDATES = 20
TEXT_FIELDS = ("prompt", "question", "problem", "instruction", "input", "text", "request", "query")
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class Doc:
    task_id: str
    text: str
    tokens: list[str]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(words: list[str], n: int) -> set[str]:
    """The token n-grams of a text, joined by spaces; a text shorter than n is one gram."""
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


# ---- reading sources ----------------------------------------------------------------------------
def _user_text(messages: list[Any]) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in messages if isinstance(m, dict) and m.get("role") == "user"
    )


def record_text(record: dict[str, Any]) -> str | None:
    """A task's prompt: the user turns of a ``messages`` record, else its first text field."""
    if isinstance(record.get("messages"), list):
        return _user_text(record["messages"])
    for key in TEXT_FIELDS:
        if isinstance(record.get(key), str) and record[key].strip():
            return record[key]
    return None


def _record_id(record: dict[str, Any], default: str) -> str:
    meta = record.get("metadata")
    if isinstance(meta, dict) and meta.get("task_id") is not None:
        return str(meta["task_id"])
    for key in ("id", "task_id", "question_id", "problem_id", "key"):
        if record.get(key) is not None:
            return str(record[key])
    return default


def _env_docs(env_name: str, tasks: str | None, first: int = 0, count: int | None = None) -> list[tuple]:
    import gymnasium as gym

    import atropos_envs

    env_id = atropos_envs.resolve_env_id(env_name)
    env = gym.make(env_id, **({"tasks": tasks} if tasks else {})).unwrapped
    ids = env.task_ids(count, first) if tasks is None else env.task_ids(None)
    return [(task_id, _user_text(env.start(task_id).observation)) for task_id in ids]


def read_source(source: str, env: str | None = None) -> list[Doc]:
    """The tasks of a source, one Doc per distinct task id (an SFT file repeats each task)."""
    if source.startswith("gen:"):
        name, *numbers = source[4:].split(":")
        if not name or len(numbers) > 2 or not all(x.isdigit() for x in numbers):
            raise ValueError(
                f"generator source {source!r}: write gen:ENV[:FIRST[:COUNT]], e.g. gen:Format:0:1000"
            )
        first = int(numbers[0]) if numbers else 0
        pairs = _env_docs(name, None, first, int(numbers[1]) if len(numbers) > 1 else 1000)
    elif env is not None:
        if not Path(source).is_file():
            raise ValueError(f"{source} does not exist; give a task file")
        pairs = _env_docs(env, source)
    else:
        from atropos_envs.tasks import read_records

        pairs = []
        for index, (where, record) in enumerate(read_records(Path(source))):
            text = record_text(record)
            if text is None:
                raise ValueError(
                    f"{where}: no prompt found (no messages, no {'/'.join(TEXT_FIELDS)} field); "
                    "pass --env NAME to render the task file through its env"
                )
            pairs.append((_record_id(record, str(index)), text))
    docs, seen = [], set()
    for task_id, text in pairs:
        if task_id not in seen:
            seen.add(task_id)
            docs.append(Doc(task_id, text, tokens(text)))
    if not docs:
        raise ValueError(f"{source}: no tasks")
    return docs


# ---- the check ----------------------------------------------------------------------------------
def find_overlap(
    train: list[Doc], evaluation: list[Doc], *, jaccard_at: float = 0.5, common: int | None = None
) -> dict[str, Any]:
    """Every eval task that duplicates a training task (see the module doc), best match first."""
    if not 0.0 < jaccard_at <= 1.0:
        raise ValueError(f"--jaccard must be in (0, 1], got {jaccard_at}")
    common = common if common is not None else max(10, len(train) // 100)
    long_sets = [ngrams(d.tokens, LONG_N) for d in train]
    short_sets = [ngrams(d.tokens, SHORT_N) for d in train]
    long_index, short_index = _index(long_sets), _index(short_sets)
    by_text: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(train):
        by_text[" ".join(d.tokens)].append(i)
    found = []
    for doc in evaluation:
        long_grams, short_grams = ngrams(doc.tokens, LONG_N), ngrams(doc.tokens, SHORT_N)
        hits: Counter = Counter()
        for gram in long_grams:
            owners = long_index.get(gram, ())
            if len(owners) <= common:
                hits.update(owners)
        shared: Counter = Counter()
        for gram in short_grams:
            owners = short_index.get(gram, ())
            if len(owners) <= common:
                shared.update(owners)
        exact = by_text.get(" ".join(doc.tokens), [])
        candidates = set(exact) | {i for i, _ in shared.most_common(CANDIDATES)} | set(hits)
        if not candidates:
            continue
        scored = []
        for i in candidates:
            contained = len(long_grams & long_sets[i]) / len(long_grams) if long_grams else 0.0
            scored.append((max(jaccard(short_grams, short_sets[i]), contained), contained, i))
        _, contained, best = max(scored, key=lambda x: (x[0], x[1], -x[2]))
        score = jaccard(short_grams, short_sets[best])
        if not (exact or score >= jaccard_at or contained >= jaccard_at):
            continue
        found.append(
            {
                "eval_id": doc.task_id,
                "train_id": train[best].task_id,
                "jaccard": round(score, 4),
                "contained": round(contained, 4),
                "shared_13grams": hits[best],
                "identical": bool(exact),
                "eval_text": doc.text[:300],
                "train_text": train[best].text[:300],
            }
        )
    found.sort(key=lambda f: (-f["identical"], -max(f["jaccard"], f["contained"])))
    return {
        "train_tasks": len(train),
        "eval_tasks": len(evaluation),
        "duplicates": len(found),
        "duplicate_rate": len(found) / len(evaluation) if evaluation else 0.0,
        "method": (
            f"identical normalised text, or Jaccard of token {SHORT_N}-gram sets >= {jaccard_at}, or "
            f">= {jaccard_at} of the eval task's token {LONG_N}-grams in one training task (spans shared "
            f"by more than {common} training tasks ignored for finding candidates)"
        ),
        "found": found,
    }


def _index(sets: Iterable[set[str]]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for i, grams in enumerate(sets):
        for gram in grams:
            index[gram].append(i)
    return index


def overlap_report(
    train: str, evaluation: str, *, env: str | None = None, jaccard_at: float = 0.5, common: int | None = None
) -> dict[str, Any]:
    report = find_overlap(
        read_source(train, env), read_source(evaluation, env), jaccard_at=jaccard_at, common=common
    )
    return {"train": train, "eval": evaluation, **report}


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def print_overlap(report: dict[str, Any], out) -> None:
    """The near duplicates (the first 50) as a table on ``out`` (a rich Console)."""
    from rich.table import Table

    table = Table(
        title=f"{report['duplicates']} of {report['eval_tasks']} eval tasks near-duplicate "
        f"{report['train_tasks']} training tasks",
        caption=report["method"],
    )
    for column in ("eval task", "train task", "identical", "jaccard", "contained", "13-grams", "eval text"):
        table.add_column(column)
    for f in report["found"][:50]:
        table.add_row(
            f["eval_id"],
            f["train_id"],
            "yes" if f["identical"] else "",
            f"{f['jaccard']:.2f}",
            f"{f['contained']:.2f}",
            str(f["shared_13grams"]),
            f["eval_text"][:60].replace("\n", " "),
        )
    out.print(table)
