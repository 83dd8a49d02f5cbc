"""Where tasks come from: a seeded procedural generator, or a user's task file.

Task ids are strings. A generated task's id is its index (task "17" is the same task on
every machine); a file task's id is its ``id`` or ``key`` field, else its line index.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Task = dict[str, Any]


class TaskFileError(ValueError):
    """A task file that cannot be used; the message names the file, the line and the fix."""


class TaskSource:
    def ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        """Task ids in order, from position start, at most limit of them."""
        raise NotImplementedError

    def get(self, task_id: str | int) -> Task:
        raise NotImplementedError

    def sample_id(self, rng: np.random.Generator) -> str:
        raise NotImplementedError


class GeneratedTasks(TaskSource):
    """An unbounded, deterministic stream: task i is generate(Random(f"{namespace}:{i}"))."""

    def __init__(self, namespace: str, generate: Callable[[random.Random], Task]):
        self.namespace, self.generate = namespace, generate

    def ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        if limit is None:
            raise ValueError("a generator has no end: say how many tasks (limit)")
        return [str(i) for i in range(start, start + limit)]

    def get(self, task_id: str | int) -> Task:
        try:
            index = int(task_id)
        except (TypeError, ValueError):
            raise KeyError(f"generated task ids are non-negative integers, got {task_id!r}") from None
        if index < 0:
            raise KeyError(f"generated task ids are non-negative integers, got {task_id!r}")
        task = self.generate(random.Random(f"{self.namespace}:{index}"))
        return {**task, "id": str(index)}

    def sample_id(self, rng: np.random.Generator) -> str:
        return str(int(rng.integers(0, 2**31 - 1)))


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL, JSON (list, or {"data": [...]}) or parquet file."""
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from datasets import Dataset

        return [dict(r) for r in Dataset.from_parquet(str(path))]
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise TaskFileError(f"{path}: expected a JSON list of task objects")
        records = data
    elif suffix in (".jsonl", ".ndjson"):
        # Read line by line (not via datasets): errors name the line, and fields may mix
        # types across rows (an answer that is a number here and a string there).
        records = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise TaskFileError(f"{path} line {line_no}: not valid JSON ({exc.msg})") from None
    else:
        raise TaskFileError(f"{path}: unsupported task file type {suffix!r}; use .jsonl, .json or .parquet")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise TaskFileError(f"{path} record {i}: expected a JSON object, got {type(record).__name__}")
    return records


class FileTasks(TaskSource):
    """Tasks from a user file (or an in-memory list), normalised by the env's task_from_record."""

    def __init__(self, source: str | Path | list[Task], normalise: Callable[[Task], Task]):
        origin = "tasks" if isinstance(source, list) else str(source)
        records = source if isinstance(source, list) else read_records(Path(source))
        if not records:
            raise TaskFileError(f"{origin}: no tasks")
        self._tasks: dict[str, Task] = {}
        for index, record in enumerate(records):
            try:
                task = normalise(dict(record))
            except (ValueError, KeyError, TypeError) as exc:
                raise TaskFileError(f"{origin} record {index}: {exc}") from None
            task_id = str(record.get("id", record.get("key", index)))
            if task_id in self._tasks:
                raise TaskFileError(f"{origin} record {index}: duplicate task id {task_id!r}")
            self._tasks[task_id] = {**task, "id": task_id}
        self._order = list(self._tasks)

    def __len__(self) -> int:
        return len(self._order)

    def ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        return self._order[start:start + limit] if limit is not None else self._order[start:]

    def get(self, task_id: str | int) -> Task:
        try:
            return copy.deepcopy(self._tasks[str(task_id)])
        except KeyError:
            raise KeyError(f"no task with id {task_id!r}") from None

    def sample_id(self, rng: np.random.Generator) -> str:
        return self._order[int(rng.integers(0, len(self._order)))]
