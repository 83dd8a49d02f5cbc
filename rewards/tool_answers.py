"""The final answer of a tool-use episode: it must *state* the expected values, not contain them.

The answer is the text inside the last ``<answer></answer>``. It is read as a list of
items: a JSON list, a JSON object (its values) or a JSON scalar; otherwise the text split
at ``;``, new lines, ``", "`` and `` and ``. There must be exactly one item per expected
value, and the items must match the expected values one to one (in any order): a number
item holds exactly one number, equal within 1e-6 relative (a unit word may follow it); a
text item equals the expected text ignoring case, spaces and ``.,!`` around it. So a list
of candidates ("Paris, Tokyo, Lima") or a number buried in other numbers is refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_ANSWER_CHARS = 2000
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SPLIT = re.compile(r";|\n|,\s+|\s+and\s+")


def extract_answer(text: str) -> str | None:
    """The last <answer> block's content, or None."""
    found = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
    return found[-1].strip() if found else None


def answer_items(body: str) -> list[Any]:
    """The answer's items (see the module docstring)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, list):
        return parsed
    if isinstance(parsed, dict):
        return list(parsed.values())
    if isinstance(parsed, (int, float, str)) and not isinstance(parsed, bool):
        return [parsed]
    return [item.strip() for item in _SPLIT.split(body) if item.strip()]


def _number_of(item: Any) -> float | None:
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return float(item)
    if not isinstance(item, str):
        return None
    text = item.strip().replace(",", "")
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1:
        return None
    rest = _NUMBER.sub(" ", text, count=1).strip(" $€£")
    if len(rest.split()) > 2:  # "42 km" or "$42" yes; "42 or maybe 43 or 44" no
        return None
    return float(numbers[0])


def _normal(text: str) -> str:
    return " ".join(str(text).lower().strip(" .,!\"'").split())


def item_matches(item: Any, expected: Any) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        number = _number_of(item)
        return number is not None and abs(number - expected) <= 1e-6 * max(1.0, abs(expected))
    return isinstance(item, (str, int, float)) and _normal(item) == _normal(expected)


def answer_correct(text: str, expected: list[Any]) -> tuple[bool, str]:
    """(whether the final answer states exactly the expected values, why)."""
    body = extract_answer(text)
    if body is None:
        return False, "no <answer></answer>"
    if len(body) > MAX_ANSWER_CHARS:
        return False, f"answer longer than {MAX_ANSWER_CHARS} characters"
    items = answer_items(body)
    if len(items) != len(expected):
        return False, f"answer has {len(items)} items, expected {len(expected)}"
    remaining = list(items)
    for value in expected:
        hit = next((i for i, item in enumerate(remaining) if item_matches(item, value)), None)
        if hit is None:
            return False, f"answer does not state {value!r}"
        remaining.pop(hit)
    return True, "answer correct"
