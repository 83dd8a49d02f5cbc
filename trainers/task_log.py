"""A crash-safe, resumable JSONL output committed one task at a time.

``out.jsonl`` holds the records (e.g. SFT samples) and stays loadable by
``datasets.load_dataset("json", ...)``. Beside it, ``out.jsonl.progress`` holds one line
per finished task: its id, the byte offset where its records end, and its statistics.
A task is committed by appending its records (fsync), then its progress line (fsync).
On restart, the data file is cut back to the last committed offset, so a kill at any
moment loses no committed task and duplicates nothing; unfinished tasks are redone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class OutputMismatch(RuntimeError):
    """The output exists from a run with other settings."""


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_progress(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """(header, task entries, byte length of the complete lines) of a progress file."""
    if not path.exists():
        return None, [], 0
    raw = path.read_bytes()
    header, entries, good = None, [], 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # a torn last line from a kill mid-write
        try:
            item = json.loads(line)
        except ValueError:
            break
        if header is None:
            header = item
        else:
            entries.append(item)
        good += len(line)
    return header, entries, good


class TaskLog:
    def __init__(self, path: Path, settings: dict[str, Any], overwrite: bool = False):
        self.path = Path(path)
        self.progress_path = self.path.with_name(self.path.name + ".progress")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for p in (self.path, self.progress_path):
                p.unlink(missing_ok=True)
        header, entries, good = _read_progress(self.progress_path)
        if header is None and self.path.exists() and self.path.stat().st_size > 0:
            raise OutputMismatch(f"{self.path} exists but has no progress file; pass --overwrite or choose another --out")
        if header is not None and header.get("settings") != settings:
            changed = sorted(k for k in set(settings) | set(header.get("settings", {}))
                             if settings.get(k) != header.get("settings", {}).get(k))  # fmt: skip
            raise OutputMismatch(
                f"{self.path} was written with other settings ({', '.join(changed)}); "
                "re-run with the same arguments to resume, or pass --overwrite"
            )
        self.entries = entries
        self.done = {e["task_id"] for e in entries}
        end = entries[-1]["end_offset"] if entries else 0
        with open(self.path, "ab"):
            pass
        with open(self.path, "r+b") as f:
            f.truncate(end)  # drop records of a task that was being written when killed
        with open(self.progress_path, "ab") as f:
            f.truncate(good)
            if header is None:
                f.write((json.dumps({"settings": settings}) + "\n").encode())
                f.flush()
                os.fsync(f.fileno())
        self._data = open(self.path, "ab")
        self._progress = open(self.progress_path, "ab")

    def commit(self, task_id: str, records: list[dict[str, Any]], stats: dict[str, Any]) -> None:
        if task_id in self.done:
            raise ValueError(f"task {task_id!r} is already committed")
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        self._data.write(payload)
        self._data.flush()
        os.fsync(self._data.fileno())
        entry = {"task_id": task_id, "end_offset": self._data.tell(), "records": len(records), **stats}
        self._progress.write((json.dumps(entry) + "\n").encode())
        self._progress.flush()
        os.fsync(self._progress.fileno())
        self.entries.append(entry)
        self.done.add(task_id)

    def close(self) -> None:
        self._data.close()
        self._progress.close()

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
