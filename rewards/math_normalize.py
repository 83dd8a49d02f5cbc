"""How a final answer is spelled, normalised before it is compared (``math_equivalence``).

The spelling rules: spacing and colour commands, unicode symbols, ``\\text{}`` wrappers,
thousands separators (``1,000``, ``1{,}000``, ``1\\ 000``), short ``\\frac12``/``\\sqrt2``,
``^\\circ``, empty sets, ``x = 3`` / ``3 = x`` / ``f(x) = ...`` / ``x \\in ...``, ``\\pm``, unions of
sets, font commands (``\\bf``, ``\\underline{}``), ``percent`` for ``%``, one-element sets
(``\\{3\\}`` is 3), mixed numbers (``1\\frac12`` is 3/2), intervals as inequalities or in French
brackets, and trailing words: dropped only when they are units (after a number or a fraction) or
plain nouns of the question (``12 apples``), never when they change the value (``5 trillion``).
Whether a unit contradicts the question is ``math_units``' call (``answer_unit`` reads it).
"""

from __future__ import annotations

import re
from fractions import Fraction

from rewards.math_units import Unit, parse_unit

_SPACING = ("\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\displaystyle", "\\left", "\\right", "~")
_UNICODE = {"−": "-", "∞": "\\infty", "π": "\\pi", "×": "\\times", "·": "\\cdot", "÷": "\\div", "√": "\\sqrt"}
_UNICODE.update({"²": "^2", "³": "^3", "≤": "\\le ", "≥": "\\ge "})
_INFINITY_WORDS = {
    "inf": "\\infty",
    "infinity": "\\infty",
    "+inf": "\\infty",
    "+infinity": "\\infty",
    "-inf": "-\\infty",
    "-infinity": "-\\infty",
    "oo": "\\infty",
    "-oo": "-\\infty",
}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_SHORT = re.compile(r"\\frac\s*(\d)\s*\{")
_FRAC_HALF_SHORT2 = re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)")
_SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
_TEXT = re.compile(
    r"\\(?:text|textbf|textrm|textit|textsf|texttt|textnormal|textup|mathrm|mathbf|mathit|mathsf|mathtt"
    r"|boldsymbol|bm|underline|emph|operatorname|mbox|hbox)\s*\{([^{}]*)\}"
)
_FONT_SWITCH = re.compile(r"\\(?:bf|rm|it|sf|tt|bfseries|boldmath)(?![A-Za-z])\s*")  # "\\bf 3"
_EMPTY_SCRIPT = re.compile(r"[_^]\{\s*\}")  # "3^{}", "3_{}"
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:percent|per\s+cent)$", re.IGNORECASE)
_MIXED = re.compile(r"^([+-]?)(\d+)(?:\s*\\frac\{(\d+)\}\{(\d+)\}|\s+(\d+)/(\d+))$")
_TRAILING_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d+)?|\.\d+|\\frac\{\d+\}\{\d+\})$")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?")
# "5 cm", "12 apples", "3.5 m/s", "20 square feet": a number and at most four words after it.
_TRAILING_WORDS = re.compile(
    r"^([+-]?(?:\d+(?:\.\d+)?|\.\d+|\\frac\{\d+\}\{\d+\}))\s*((?:[A-Za-z]+|[A-Za-z]/[A-Za-z])[A-Za-z/]*(?:\^\{?[23]\}?)?"
    r"(?:\s+[A-Za-z]+(?:\^\{?[23]\}?)?){0,3})\.?$"
)
# Words after a number that leave its value alone: units, and the plain nouns of the question
# ("12 apples" when the question counts apples). Anything else ("5 trillion", "5 factorial",
# "5 maybe") stays in the answer and fails to parse as the reference.
_UNITS = set(
    """m cm mm km nm um meter metre centimeter centimetre millimeter millimetre kilometer kilometre
    in inch inches ft foot feet yd yard mile mi g mg kg gram kilogram milligram lb lbs pound ounce oz
    ton tonne s sec second ms min minute h hr hour day week month year yr l ml liter litre milliliter
    millilitre gallon quart pint cup cc dollar cent euro rupee yen usd eur square sq cubic unit deg degree
    rad radian mph kph kmh m/s km/h ft/s mi/h celsius fahrenheit kelvin byte kb mb gb bit item piece
    person people student""".split()
)
# Words that change the value of the number before them; never dropped, even when the question uses them.
_MEANINGFUL_WORDS = set(
    """or and not no nor to plus minus times over than but except more less least most
    approximately approx about around roughly nearly almost under above below between maybe perhaps probably
    wrong incorrect false true pi percent squared cubed root factorial reciprocal inverse negative
    positive opposite power powers thousand thousands million millions billion billions trillion trillions
    quadrillion lakh lakhs crore crores dozen dozens score gross hundred hundreds ten tens tenth tenths
    hundredth hundredths thousandth thousandths millionth millionths billionth billionths half halves third
    thirds quarter quarters fourth fourths fifth fifths double triple twice thrice infinity inf undefined nan
    log ln exp sqrt sin cos tan mod modulo i e k""".split()
)
_WORD = re.compile(r"[A-Za-z]+")
_SCIENTIFIC = re.compile(
    r"^([+-]?\d+(?:\.\d+)?)\s*(?:\\times|\\cdot|\*)\s*10\s*\^\s*(?:\{\s*([+-]?\d+)\s*\}|([+-]?\d))$"
)
_SPACED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}( \d{3})+(\.\d+)?$")
_COLOR = re.compile(r"\\(?:color|textcolor)\s*\{[^{}]*\}")
_EMPTY_SETS = ("\\varnothing", "\\emptyset", "\\{\\}", "\\{ \\}", "∅", "{}")
_FUNCTION_OF = re.compile(r"^[a-zA-Z]\s*\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])*\s*\)\s*=(?!=)")
_VALUE_EQUALS_NAME = re.compile(r"^([^=<>]+?)\s*=\s*[a-zA-Z]$")
_MEMBER_OF = re.compile(r"^[a-zA-Z]\s*\\in\s*")
_REALS_MINUS_POINT = re.compile(r"^\\mathbb\{R\}\s*\\setminus\s*\\\{([^{},]+)\\\}$")


def _question_nouns(question: str) -> frozenset[str]:
    """Plain words of the question that may follow a number in the answer ("12 apples")."""
    return frozenset(
        w.lower() for w in _WORD.findall(question) if len(w) > 2 and w.lower() not in _MEANINGFUL_WORDS
    )  # not "x" of "solve for x"


def _keeps_value(word: str, nouns: frozenset[str]) -> bool:
    """Whether a word after a number is a unit or a noun of the question (singular or plural)."""
    w = word.split("^")[0].lower()
    if w in _MEANINGFUL_WORDS or w.rstrip("s") in _MEANINGFUL_WORDS:
        return False
    forms = {w, w.removesuffix("s"), w.removesuffix("es")}
    return bool(forms & (_UNITS | nouns))


def _merge_set_union(s: str) -> str:
    """``\\{1\\}\\cup\\{2\\}`` is the set ``\\{1, 2\\}`` (unions of intervals stay as they are)."""
    pieces = [p.strip() for p in s.split("\\cup")]
    if len(pieces) < 2 or not all(p.startswith("\\{") and closes_at_end(p, "\\{") == "\\}" for p in pieces):
        return s
    return "\\{" + ", ".join(p[2:-2].strip() for p in pieces if p[2:-2].strip()) + "\\}"


def _plus_minus(s: str) -> str:
    """``\\pm 1`` is the set ``\\{-1, 1\\}``; ``2 \\pm \\sqrt{3}`` is ``\\{2-\\sqrt{3}, 2+\\sqrt{3}\\}``."""
    if s.count("\\pm") != 1 or "," in s:
        return s
    left, right = (part.strip() for part in s.split("\\pm"))
    if not right or left.count("{") != left.count("}") or right.count("{") != right.count("}"):
        return s
    right = (
        right if re.fullmatch(r"[\w.]+|\\sqrt\{[^{}]*\}|\\frac\{[^{}]*\}\{[^{}]*\}", right) else f"({right})"
    )
    return f"\\{{{left}-{right}, {left}+{right}\\}}"


def _mixed_number(s: str) -> str:
    """A whole number followed by a proper fraction is a mixed number, as in school:
    ``1\\frac{1}{2}`` and ``1 1/2`` are 3/2 (never the product 1 * 1/2); ``-2\\frac14`` is -9/4."""
    m = _MIXED.match(s)
    if not m:
        return s
    top, bottom = int(m.group(3) or m.group(5)), int(m.group(4) or m.group(6))
    if not 0 < top < bottom:
        return s
    value = int(m.group(2)) + Fraction(top, bottom)
    return f"{m.group(1).replace('+', '')}\\frac{{{value.numerator}}}{{{value.denominator}}}"


_LESS = {"<": ")", "\\lt": ")", "\\le": "]", "\\leq": "]", "\\leqslant": "]", "<=": "]"}
_GREATER = {">": "(", "\\gt": "(", "\\ge": "[", "\\geq": "[", "\\geqslant": "[", ">=": "["}
_RELATION = r"(<=|>=|<|>|\\l(?:t|eq?(?:slant)?)(?![A-Za-z])|\\g(?:t|eq?(?:slant)?)(?![A-Za-z]))"
_ONE_SIDED = re.compile(rf"^([a-zA-Z])\s*{_RELATION}\s*([^<>=\\]*[^<>=\s][^<>=]*)$")
_TWO_SIDED = re.compile(rf"^([^<>=]+?)\s*{_RELATION}\s*[a-zA-Z]\s*{_RELATION}\s*([^<>=]+)$")
_FRENCH = re.compile(r"^([\]\[])([^\[\]]*,[^\[\]]*)([\]\[])$")


def _interval(s: str) -> str:
    """Intervals written as inequalities or in French notation, in interval notation:
    ``x \\le 2`` is ``(-\\infty, 2]``, ``0 < x \\le 1`` is ``(0, 1]``, ``]0, 1]`` is ``(0, 1]``."""
    m = _FRENCH.match(s)
    if m and (m.group(1) == "]" or m.group(3) == "["):
        return ("(" if m.group(1) == "]" else "[") + m.group(2) + (")" if m.group(3) == "[" else "]")
    m = _TWO_SIDED.match(s)
    if m and m.group(2) in _LESS and m.group(3) in _LESS:
        return f"{_GREATER[_flip(m.group(2))]}{m.group(1).strip()}, {m.group(4).strip()}{_LESS[m.group(3)]}"
    m = _ONE_SIDED.match(s)
    if m:
        relation, bound = m.group(2), m.group(3).strip()
        if relation in _LESS:
            return f"(-\\infty, {bound}{_LESS[relation]}"
        return f"{_GREATER[relation]}{bound}, \\infty)"
    return s


def _flip(relation: str) -> str:
    """``<`` read from the other side is ``>``."""
    return {"<": ">", "<=": ">="}.get(relation, relation.replace("\\l", "\\g"))


def normalize(answer: str, question: str = "") -> str:
    """Canonical spelling of an answer: LaTeX spacing, wrappers, synonyms and units removed.

    A trailing word is removed only when it is a unit or a plain noun of ``question``."""
    s = _spell(answer)
    m = _TRAILING_WORDS.match(s)
    if m and (len(m.group(2).split()[0]) > 1 or s[len(m.group(1))] == " "):
        words = m.group(2)
        if parse_unit(words) is not None or all(
            _keeps_value(word, _question_nouns(question)) for word in words.split()
        ):
            s = m.group(1)
    return s


def answer_unit(answer: str) -> Unit | None:
    """The known unit written after the answer's number (``12 cm``, ``\\frac12\\,\\text{m}^2``,
    ``40\\%``, ``\\$40``), () for generic ``units``, None when there is none."""
    s = _spell(answer)
    if s.endswith("%"):
        return (("percent", 1),)
    if "\\$" in answer:
        return (("dollar", 1),)
    if "\\circ" in answer and _TRAILING_NUMBER.match(s):
        return (("deg", 1),)
    m = _TRAILING_WORDS.match(s)
    if m and (len(m.group(2).split()[0]) > 1 or s[len(m.group(1))] == " "):
        return parse_unit(m.group(2))
    return None


def _spell(answer: str) -> str:
    """Every spelling rule except dropping the trailing words."""
    s = answer.strip().strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2].strip()
    for char, latex in _UNICODE.items():
        s = s.replace(char, latex)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    for token in _SPACING:
        s = s.replace(token, "")
    s = s.replace("\\%", "%").replace("\\$", "").replace("\\ ", " ").replace("{,}", ",")
    s = _EMPTY_SCRIPT.sub("", _FONT_SWITCH.sub("", _COLOR.sub("", s)))
    if s.startswith("{") and closes_at_end(s, "{") == "}" and "," not in s:  # "\\color{red}{5}" left {5}
        s = s[1:-1].strip()
    s = _TEXT.sub(lambda m: (" " if m.start() and s[m.start() - 1].isdigit() else "") + m.group(1), s)
    s = _DEGREES.sub("", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT.sub(r"\\frac{\1}{", s)
    s = _FRAC_HALF_SHORT2.sub(r"\\frac\1{\2}", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    if _FUNCTION_OF.match(s) and s.count("=") == 1:  # "f(x) = x^2" answers x^2
        s = s.split("=", 1)[1]
    if re.match(r"^[a-zA-Z]\s*=", s) and s.count("=") == 1:  # "x = 3" answers the value 3
        s = s.split("=", 1)[1]
    m = _VALUE_EQUALS_NAME.match(s)
    if m and s.count("=") == 1:  # "3 = x"
        s = m.group(1)
    s = _MEMBER_OF.sub("", s)  # "x \\in [0, \\infty)"
    s = " ".join(s.rstrip(".").split())
    if s in _EMPTY_SETS:
        return "\\emptyset"
    m = _REALS_MINUS_POINT.match(s)
    if m:  # "\\mathbb{R} \\setminus \\{0\\}"
        s = f"(-\\infty, {m.group(1)}) \\cup ({m.group(1)}, \\infty)"
    if s == "\\mathbb{R}":
        s = "(-\\infty, \\infty)"
    s = _plus_minus(_merge_set_union(s))
    if s.startswith("\\{") and closes_at_end(s, "\\{") == "\\}" and "," not in s:
        s = s[2:-2].strip()  # a solution set of one value is that value: "\\{3\\}", "x \\in \\{3\\}"
    m = _SCIENTIFIC.match(s)
    if m:  # "5\\times 10^{3}" is the plain number 5e3
        s = f"{m.group(1)}e{m.group(2) or m.group(3)}"
    if _SPACED_THOUSANDS.match(s):  # "1\\ 000"
        s = s.replace(" ", "")
    s = _INFINITY_WORDS.get(s.lower(), s)
    if s.startswith("+") and not s.startswith("+-"):
        s = s[1:].lstrip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = _PERCENT_WORD.sub("%", s)  # "20 percent", "20\\text{ percent}"
    return _mixed_number(_interval(s))


def closes_at_end(s: str, opener: str) -> str | None:
    """The closing bracket when the bracket opening s is closed by its last character(s)
    (``(1,2]`` yes, ``(1)+(2)`` and ``\\{1\\}+e^{2}`` no); None otherwise."""
    depth, i = 0, 0
    while i < len(s):
        token = s[i : i + 2] if s[i] == "\\" and s[i + 1 : i + 2] in ("{", "}") else s[i]
        if token in ("(", "[", "{", "\\{"):
            depth += 1
        elif token in (")", "]", "}", "\\}"):
            depth -= 1
            if depth == 0:
                return token if i + len(token) == len(s) else None
        i += len(token)
    return None
