"""Units after a final answer, and whether they contradict the question (``math_equivalence``).

``12 m``, ``12 meters`` and ``12\\,\\text{m}`` answer "How long is the rope in meters?";
``12 cm``, ``12 feet``, ``12 m^2`` and ``12 m/s`` do not, whatever the number. The rule:

- a unit the question asks for (``in meters``, ``in square feet``, ``how many hours``,
  ``what percent``) or the reference's own unit is the only known unit the answer may carry;
- when the question asks for none but mentions some after a number (``a 3 m by 4 m room``,
  ``\\$50``, ``20\\%``), the answer's unit must measure what they measure (``12 m^2`` and
  ``1200 cm^2`` yes, ``12 kg`` or ``12 s`` no; angles are always allowed): the question did
  not say which unit of a length it wants, so ``90 minutes`` and ``1.5 hours`` both stand and
  the number decides;
- when neither the question nor the reference names a unit, a unit is dropped as before;
- generic words (``units``, ``square units``) never contradict anything;
- words that are no known unit (``12 apples``) are left to the question-noun rule of
  ``math_normalize``.

A unit is a tuple of (base, power) pairs: ``m/s`` is (("m", 1), ("s", -1)), ``square feet``
(("ft", 2),). ``%``, ``percent`` and ``\\$`` are units here too (``40\\%`` does not answer
"in dollars").
"""

from __future__ import annotations

import re

Unit = tuple[tuple[str, int], ...]

_BASES = {
    "m": "m meter metre",
    "cm": "cm centimeter centimetre",
    "mm": "mm millimeter millimetre",
    "km": "km kilometer kilometre",
    "nm": "nm nanometer nanometre",
    "um": "um micrometer micrometre micron",
    "in": "in inch",
    "ft": "ft foot feet",
    "yd": "yd yard",
    "mi": "mi mile",
    "g": "g gram gramme",
    "mg": "mg milligram",
    "kg": "kg kilogram kilo",
    "lb": "lb pound",
    "oz": "oz ounce",
    "ton": "ton tonne",
    "s": "s sec second",
    "ms": "ms millisecond",
    "min": "min minute",
    "h": "h hr hour",
    "day": "day",
    "week": "week wk",
    "month": "month",
    "year": "year yr",
    "l": "l liter litre",
    "ml": "ml milliliter millilitre",
    "gal": "gal gallon",
    "qt": "qt quart",
    "pt": "pint",
    "cup": "cup",
    "cc": "cc",
    "dollar": "dollar usd buck",
    "cent": "cent",
    "euro": "euro eur",
    "rupee": "rupee",
    "yen": "yen",
    "deg": "deg degree",
    "rad": "rad radian",
    "celsius": "celsius",
    "fahrenheit": "fahrenheit",
    "kelvin": "kelvin",
    "byte": "byte",
    "kb": "kb kilobyte",
    "mb": "mb megabyte",
    "gb": "gb gigabyte",
    "bit": "bit",
    "percent": "percent",
}
_BASE_OF = {word: base for base, words in _BASES.items() for word in words.split()}
_DIMENSIONS = {
    "length": "m cm mm km nm um in ft yd mi",
    "mass": "g mg kg lb oz ton",
    "time": "s ms min h day week month year",
    "volume": "l ml gal qt pt cup cc",
    "money": "dollar cent euro rupee yen",
    "temperature": "celsius fahrenheit kelvin",
    "data": "byte kb mb gb bit",
    "percent": "percent",
    "angle": "deg rad",
}
_DIMENSION_OF = {base: dimension for dimension, bases in _DIMENSIONS.items() for base in bases.split()}
_COMPOUNDS = {"mph": (("h", -1), ("mi", 1)), "kph": (("h", -1), ("km", 1)), "kmh": (("h", -1), ("km", 1))}
_GENERIC = {"unit", "units", "item", "items", "piece", "pieces"}
_POWER_WORDS = {"square": 2, "sq": 2, "cubic": 3, "cu": 3}


def _base(word: str) -> str | None:
    w = word.lower()
    for form in (w, w.removesuffix("s"), w.removesuffix("es")):
        if form in _BASE_OF:
            return _BASE_OF[form]
    return None


def _single(token: str) -> Unit | None:
    """One word such as ``m``, ``meters``, ``m^2``, ``km/h``, ``mph`` as a unit."""
    word, _, power = token.partition("^")
    power_value = int(power.strip("{}")) if power else 1
    if "/" in word:
        top, bottom = word.split("/")
        a, b = _single(top), _single(bottom)
        return _combine([(a, power_value), (b, -power_value)]) if a and b else None
    if word.lower() in _COMPOUNDS:
        return _combine([(_COMPOUNDS[word.lower()], power_value)])
    base = _base(word)
    return ((base, power_value),) if base else None


def _combine(parts: list[tuple[Unit, int]]) -> Unit:
    powers: dict[str, int] = {}
    for unit, times in parts:
        for base, power in unit:
            powers[base] = powers.get(base, 0) + power * times
    return tuple(sorted((b, p) for b, p in powers.items() if p))


def parse_unit(words: str) -> Unit | None:
    """The unit spelled by ``words`` (``square meters``, ``km per hour``, ``m^2``), or None when
    any word is no unit (``apples``, ``dozen``). Generic ``units`` give the empty unit ()."""
    tokens = words.replace("per cent", "percent").split()
    if not tokens:
        return None
    if all(t.split("^")[0].lower() in _GENERIC | set(_POWER_WORDS) for t in tokens):
        return () if any(t.split("^")[0].lower() in _GENERIC for t in tokens) else None
    parts: list[tuple[Unit, int]] = []
    power, divide = 1, False
    for token in tokens:
        lower = token.lower()
        if lower in _POWER_WORDS:
            power = _POWER_WORDS[lower]
            continue
        if lower == "per":
            divide = True
            continue
        unit = _single(token)
        if unit is None:
            return None
        parts.append((unit, -power if divide else power))
        power = 1
    return _combine(parts) if parts else None


def _plain_question(question: str) -> str:
    """The question's words with LaTeX wrappers, ``\\$`` and ``%`` spelled out."""
    q = (
        question.replace("\\$", " dollar ")
        .replace("$", " ")
        .replace("\\%", " percent ")
        .replace("%", " percent ")
    )
    q = re.sub(r"\\(?:text|mathrm|mbox|textrm|operatorname)\s*\{([^{}]*)\}", r" \1", q)
    q = q.replace("\\,", " ").replace("\\ ", " ").replace("per cent", "percent")
    q = q.replace("²", "^2").replace("³", "^3")
    return re.sub(r"(\d)([A-Za-z])", r"\1 \2", q)


_ASKED = re.compile(
    r"(?:\bin|\bhow\s+many|\bwhat|\bas\s+an?)\s+((?:(?:square|sq|cubic|cu)\s+)?"
    r"[A-Za-z]+(?:/[A-Za-z]+)?(?:\^\{?[23]\}?)?(?:\s+per\s+[A-Za-z]+)?)",
    re.IGNORECASE,
)
_NUMBER_THEN_WORD = re.compile(
    r"(\d)\s*((?:(?:square|sq|cubic|cu)\s+)?[A-Za-z]+(?:/[A-Za-z]+)?(?:\^\{?[23]\}?)?(?:\s+per\s+[A-Za-z]+)?)"
)


def question_units(question: str) -> tuple[set[Unit], set[Unit]]:
    """(units the question asks for, units it mentions anywhere)."""
    q = _plain_question(question)
    asked = set()
    for m in _ASKED.finditer(q):
        phrase = m.group(1)
        if phrase.lower() == "percentage":
            phrase = "percent"
        # "how many hours per day": 12 hours/day or 12 hours
        for unit in (parse_unit(phrase), parse_unit(phrase.split(" per ")[0]) if " per " in phrase else None):
            if unit:
                asked.add(unit)
    mentioned = set(asked)
    mentioned |= {(("dollar", 1),)} if "\\$" in question else set()
    mentioned |= {(("percent", 1),)} if "%" in question else set()
    for m in _NUMBER_THEN_WORD.finditer(q):
        if m.group(2).split()[0].lower() == "in":  # "3 in a row", "5 in each box": no inches
            continue
        unit = parse_unit(m.group(2)) or _single(m.group(2).split()[0])
        if unit:
            mentioned.add(unit)
    return asked, mentioned


_PERCENT = re.compile(r"(\S?)\s*percent(?:age)?", re.IGNORECASE)


def asks_percent(question: str) -> bool:
    """Whether the question is about a percentage ("What percent of 200 is 18?", "the percent
    increase", "as a percentage"), not merely given one ("What is 20% of 40?")."""
    return any(not m.group(1).isdigit() for m in _PERCENT.finditer(_plain_question(question)))


def unit_conflict(answer_unit: Unit | None, reference_unit: Unit | None, question: str) -> str:
    """Why the answer's unit contradicts the question or the reference ("" when it does not)."""
    if not answer_unit:  # no unit, or a generic one
        return ""
    asked, mentioned = question_units(question) if question else (set(), set())
    allowed = set(asked) | ({reference_unit} if reference_unit else set())
    if allowed:
        if answer_unit in allowed:
            return ""
        return f"the answer is in {show_unit(answer_unit)}, the question asks for {show_unit(min(allowed))}"
    if mentioned:
        dimensions = {_DIMENSION_OF[base] for unit in mentioned for base, _ in unit} | {"angle"}
        stray = [base for base, _ in answer_unit if _DIMENSION_OF[base] not in dimensions]
        if stray:
            return (
                f"the answer is in {show_unit(answer_unit)}, but the question measures no "
                f"{_DIMENSION_OF[stray[0]]}"
            )
    return ""


def show_unit(unit: Unit) -> str:
    """``m``, ``m^2``, ``km/h``."""
    top = " ".join(base if power == 1 else f"{base}^{power}" for base, power in unit if power > 0)
    bottom = "".join(f"/{base}" if power == -1 else f"/{base}^{-power}" for base, power in unit if power < 0)
    return (top or "1") + bottom
