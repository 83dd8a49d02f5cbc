"""Whether a tool call was useful to a final answer: pure checks on the text of the call's
code and output (ToolReasoning-v0 pays its tool bonus only for a useful call).

A call is useful when its output states the answer (exactly, or to the answer's decimals)
among few values, and its code did not already contain the answer: a program that prints
the answer it was handed, or sprays hundreds of numbers hoping one is right, is not useful.
Numbers are found with a linear-time pattern, so any output is safe to scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from rewards.tool_answers import hedge_word, stray_numeric_wording
from rewards.tool_calls import CLOSE, OPEN

MAX_OUTPUT_VALUES = 16  # an output stating more numbers than this is a spray, not a result
MIN_ECHO_DIGITS = 3  # shorter answers appear in honest code too (range(3), x ** 2)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# a tool result the model writes itself: any spelling of the tag (case, spaces, a closing or
# self-closing tag, tool_output/tool_result, HTML-escaped); the model's own text never needs one
INVENTED_RESULT = re.compile(
    r"(?:<|&lt;|&#0*60;|&#x0*3c;)\s*/?\s*tool[\s_-]*(?:response|output|result)s?(?![a-z])",
    flags=re.IGNORECASE,
)


def as_decimal(text: str) -> Decimal | None:
    """A plain written-out number (``1,234``, ``-0.25``, ``1e6``) as a Decimal, else None."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned or len(cleaned) > 400 or not _NUMBER.fullmatch(cleaned):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def numbers_in(text: str, limit: int = 10_000) -> list[str]:
    """The numbers written in ``text``, in order (at most ``limit``)."""
    out = []
    for match in _NUMBER.finditer(text):
        out.append(match.group())
        if len(out) >= limit:
            break
    return out


def states_value(output: str, answer: str, max_values: int = MAX_OUTPUT_VALUES) -> bool:
    """Whether ``output`` states ``answer`` (a plain number): one of its at most ``max_values``
    numbers equals it, or rounds to it at the answer's number of decimals."""
    target = as_decimal(answer)
    if target is None:
        return False
    found = numbers_in(output, limit=max_values + 1)
    if len(found) > max_values:
        return False
    places = max(0, -target.as_tuple().exponent) if isinstance(target.as_tuple().exponent, int) else 0
    quantum = Decimal(1).scaleb(-places)
    for token in found:
        value = as_decimal(token)
        if value is None or abs(value.adjusted()) > 400:
            continue
        if value == target:
            return True
        if places and any(
            value.quantize(quantum, rounding=r) == target for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)
        ):
            return True
    return False


def code_contains(code: str, answer: str, min_digits: int = MIN_ECHO_DIGITS) -> bool:
    """Whether the program already holds the answer's digits as one literal (``print(12345)``,
    ``12_345``, ``0.7468``), ignoring ``_`` separators and the decimal point; answers with
    fewer than ``min_digits`` digits are not checked."""
    digits = "".join(ch for ch in answer if ch.isdigit()).lstrip("0")
    if len(digits) < min_digits:
        return False
    literals = re.findall(r"[\d.]+", code.replace("_", ""))
    return any(lit.replace(".", "").lstrip("0") == digits for lit in literals)


def useful_call(code: str, output: str, answer: str) -> bool:
    """A successful call's output gives the answer, and its code did not hold it already."""
    return states_value(output, answer) and not code_contains(code, answer)


def invented_result(text: str) -> str:
    """The first tag in the model's own text that looks like a tool result ("" if none)."""
    found = INVENTED_RESULT.search(text)
    return found.group(0) if found else ""


def after_box(text: str) -> str:
    """The text after the last ``\\boxed{...}`` (its braces balanced), or "" without one."""
    at = text.rfind("\\boxed")
    if at < 0:
        return ""
    depth, i = 0, text.find("{", at)
    while 0 <= i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            return text[i:]
    return ""


_MATH_DELIMITERS = re.compile(r"\\[\[\]()]|\$")  # \[ \] \( \) $ around the box
_BOX_MARKS = frozenset(" \t\n,.:;*#=")  # no ~ - < > ( ) ! ? \\ or emoji around the box


def _box_wording(text: str, question: str, where: str) -> str:
    """Why the words or marks of ``text`` (before or after the box) are refused ("" if not):
    an allow-list of the question's words and neutral filler, ``, . : ;``, math delimiters."""
    why = stray_numeric_wording(_MATH_DELIMITERS.sub(" ", text), question=question, marks=_BOX_MARKS)
    return f"the text {where} \\boxed{{}}: {why.removeprefix('the answer ')}" if why else ""


def _side_hedge(part: str, where: str, question: str, differs: Callable[[str], bool]) -> str:
    """Why the text on one side of the final ``\\boxed{}`` hedges, uses words or marks off the
    allow-list, or states a number ``differs`` calls another value ("" if none)."""
    word = hedge_word(part)
    if word:
        return f"the text {where} \\boxed{{}} hedges ({word!r})"
    why = _box_wording(part, question, where)
    if why:
        return why
    other = next((n for n in numbers_in(part, limit=100) if differs(n)), None)
    if other is not None:
        return f"the text {where} \\boxed{{}} states another value ({other[:40]!r})"
    return ""


def trailing_hedge(text: str, answer: str, question: str = "") -> str:
    """Why the text around the final ``\\boxed{}`` hedges or adds a value other than the boxed
    ``answer`` ("" if it does not): ``\\boxed{12} or maybe 13`` is two answers. Tool calls
    after it are not read (the env penalises a call it never ran on its own). The words there
    must be the question's or neutral filler and the marks ``, . : ;`` (an allow-list: ``~``,
    ``Negative``, ``At minimum``, ``is bogus`` are refused); numbers before the box must be
    the question's."""
    before = text[: max(0, text.rfind("\\boxed"))]
    stated = set(numbers_in(question, limit=1000))
    why = _side_hedge(before, "before", question, lambda n: n not in stated and n != answer)
    if why:
        return why
    text, pieces, pos = after_box(text), [], 0
    while (at := text.find(OPEN, pos)) >= 0:
        pieces.append(text[pos:at])
        end = text.find(CLOSE, at)
        pos = len(text) if end < 0 else end + len(CLOSE)
    boxed = as_decimal(answer)
    return _side_hedge(
        "".join(pieces) + text[pos:], "after", question, lambda n: boxed is None or as_decimal(n) != boxed
    )
