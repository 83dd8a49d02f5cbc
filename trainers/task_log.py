"""A crash-safe, resumable JSONL output committed one task at a time.

``out.jsonl`` holds the records (e.g. SFT samples) and stays loadable by
``datasets.load_dataset("json", ...)``; each record names its task (``metadata.task_id``).
Beside it, ``out.jsonl.progress`` holds a header (the job's settings and their fingerprint)
and one line per finished task: the job fingerprint, the task id, where its records lie,
how many there are, their SHA-256, and the task's statistics. A task is committed by
appending its records (fsync), then its progress line (fsync).

On restart nothing in the progress file is taken on trust: a line counts only if it is
well-formed, carries this job's fingerprint, names a task not already counted, and the
data file holds exactly that task's records (found by task id, checked by count and hash,
wherever they lie). Everything else is ignored and reported: torn or malformed lines,
lines of another job, duplicates, records missing from the data file (the task is redone),
records of unfinished tasks (dropped, and the task redone; ``lost`` names these tasks).
Records that are there but differ from what was committed, or a line that is no record, stop
the job with one line naming the file. The files are then rewritten to the committed tasks,
in the order their records lie in the data file (data first, each atomically; a crash in
between is repaired the same way next time): a resume never pads or reorders the data
file, and committed records are never cut. ``sort`` puts a finished job's tasks in the job's task
order, so a resumed job ends byte-identical to an uninterrupted one. One process at a time:
a second writer of the same output is refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 2
log = logging.getLogger(__name__)


class OutputMismatch(RuntimeError):
    """The output exists from a run with other settings, or cannot be trusted."""


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def metadata_task_id(record: dict[str, Any]) -> str | None:
    """The task a record belongs to: ``record["metadata"]["task_id"]`` (None when absent)."""
    meta = record.get("metadata") if isinstance(record, dict) else None
    task_id = meta.get("task_id") if isinstance(meta, dict) else None
    return None if task_id is None else str(task_id)


def _lines(raw: bytes) -> list[bytes]:
    """The complete lines (a torn last line, from a kill mid-write, is not one)."""
    return [line + b"\n" for line in raw.split(b"\n")[:-1]]


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: brackets nested too deep
        return None


_ENTRY_TYPES = {
    "job": str,
    "task_id": str,
    "start_offset": int,
    "end_offset": int,
    "records": int,
    "sha256": str,
}


class _Recovery:
    """What the files on disk say was committed, checked line by line against the data."""

    def __init__(self, path: Path, progress: Path, job: str, task_of: Callable[[dict[str, Any]], str | None]):
        self.path, self.progress = path, progress
        self.notes: list[str] = []
        self.lost: set[str] = set()  # tasks seen in the files but not committed: to be redone
        raw = path.read_bytes() if path.exists() else b""
        spans: dict[str, list[bytes]] = {}
        first: dict[str, int] = {}  # where each task's records start in the data file (line index)
        for number, line in enumerate(_lines(raw), 1):
            task_id = task_of(_json(line))
            if task_id is None:  # we never leave a torn record before others: someone else wrote this
                raise OutputMismatch(
                    f"{path} line {number} is not a record naming its task (written by "
                    "another program?); remove it, or pass --overwrite to start over"
                )
            spans.setdefault(task_id, []).append(line)
            first.setdefault(task_id, number)
        if len(b"".join(_lines(raw))) < len(raw):
            self.notes.append(f"{path}: a torn last record dropped")
        self._seen: set[str] = set()
        accepted: list[tuple[tuple[int, int], dict[str, Any], bytes]] = []
        place = 0  # a task without records stays after the one before it in the progress file
        progress_lines = _lines(progress.read_bytes())[1:] if progress.exists() else []
        for number, line in enumerate(progress_lines, 2):
            entry = self._entry(number, line, job)
            if entry is None:
                continue
            task_id, lines = entry["task_id"], spans.get(entry["task_id"], [])
            payload = b"".join(lines)
            if len(lines) < entry["records"]:
                self.notes.append(
                    f"{progress} line {number}: {len(lines)} of the {entry['records']} records "
                    f"of task {task_id!r} are in {path}; the task will be redone"
                )
                self.lost.add(task_id)
                spans.pop(task_id, None)
                continue
            if len(lines) > entry["records"] or hashlib.sha256(payload).hexdigest() != entry["sha256"]:
                raise OutputMismatch(
                    f"{path}: the records of task {task_id!r} differ from what was "
                    "committed (edited, or written by another program); restore the file, "
                    "or pass --overwrite to start over"
                )
            place = first.get(task_id, place)
            accepted.append(((place, number), entry, payload))
            self._seen.add(task_id)
            spans.pop(task_id, None)  # a task may have kept no records
        unfinished = sum(map(len, spans.values()))
        if unfinished:
            self.lost.update(spans)
            self.notes.append(
                f"{path}: {unfinished} record(s) of unfinished tasks dropped; those tasks will be redone"
            )
        # the committed tasks in the order their records lie on disk, whatever the progress file's order
        self.entries: list[dict[str, Any]] = []
        data: list[bytes] = []
        size = 0
        for _, entry, payload in sorted(accepted, key=lambda item: item[0]):
            self.entries.append({**entry, "start_offset": size, "end_offset": size + len(payload)})
            data.append(payload)
            size += len(payload)
        self.raw, self.data = raw, b"".join(data)

    def _entry(self, number: int, line: bytes, job: str) -> dict[str, Any] | None:
        entry = _json(line)
        where = f"{self.progress} line {number}"
        if not isinstance(entry, dict) or any(type(entry.get(k)) is not t for k, t in _ENTRY_TYPES.items()):
            self.notes.append(f"{where} is malformed; ignored")
            return None
        if entry["job"] != job:
            self.notes.append(f"{where} belongs to another job; ignored")
            return None
        if entry["task_id"] in self._seen:
            self.notes.append(f"{where} repeats task {entry['task_id']!r}; ignored")
            return None
        return entry

    def write(self, header: bytes) -> None:
        """Leave exactly the committed tasks on disk: data first, then progress."""
        if self.data != self.raw:
            if self.raw.startswith(self.data):
                with open(self.path, "r+b") as f:  # only an unfinished tail goes
                    f.truncate(len(self.data))
                    os.fsync(f.fileno())
            else:
                atomic_write_bytes(self.path, self.data)
        progress = header + b"".join((json.dumps(e) + "\n").encode() for e in self.entries)
        if not self.progress.exists() or self.progress.read_bytes() != progress:
            atomic_write_bytes(self.progress, progress)


def record_line(record: dict[str, Any]) -> bytes:
    """One JSONL line, UTF-8; text that is not valid Unicode (a lone surrogate in model output)
    is written as a JSON escape instead of failing the job."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record) + "\n").encode("ascii")


class TaskLog:
    def __init__(
        self,
        path: Path,
        settings: dict[str, Any],
        overwrite: bool = False,
        task_of: Callable[[dict[str, Any]], str | None] = metadata_task_id,
    ):
        self.path = Path(path)
        self.progress_path = self.path.with_name(self.path.name + ".progress")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        for p in (self.path, self.progress_path, lock):
            if p.exists() and not p.is_file():
                raise OutputMismatch(
                    f"{p} is not a regular file (a directory?); remove it, or choose another --out"
                )
        self.task_of = task_of
        self._lock = open(lock, "ab")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise OutputMismatch(
                f"{self.path} is being written by another process; wait for it or choose another --out"
            ) from exc
        try:
            self._open(settings, overwrite)
        except BaseException:
            self._lock.close()
            raise

    def _open(self, settings: dict[str, Any], overwrite: bool) -> None:
        if overwrite:
            for p in (self.path, self.progress_path):
                p.unlink(missing_ok=True)
        self.job = fingerprint(settings)
        self._header = (json.dumps({"format": FORMAT, "job": self.job, "settings": settings}) + "\n").encode()
        self._check_header(settings)
        recovery = _Recovery(self.path, self.progress_path, self.job, self.task_of)
        for note in recovery.notes:
            log.warning("resume: %s", note)
        recovery.write(self._header)
        self.repairs = recovery.notes
        self.entries = recovery.entries
        self.done = {e["task_id"] for e in self.entries}
        self.lost = recovery.lost - self.done  # records (or a line) on disk, but not committed
        self._data = open(self.path, "ab")
        self._progress = open(self.progress_path, "ab")

    def _check_header(self, settings: dict[str, Any]) -> None:
        lines = _lines(self.progress_path.read_bytes()) if self.progress_path.exists() else []
        has_data = self.path.exists() and self.path.stat().st_size > 0
        if not lines:
            if has_data:
                raise OutputMismatch(
                    f"{self.path} exists but has no progress file; pass --overwrite or choose another --out"
                )
            return
        header = _json(lines[0])
        if not isinstance(header, dict) or not isinstance(header.get("settings"), dict):
            raise OutputMismatch(
                f"{self.progress_path} has no readable header; pass --overwrite or choose another --out"
            )
        if header.get("format") != FORMAT:
            raise OutputMismatch(
                f"{self.progress_path} was written by an older version; finish it with that "
                "version, pass --overwrite, or choose another --out"
            )
        if header["settings"] == settings and header.get("job") != self.job:  # our lines are never foreign
            raise OutputMismatch(
                f"{self.progress_path} names job {header.get('job')!r}, but its settings "
                f"give {self.job!r}; finish it with the version that wrote it, or pass "
                "--overwrite"
            )
        if header["settings"] != settings:
            old = header["settings"]
            changed = sorted(k for k in set(settings) | set(old) if settings.get(k) != old.get(k))
            raise OutputMismatch(
                f"{self.path} was written with other settings ({', '.join(changed)}); "
                "re-run with the same arguments to resume, or pass --overwrite"
            )

    def commit(self, task_id: str, records: list[dict[str, Any]], stats: dict[str, Any]) -> None:
        if task_id in self.done:
            raise ValueError(f"task {task_id!r} is already committed")
        for record in records:
            if self.task_of(record) != task_id:
                raise ValueError(
                    f"a record of task {task_id!r} names task {self.task_of(record)!r} in its metadata"
                )
        payload = b"".join(record_line(r) for r in records)
        start = self._data.tell()
        self._data.write(payload)
        self._data.flush()
        os.fsync(self._data.fileno())
        entry = {
            **stats,
            "job": self.job,
            "task_id": task_id,
            "start_offset": start,
            "end_offset": self._data.tell(),
            "records": len(records),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        self._progress.write((json.dumps(entry) + "\n").encode())
        self._progress.flush()
        os.fsync(self._progress.fileno())
        self.entries.append(entry)
        self.done.add(task_id)

    def sort(self, order: list[str]) -> None:
        """Put the committed tasks in the job's task order (tasks not in it last), as an
        uninterrupted run that commits them in that order writes them: a resume that redid an
        earlier task, or tasks that finished out of order, leave the same bytes. Data first,
        then progress, each atomically (a crash in between is repaired on resume)."""
        rank = {task_id: i for i, task_id in enumerate(order)}
        entries = sorted(self.entries, key=lambda e: rank.get(e["task_id"], len(rank)))
        if [e["task_id"] for e in entries] == [e["task_id"] for e in self.entries]:
            return
        self._data.flush()
        raw = self.path.read_bytes()
        sorted_entries, data, size = [], [], 0
        for entry in entries:
            payload = raw[entry["start_offset"] : entry["end_offset"]]
            if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
                raise OutputMismatch(
                    f"{self.path}: the records of task {entry['task_id']!r} changed while the job "
                    "wrote the file; restore it, or pass --overwrite to start over"
                )
            sorted_entries.append({**entry, "start_offset": size, "end_offset": size + len(payload)})
            data.append(payload)
            size += len(payload)
        self._data.close()
        self._progress.close()
        if b"".join(data) != raw:
            atomic_write_bytes(self.path, b"".join(data))
        lines = b"".join((json.dumps(e) + "\n").encode() for e in sorted_entries)
        atomic_write_bytes(self.progress_path, self._header + lines)
        self.entries = sorted_entries
        self._data = open(self.path, "ab")
        self._progress = open(self.progress_path, "ab")

    def close(self) -> None:
        self._data.close()
        self._progress.close()
        self._lock.close()

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
