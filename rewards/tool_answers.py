"""The final answer of a tool-use episode: it must *state* the expected values, not contain them.

The answer is the text inside the last closed ``<answer></answer>`` of the final reply
(found by a linear scan; a reply longer than ``MAX_REPLY_CHARS`` is not read at all). An
answer with a hedging word or mark outside the expected texts (or, maybe, between, about,
?, ...) is refused; otherwise it is accepted in one of two readings:

- as a list of items: a JSON list, a JSON object (its values) or a JSON scalar; otherwise
  the text split at ``;``, new lines, ``", "`` and `` and ``. There must be exactly one
  item per expected value, matched one to one in any order: a number item holds exactly
  one number, equal within 1e-6 relative (a unit word may follow it); a text item equals
  the expected text ignoring case, spaces and ``.,!`` around it.
- as a sentence ("The balance of Ann Lee is 5,902.20"): every expected value is stated
  (a number as a number, a text as whole words), and nothing else could be a candidate:
  every number in it is an expected one or one the question states ("123 * 456 = 56088"),
  it names no entity of ``others`` (e.g. other customers of the task's world) unless the
  question or the expected values do, for a text answer no capitalised word outside the
  question and the expected values (plain words such as "The" aside).

So a list of candidates ("Paris, Tokyo, Lima"), a range, "X or Y", or a number among
other numbers is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MAX_ANSWER_CHARS = 2000
MAX_REPLY_CHARS = 20_000  # a longer final reply is not read (outcome invalid)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SENTENCE_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"\b[A-Za-z]+-[A-Za-z0-9]+\b")  # C-1234, SKU-AB12: names, not numbers
_SPLIT = re.compile(r";|\n|,\s+|\s+and\s+")
_HEDGES = re.compile(
    r"\b(or|either|maybe|perhaps|possibly|probably|likely|between|approx\w*|roughly|around|about|"
    r"guess\w*|unsure|uncertain|unknown|range|not sure|could be|might)\b|\?|\.\.\.|±",
    flags=re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")
_PLAIN_WORDS = frozenset(
    ("the", "it", "its", "this", "that", "these", "their", "our", "his", "her", "they", "he", "she", "we")
    + ("a", "an", "answer", "yes", "in", "on", "at", "there")
)
OPEN, CLOSE = "<answer>", "</answer>"


def extract_answer(text: str) -> str | None:
    """The last closed <answer> block's content, or None (linear in the text's length)."""
    end = text.rfind(CLOSE)
    if end < 0:
        return None
    start = text.rfind(OPEN, 0, end)
    return text[start + len(OPEN) : end].strip() if start >= 0 else None


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


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def item_matches(item: Any, expected: Any) -> bool:
    if _is_number(expected):
        number = _number_of(item)
        return number is not None and _close(number, expected)
    return isinstance(item, (str, int, float)) and _normal(item) == _normal(expected)


def _numbers_in(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in _SENTENCE_NUMBER.findall(_IDENTIFIER.sub(" ", text))]


def _says(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case and spacing."""
    words = _normal(phrase)
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", _normal(text)) is not None


def _hedge(body: str, expected: list[Any]) -> str:
    """Why the answer hedges ("" if it does not); words of the expected texts do not count."""
    for value in expected:
        if not _is_number(value) and str(value).strip():
            body = re.sub(re.escape(str(value).strip()), " ", body, flags=re.IGNORECASE)
    found = _HEDGES.search(body)
    return f"the answer hedges ({found.group(0)!r})" if found else ""


def sentence_states(body: str, expected: list[Any], *, question: str = "", others: Iterable[str] = ()) -> str:
    """Why the sentence ``body`` does not state exactly the expected values ("" if it does)."""
    numbers = _numbers_in(body)
    for value in expected:
        if _is_number(value) and not any(_close(n, value) for n in numbers):
            return f"answer does not state {value!r}"
        if not _is_number(value) and not _says(body, str(value)):
            return f"answer does not state {value!r}"
    allowed = [v for v in expected if _is_number(v)] + _numbers_in(question)
    extra = next((n for n in numbers if not any(_close(n, a) for a in allowed)), None)
    if extra is not None:
        return f"the answer states another number ({extra:g}) besides the expected values"
    context = " ".join([question, *map(str, expected)])
    named = next((o for o in others if o and _says(body, o) and not _says(context, o)), None)
    if named is not None:
        return f"the answer names {named!r}, which is neither asked about nor expected"
    if any(not _is_number(v) for v in expected):
        word = next(
            (
                w
                for w in _CAPITALISED.findall(body)
                if w.lower() not in _PLAIN_WORDS and not _says(context, w)
            ),
            None,
        )
        if word is not None:
            return f"the answer names {word!r} besides the expected values"
    return ""


def answer_correct(
    text: str, expected: list[Any], *, question: str = "", others: Iterable[str] = ()
) -> tuple[bool, str]:
    """(whether the final answer states exactly the expected values, why)."""
    if len(text) > MAX_REPLY_CHARS:
        return False, f"final reply longer than {MAX_REPLY_CHARS} characters"
    body = extract_answer(text)
    if body is None:
        return False, "no <answer></answer>"
    if len(body) > MAX_ANSWER_CHARS:
        return False, f"answer longer than {MAX_ANSWER_CHARS} characters"
    hedge = _hedge(body, expected)
    if hedge:
        return False, hedge
    items = answer_items(body)
    why = ""
    if len(items) != len(expected):
        why = f"answer has {len(items)} items, expected {len(expected)}"
    remaining = list(items)
    for value in [] if why else expected:
        hit = next((i for i, item in enumerate(remaining) if item_matches(item, value)), None)
        if hit is None:
            why = f"answer does not state {value!r}"
            break
        remaining.pop(hit)
    if not why:
        return True, "answer correct"
    try:
        json.loads(body)
        return False, why  # a JSON answer is read as items only
    except (ValueError, RecursionError):
        pass
    sentence_why = sentence_states(body, expected, question=question, others=others)
    return (True, "answer correct") if not sentence_why else (False, sentence_why)
