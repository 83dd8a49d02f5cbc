"""Mathematical equivalence of two final answers written in LaTeX or plain text.

``\\frac{1}{2}``, ``0.5``, ``\\tfrac12`` and ``1/2`` are the same answer; ``0.33`` and
``\\frac13`` are not. Decisions go, cheapest first: normalised string match, exact
rational arithmetic, then sympy (via latex2sympy2) on expressions that passed size guards.
The guards keep sympy away from inputs that blow up (huge powers, factorials, deep
nesting); callers that need a hard wall-clock bound run this in a worker with a timeout.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

MAX_ANSWER_CHARS = 400
MAX_BRACE_DEPTH = 16
MAX_EXPONENT = 512
MAX_NUMBER_DIGITS = 200

_SPACING = ("\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\displaystyle", "\\left", "\\right", "~")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_SHORT = re.compile(r"\\frac\s*(\d)\s*\{")
_FRAC_HALF_SHORT2 = re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?")
_BIG_POWER = re.compile(r"\^\s*\{?\s*[+-]?(\d+)")
_FACTORIAL = re.compile(r"(\d+)\s*!")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_PLAIN_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")


def normalize(answer: str) -> str:
    """Canonical spelling of an answer: LaTeX spacing, wrappers and synonyms removed."""
    s = answer.strip().strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2].strip()
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    for token in _SPACING:
        s = s.replace(token, "")
    s = s.replace("\\%", "%").replace("\\$", "").replace("\\ ", " ")
    s = _TEXT.sub(r"\1", s)
    s = _DEGREES.sub("", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT.sub(r"\\frac{\1}{", s)
    s = _FRAC_HALF_SHORT2.sub(r"\\frac\1{\2}", s)
    if re.match(r"^[a-zA-Z]\s*=", s) and s.count("=") == 1:  # "x = 3" answers the value 3
        s = s.split("=", 1)[1]
    s = s.rstrip(".").strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return " ".join(s.split())


def _as_fraction(s: str) -> Fraction | None:
    """Exact value of a plain decimal, integer, a/b or percentage; None otherwise."""
    percent = s.endswith("%")
    core = s[:-1].strip() if percent else s
    value: Fraction | None = None
    if _PLAIN_NUMBER.match(core) and len(core) <= MAX_NUMBER_DIGITS:
        if "e" in core.lower() and abs(int(core.lower().split("e")[1])) > MAX_EXPONENT:
            return None
        value = Fraction(core)
    else:
        m = _PLAIN_FRACTION.match(core)
        if m and int(m.group(2)) != 0 and len(core) <= MAX_NUMBER_DIGITS:
            value = Fraction(int(m.group(1)), int(m.group(2)))
    if value is not None and percent:
        value /= 100
    return value


def _split_top_level(s: str) -> list[str] | None:
    """Elements of a bracketed tuple, list or set such as (1, 2) or \\{a,b\\}; None if not one."""
    pairs = {"(": ")", "[": "]", "\\{": "\\}"}
    for opener, closer in pairs.items():
        if s.startswith(opener) and s.endswith(closer):
            inner = s[len(opener):len(s) - len(closer)]
            break
    else:
        return None
    parts, depth, current = [], 0, []
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts] if len(parts) > 1 else None


def _too_big(s: str) -> str:
    """Why sympy should not touch s (empty when it may)."""
    if len(s) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters"
    depth = deepest = 0
    for ch in s:
        depth += ch == "{"
        depth -= ch == "}"
        deepest = max(deepest, depth)
    if deepest > MAX_BRACE_DEPTH:
        return f"braces nested deeper than {MAX_BRACE_DEPTH}"
    if s.count("^") > 8:
        return "too many powers to evaluate safely"
    for m in _BIG_POWER.finditer(s):
        if len(m.group(1)) > 4 or int(m.group(1)) > MAX_EXPONENT:
            return f"exponent {m.group(1)[:12]} too large to evaluate"
    for m in _FACTORIAL.finditer(s):
        if len(m.group(1)) > 4 or int(m.group(1)) > 200:
            return "factorial too large to evaluate"
    if any(len(run) > MAX_NUMBER_DIGITS for run in re.findall(r"\d+", s)):
        return "number with too many digits"
    return ""


def _to_sympy(s: str):
    from latex2sympy2 import latex2sympy  # imported lazily: it loads an ANTLR parser

    if s.endswith("%"):
        s = f"({s[:-1]})/100"
    expr = latex2sympy(s)
    if isinstance(expr, list):  # latex2sympy returns sets such as \{1,2\} as lists
        raise ValueError("sets are compared element-wise")
    return expr


def _magnitude_problem(expr) -> str:
    """Why evaluating a parsed expression could blow up: a power tower or a huge factorial.

    Checks bottom-up, so every exponent is known to be small before it is evaluated."""
    import sympy

    for arg in expr.args:
        problem = _magnitude_problem(arg)
        if problem:
            return problem
    if isinstance(expr, sympy.Pow) and not expr.exp.free_symbols:
        exponent = abs(complex(sympy.N(expr.exp, 15)))
        if exponent > MAX_EXPONENT:
            return "exponent too large to evaluate"
    if isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.gamma)) and not expr.args[0].free_symbols:
        if abs(complex(sympy.N(expr.args[0], 15))) > 200:
            return "factorial too large to evaluate"
    return ""


def _sympy_equal(a, b) -> bool:
    import sympy

    diff = sympy.simplify(a - b)
    if diff == 0:
        return True
    symbols = sorted(diff.free_symbols, key=str)
    if not symbols:
        value = complex(sympy.N(diff, 30))
        return abs(value) <= 1e-9 * max(1.0, abs(complex(sympy.N(b, 30))))
    rng = random.Random(0)  # deterministic probe points
    for _ in range(5):
        point = {sym: sympy.Rational(rng.randint(1, 97), rng.randint(1, 13)) for sym in symbols}
        value = complex(sympy.N(diff.subs(point), 30))
        if abs(value) > 1e-9:
            return False
    return True


def math_equal(predicted: str, reference: str) -> tuple[bool, str]:
    """Whether the predicted answer equals the reference mathematically, with the reason."""
    pred, ref = normalize(predicted), normalize(reference)
    if not pred:
        return False, "empty answer"
    if pred == ref or pred.lower() == ref.lower():
        return True, "same answer"
    if pred.endswith("%") != ref.endswith("%"):  # "9%" answers "9" (the MATH convention) and "0.09"
        if math_equal(pred.removesuffix("%").strip(), ref.removesuffix("%").strip())[0]:
            return True, "same number, one side as a percentage"
    pred_parts, ref_parts = _split_top_level(pred), _split_top_level(ref)
    if pred_parts is not None or ref_parts is not None:
        if pred_parts is None or ref_parts is None or len(pred_parts) != len(ref_parts):
            return False, "different number of elements"
        if ref.startswith("\\{"):  # sets are unordered
            remaining = list(ref_parts)
            for part in pred_parts:
                match = next((r for r in remaining if math_equal(part, r)[0]), None)
                if match is None:
                    return False, f"set element {part!r} not in the reference"
                remaining.remove(match)
            return True, "same set"
        for i, (p, r) in enumerate(zip(pred_parts, ref_parts)):
            if not math_equal(p, r)[0]:
                return False, f"element {i + 1} differs"
        return True, "same elements"
    exact_pred, exact_ref = _as_fraction(pred), _as_fraction(ref)
    if exact_pred is not None and exact_ref is not None:
        return (exact_pred == exact_ref), ("equal numbers" if exact_pred == exact_ref else "different numbers")
    for s in (pred, ref):
        problem = _too_big(s)
        if problem:
            return False, problem
    try:
        a, b = _to_sympy(pred), _to_sympy(ref)
    except Exception as exc:  # the LaTeX parser raises bare Exceptions on malformed input
        return False, f"could not parse as math: {str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__}"
    try:
        problem = _magnitude_problem(a) or _magnitude_problem(b)
        if problem:
            return False, problem
        equal = _sympy_equal(a, b)
    except Exception as exc:  # sympy raises many types (TypeError, ZeroDivisionError, ...)
        return False, f"could not compare: {type(exc).__name__}"
    return equal, ("mathematically equivalent" if equal else "not equivalent")
