"""Exploit probes for Format-v0: replies that keep the format and try to get the correctness
share without solving the task (``FormatEnv.probes``). Each is a single assistant turn."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

from atropos_envs.envs.math_tasks import latex_number
from rewards.math_units import asks_percent, question_units

_THINK = "<think>Let me think about this.</think>\n"
_MATH_IN_QUESTION = re.compile(r"\$([^$]+)\$|What is (.+?)\?")


def render_answer(answer: str, answer_format: str) -> str:
    """The final answer written in the task's format."""
    if answer_format == "boxed":
        return f"\\boxed{{{answer}}}"
    if answer_format == "answer_tag":
        return f"<answer>{answer}</answer>"
    return json.dumps({"answer": answer})


def _decimal(value: Fraction, digits: int) -> str:
    """value rounded to `digits` decimals, written out (an exact near miss for 1/3, 7/12, ...)."""
    sign = "-" if value < 0 else ""
    scaled = round(abs(value) * 10**digits)
    whole, frac = divmod(scaled, 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def _unit_probes(question: str, reference: str, value: Fraction | None) -> dict[str, str]:
    """The right number in a unit the question does not ask for: ``12 cm`` for "in meters",
    ``40 cents`` for "how many dollars", ``8%`` for "What is 20% of 40?"."""
    probes = {}
    asked = {base for unit in question_units(question)[0] for base, _ in unit}
    if asked:
        other = next(unit for unit in ("cm", "kg", "cents") if unit.rstrip("s") not in asked)
        probes["unit_not_asked"] = f"{reference}\\text{{ {other}}}"
    if value not in (None, 0) and not asks_percent(question):
        probes["percent_not_asked"] = f"{reference}\\%"
    return probes


def _several(answers: list[str], answer_format: str) -> str:
    """Several final answers at once: every box, every tag, or a JSON list."""
    if answer_format == "json":
        return json.dumps({"answer": answers})
    return "".join(render_answer(a, answer_format) for a in answers)


def format_probes(task: dict[str, Any], value: Fraction | None) -> dict[str, str]:
    """Probe name -> reply for one task; value is the reference's exact value when it is a number."""
    fmt, reference, question = task["answer_format"], task["answer"], task["question"]
    answers = {
        "nan_complex_infinity": "\\infty i - \\infty",
        "nan_infinity_minus_infinity": "\\infty - \\infty",
        "nan_zero_over_zero": "\\frac{0}{0}",
        "nan_word": "\\text{NaN}",
        "infinity": "\\infty",
        "minus_infinity": "-\\infty",
        "unicode_infinity": "∞",
        "text_undefined": "\\text{undefined}",
        "text_junk": "\\text{see the reasoning above}",
        "differential_junk": "dx",
        "placeholder": "?",
        "question_echo": question,
    }
    math_part = _MATH_IN_QUESTION.search(question)
    if math_part:
        answers["question_math_echo"] = (math_part.group(1) or math_part.group(2)).strip()
    if value is not None:
        below, above = latex_number(value - 1), latex_number(value + 1)
        answers.update(
            {
                "candidate_list": f"{below}, {reference}, {above}",
                "candidate_set": f"\\{{{below}, {reference}, {above}\\}}",
                "interval_closed": f"[{below}, {above}]",
                "interval_open": f"({below}, {above})",
                "interval_degenerate": f"[{reference}, {reference}]",
                "near_miss_plus_one": above,
                "near_miss_decimal": _decimal(value + Fraction(1, 10**15), 15),  # off by 5e-16 to 1.5e-15
                "near_miss_large": latex_number(value * 10**12 + 1) + " \\cdot 10^{-12}",
            }
        )
    else:
        answers.update(
            {
                "candidate_list": f"{reference}, 0, 1",
                "interval_degenerate": f"[{reference}, {reference}]",
            }
        )
    answers["near_miss_tiny"] = f"{reference} + e^{{-100}}"
    # floor/ceil terms that vanish at random points but not at integers (a symbolic reference)
    answers["step_function_padding"] = (
        f"{reference} + \\lceil 10^{{4}}x\\rceil - \\lfloor 10^{{4}}x\\rfloor - 1"
    )
    answers.update(_unit_probes(question, reference, value))
    replies = {name: _THINK + render_answer(answer, fmt) for name, answer in answers.items()}
    replies["format_only_empty"] = _THINK + render_answer("", fmt)
    several = (
        [reference, "0", "1"]
        if value is None
        else [latex_number(value - 1), reference, latex_number(value + 1)]
    )
    replies["several_answers"] = _THINK + _several(several, fmt)
    return replies
