"""The final answer of a tool-use episode: it must *state* the expected values, not contain them.

The answer is the text inside the closed ``<answer></answer>`` block of the final reply, after
any ``<think>`` (found by a linear scan; a reply longer than ``MAX_REPLY_CHARS`` is not read at
all). Several blocks that disagree are refused (``answer_conflict``). The text is read after
NFKC normalisation, with invisible format characters removed, unicode dashes before a digit
read as a minus (``−91.33`` is -91.33) and a minus before a currency sign moved after it
(``-$94.68``, ``-$ 94.68`` are $-94.68). When an expected value is a number, the wording is an
allow-list (``stray_numeric_wording``): besides numbers, only units and currency codes
(``UNITS``), the question's words, neutral filler (``NUMERIC_FILLER``: no negative, minus,
owes, about, ca, ish...) and the marks ``, . : ; $ € £ %`` plus JSON and markdown marks
(brackets only around words; no ``~ ≈ < > + ! ¬ ≠ ( ) ?``, no emoji). Besides (the deny-list
below still runs, for text answers too), outside the expected texts, an answer is refused when it

- hedges, negates or doubts: or, maybe, about, between, not, no, never, incorrect, wrong, false,
  cannot, unsure, unless, if, except, ``?``, ``±``, ... (``NEGATIONS``),
- writes a number another way than in digits: number words (one..ninety, hundred, thousand,
  million, half, dozen, ...), Roman numerals (``XII``), other numerals (``½``, ``²``, ``٣``),
- (for numeric answers) holds non-ASCII letters (homoglyphs of the words above),
- states a percentage (``%``) when the question asks for none,
- names an ID (``O-8753``) or an entity of ``others`` (other customers of the task's world...),
  in full or by one of its capitalised name words (a first or last name, ``12 for Drulis``,
  ``{"Drulis": 12}``), that neither the question nor the expected values name.

Otherwise it is accepted in one of two readings:

- as a list of items: a JSON list, a JSON object (its values) or a JSON scalar; otherwise the
  text split at ``;``, new lines, ``", "`` and `` and ``. There must be exactly one item per
  expected value, matched one to one in any order: a number item is the number (``5,902.20``)
  plus at most a currency sign and unit or label words from ``UNITS`` (``$12.50``, ``57 units``,
  ``5000 m``), equal to the expected value at the data's precision (money to the cent: a third
  decimal that differs is wrong); a text item equals the expected text ignoring case, spaces
  and ``.,!`` around it.
- as a sentence ("The balance of Ann Lee is 5,902.20"): every expected value is stated (a
  number as a number, a text as whole words), and nothing else could be a candidate: every
  number in it is an expected one or one the question states ("123 * 456 = 56088"); for a
  text answer, every other word is one of the question's or a plain filler word (``FILLER``),
  so ``Paris / lyon`` and ``PARIS / LYON`` are refused.

A JSON answer is read as items only. So a list of candidates, a range, "X or Y", "not X" or a
number among other numbers is refused.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

MAX_ANSWER_CHARS = 2000
MAX_REPLY_CHARS = 20_000  # a longer final reply is not read (outcome invalid)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SENTENCE_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"\b[A-Za-z]+-[A-Za-z0-9]*\d[A-Za-z0-9]*\b")  # C-1234, O-8753, SKU-AB12
_SPLIT = re.compile(r";|\n|,\s+|\s+and\s+")
_DASH_MINUS = re.compile(r"[\u2010-\u2015\u2212\u2796\ufe58](?=\s?[$€£]?\s?\d)")  # − ‒ – — before a digit
_SIGN_BEFORE_CURRENCY = re.compile(r"-([$€£])\s?(?=\d)")  # -$4.10, -$ 4.10 are $-4.10 ("- $4.10" is a bullet)
NEGATIONS = (
    "or nor either neither maybe perhaps possibly probably likely unlikely between approx approximately "
    "roughly around about nearly almost circa guess guessed guessing estimate estimated unsure uncertain "
    "unknown unclear range might could not no never none nothing incorrect incorrectly wrong false "
    "untrue invalid cannot cant unable unless except if otherwise instead alternatively else doubt "
    "doubtful suspect seems apparently over under above below least most more less than error mistake "
    "dont doesnt didnt isnt arent wasnt werent wont couldnt shouldnt wouldnt hasnt havent"
)
_HEDGES = re.compile(
    rf"\b(?:{'|'.join(NEGATIONS.split())}|not sure|could be|\w+n['’]t)\b|\?|\.\.\.|±|…",
    flags=re.IGNORECASE,
)
_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty|ninety|"
    r"hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|halves|quarters?|twice|double|"
    r"triple|first|second|third|fourth|fifth|tenth|hundredth|thousandth)\b",
    flags=re.IGNORECASE,
)
_ROMAN_TOKEN = re.compile(r"\b[MDCLXVI]+\b")
_ROMAN = re.compile(r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
UNITS = frozenset(
    "usd eur gbp dollars dollar euros euro pounds cents units unit items item pieces pcs km m mi ft g kg "
    "lb s min h total".split()
)
_CURRENCY = "$€£"
_PUNCTUATION = " .,!:*_`\"'()[]#-"
FILLER = frozenset(
    "the it its this that these their our his her they he she we a an answer yes in on at there is are "
    "was were be of for to final result so thus hence".split()
)
# besides the number, units, currency and the question's own words, a numeric answer (and the
# text around ToolReasoning's \boxed{}) may hold only these words: an allow-list, so a hedge,
# a sign word or a retraction nobody listed (negative, owes, ca, ish, tentatively) is refused
NUMERIC_FILLER = FILLER | frozenset(
    "value values amount amounts total totals balance balances customer customers therefore sum count "
    "equals has have with and".split()
)
_WORDS_IN_BRACKETS = re.compile(r"\(([^()\d]*)\)")
_NUMERIC_MARKS = frozenset(" \t\n,.:;$€£%\"'[]{}*_`#=-")  # JSON, markdown; no ~ ≈ < > + ! ( ) ? or emoji
_WORD = re.compile(r"[^\W\d_]+")
OPEN, CLOSE = "<answer>", "</answer>"


def answer_blocks(text: str) -> list[str]:
    """The contents of every closed <answer> block after any </think>, in order (linear)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    blocks, pos = [], 0
    while (end := text.find(CLOSE, pos)) >= 0:
        start = text.rfind(OPEN, pos, end)
        if start >= 0:
            blocks.append(text[start + len(OPEN) : end].strip())
        pos = end + len(CLOSE)
    return blocks


def extract_answer(text: str) -> str | None:
    """The last closed <answer> block's content, or None (linear in the text's length)."""
    blocks = answer_blocks(text)
    return blocks[-1] if blocks else None


def answer_conflict(text: str) -> str:
    """Why the reply's <answer> blocks disagree ("" when there is at most one answer)."""
    distinct = {" ".join(_clean(b).lower().split()) for b in answer_blocks(text)}
    return f"the reply gives {len(distinct)} different <answer> blocks; give one" if len(distinct) > 1 else ""


def ascii_minus(text: str) -> str:
    """The text with unicode dashes used as a minus before a digit (``−91.33``) written ``-``."""
    return _DASH_MINUS.sub("-", text)


def hedge_word(text: str) -> str:
    """The first hedging, negating or doubting word or mark in ``text`` ("" if none)."""
    found = _HEDGES.search(text)
    return found.group(0) if found else ""


def _clean(text: str) -> str:
    """NFKC, without invisible format characters, unicode dashes before digits as minus."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return _SIGN_BEFORE_CURRENCY.sub(r"\1-", _DASH_MINUS.sub("-", text))


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
    """The number an item states: the number plus at most a currency sign and unit words."""
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return float(item)
    if not isinstance(item, str):
        return None
    text = item.strip().replace(",", "")
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1:
        return None
    rest = _NUMBER.sub(" ", text, count=1)
    for ch in _CURRENCY + _PUNCTUATION:
        rest = rest.replace(ch, " ")
    if any(word.lower() not in UNITS for word in rest.split()):  # "42 km" yes; "42 for Ann" no
        return None
    return float(numbers[0])


def _normal(text: str) -> str:
    return " ".join(str(text).lower().strip(" .,!\"'").split())


def _close(a: float, b: float) -> bool:
    """Equal at the data's precision: the expected values are exact (money to the cent), so only
    float rounding is forgiven; a cent off, or a third decimal that differs, is wrong."""
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def item_matches(item: Any, expected: Any) -> bool:
    if _is_number(expected):
        number = _number_of(item)
        return number is not None and _close(number, expected)
    return isinstance(item, (str, int, float)) and _normal(_clean(str(item))) == _normal(
        _clean(str(expected))
    )


def _numbers_in(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in _SENTENCE_NUMBER.findall(text)]


def _says(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case and spacing."""
    words = _normal(phrase)
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", _normal(text)) is not None


def _without_texts(body: str, expected: list[Any]) -> str:
    for value in expected:
        if not _is_number(value) and str(value).strip():
            body = re.sub(re.escape(_clean(str(value)).strip()), " ", body, flags=re.IGNORECASE)
    return body


def _refused_wording(body: str, expected: list[Any], question: str = "") -> str:
    """Why the answer's wording is refused ("" if it is not); the expected texts do not count."""
    rest = _without_texts(body, expected)
    if "%" in rest and "%" not in question and not re.search(r"\bpercent", question, re.IGNORECASE):
        return "the answer states a percentage the question does not ask for"
    for pattern, why in ((_HEDGES, "hedges or negates"), (_NUMBER_WORDS, "writes a number in words")):
        found = pattern.search(rest)
        if found:
            return f"the answer {why} ({found.group(0)!r})"
    roman = next(
        (t for t in _ROMAN_TOKEN.findall(_IDENTIFIER.sub(" ", rest)) if t != "I" and _ROMAN.fullmatch(t)),
        None,
    )
    if roman is not None:
        return f"the answer writes a Roman numeral ({roman!r})"
    odd = next((ch for ch in rest if ch.isnumeric() and not ch.isascii()), None)
    if odd is not None:
        return f"the answer writes a number in other numerals ({odd!r}); use digits"
    if all(_is_number(v) for v in expected):
        letter = next((ch for ch in rest if not ch.isascii() and unicodedata.category(ch)[0] == "L"), None)
        if letter is not None:
            return f"the answer has a non-ASCII letter ({letter!r}) in a numeric answer"
    return ""


def stray_numeric_wording(body: str, *, question: str = "", marks: frozenset[str] = _NUMERIC_MARKS) -> str:
    """Why the wording around the numbers of ``body`` is refused ("" if it is not): every word
    must be a unit, a currency code, a word of the question or a neutral filler word
    (``NUMERIC_FILLER``), and every other mark one of ``marks`` (an allow-list); brackets only
    around words (``Ann Lee (Ann)``), never around a number (``(94.68)`` is an accounting minus)."""
    rest = _SENTENCE_NUMBER.sub(" ", _WORDS_IN_BRACKETS.sub(r" \1 ", body))
    allowed = {w.lower() for w in _WORD.findall(question)} | NUMERIC_FILLER | UNITS
    word = next((w for w in _WORD.findall(rest) if w.lower() not in allowed), None)
    if word is not None:
        return f"the answer says {word!r}: state only the value(s), with units or the question's words"
    mark = next((ch for ch in _WORD.sub(" ", rest) if not ch.isdigit() and ch not in marks), None)
    return f"the answer has the mark {mark!r} around the value(s)" if mark is not None else ""


def _without_labels(body: str) -> str:
    """A JSON object's one-letter keys (``{"a": "Oslo", "b": 3}``) removed: labels, not wording."""
    return re.sub(r'"[A-Za-z]\d*"\s*:', " ", body) if body.lstrip().startswith("{") else body


def _name_words(others: Iterable[str]) -> list[str]:
    """The capitalised words of the world's names (first names, last names, cities)."""
    return [w for o in others for w in _WORD.findall(o) if len(w) >= 3 and w[0].isupper()]


def stray_names(body: str, expected: list[Any], *, question: str = "", others: Iterable[str] = ()) -> str:
    """Why ``body`` names an ID or an entity of ``others`` (in full or by one capitalised name
    word) that neither the question nor the expected values name ("" if it names none); read in
    every reading, JSON keys included (``{"Drulis": 12}``)."""
    others = list(others)
    context = " ".join([question, *map(str, expected)])
    candidates = _IDENTIFIER.findall(body) + others + _name_words(others)
    named = next((o for o in candidates if o and _says(body, o) and not _says(context, o)), None)
    return f"the answer names {named!r}, which is neither asked about nor expected" if named else ""


def sentence_states(body: str, expected: list[Any], *, question: str = "", others: Iterable[str] = ()) -> str:
    """Why the sentence ``body`` does not state exactly the expected values ("" if it does)."""
    stray = stray_names(body, expected, question=question, others=others)
    if stray:
        return stray
    numbers = _numbers_in(_IDENTIFIER.sub(" ", body))
    for value in expected:
        if _is_number(value) and not any(_close(n, value) for n in numbers):
            return f"answer does not state {value!r}"
        if not _is_number(value) and not _says(body, str(value)):
            return f"answer does not state {value!r}"
    allowed = [v for v in expected if _is_number(v)] + _numbers_in(_IDENTIFIER.sub(" ", question))
    extra = next((n for n in numbers if not any(_close(n, a) for a in allowed)), None)
    if extra is not None:
        return f"the answer states another number ({extra:g}) besides the expected values"
    if any(not _is_number(v) for v in expected):
        allowed_words = {w.lower() for w in _WORD.findall(_clean(question))} | FILLER | UNITS
        word = next(
            (w for w in _WORD.findall(_without_texts(body, expected)) if w.lower() not in allowed_words), None
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
    raw = extract_answer(text)
    if raw is None:
        return False, "no <answer></answer>"
    if len(raw) > MAX_ANSWER_CHARS:
        return False, f"answer longer than {MAX_ANSWER_CHARS} characters"
    conflict = answer_conflict(text)
    if conflict:
        return False, conflict
    body = _clean(raw)
    refused = _refused_wording(body, expected, _clean(question)) or stray_names(
        body, expected, question=_clean(question), others=others
    )
    if not refused and any(_is_number(v) for v in expected):
        refused = stray_numeric_wording(
            _without_texts(_without_labels(body), expected), question=_clean(question)
        )
    if refused:
        return False, refused
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
    sentence_why = sentence_states(body, expected, question=_clean(question), others=others)
    return (True, "answer correct") if not sentence_why else (False, sentence_why)
