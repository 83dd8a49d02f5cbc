"""The viewer's index: every sample of the given files, found by byte offset, filtered and
sorted server-side so that the page only ever holds one page of rows.

Inputs: JSONL files of records (``messages`` + ``metadata``: SFT output, ``--samples-out``
files, evaluate output, a run's ``rollouts.jsonl``; preference pairs with ``chosen`` /
``rejected``), and training-run folders (``metrics.jsonl`` for curves, ``rollouts.jsonl`` for
samples). Each file is read once: per line its offset and length, and the few fields the
table shows and filters on; the full record is read back from the file when a sample is
opened. Lines that are not records are counted and skipped.
"""

from __future__ import annotations

import bisect
import json
import os
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

PREVIEW_CHARS = 160
SEARCH_CHUNK = 8 << 20  # bytes read at once by the text search
SORTABLE = ("id", "reward", "tokens", "task_id", "step", "outcome", "env")


@dataclass
class Source:
    id: int
    label: str
    path: Path  # the JSONL of samples (for a run: its rollouts.jsonl, which may not exist)
    kind: str  # "samples" or "run"
    run_dir: Path | None = None
    count: int = 0
    skipped: int = 0
    first_row: int = 0


@dataclass(slots=True)
class Row:
    id: int
    source: int
    offset: int
    length: int
    env: str
    task_id: str
    sample_index: int | None
    reward: float | None
    outcome: str
    kept: bool | None
    tokens: int | None
    step: int | None
    components: dict[str, float] = field(default_factory=dict)
    preview: str = ""
    pair: bool = False
    hit_token_limit: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "env": self.env,
            "task_id": self.task_id,
            "sample_index": self.sample_index,
            "reward": self.reward,
            "outcome": self.outcome,
            "kept": self.kept,
            "tokens": self.tokens,
            "step": self.step,
            "components": self.components,
            "preview": self.preview,
            "pair": self.pair,
        }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _last_reply(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return _text(message.get("content"))
    return ""


def row_of(record: Any, *, row_id: int, source: int, offset: int, length: int) -> Row | None:
    """The table's view of one record, or None when the line is not a sample."""
    if not isinstance(record, dict):
        return None
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    pair = "chosen" in record and "rejected" in record
    if not pair and not isinstance(record.get("messages"), list):
        return None
    reply = _last_reply(record["chosen"] if pair else record["messages"])
    components = meta.get("components") if isinstance(meta.get("components"), dict) else {}
    kept = meta.get("kept")
    tokens = meta.get("completion_tokens")
    sample_index = meta.get("sample_index")
    step = meta.get("step")
    return Row(
        id=row_id,
        source=source,
        offset=offset,
        length=length,
        env=str(meta.get("env", "")),
        task_id=str(meta.get("task_id", record.get("id", ""))),
        sample_index=sample_index if isinstance(sample_index, int) else None,
        reward=_number(meta.get("reward")),
        outcome=str(meta.get("outcome", "")) or ("pair" if pair else ""),
        kept=kept if isinstance(kept, bool) else None,
        tokens=tokens if isinstance(tokens, int) else None,
        step=step if isinstance(step, int) else None,
        components={k: v for k, v in components.items() if _number(v) is not None},
        preview=" ".join(reply.split())[:PREVIEW_CHARS],
        pair=pair,
        hit_token_limit=bool(meta.get("hit_token_limit")),
    )


@dataclass
class Query:
    source: int | None = None
    env: str = ""
    outcome: str = ""
    kept: str = ""  # "", "kept", "rejected"
    component: str = ""
    cmin: float | None = None
    cmax: float | None = None
    rmin: float | None = None
    rmax: float | None = None
    step: int | None = None
    task_id: str = ""
    q: str = ""
    sort: str = "id"
    descending: bool = False

    def key(self) -> tuple:
        return tuple(self.__dict__.values())


class Index:
    def __init__(self, paths: list[Path]):
        self.sources: list[Source] = []
        self.rows: list[Row] = []
        self.runs: dict[int, dict[str, Any]] = {}
        self._files: dict[int, BinaryIO | None] = {}
        self._cache: OrderedDict[tuple, list[int]] = OrderedDict()
        for path in paths:
            self._add(Path(path))

    # ---- reading ----------------------------------------------------------------------------
    def _add(self, path: Path) -> None:
        if path.is_file() and path.name == "metrics.jsonl":
            path = path.parent
        if path.is_dir():
            metrics = path / "metrics.jsonl"
            if not metrics.exists():
                raise ValueError(
                    f"{path} is a folder without metrics.jsonl; give a training run folder or a JSONL file"
                )
            source = Source(len(self.sources), path.name or str(path), path / "rollouts.jsonl", "run", path)
            self.sources.append(source)
            self.runs[source.id] = {"metrics": metrics}
        elif path.is_file():
            self.sources.append(Source(len(self.sources), path.name, path, "samples"))
        else:
            raise ValueError(f"{path} does not exist; give JSONL files of samples or training run folders")
        self._read(self.sources[-1])

    def _read(self, source: Source) -> None:
        source.first_row = len(self.rows)
        if not source.path.exists():
            self._files[source.id] = None
            return
        # plain reads, not a memory map: a file cut short by another process (a resumed job
        # trims its output) must give an error, not a SIGBUS
        self._files[source.id] = open(source.path, "rb")
        offset = 0
        with open(source.path, "rb") as f:
            for line in f:
                try:
                    record = json.loads(line) if line.strip() else None
                except ValueError:
                    record = None
                row = row_of(record, row_id=len(self.rows), source=source.id, offset=offset, length=len(line))
                if row is None:
                    source.skipped += int(bool(line.strip()))
                else:
                    self.rows.append(row)
                    source.count += 1
                offset += len(line)

    def raw(self, row: Row) -> bytes:
        f = self._files[row.source]
        data = os.pread(f.fileno(), row.length, row.offset) if f is not None else b""
        if len(data) != row.length:
            raise ValueError(f"{self.sources[row.source].path} changed since it was indexed; restart view")
        return data

    def record(self, row_id: int) -> dict[str, Any]:
        if not 0 <= row_id < len(self.rows):
            raise KeyError(row_id)
        row = self.rows[row_id]
        return {
            "row": row.summary(),
            "record": json.loads(self.raw(row)),
            "source": self.sources[row.source].label,
        }

    # ---- querying ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        components = sorted({c for r in self.rows for c in r.components})
        return {
            "sources": [
                {
                    "id": s.id,
                    "label": s.label,
                    "kind": s.kind,
                    "path": str(s.run_dir or s.path),
                    "count": s.count,
                    "skipped": s.skipped,
                }
                for s in self.sources
            ],
            "envs": sorted({r.env for r in self.rows if r.env}),
            "outcomes": sorted({r.outcome for r in self.rows if r.outcome}),
            "components": components,
            "total": len(self.rows),
        }

    def select(self, query: Query) -> list[int]:
        """Row ids matching the query, sorted; the last queries are cached (paging is then free)."""
        key = query.key()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        ids = [r.id for r in self.rows if self._matches(r, query)]
        if query.q:
            forms = {query.q, json.dumps(query.q)[1:-1], json.dumps(query.q, ensure_ascii=False)[1:-1]}
            needles = {f.encode().lower() for f in forms}  # bytes.lower folds ASCII letters only
            matched = self._search(needles, {self.rows[i].source for i in ids})
            ids = [i for i in ids if i in matched]
        if query.sort != "id":
            ids = self._sorted(ids, query.sort, query.descending)
        elif query.descending:
            ids = ids[::-1]
        self._cache[key] = ids
        if len(self._cache) > 32:
            self._cache.popitem(last=False)
        return ids

    def _search(self, needles: set[bytes], sources: set[int]) -> set[int]:
        """Ids of the rows whose line matches: each file scanned in large line-aligned chunks, a
        match mapped to its row by offset."""
        matched: set[int] = set()
        for source_id in sources:
            source, f = self.sources[source_id], self._files[source_id]
            if f is None or not source.count:
                continue
            rows = self.rows[source.first_row : source.first_row + source.count]
            offsets = [r.offset for r in rows]
            position, size, fd = 0, os.fstat(f.fileno()).st_size, f.fileno()
            while position < size:
                chunk = os.pread(fd, SEARCH_CHUNK, position)
                if not chunk:
                    break
                end = chunk.rfind(b"\n") + 1
                while end == 0 and position + len(chunk) < size:  # a line longer than a chunk
                    more = os.pread(fd, SEARCH_CHUNK, position + len(chunk))
                    if not more:
                        break
                    chunk += more
                    end = chunk.rfind(b"\n") + 1
                if end == 0 or position + len(chunk) >= size:
                    end = len(chunk)
                text = chunk[:end].lower()  # lines end at the cut: no match spans it
                for needle in needles:
                    found = text.find(needle)
                    while found >= 0:
                        at = bisect.bisect_right(offsets, position + found) - 1
                        row_end = rows[at].offset + rows[at].length - position if at >= 0 else 0
                        if found < row_end:  # else: in a line that is no sample
                            matched.add(rows[at].id)
                        found = text.find(needle, max(found + 1, row_end))  # one hit per row
                position += end
        return matched

    def _sorted(self, ids: list[int], sort: str, descending: bool) -> list[int]:
        if sort.startswith("component:"):
            name = sort.split(":", 1)[1]
            value = lambda r: r.components.get(name)  # noqa: E731
        elif sort in SORTABLE:
            value = lambda r: getattr(r, sort)  # noqa: E731
        else:
            raise ValueError(f"cannot sort by {sort!r}; use one of {', '.join(SORTABLE)} or component:NAME")
        values = [(value(self.rows[i]), i) for i in ids]
        present = [(v, i) for v, i in values if v is not None]
        if present and isinstance(present[0][0], str):
            present = [(_task_order(v), i) for v, i in present]
        present.sort(reverse=descending)  # ties: by row id (descending: last first)
        return [i for _, i in present] + [i for v, i in values if v is None]  # rows without it last

    @staticmethod
    def _matches(r: Row, q: Query) -> bool:
        if q.source is not None and r.source != q.source:
            return False
        if (q.env and r.env != q.env) or (q.outcome and r.outcome != q.outcome):
            return False
        if q.task_id and r.task_id != q.task_id:
            return False
        if q.kept == "kept" and r.kept is not True or q.kept == "rejected" and r.kept is not False:
            return False
        if q.step is not None and r.step != q.step:
            return False
        if q.rmin is not None and (r.reward is None or r.reward < q.rmin):
            return False
        if q.rmax is not None and (r.reward is None or r.reward > q.rmax):
            return False
        if q.component:
            value = r.components.get(q.component)
            if value is None:
                return False
            if (q.cmin is not None and value < q.cmin) or (q.cmax is not None and value > q.cmax):
                return False
        return True

    def page(self, query: Query, offset: int, limit: int) -> dict[str, Any]:
        ids = self.select(query)
        return {
            "total": len(ids),
            "offset": offset,
            "rows": [self.rows[i].summary() for i in ids[offset : offset + limit]],
        }

    # ---- runs and comparisons ---------------------------------------------------------------
    def run(self, source_id: int) -> dict[str, Any]:
        if source_id not in self.runs:
            raise KeyError(source_id)
        from trainers.metrics import read_metrics, read_provenance

        path = self.runs[source_id]["metrics"]
        metrics = read_metrics(path)
        source = self.sources[source_id]
        per_step: dict[int, list[Row]] = defaultdict(list)
        for row in self.rows[source.first_row : source.first_row + source.count]:
            if row.step is not None:
                per_step[row.step].append(row)
        for m in metrics:  # the share of a step's written rollouts that hit the token limit
            rows = per_step.get(m.get("step"))
            if rows and "overlong_rate" not in m:
                m["overlong_rate"] = sum(r.hit_token_limit for r in rows) / len(rows)
        return {
            "label": source.label,
            "metrics": metrics,
            "provenance": read_provenance(path),
            "rollout_steps": {str(s): len(rows) for s, rows in sorted(per_step.items())},
        }

    def compare(self, a: int, b: int, threshold: float = 1.0) -> dict[str, Any]:
        """Two sources paired by (env, task id): mean reward and solved (a sample >= threshold)."""
        sides = []
        for source_id in (a, b):
            if not 0 <= source_id < len(self.sources):
                raise KeyError(source_id)
            source = self.sources[source_id]
            tasks: dict[tuple[str, str], list[Row]] = defaultdict(list)  # task ids are per env
            for row in self.rows[source.first_row : source.first_row + source.count]:
                tasks[(row.env, row.task_id)].append(row)
            sides.append(tasks)
        rows = []
        for key in sorted(set(sides[0]) & set(sides[1]), key=lambda k: (k[0], _task_order(k[1]))):
            entry: dict[str, Any] = {"env": key[0], "task_id": key[1]}
            for name, tasks in zip("ab", sides):
                rewards = [r.reward for r in tasks[key] if r.reward is not None]
                entry[name] = {
                    "samples": len(tasks[key]),
                    "mean_reward": sum(rewards) / len(rewards) if rewards else None,
                    "solved": any(x >= threshold for x in rewards),
                    "first": tasks[key][0].id,
                }
            rows.append(entry)
        counts = {"both": 0, "only_a": 0, "only_b": 0, "neither": 0}
        for e in rows:
            solved = (e["a"]["solved"], e["b"]["solved"])
            counts[{(1, 1): "both", (1, 0): "only_a", (0, 1): "only_b", (0, 0): "neither"}[solved]] += 1
        return {"a": self.sources[a].label, "b": self.sources[b].label, "tasks": rows, "counts": counts}


def _task_order(task_id: str) -> tuple:
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)
