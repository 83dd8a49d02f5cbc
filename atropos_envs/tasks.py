"""Where tasks come from: a seeded procedural generator, or a user's task file.

Task ids are strings. A generated task's id is its index (task "17" is the same task on
every machine); a file task's id is its first id field present (``ID_FIELDS``: ``id``,
``task_id`` as HumanEval's "HumanEval/1" or MBPP's 11, ``question_id``, ``problem_id``,
``key``), else its position in the file.

Every record is checked when the file is loaded: an env's ``task_from_record`` reads
fields through the typed helpers below (``require_str``, ``require_int``,
``optional_bool``...), which raise ``TaskFieldError``; the error then names the file,
the line (1-based, as an editor shows it) and the field, and says what was expected.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Task = dict[str, Any]

#: Fields recognised as a record's task id, first present wins.
ID_FIELDS = ("id", "task_id", "question_id", "problem_id", "key")
#: Deepest bracket nesting accepted in a task record (deeper ones exhaust the stack later).
MAX_TASK_DEPTH = 100

_MISSING = object()


class TaskFileError(ValueError):
    """A task file that cannot be used; the message names the file, the line and the fix."""


class TaskFieldError(ValueError):
    """One field of a task record is missing or wrong; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"field '{field}': {message}")


# ---- typed field readers for task_from_record -------------------------------------------
def describe(value: Any) -> str:
    """A short, type-revealing rendering of a value for error messages."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def _get(record: dict[str, Any], key: str, required: bool) -> Any:
    value = record.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise TaskFieldError(key, "missing")
        return _MISSING
    return value


def require_str(record: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = _get(record, key, required=True)
    if not isinstance(value, str):
        raise TaskFieldError(key, f"expected a string, got {describe(value)}")
    if not allow_empty and not value.strip():
        raise TaskFieldError(key, "expected a non-empty string")
    return value


def optional_str(record: dict[str, Any], key: str, default: str) -> str:
    return default if _get(record, key, required=False) is _MISSING else require_str(record, key)


def require_int(
    record: dict[str, Any], key: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _get(record, key, required=True)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskFieldError(key, f"expected an integer, got {describe(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = (
            f"between {minimum} and {maximum}"
            if minimum is not None and maximum is not None
            else (f">= {minimum}" if minimum is not None else f"<= {maximum}")
        )
        raise TaskFieldError(key, f"expected an integer {bounds}, got {value}")
    return value


def optional_bool(record: dict[str, Any], key: str, default: bool) -> bool:
    """A JSON true/false; the strings "false"/"true" and 0/1 are refused (they read wrongly)."""
    value = _get(record, key, required=False)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        raise TaskFieldError(key, f"expected true or false (JSON booleans), got {describe(value)}")
    return value


def require_list(
    record: dict[str, Any],
    key: str,
    *,
    item_type: type | tuple[type, ...] | None = None,
    allow_empty: bool = False,
) -> list[Any]:
    value = _get(record, key, required=True)
    if not isinstance(value, list):
        raise TaskFieldError(key, f"expected a list, got {describe(value)}")
    if not allow_empty and not value:
        raise TaskFieldError(key, "expected a non-empty list")
    if item_type is not None:
        for i, item in enumerate(value):
            if not isinstance(item, item_type) or (
                isinstance(item, bool) and bool not in _as_tuple(item_type)
            ):
                names = " or ".join(t.__name__ for t in _as_tuple(item_type))
                raise TaskFieldError(f"{key}[{i}]", f"expected {names}, got {describe(item)}")
    return value


def require_dict(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = _get(record, key, required=True)
    if not isinstance(value, dict):
        raise TaskFieldError(key, f"expected an object, got {describe(value)}")
    return value


def require_choice(
    record: dict[str, Any], key: str, choices: Sequence[str], default: str | None = None
) -> str:
    value = _get(record, key, required=default is None)
    if value is _MISSING:
        return default  # type: ignore[return-value]
    if value not in choices:
        raise TaskFieldError(key, f"expected one of {', '.join(map(repr, choices))}, got {describe(value)}")
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def record_task_id(record: dict[str, Any], default: str) -> str:
    """The record's id from the first id field present, or default (its position)."""
    for key in ID_FIELDS:
        value = record.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (str, int))
            or (isinstance(value, str) and not value.strip())
        ):
            raise TaskFieldError(
                key, f"a task id must be a non-empty string or an integer, got {describe(value)}"
            )
        return str(value)
    return default


# ---- sources ----------------------------------------------------------------------------
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


def _nesting_depth(text: str) -> int:
    from rewards.json_schema import nesting_depth

    return nesting_depth(text)


class _Repeated(dict):
    """A parsed JSON object that held ``key`` twice (JSON keeps the last one silently)."""

    key: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    repeated = _Repeated(found)
    seen: set[str] = set()
    repeated.key = next(key for key, _ in pairs if key in seen or seen.add(key))
    return repeated


def _field(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key).encode("utf-8", "backslashreplace").decode("utf-8")  # a name holding a surrogate
    return f"{path}.{key}" if path else key


def check_text(record: Any, where: str) -> None:
    """Refuse, in one line naming the field, what JSON parsing lets through silently: a key
    given twice in one object, and text that is not valid Unicode (a lone surrogate, as the
    escape "\\ud800" gives), which no UTF-8 file, request or record can hold later."""
    stack: list[tuple[str, Any]] = [("", record)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Repeated):
            place = f", field '{path}'" if path else ""
            raise TaskFileError(
                f"{where}{place}: the key {value.key!r} appears twice in one object "
                "(JSON would keep the last one silently); keep one"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                _check_unicode(key, _field(path, key), where, "its name")
                stack.append((_field(path, key), item))
        elif isinstance(value, list):
            stack.extend((_field(path, i), item) for i, item in enumerate(value))
        else:
            _check_unicode(value, path, where, "text")


def _check_unicode(value: Any, path: str, where: str, what: str) -> None:
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TaskFileError(
            f"{where}, field '{path}': {what} holds a lone surrogate {value[exc.start]!r} at character "
            f"{exc.start} (not valid Unicode, e.g. a JSON escape \\ud800 without its pair); fix or remove it"
        ) from None


#: A JSON escape of a UTF-16 surrogate (paired ones are fine; a lone one decodes to no character).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _parse(text: str, where: str) -> tuple[Any, bool]:
    """The parsed JSON, and whether it needs ``check_text``: it held a repeated key, or a
    surrogate escape (UTF-8 text cannot hold a surrogate otherwise). Most text needs no walk."""
    if _nesting_depth(text) > MAX_TASK_DEPTH:
        raise TaskFileError(f"{where}: nested deeper than {MAX_TASK_DEPTH} levels")
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        found = _object(items)
        repeated = repeated or isinstance(found, _Repeated)
        return found

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with more digits than Python allows
        raise TaskFileError(f"{where}: not usable JSON ({str(exc)[:120]})") from None
    return data, repeated or _SURROGATE_ESCAPE.search(text) is not None


def _read_parquet(path: Path) -> list[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for unreadable files
        raise TaskFileError(
            f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:160]})"
        ) from None
    return [(f"{path} row {i} (0-based)", row) for i, row in enumerate(rows)]


def read_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) for every record of a JSONL, JSON (list, or {"data": [...]}) or parquet
    file; where names the file and the line (JSONL, 1-based), list index (JSON) or row (parquet)."""
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    suffix = path.suffix.lower()
    suspect: set[str] = set()  # records to check_text (parquet holds valid Unicode, no repeated keys)
    if suffix == ".parquet":
        located = _read_parquet(path)
    elif suffix in (".json", ".jsonl", ".ndjson"):
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TaskFileError(
                f"{path}: not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8"
            ) from None
        if suffix == ".json":
            data, check = _parse(text, str(path))
            if isinstance(data, _Repeated):  # the {"data": [...]} wrapper itself
                check_text(data, str(path))
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list):
                raise TaskFileError(f'{path}: expected a JSON list of task objects (or {{"data": [...]}})')
            located = [(f"{path} list index {i}", record) for i, record in enumerate(data)]
            suspect = {where for where, _ in located} if check else set()
        else:
            # Lines end at "\n" only: U+2028 and friends are legal inside JSON strings (str.splitlines
            # would split there). Errors name the 1-based line; fields may mix types across rows.
            located = []
            for line_no, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    where = f"{path} line {line_no}"
                    record, check = _parse(line, where)
                    located.append((where, record))
                    if check:
                        suspect.add(where)
    else:
        raise TaskFileError(f"{path}: unsupported task file type {suffix!r}; use .jsonl, .json or .parquet")
    for where, record in located:
        if not isinstance(record, dict):
            raise TaskFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if where in suspect:
            check_text(record, where)
    return located


class FileTasks(TaskSource):
    """Tasks from a user file (or an in-memory list), normalised by the env's task_from_record."""

    def __init__(self, source: str | Path | list[Task], normalise: Callable[[Task], Task]):
        origin = "tasks" if isinstance(source, list) else str(source)
        if isinstance(source, list):
            located = [(f"tasks[{i}]", record) for i, record in enumerate(source)]
            for where, record in located:
                if not isinstance(record, dict):
                    raise TaskFileError(f"{where}: expected a task dict, got {type(record).__name__}")
                check_text(record, where)
        else:
            located = read_records(Path(source))
        if not located:
            raise TaskFileError(f"{origin}: no tasks")
        self._tasks: dict[str, Task] = {}
        where_of: dict[str, str] = {}
        for index, (where, record) in enumerate(located):
            try:
                task_id = record_task_id(record, str(index))
                task = normalise(dict(record))
            except TaskFieldError as exc:
                raise TaskFileError(f"{where}, {exc}") from None
            except RecursionError:
                raise TaskFileError(f"{where}: a value is nested too deeply") from None
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                # a loader that did not use the typed readers: still one line, naming the record
                message = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else exc
                raise TaskFileError(f"{where}: {message}") from None
            if task_id in self._tasks:
                raise TaskFileError(f"{where}: duplicate task id {task_id!r} (also at {where_of[task_id]})")
            self._tasks[task_id], where_of[task_id] = {**task, "id": task_id}, where
        self._order = list(self._tasks)

    def __len__(self) -> int:
        return len(self._order)

    def ids(self, limit: int | None = None, start: int = 0) -> list[str]:
        return self._order[start : start + limit] if limit is not None else self._order[start:]

    def get(self, task_id: str | int) -> Task:
        try:
            return copy.deepcopy(self._tasks[str(task_id)])
        except KeyError:
            raise KeyError(f"no task with id {task_id!r}") from None

    def sample_id(self, rng: np.random.Generator) -> str:
        return self._order[int(rng.integers(0, len(self._order)))]
