"""A seeded generator of math questions with exact answers, in three difficulty levels.

Answers are written the way a grader expects them (integers, reduced ``\\frac{a}{b}``),
and every answer is computed with exact arithmetic, never floats.
"""

from __future__ import annotations

import random
from fractions import Fraction


def latex_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _one_operation(rng: random.Random) -> tuple[str, Fraction]:
    a, b = rng.randint(1, 20), rng.randint(1, 20)
    op = rng.choice("+-*")
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return f"What is {a} {op} {b}?", Fraction(value)


def _fraction_sum(rng: random.Random) -> tuple[str, Fraction]:
    a, b = Fraction(rng.randint(1, 9), rng.randint(2, 9)), Fraction(rng.randint(1, 9), rng.randint(2, 9))
    return (
        f"Compute $\\frac{{{a.numerator}}}{{{a.denominator}}} + \\frac{{{b.numerator}}}{{{b.denominator}}}$ "
        "as a reduced fraction.",
        a + b,
    )


def _linear_equation(rng: random.Random) -> tuple[str, Fraction]:
    a, x, b = rng.randint(2, 9), rng.randint(-10, 10), rng.randint(-20, 20)
    c = a * x + b
    return f"Solve for $x$: ${a}x {'+' if b >= 0 else '-'} {abs(b)} = {c}$.", Fraction(x)


def _percentage(rng: random.Random) -> tuple[str, Fraction]:
    p, n = rng.choice([10, 20, 25, 50, 75]), rng.randint(1, 20) * 4
    return f"What is {p}% of {n}?", Fraction(p * n, 100)


def _multi_step(rng: random.Random) -> tuple[str, Fraction]:
    price, count, discount = rng.randint(2, 15), rng.randint(2, 9), rng.randint(1, 5)
    return (
        f"A notebook costs {price} dollars. Sam buys {count} notebooks and gets {discount} dollars off "
        "the total. How many dollars does Sam pay?",
        Fraction(price * count - discount),
    )


def _power_sum(rng: random.Random) -> tuple[str, Fraction]:
    base, exp, add = rng.randint(2, 5), rng.randint(2, 4), rng.randint(1, 30)
    return f"Evaluate ${base}^{{{exp}}} + {add}$.", Fraction(base**exp + add)


_LEVELS = {
    1: [_one_operation],
    2: [_one_operation, _fraction_sum, _linear_equation, _percentage],
    3: [_fraction_sum, _linear_equation, _multi_step, _power_sum],
}


def generate_math_question(rng: random.Random, difficulty: int = 1) -> tuple[str, str]:
    """A (question, LaTeX answer) pair drawn from rng."""
    if difficulty not in _LEVELS:
        raise ValueError(f"difficulty must be one of {sorted(_LEVELS)}")
    question, value = rng.choice(_LEVELS[difficulty])(rng)
    return question, latex_number(value)


def parse_latex_number(text: str) -> Fraction | None:
    """The exact value of an integer, decimal, ``a/b`` or ``\\frac{a}{b}`` (as latex_number writes
    them); None for anything else."""
    s = text.strip().replace(" ", "").replace("\\dfrac", "\\frac")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s.startswith("\\frac{") and s.endswith("}") and s.count("}{") == 1:
        s = s[len("\\frac{") : -1].replace("}{", "/")
    try:
        value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None
    return sign * value
