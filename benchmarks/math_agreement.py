"""Math equivalence on cases we did not write: reasoning-gym's math generators vs math-verify.

    python -m benchmarks.math_agreement [--per-dataset 30] [--seed 0]

Questions and reference answers come from reasoning-gym's generators (basic_arithmetic,
fraction_simplification, decimal_arithmetic, simple_equations, polynomial_equations,
power_function, prime_factorization, gcd, lcm, complex_arithmetic, products, chain_sum,
decimal_chain_sum, leg_counting, count_bits, polynomial_multiplication, simple_integration,
gsm_symbolic). Each reference is rendered into the answers models write, right ones
(``\\frac``, ``\\dfrac``, decimals, ``x = 3``, sets, thousands separators, units, reordered
terms) and wrong ones (off by one, near-miss decimals, inverted fractions, missing roots,
candidate lists, intervals, infinities). Every case is labelled right or wrong by
construction, so each disagreement with math-verify is justified by the label. Our verdict
is ``rewards.math_equal(answer, reference, question)``; math-verify's ``verify(parse(gold),
parse(answer))``. Both peers are installed into ``benchmarks/.cache`` and run in their own
interpreter (math-verify's antlr4 4.13 conflicts with latex2sympy2's 4.7), as in
``benchmarks/scoring_agreement``. Writes results/math_agreement.md (summary, CPU, every
disagreement).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import time
from collections import Counter
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

from atropos_envs.envs.math_tasks import parse_latex_number
from benchmarks.scoring_agreement import (
    MATH_VERIFY,
    MATH_VERIFY_CODE,
    _peer_dir,
    _run_peer,
)
from trainers.machine import cpu_summary

RESULTS = Path(__file__).resolve().parent / "results" / "math_agreement.md"
REASONING_GYM = "reasoning-gym==0.1.25"
DATASETS = {  # reasoning-gym dataset -> how its answer is rendered
    "basic_arithmetic": "integer",
    "chain_sum": "integer",
    "products": "integer",
    "gcd": "integer",
    "lcm": "integer",
    "simple_equations": "integer",
    "leg_counting": "integer",
    "count_bits": "integer",
    "gsm_symbolic": "integer",
    "fraction_simplification": "fraction",
    "decimal_arithmetic": "decimal",
    "decimal_chain_sum": "decimal",
    "power_function": "decimal",
    "complex_arithmetic": "complex",
    "prime_factorization": "factors",
    "polynomial_equations": "roots",
    "polynomial_multiplication": "polynomial",
    "simple_integration": "polynomial",
}

GENERATE_CODE = """
import json, sys
import reasoning_gym
args = json.load(sys.stdin)
out = []
for name in args["datasets"]:
    for item in reasoning_gym.create_dataset(name, size=args["n"], seed=args["seed"]):
        out.append({"dataset": name, "question": item["question"], "answer": str(item["answer"])})
print(json.dumps(out))
"""


def _latex_fraction(value: Fraction, style: str = "\\frac") -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{style}{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.15g}"
    return text if Fraction(text) == value else _latex_fraction(value)


def _variable(question: str) -> str:
    m = re.search(r"Solve for (\w)", question)
    return m.group(1) if m else "x"


def render(kind: str, gold: str, question: str, rng: random.Random) -> list[tuple[str, str, bool]]:
    """(gold in LaTeX, answer, right by construction) triples for one reference answer."""
    if kind == "integer":
        n = int(gold)
        right = [str(n), f"{n}.0", f"${n}$", f"{_variable(question)} = {n}", f"{n} units", f"\\text{{{n}}}"]
        if abs(n) >= 1000:
            right += [f"{n:,}", f"{n:,}".replace(",", "{,}")]
        wrong = [
            str(n + 1),
            str(n - 1),
            f"{n}, {n + 1}",
            f"[{n - 1}, {n + 1}]",
            f"{n} or {n + 1}",
            "\\infty",
            "\\infty i - \\infty",
            f"{n}.0000001",
        ]
        if n:
            wrong.append(str(-n))
        return [(str(n), a, True) for a in right] + [(str(n), a, False) for a in wrong]
    if kind == "fraction":
        value = parse_latex_number(gold.strip("$ "))
        g = _latex_fraction(value)
        right = [
            g,
            _latex_fraction(value, "\\dfrac"),
            f"{value.numerator}/{value.denominator}",
            f"\\frac{{{2 * value.numerator}}}{{{2 * value.denominator}}}",
        ]
        wrong = [
            _latex_fraction(1 / value),
            _latex_fraction(value + Fraction(1, value.denominator)),
            f"{float(value):.4f}",
        ]
        return [(g, a, True) for a in right] + [(g, a, False) for a in wrong]
    if kind == "decimal":
        value = Fraction(gold)
        plain = re.fullmatch(r"-?\d+\.\d+", gold)
        right = [gold, _latex_fraction(value) if value.denominator > 1 else str(value.numerator)]
        if plain:
            right.append(gold + "0")
        if _sci_exact(value):
            right.append(_sci_exact(value))
        step = Fraction(1, 10 ** len(gold.split(".")[1])) if plain else abs(value) / 10**6 or Fraction(1)
        wrong = [_number(value + step), _number(value * 10) if value else "1", f"{float(value):.3g}"]
        wrong = [w for w in wrong if "\\" in w or Fraction(w) != value]
        return [(gold, a, True) for a in dict.fromkeys(right)] + [
            (gold, a, False) for a in dict.fromkeys(wrong)
        ]
    if kind == "complex":
        re_part, im_part = _complex_parts(gold)
        r, i = _compact(re_part), _compact(im_part)
        g = f"{r} {'+' if im_part >= 0 else '-'} {_compact(abs(im_part))}i"
        right = [gold, g.replace(" ", ""), f"{i}i {'+' if re_part >= 0 else '-'} {_compact(abs(re_part))}"]
        wrong = (
            [f"{i} + {r}i"]
            if im_part == 0
            else [f"{r} {'-' if im_part > 0 else '+'} {_compact(abs(im_part))}i", r]
        )
        if re_part == im_part:
            wrong = [f"{r} + {_compact(im_part + 1)}i"]
        return [(gold, a, True) for a in right] + [(gold, a, False) for a in wrong if a not in right]
    if kind == "factors":
        factors = [int(f) for f in gold.split("×")]
        g = " \\times ".join(map(str, factors))
        counts = Counter(factors)
        powers = " \\cdot ".join(f"{p}^{{{k}}}" if k > 1 else str(p) for p, k in sorted(counts.items()))
        right = [g, " \\cdot ".join(map(str, factors)), powers]
        wrong = [" \\times ".join(map(str, factors[:-1] + [factors[-1] + 1]))]
        if len(factors) > 1:
            wrong += [", ".join(map(str, factors)), " \\times ".join(map(str, factors[1:]))]
        return [(g, a, True) for a in dict.fromkeys(right)] + [(g, a, False) for a in wrong]
    if kind == "roots":
        roots = [Fraction(r) for r in gold.split(",")]
        g = ", ".join(_number(r) for r in roots)
        shuffled = roots[:]
        rng.shuffle(shuffled)
        right = [
            g,
            "\\{" + g + "\\}",
            ", ".join(_number(r) for r in shuffled),
            ", ".join(f"x = {_number(r)}" for r in roots),
        ]
        wrong = [", ".join(_number(r + (k == 0)) for k, r in enumerate(roots))]
        if len(roots) > 1:
            wrong.append(", ".join(_number(r) for r in roots[1:]))
        else:
            wrong.append(f"{_number(roots[0])}, {_number(roots[0] + 1)}")
        return [(g, a, True) for a in right] + [(g, a, False) for a in wrong]
    return _render_polynomial(gold, rng)


def _plain(text: str) -> str | None:
    return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else None


def _sci_exact(value: Fraction) -> str | None:
    """value as mantissa \\times 10^{k} when that is exact (the power_function style)."""
    if value == 0:
        return None
    k = 0
    while abs(value) >= 10:
        value, k = value / 10, k + 1
    while abs(value) < 1:
        value, k = value * 10, k - 1
    text = f"{float(value):.17g}"
    return f"{text} \\times 10^{{{k}}}" if Fraction(text) == value and k else None


def _complex_parts(gold: str) -> tuple[Fraction, Fraction]:
    m = re.fullmatch(r"\s*(-?[\d.]+)\s*([+-])\s*([\d.]+)i\s*", gold)
    if m:
        return Fraction(m.group(1)), Fraction(m.group(3)) * (1 if m.group(2) == "+" else -1)
    if gold.strip().endswith("i"):
        return Fraction(0), Fraction(gold.strip()[:-1] or "1")
    return Fraction(gold), Fraction(0)


def _compact(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _render_polynomial(gold: str, rng: random.Random) -> list[tuple[str, str, bool]]:
    import sympy

    expr = sympy.sympify(gold)
    g = sympy.latex(expr)
    terms = sympy.Add.make_args(expr)
    shuffled = list(terms)
    rng.shuffle(shuffled)
    right = [
        g,
        " + ".join(sympy.latex(t) for t in shuffled).replace("+ -", "- "),
        sympy.latex(sympy.factor(expr)),
    ]
    x = sorted(expr.free_symbols - {sympy.Symbol("C")}, key=str)[0]
    changed = expr + x ** sympy.degree(expr.subs(sympy.Symbol("C"), 0), x)  # one coefficient off by one
    wrong = [sympy.latex(changed), sympy.latex(expr - terms[0]), sympy.latex(expr.subs(x, -x))]
    return [(g, a, True) for a in dict.fromkeys(right)] + [
        (g, a, False) for a in dict.fromkeys(wrong) if a != g
    ]


def build_cases(per_dataset: int, seed: int) -> list[dict]:
    records = _run_peer(
        _peer_dir("reasoning-gym", REASONING_GYM),
        GENERATE_CODE,
        {"datasets": list(DATASETS), "n": per_dataset, "seed": seed},
    )
    rng = random.Random(seed)
    cases = []
    for record in records:
        for gold, answer, right in render(
            DATASETS[record["dataset"]], record["answer"], record["question"], rng
        ):
            cases.append(
                {
                    "dataset": record["dataset"],
                    "gold": gold,
                    "answer": answer,
                    "right": right,
                    "question": record["question"],
                }
            )
    return cases


def main() -> None:
    from rewards.math_equivalence import math_equal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-dataset", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cases = build_cases(args.per_dataset, args.seed)
    peer = _run_peer(
        _peer_dir("math-verify", MATH_VERIFY), MATH_VERIFY_CODE, [(c["gold"], c["answer"]) for c in cases]
    )
    started = time.perf_counter()
    ours = [math_equal(c["answer"], c["gold"], c["question"]) for c in cases]
    seconds = time.perf_counter() - started
    theirs = peer["verdicts"]
    labels = [c["right"] for c in cases]
    agree = sum(o[0] == t for o, t in zip(ours, theirs))
    ours_ok = sum(o[0] == lab for o, lab in zip(ours, labels))
    theirs_ok = sum(t == lab for t, lab in zip(theirs, labels))
    lines = [
        f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {len(cases)} cases from "
        f"{len(DATASETS)} reasoning-gym generators ({args.per_dataset} questions each, seed {args.seed})\n",
        f"Machine: {cpu_summary()}, {os.cpu_count()} cores, {platform.machine()}.\n",
        "| | value |",
        "|---|---|",
        f"| agreement with math-verify | {agree} / {len(cases)} = {100 * agree / len(cases):.1f} % |",
        f"| ours matches the construction label | {ours_ok} / {len(cases)} = "
        f"{100 * ours_ok / len(cases):.1f} % |",
        f"| math-verify matches the label | {theirs_ok} / {len(cases)} = "
        f"{100 * theirs_ok / len(cases):.1f} % |",
        "| accepted (ours / math-verify / right by construction) | "
        f"{sum(o[0] for o in ours)} / {sum(theirs)} / {sum(labels)} |",
        f"| ms per case (ours / math-verify) | {1000 * seconds / len(cases):.2f} / "
        f"{1000 * peer['seconds'] / len(cases):.2f} |",
        "",
        "Per generator (agreement, ours right, math-verify right):",
        "",
    ]
    for name in DATASETS:
        idx = [i for i, c in enumerate(cases) if c["dataset"] == name]
        if idx:
            lines.append(
                f"- {name}: {len(idx)} cases, {sum(ours[i][0] == theirs[i] for i in idx)} agree, "
                f"ours right {sum(ours[i][0] == labels[i] for i in idx)}, "
                f"math-verify right {sum(theirs[i] == labels[i] for i in idx)}"
            )
    lines += [
        "",
        "Every disagreement (label = right or wrong by construction; who is right follows from it):",
        "",
    ]
    for c, o, t in zip(cases, ours, theirs):
        if o[0] != t:
            who = "ours right" if o[0] == c["right"] else "math-verify right"
            lines.append(
                f"- [{c['dataset']}] answer `{c['answer']}` vs reference `{c['gold']}`: label "
                f"{'right' if c['right'] else 'wrong'}, ours {o[0]} ({o[1]}), math-verify {t}: **{who}**"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Math equivalence vs math-verify on reasoning-gym answers\n\n"
            "Written by `python -m benchmarks.math_agreement`.\n"
        )
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
