"""Seeded problems for ToolReasoning-v0: tedious by hand, easy with a few lines of Python.

Each task carries the question, the answer (computed here, in-process) and a program that
computes it (what the reference answer runs in the sandbox; tests check the two agree).
Kinds: big sums and products, binomial counts, the n-th prime and prime counts, modular
powers, power sums, digit sums of powers, and definite integrals to 4 decimals.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from typing import Any

SIEVE_LIMIT = 200_000


@functools.lru_cache(maxsize=1)
def _primes() -> list[int]:
    flags = bytearray([1]) * (SIEVE_LIMIT + 1)
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(SIEVE_LIMIT**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(flags[i * i :: i]))
    return [i for i, f in enumerate(flags) if f]


_SIEVE_CODE = (
    "def primes(limit):\n"
    "    flags = bytearray([1]) * (limit + 1)\n"
    "    flags[0:2] = b'\\x00\\x00'\n"
    "    for i in range(2, int(limit ** 0.5) + 1):\n"
    "        if flags[i]:\n"
    "            flags[i * i :: i] = bytearray(len(flags[i * i :: i]))\n"
    "    return [i for i, f in enumerate(flags) if f]\n"
)


def _big_sum(rng: random.Random) -> tuple[str, int, str]:
    terms = [rng.randrange(10**11, 10**14) for _ in range(rng.randint(5, 8))]
    question = f"What is {' + '.join(map(str, terms))}?"
    return question, sum(terms), f"print(sum([{', '.join(map(str, terms))}]))"


def _big_product(rng: random.Random) -> tuple[str, int, str]:
    a, b = rng.randrange(10**9, 10**13), rng.randrange(10**9, 10**13)
    return f"What is {a} \\times {b}?", a * b, f"print({a} * {b})"


def _binomial(rng: random.Random) -> tuple[str, int, str]:
    n = rng.randint(40, 80)
    k = rng.randint(10, n // 2)
    question = f"In how many ways can a committee of {k} people be chosen from {n} people?"
    return question, math.comb(n, k), f"import math\nprint(math.comb({n}, {k}))"


def _nth_prime(rng: random.Random) -> tuple[str, int, str]:
    n = rng.randint(1000, 15000)
    code = f"{_SIEVE_CODE}print(primes({SIEVE_LIMIT})[{n - 1}])"
    return f"What is the {n}-th prime number (2 is the 1st)?", _primes()[n - 1], code


def _prime_count(rng: random.Random) -> tuple[str, int, str]:
    limit = rng.randrange(20_000, SIEVE_LIMIT)
    answer = sum(1 for p in _primes() if p < limit)
    code = f"{_SIEVE_CODE}print(len([p for p in primes({limit}) if p < {limit}]))"
    return f"How many prime numbers are less than {limit}?", answer, code


def _mod_power(rng: random.Random) -> tuple[str, int, str]:
    a, b, m = rng.randrange(10**5, 10**9), rng.randrange(10**6, 10**12), rng.randrange(10**6, 10**9)
    return (
        f"What is the remainder when {a}^{{{b}}} is divided by {m}?",
        pow(a, b, m),
        f"print(pow({a}, {b}, {m}))",
    )


def _power_sum(rng: random.Random) -> tuple[str, int, str]:
    n, p = rng.randint(1000, 9999), rng.randint(3, 6)
    question = f"What is 1^{p} + 2^{p} + 3^{p} + \\dots + {n}^{p}?"
    return question, sum(k**p for k in range(1, n + 1)), f"print(sum(k ** {p} for k in range(1, {n} + 1)))"


def _digit_sum(rng: random.Random) -> tuple[str, int, str]:
    base, n = rng.choice([2, 3, 7]), rng.randint(300, 2000)
    question = f"What is the sum of the decimal digits of {base}^{{{n}}}?"
    return question, sum(map(int, str(base**n))), f"print(sum(int(d) for d in str({base} ** {n})))"


# name -> (the integrand in Python with math imported, its LaTeX); upper limits keep them smooth
_INTEGRANDS = {
    "exp_gauss": ("math.exp(-x * x)", "e^{-x^2}"),
    "rational": ("1 / (1 + x ** 3)", "\\frac{1}{1 + x^3}"),
    "sqrt_quartic": ("math.sqrt(1 + x ** 4)", "\\sqrt{1 + x^4}"),
    "log_square": ("math.log(1 + x * x)", "\\ln(1 + x^2)"),
    "cos_square": ("math.cos(x * x)", "\\cos(x^2)"),
}
_SIMPSON_STEPS = 20_000


def _simpson(f: Callable[[float], float], a: float, b: float, steps: int = _SIMPSON_STEPS) -> float:
    h = (b - a) / steps
    total = f(a) + f(b)
    total += sum((4 if i % 2 else 2) * f(a + i * h) for i in range(1, steps))
    return total * h / 3


def _integral(rng: random.Random) -> tuple[str, str, str]:
    name = rng.choice(sorted(_INTEGRANDS))
    expression, latex = _INTEGRANDS[name]
    upper = rng.randint(5, 30) / 10
    while True:  # stay clear of a rounding boundary: the 4-decimal answer is unambiguous
        value = _simpson(eval(f"lambda x: {expression}", {"math": math}), 0.0, upper)
        if abs(value * 10**4 - math.floor(value * 10**4) - 0.5) > 0.01:
            break
        upper = round(upper + 0.1, 1)
    question = f"What is \\int_0^{{{upper:g}}} {latex} \\, dx, rounded to 4 decimal places?"
    code = (
        f"import math\nf = lambda x: {expression}\n"
        f"a, b, n = 0.0, {upper!r}, {_SIMPSON_STEPS}\nh = (b - a) / n\n"
        "s = f(a) + f(b) + sum((4 if i % 2 else 2) * f(a + i * h) for i in range(1, n))\nprint(s * h / 3)"
    )
    return question, f"{value:.4f}", code


KINDS: dict[str, Callable[[random.Random], tuple[str, Any, str]]] = {
    "big_sum": _big_sum,
    "big_product": _big_product,
    "binomial": _binomial,
    "nth_prime": _nth_prime,
    "prime_count": _prime_count,
    "mod_power": _mod_power,
    "power_sum": _power_sum,
    "digit_sum": _digit_sum,
    "integral": _integral,
}


def generate_tool_reasoning_task(rng: random.Random, kinds: list[str]) -> dict[str, Any]:
    kind = rng.choice(kinds)
    question, answer, code = KINDS[kind](rng)
    return {"question": question, "answer": str(answer), "kind": kind, "code": code}
