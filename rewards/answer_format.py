"""Parsing of the Hermes-style answer format: one ``<think>`` block, then a final answer.

Everything here is a pure function of the text and runs in linear time (no regular
expression that can backtrack on adversarial input), so it is safe on any model output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
ANSWER_FORMATS = ("boxed", "answer_tag", "json")


@dataclass(frozen=True)
class ThinkSplit:
    """The response split into its reasoning and the part after ``</think>``."""

    ok: bool
    thinking: str
    answer_part: str
    reason: str


def split_think(text: str) -> ThinkSplit:
    """Require exactly one ``<think>...</think>`` block at the start of the response."""
    stripped = text.lstrip()
    if not stripped.startswith(THINK_OPEN):
        return ThinkSplit(False, "", text, "response does not start with <think>")
    opens, closes = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    if closes == 0:
        return ThinkSplit(False, "", text, "missing </think>")
    if opens != 1 or closes != 1:
        return ThinkSplit(
            False, "", text, f"expected one think block, found {opens} <think> and {closes} </think>"
        )
    body, _, after = stripped[len(THINK_OPEN) :].partition(THINK_CLOSE)
    if not body.strip():
        return ThinkSplit(False, "", after, "empty <think> block")
    if not after.strip():
        return ThinkSplit(False, body, after, "nothing after </think>")
    return ThinkSplit(True, body, after, "ok")


def find_braced(text: str, command: str) -> tuple[list[str], str]:
    """Contents of every ``command{...}`` in text, with nested braces balanced.

    Returns the contents and a reason ("" when every occurrence was closed)."""
    contents, reason, start = [], "", 0
    while True:
        at = text.find(command, start)
        if at < 0:
            return contents, reason
        i = at + len(command)
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text) or text[i] != "{":
            reason = f"{command} without braces"
            start = i
            continue
        depth, j = 0, i
        while j < len(text):
            ch = text[j]
            if ch == "\\" and j + 1 < len(text):
                j += 2  # skip escaped characters such as \{ and \}
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if depth != 0:
            return contents, f"unbalanced braces after {command}"
        contents.append(text[i + 1 : j])
        start = j + 1


def extract_answer(answer_part: str, answer_format: str) -> tuple[str | None, str]:
    """The single final answer in the requested format, or None and why not."""
    if answer_format == "boxed":
        boxes, problem = find_braced(answer_part, "\\boxed")
        if problem and not boxes:
            return None, problem
        if not boxes:
            return None, "no \\boxed{} answer"
        if len(boxes) > 1:
            return None, f"{len(boxes)} \\boxed{{}} answers; expected exactly one"
        if not _braces_balanced(answer_part):
            return None, "unbalanced braces around the \\boxed{} answer"
        return (boxes[0].strip() or None), ("ok" if boxes[0].strip() else "empty \\boxed{}")
    if answer_format == "answer_tag":
        n_open, n_close = answer_part.count(ANSWER_OPEN), answer_part.count(ANSWER_CLOSE)
        if n_open != 1 or n_close != 1:
            return None, f"expected one <answer>...</answer>, found {n_open} open and {n_close} close tags"
        inner = _unwrap(answer_part.partition(ANSWER_OPEN)[2].partition(ANSWER_CLOSE)[0].strip())
        return (inner or None), ("ok" if inner else "empty <answer>")
    if answer_format == "json":
        body = answer_part.strip()
        if body.startswith("```"):
            body = body.strip("`").removeprefix("json").strip()
        try:
            obj = json.loads(body, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as exc:
            return None, f"JSON repeats the key {exc}; give one answer"
        except (ValueError, RecursionError):
            return None, "the text after </think> is not a JSON object"
        if not isinstance(obj, dict) or "answer" not in obj:
            return None, 'JSON has no "answer" key'
        value = obj["answer"]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None, '"answer" must be a string or a number'
        return _unwrap(str(value).strip()) or None, "ok"
    raise ValueError(f"unknown answer format {answer_format!r}; choose from {ANSWER_FORMATS}")


def _unwrap(answer: str) -> str:
    """The answer inside one wrapper around all of it: ``\\boxed{25}`` or ``**25**`` in an
    ``<answer>`` tag or a JSON string is 25 (``\\boxed{25} \\boxed{26}`` stays as it is)."""
    if answer.startswith("**") and answer.endswith("**") and "**" not in answer[2:-2]:
        return answer[2:-2].strip()
    if answer.startswith("\\boxed"):
        boxes, problem = find_braced(answer, "\\boxed")
        if (
            len(boxes) == 1
            and not problem
            and answer.replace(" ", "") == f"\\boxed{{{boxes[0]}}}".replace(" ", "")
        ):
            return boxes[0].strip()
    return answer


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook: refuse ``{"answer": 6, "answer": 5}`` (json keeps the last one)."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(repr(key))
        obj[key] = value
    return obj


def _braces_balanced(text: str) -> bool:
    """Whether every unescaped ``}`` in text closes an earlier ``{`` and every ``{`` is closed
    (``\\boxed{5}}`` has a stray closing brace)."""
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += (text[i] == "{") - (text[i] == "}")
        if depth < 0:
            return False
        i += 1
    return depth == 0


def format_instruction(answer_format: str) -> str:
    """How the final answer must be written, for the system prompt."""
    return {
        "boxed": "write the final answer as \\boxed{answer}",
        "answer_tag": "write the final answer inside <answer></answer> tags",
        "json": 'write the final answer as a JSON object {"answer": ...}',
    }[answer_format]
