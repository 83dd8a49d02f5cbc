"""Built-in deterministic tools and a seeded generator of tasks that need them.

Tasks need one call, several sequential calls, parallel calls, or nested calls (one
call's result is another's argument); each has the calls it needs and a checkable answer.
"""

from __future__ import annotations

import ast
import operator
import random
from typing import Any, Literal

from atropos_envs.sandbox import SandboxLimits, get_sandbox

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima", "Canada": "Ottawa",
            "Norway": "Oslo", "Egypt": "Cairo", "Chile": "Santiago", "Vietnam": "Hanoi", "Poland": "Warsaw"}  # fmt: skip
ATOMIC_NUMBERS = {"hydrogen": 1, "carbon": 6, "oxygen": 8, "iron": 26, "copper": 29, "silver": 47, "gold": 79, "lead": 82}
_UNITS = {"m": ("length", 1.0), "km": ("length", 1000.0), "mi": ("length", 1609.344), "ft": ("length", 0.3048),
          "g": ("mass", 1.0), "kg": ("mass", 1000.0), "lb": ("mass", 453.59237),
          "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0)}  # fmt: skip
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}  # fmt: skip


def calculator(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / // % ** and parentheses).

    Args:
        expression: the expression, e.g. "(3 + 4) * 2"
    """

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ValueError("power too large")
            return _OPS[type(node.op)](left, right)
        raise ValueError("only numbers and + - * / // % ** are allowed")

    if len(expression) > 200:
        raise ValueError("expression longer than 200 characters")
    result = value(ast.parse(expression, mode="eval").body)
    return round(result, 10) if isinstance(result, float) else result


def convert_units(value: float, from_unit: Literal["m", "km", "mi", "ft", "g", "kg", "lb", "s", "min", "h"],
                  to_unit: Literal["m", "km", "mi", "ft", "g", "kg", "lb", "s", "min", "h"]) -> float:  # fmt: skip
    """Convert a quantity between units of length, mass or time.

    Args:
        value: the quantity
        from_unit: its unit
        to_unit: the unit to convert to
    """
    (kind_a, a), (kind_b, b) = _UNITS[from_unit], _UNITS[to_unit]
    if kind_a != kind_b:
        raise ValueError(f"cannot convert {kind_a} to {kind_b}")
    return round(value * a / b, 6)


def capital_of(country: str) -> str:
    """The capital city of a country.

    Args:
        country: the country's English name
    """
    for name, capital in CAPITALS.items():
        if name.lower() == country.strip().lower():
            return capital
    raise KeyError(f"unknown country {country!r}")


def atomic_number(element: str) -> int:
    """The atomic number of a chemical element.

    Args:
        element: the element's English name, e.g. "gold"
    """
    key = element.strip().lower()
    if key not in ATOMIC_NUMBERS:
        raise KeyError(f"unknown element {element!r}")
    return ATOMIC_NUMBERS[key]


def write_file(path: str, content: str, state: dict) -> str:
    """Write a text file into the workspace (the python tool sees it).

    Args:
        path: a relative file name, e.g. "data.txt"
        content: the text to write
    """
    if path.startswith("/") or ".." in path or len(state.setdefault("files", {})) >= 16 or len(content) > 100_000:
        raise ValueError("use a short relative path; at most 16 files of 100 kB")
    state["files"][path] = content
    return f"wrote {len(content)} characters to {path}"


def read_file(path: str, state: dict) -> str:
    """Read a text file from the workspace.

    Args:
        path: the file name
    """
    files = state.get("files", {})
    if path not in files:
        raise FileNotFoundError(f"no file {path!r}; files: {sorted(files)}")
    return files[path]


def python(code: str, state: dict) -> str:
    """Run Python code in an isolated sandbox (workspace files are in the current directory) and return its output.

    Args:
        code: the program; print what you need to see
    """
    files = {**state.get("files", {}), "main.py": code}
    result = get_sandbox().run(["/usr/bin/python3", "-I", "main.py"], files=files,
                               limits=SandboxLimits(wall_time_s=5, output_bytes=8192))  # fmt: skip
    if result.status != "ok":
        return f"[{result.status}] {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout[-4000:]


BUILTIN_TOOLS = [calculator, convert_units, capital_of, atomic_number, write_file, read_file, python]


def generate_tool_task(rng: random.Random) -> dict[str, Any]:
    """A task: the question, the calls it needs (BFCL-style ground truth) and the answer."""
    kind = rng.choice(["single", "parallel", "sequential", "nested", "python"])
    if kind == "single":
        country = rng.choice(sorted(CAPITALS))
        return {"kind": kind, "question": f"What is the capital of {country}?",
                "ground_truth": [{"capital_of": {"country": [country]}}], "answer": [CAPITALS[country]]}  # fmt: skip
    if kind == "parallel":
        a, b = rng.sample(sorted(CAPITALS), 2)
        return {"kind": kind, "question": f"What are the capitals of {a} and {b}?",
                "ground_truth": [{"capital_of": {"country": [a]}}, {"capital_of": {"country": [b]}}],
                "answer": [CAPITALS[a], CAPITALS[b]]}  # fmt: skip
    if kind == "sequential":
        value, unit = rng.randint(2, 40), rng.choice(["km", "kg", "h"])
        target = {"km": "mi", "kg": "lb", "h": "min"}[unit]
        factor = rng.randint(2, 9)
        converted = convert_units(value, unit, target)
        return {"kind": kind, "question": f"Convert {value} {unit} to {target}, then multiply the result by {factor}.",
                "ground_truth": [{"convert_units": {"value": [float(value)], "from_unit": [unit], "to_unit": [target]}},
                                 {"calculator": {"expression": [f"{converted} * {factor}", f"{converted}*{factor}"]}}],
                "answer": [round(converted * factor, 4)]}  # fmt: skip
    if kind == "nested":
        a, b = rng.sample(sorted(ATOMIC_NUMBERS), 2)
        total = ATOMIC_NUMBERS[a] + ATOMIC_NUMBERS[b]
        return {"kind": kind, "question": f"What is the atomic number of {a} plus the atomic number of {b}?",
                "ground_truth": [{"atomic_number": {"element": [a]}}, {"atomic_number": {"element": [b]}},
                                 {"calculator": {"expression": [f"{ATOMIC_NUMBERS[a]} + {ATOMIC_NUMBERS[b]}",
                                                                f"{ATOMIC_NUMBERS[a]}+{ATOMIC_NUMBERS[b]}"]}}],
                "answer": [total]}  # fmt: skip
    n = rng.randint(5, 30)
    return {"kind": kind, "question": f"Use the python tool to compute the sum of the squares of 1 to {n}.",
            "ground_truth": [{"python": {"code": []}}], "answer": [sum(i * i for i in range(1, n + 1))]}  # fmt: skip
