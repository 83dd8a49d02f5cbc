"""Mathematical equivalence of two final answers written in LaTeX or plain text.

``\\frac{1}{2}``, ``0.5``, ``\\tfrac12`` and ``1/2`` are the same answer; ``0.33`` and
``\\frac13`` are not. Decisions go, cheapest first: normalised string match, exact
rational arithmetic, then sympy (via latex2sympy2) on expressions that passed size guards.

What counts as equal:

- integers, fractions and decimals compare exactly (a decimal is the rational it spells:
  ``0.333`` is not ``\\frac13``, ``2^{40}`` off by one is wrong however large it is);
- an exact expression equals another when their difference evaluates to zero with no
  significant digit left (sympy's adaptive evaluation; ``e^{-500}`` is not zero);
- a decimal is the rational it spells, inside expressions too; a decimal against a value that
  is not rational (``1.4142135624`` for ``\\sqrt2``) is the only comparison with a tolerance:
  relative ``FLOAT_TOLERANCE`` to the reference's own magnitude, however small (``0.0`` is
  not ``e^{-30}``), and the reason says so. Against an exact rational reference (a number, or a
  rational function with rational coefficients) decimals compare exactly: ``2^{40.0000000001}``
  is not ``2^{40}``, ``1.0000000001x^2-1`` is not ``x^2-1``;
- undefined values (NaN, ``\\frac00``, ``\\infty - \\infty``, complex infinity) equal
  nothing; ``\\infty`` and ``-\\infty`` equal only themselves;
- expressions with variables are compared at ``N_TEST_POINTS`` rational points drawn from a
  generator seeded by the two expressions (deterministic, but no fixed list to plant a
  vanishing product against), of both signs, magnitudes 1/100 to 10^4 and denominators up to
  10^6 (so ``|x|`` and
  ``\\sqrt{x^2}`` are not ``x``), and at ``N_NICE_POINTS`` short numbers (integers, halves,
  tenths, 1/10^k); they must be defined and agree at most of them. Rational functions without
  decimals must moreover be identical after cancelling (exact); an answer with a step or
  piecewise function (floor, ceiling, fractional part, mod, sign, max, min, ...) that the
  reference has none of is not equivalent, whatever the points say (``x^2-1 + \\lceil x\\rceil
  - \\lfloor x\\rfloor - 1`` is wrong at every integer); the reason says which rule decided;
- tuples and intervals compare element-wise with the same brackets (``[1,2]`` is not
  ``(1,2)``); sets ``\\{...\\}`` and bare lists ``1, 2`` compare as multisets, unions of
  intervals piece by piece in any order; ``2 and 3`` lists the set ``\\{2, 3\\}`` (never a
  single value), ``\\pm 1`` is ``\\{-1, 1\\}``, ``\\{1\\}\\cup\\{2\\}`` is ``\\{1, 2\\}``;
- percentages have one reading per comparison: when the reference is written with ``%`` or
  the question asks for a percentage (``What percent...``, not ``What is 20% of 40?``),
  answers count in percent (``9%`` and ``9`` are the same answer); otherwise ``9%`` is the
  number 0.09;
- spelling is forgiven: ``\\sqrt2``, ``1{,}000``, ``1\\ 000``, ``5\\times 10^{3}``,
  ``+\\infty``, ``x = 3``, ``3 = x``, ``f(x) = x^2``, ``x \\in [0, 1]``, ``\\color{red}{5}``,
  ``\\varnothing``, ``^\\circ``, ``\\bf 3``, ``\\underline{3}``, ``20 percent`` (``20%``), a
  one-element set ``\\{3\\}`` for the value 3, mixed numbers (``1\\frac12`` and ``1 1/2`` are 3/2,
  never the product), inequalities and French brackets for intervals (``x \\le 2`` is
  ``(-\\infty, 2]``, ``]0, 1]`` is ``(0, 1]``), and a trailing word only when it is a unit
  (``5 cm``, ``\\frac12\\,\\mathrm{m}``) or a plain noun of the question (``12 apples``); words that
  change the value (``5 trillion``, ``5 factorial``, ``5 maybe``) are never dropped;
- a known unit must be the one the question asks for (``in meters``) or the reference's:
  ``12 cm``, ``12 m^2`` and ``12 m/s`` do not answer "How long is the rope in meters?", nor
  ``40 cents`` or ``40%`` "in dollars" (``rewards.math_units`` has the rule).

The guards keep sympy away from inputs that blow up (huge powers, factorials, deep
nesting); callers that need a hard wall-clock bound run this in a worker with a timeout.
latex2sympy2 keeps parser state in module globals that some inputs overwrite (``dx``,
``\\text{undefined}``); that state is restored before every parse, so a long-lived
worker gives every call the same verdict a fresh process would.
"""

from __future__ import annotations

import hashlib
import random
import re
from fractions import Fraction

from rewards.math_normalize import answer_unit, closes_at_end, normalize
from rewards.math_units import asks_percent, unit_conflict

MAX_ANSWER_CHARS = 400
MAX_BRACE_DEPTH = 16
MAX_EXPONENT = 512
MAX_NUMBER_DIGITS = 200
FLOAT_TOLERANCE = 1e-9  # relative; only when a side is a decimal and the other is not rational
DIGITS = 40
# Expressions with variables are compared at N_TEST_POINTS rational points drawn per comparison
# from a generator seeded by the two expressions: the same verdict every time, but no fixed list
# a policy could plant a vanishing product against. Both signs, magnitudes from 1/100 to 10^4.
N_TEST_POINTS = 20
# ... and at N_NICE_POINTS short numbers drawn the same way (integers, halves, tenths, 1/10^k), where
# a step function (floor, ceil, ...) shows what the random points, all off any grid, do not.
N_NICE_POINTS = 8
MAX_EXACT_DEGREE = 64  # rational functions with powers up to this are also compared exactly
_BIG_POWER = re.compile(r"\^\s*\{?\s*[+-]?(\d+)")
_FACTORIAL = re.compile(r"(\d+)\s*!")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_PLAIN_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_DECIMAL = re.compile(r"\d\.\d|(?<!\d)\.\d")
_DECIMAL_LITERAL = re.compile(r"\d*\.\d+")
ROUNDED_REFERENCE_DIGITS = 10


def _significant_digits(s: str) -> int:
    """Significant digits of the longest decimal literal in s (0 when there is none)."""
    return max((len(m.group().replace(".", "").lstrip("0")) for m in _DECIMAL_LITERAL.finditer(s)), default=0)


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


def _split_commas(inner: str) -> list[str]:
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
    return [p.strip() for p in parts]


def _collection(s: str) -> tuple[str, list[str], str] | None:
    """(opening bracket, elements, closing bracket) of a tuple, interval, set or bare list.

    ``(1, 2]`` gives ("(", ["1", "2"], "]"), ``\\{1, 2\\}`` ("{", ..., "}"), ``1, 2``
    ("", ["1", "2"], ""). None when s has no top-level comma, i.e. is a single value."""
    for opener in ("\\{", "(", "[", "{"):
        if not s.startswith(opener):
            continue
        closer = closes_at_end(s, opener)
        if closer is None:
            break
        parts = _split_commas(s[len(opener) : len(s) - len(closer)])
        if len(parts) < 2:
            return None
        braces = (opener in ("\\{", "{"), closer in ("\\}", "}"))
        if braces == (True, True):
            return "{", parts, "}"
        if any(braces):
            return None  # {1, 2) is no collection; it will fail to parse
        return opener, parts, closer
    parts = _split_commas(s)
    return ("", parts, "") if len(parts) > 1 else None


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


_PARSER_STATE: dict | None = None


def _parse_latex(s: str):
    """latex2sympy2's parse with its module-level state restored first (it leaks between calls)."""
    import latex2sympy2  # imported lazily: it loads an ANTLR parser

    global _PARSER_STATE
    names = ("var", "variances", "is_real", "frac_type", "VARIABLE_VALUES")
    if _PARSER_STATE is None:
        _PARSER_STATE = {name: _copy(getattr(latex2sympy2, name)) for name in names}
        latex2sympy2.CommonTokenStream = _recording_token_stream(latex2sympy2.CommonTokenStream)
    for name, value in _PARSER_STATE.items():
        setattr(latex2sympy2, name, _copy(value))
    result = latex2sympy2.latex2sympy(s)
    stream = latex2sympy2.CommonTokenStream.last
    if stream is not None and stream.LA(1) != -1:  # -1: ANTLR's end of input
        # the grammar accepts a prefix: "7 ) 8" and "7 \\} junk" would otherwise parse as 7
        raise ValueError(f"unparsed text after {stream.LT(1).text!r}" if stream.LT(1) else "unparsed text")
    return result


def _recording_token_stream(base):
    """The parser's token stream class, remembering the last stream so the caller can check
    that the whole input was consumed."""

    class Recording(base):
        last = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            Recording.last = self

    return Recording


def warm_up() -> None:
    """Load sympy and the LaTeX parser (seconds on a busy machine). The bounded scoring worker
    runs this when it first loads this module, so a timed call measures the comparison, not
    the imports (``atropos_envs.bounded``)."""
    _parse_latex("1")


def _copy(value):
    return dict(value) if isinstance(value, dict) else value


def _to_sympy(s: str):
    import sympy

    exact = _as_fraction(s)
    if exact is not None:  # also keeps 1.5e-6 from parsing as 1.5 * e - 6
        return sympy.Rational(exact.numerator, exact.denominator)
    if s.endswith("%"):
        s = f"({s[:-1]})/100"
    expr = _parse_latex(s)
    if isinstance(expr, list):  # a bare list the splitter did not see (e.g. inside a wrapper)
        raise ValueError("a list where one value was expected")
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"not a single value ({type(expr).__name__})")
    imaginary = {sym: sympy.I for sym in expr.free_symbols if sym.name == "i"}  # 3 + 4i is complex
    return expr.subs(imaginary) if imaginary else expr


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
    if isinstance(expr, (sympy.Sum, sympy.Product)):
        if any(arg.has(sympy.Sum, sympy.Product) for arg in expr.args):
            return "nested sums or products"
        if any(
            not (hi - lo).is_number or abs(complex(sympy.N(hi - lo, 15))) > 200 for _, lo, hi in expr.limits
        ):
            return "sum or product with too many terms"
    if isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.gamma)) and not expr.args[0].free_symbols:
        if abs(complex(sympy.N(expr.args[0], 15))) > 200:
            return "factorial too large to evaluate"
    return ""


def _value(expr):
    """("finite", number) | ("inf", +1 or -1) | ("undefined", None) for a constant expression."""
    import sympy

    value = sympy.N(expr, DIGITS)
    if value.has(sympy.nan, sympy.zoo) or not value.is_number:
        return "undefined", None
    if value == sympy.oo or value == -sympy.oo:
        return "inf", 1 if value == sympy.oo else -1
    if value.has(sympy.oo, -sympy.oo) or value.is_finite is False:
        return "undefined", None
    return "finite", value


def _is_zero(value) -> bool:
    """Whether a number from sympy's adaptive evaluation is zero: every part exactly 0 or a
    float with no significant bit left (what evaluating a true identity gives)."""
    return all(part == 0 or (part.is_Float and part._prec <= 8) for part in value.as_real_imag())


def _close(a, b, tolerance: float) -> bool:
    """Within ``tolerance`` relative to the reference b, however small b is (no absolute floor:
    0.0 is not e^{-30})."""
    da, db = complex(a), complex(b)
    return da == db or abs(da - db) <= tolerance * abs(db)


def _constants_equal(a, b, tolerance: float) -> tuple[bool, str]:
    import sympy

    (kind_a, va), (kind_b, vb) = _value(a), _value(b)
    if "undefined" in (kind_a, kind_b):
        return False, "undefined value (not a number)" if kind_a == "undefined" else "reference is undefined"
    if "inf" in (kind_a, kind_b):
        same = kind_a == kind_b and va == vb
        return same, "same infinity" if same else "infinity against a different value"
    diff = (a - b).doit()
    if diff.is_Rational:
        return diff == 0, "equal numbers (exact)" if diff == 0 else "different numbers (exact)"
    if _is_zero(sympy.N(diff, DIGITS)):
        return True, "mathematically equivalent (exact)"
    if tolerance and _close(va, vb, tolerance):
        return True, f"equal within {tolerance:g} relative (a decimal against an exact value)"
    return False, "different numbers"


def test_points(a, b, symbols: list) -> list[dict]:
    """N_TEST_POINTS assignments of rationals to symbols, then N_NICE_POINTS of short numbers,
    drawn from a generator seeded by the pair of expressions: deterministic, yet not knowable
    before the answer is written."""
    import sympy

    seed = hashlib.sha256(f"{sympy.srepr(a)}\0{sympy.srepr(b)}".encode()).digest()
    rng = random.Random(seed)

    def draw():  # a denominator up to 10^6: no product a 400-character answer can write clears them all
        denominator = rng.randint(10**5, 10**6)
        value = sympy.Rational(max(1, int(denominator * 10 ** rng.uniform(-2, 4))), denominator)
        return -value if rng.random() < 0.5 else value

    def nice(kind: int):  # an integer, a half, a tenth, 1/10^k in turn
        value = (
            sympy.Integer(rng.randint(0, 12)),
            sympy.Rational(2 * rng.randint(0, 20) + 1, 2),
            sympy.Rational(rng.randint(1, 99), 10),
            sympy.Rational(1, 10 ** rng.randint(1, 7)),
        )[kind % 4]
        return -value if rng.random() < 0.5 else value

    points = [{sym: draw() for sym in symbols} for _ in range(N_TEST_POINTS)]
    return points + [{sym: nice(i + j) for j, sym in enumerate(symbols)} for i in range(N_NICE_POINTS)]


def _max_power(expr) -> int:
    import sympy

    powers = [abs(int(p.exp)) for p in expr.atoms(sympy.Pow) if p.exp.is_Integer]
    return max(powers, default=1)


def _functions_equal(a, b, tolerance: float) -> tuple[bool, str]:
    """Compare expressions with variables: at random test points (more than half must be defined
    on both sides, so a pole or a removable singularity such as ``\\frac{x^2-4}{x-2}`` at 2 is
    skipped, and every defined one must agree); rational functions without decimals must also
    be identical after cancelling, so agreement at points is never alone enough for them."""
    import sympy

    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if a.free_symbols != b.free_symbols:
        if sympy.simplify(a - b) != 0:
            return False, "different variables"
    step = _step_functions(a) - _step_functions(b)
    if step and not _step_functions(b):
        return (
            False,
            f"the answer uses {', '.join(sorted(step))}, a step function the reference does not have",
        )
    defined = 0
    points = test_points(a, b, symbols)
    for point in points:
        (kind_a, va), (kind_b, vb) = _value(a.subs(point)), _value(b.subs(point))
        if kind_a != "finite" or kind_b != "finite":  # a pole or a removable singularity: skip it
            continue
        defined += 1
        same = _close(va, vb, tolerance) if tolerance else _is_zero(sympy.N((a - b).subs(point), DIGITS))
        if not same:
            return False, f"differs at {_show(point)}"
    if 2 * defined <= len(points):
        return False, f"defined at only {defined} of {len(points)} test points"
    diff = a - b
    if not tolerance and diff.is_rational_function(*symbols) and _max_power(diff) <= MAX_EXACT_DEGREE:
        if sympy.cancel(sympy.together(diff)) != 0:
            return False, f"different rational functions (exact), though equal at {defined} random points"
        return (
            True,
            f"mathematically equivalent (identical rational functions, exact; equal at {defined} points)",
        )
    extra = f" within {tolerance:g} relative" if tolerance else ""
    return True, (
        f"mathematically equivalent (equal{extra} at {defined} random test points seeded by the "
        "answer pair, negatives included)"
    )


def _step_functions(expr) -> set[str]:
    """Names of the piecewise-constant or piecewise-defined functions in expr (floor, ceiling,
    fractional part, mod, sign, max, ...): sampled at points they hide what they change."""
    import sympy

    kinds = (
        sympy.floor,
        sympy.ceiling,
        sympy.frac,
        sympy.Mod,
        sympy.sign,
        sympy.Heaviside,
        sympy.DiracDelta,
        sympy.Piecewise,
        sympy.Max,
        sympy.Min,
        sympy.KroneckerDelta,
    )
    return {type(f).__name__ for f in expr.atoms(*kinds)}


def _exact_rational(expr) -> bool:
    """Whether expr is a rational number, or a rational function with rational coefficients
    (decimals are parsed as the rationals they spell): a value no tolerance may blur."""
    import sympy

    symbols = sorted(expr.free_symbols, key=str)
    if not symbols:
        return bool(expr.doit().is_Rational)  # 2^{40} parses as an unevaluated power
    if not expr.is_rational_function(*symbols):
        return False
    numerator, denominator = sympy.fraction(sympy.together(expr))
    try:
        return all(
            sympy.Poly(part, *symbols).domain.is_QQ or sympy.Poly(part, *symbols).domain.is_ZZ
            for part in (numerator, denominator)
        )
    except sympy.PolynomialError:
        return False


def _show(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


_HEDGE = re.compile(r"(?<![\\A-Za-z])(or|and|nor|not|to|but|except|than)(?![A-Za-z])", re.IGNORECASE)


def _sympy_equal(pred: str, ref: str) -> tuple[bool, str]:
    hedge = _HEDGE.search(pred)
    if hedge and not _HEDGE.search(ref):  # "0 or 1" would parse as the product 0*o*r*1
        return False, f"the answer hedges with {hedge.group(1)!r}"
    for s in (pred, ref):
        problem = _too_big(s)
        if problem:
            return False, problem
    try:
        a, b = _to_sympy(pred), _to_sympy(ref)
    except Exception as exc:  # the LaTeX parser raises bare Exceptions on malformed input
        return (
            False,
            f"could not parse as math: {str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__}",
        )
    try:
        problem = _magnitude_problem(a) or _magnitude_problem(b)
        if problem:
            return False, problem
        # a decimal is read as the rational it spells; a tolerance only lets a decimal stand for a
        # value no decimal can write (\sqrt2 vs 1.4142135624), never for an exact rational one;
        # a decimal reference stands for an irrational answer only when it is written to
        # ROUNDED_REFERENCE_DIGITS or more (1.41421356237 for \sqrt2, but 0.5 is not 1/2 + 10^{-12}\pi)
        inexact = (_DECIMAL.search(pred) and not _exact_rational(b)) or (
            _significant_digits(ref) >= ROUNDED_REFERENCE_DIGITS and not _exact_rational(a)
        )
        tolerance = FLOAT_TOLERANCE if inexact else 0.0
        if a.free_symbols or b.free_symbols:
            return _functions_equal(a, b, tolerance)
        return _constants_equal(a, b, tolerance)
    except Exception as exc:  # sympy raises many types (TypeError, ZeroDivisionError, ...)
        return False, f"could not compare: {type(exc).__name__}"


def _collections_equal(pred: str, ref: str, ctx: tuple[str, bool]) -> tuple[bool, str] | None:
    """The verdict when either side is a tuple, interval, set, list or union; None otherwise."""
    if "\\cup" in pred or "\\cup" in ref:
        pred_parts, ref_parts = pred.split("\\cup"), ref.split("\\cup")
        if len(pred_parts) != len(ref_parts):
            return False, "different number of pieces in the union"
        return _multiset_equal(pred_parts, ref_parts, "union", ctx)
    p, r = _collection(pred), _collection(ref)
    if p is None and r is None:
        return None
    if p is None or r is None or len(p[1]) != len(r[1]):
        return False, "different number of elements"
    unordered = {"{", ""}
    if p[0] in unordered and r[0] in unordered:
        return _multiset_equal(p[1], r[1], "set", ctx)
    if (p[0], p[2]) != (r[0], r[2]):
        return False, f"brackets {p[0]}...{p[2]} where the reference has {r[0]}...{r[2]}"
    for i, (x, y) in enumerate(zip(p[1], r[1])):
        if not _equal(x, y, ctx)[0]:
            return False, f"element {i + 1} differs"
    return True, "same elements"


def _multiset_equal(
    pred_parts: list[str], ref_parts: list[str], what: str, ctx: tuple[str, bool]
) -> tuple[bool, str]:
    remaining = list(ref_parts)
    for part in pred_parts:
        match = next((r for r in remaining if _equal(part, r, ctx)[0]), None)
        if match is None:
            return False, f"{what} element {part.strip()[:40]!r} not in the reference"
        remaining.remove(match)
    return True, f"same {what}"


_AND_LIST = re.compile(r"\s*,?\s*(?<![\\A-Za-z])and(?![A-Za-z])\s*", re.IGNORECASE)


def math_equal(predicted: str, reference: str, question: str = "") -> tuple[bool, str]:
    """Whether the predicted answer equals the reference mathematically, with the reason.

    ``question`` (the task's text, when known) decides two spellings: a trailing word is dropped
    when it is a unit or one of the question's plain nouns ("12 apples"), and when the reference
    is written as a percentage or the question asks for one, answers count in percent
    ("9%" and "9" are the same answer, "0.09" is not); otherwise "9%" is the number 0.09."""
    percent_units = "%" in reference or asks_percent(question)
    return _equal(predicted, reference, (question, percent_units))


def _equal(predicted: str, reference: str, ctx: tuple[str, bool]) -> tuple[bool, str]:
    question, percent_units = ctx
    conflict = unit_conflict(answer_unit(predicted), answer_unit(reference), question)
    if conflict:
        return False, conflict
    pred, ref = normalize(predicted, question), normalize(reference, question)
    if percent_units:  # one reading of "%" per comparison: 5% cannot be both 5 and 0.05
        pred, ref = pred.replace("%", "").strip(), ref.replace("%", "").strip()
    if not pred:
        return False, "empty answer"
    if pred == ref or pred.lower() == ref.lower():
        return True, "same answer"
    listed = _AND_LIST.split(pred)
    reference_list = _collection(ref)
    if len(listed) > 1 and reference_list and reference_list[0] in ("{", "") and not _HEDGE.search(ref):
        joined = ", ".join(listed)  # "2 and 3" lists every value of the set {2, 3}; it hedges nothing
        if len(_split_commas(joined)) == len(reference_list[1]):
            pred = joined
    verdict = _collections_equal(pred, ref, ctx)
    if verdict is not None:
        return verdict
    exact_pred, exact_ref = _as_fraction(pred), _as_fraction(ref)
    if exact_pred is not None and exact_ref is not None:
        same = exact_pred == exact_ref
        return same, ("equal numbers (exact)" if same else "different numbers (exact)")
    return _sympy_equal(pred, ref)


_WRITTEN_NUMBER = re.compile(
    r"^[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?%?$|^[+-]?\d+/\d+$"
    r"|^[+-]?\\frac\{[+-]?\d+\}\{[+-]?\d+\}$"
)


def is_plain_number(answer: str, question: str = "") -> bool:
    """Whether answer, once normalised, is a number written out (integer, decimal, fraction,
    percentage) rather than an expression that still computes one (``16+9``, ``2^{3}+5``)."""
    return bool(_WRITTEN_NUMBER.match(normalize(answer, question).replace(" ", "")))
