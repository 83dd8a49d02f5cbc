"""Built-in tools and a seeded generator of tasks that can only be solved with them.

Every generated task carries its own invented world: customers (made-up names, ids,
balances), their orders, a product catalogue with prices, and a CSV file in the
workspace. No model can know these values; it has to look them up, and in most tasks one
result feeds the next call (a name gives an id, the id gives orders, the orders give
SKUs, SKUs give prices). Some tasks carry a fault the env provokes: the first call of one
tool fails (service unavailable, rate limited), or the question quotes a stale customer
id, so the model has to notice and recover. Each task keeps the calls it needs (BFCL-style
ground truth), the exact answer, and a reference plan (the honest turns, written from the
world before any tool runs).
"""

from __future__ import annotations

import ast
import json
import math
import operator
import random
import re
from typing import Any, Literal

from atropos_envs.sandbox import SandboxLimits, get_sandbox

_UNITS = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "ft": ("length", 0.3048),
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "lb": ("mass", 453.59237),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
}
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
MAX_RESULT = 10**100  # calculator results beyond this are refused (str() of a 4,300-digit int raises)
FAULTS = {
    "unavailable": "503 service unavailable; nothing was done, try the same call again",
    "rate_limit": "429 rate limited; nothing was done, retry the same call",
}


def calculator(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / // % ** and parentheses).

    Args:
        expression: the expression, e.g. "(3 + 4) * 2"
    """

    def value(node: ast.AST) -> float:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            result = node.value
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            result = -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ValueError("power too large")
            result = _OPS[type(node.op)](left, right)
        else:
            raise ValueError("only numbers and + - * / // % ** are allowed")
        if isinstance(result, complex) or not math.isfinite(result) or abs(result) > MAX_RESULT:
            raise ValueError("result out of range (at most 1e100)")
        return result

    if len(expression) > 200:
        raise ValueError("expression longer than 200 characters")
    result = value(ast.parse(expression, mode="eval").body)
    return round(result, 10) if isinstance(result, float) else result


def convert_units(
    value: float,
    from_unit: Literal["m", "km", "mi", "ft", "g", "kg", "lb", "s", "min", "h"],
    to_unit: Literal["m", "km", "mi", "ft", "g", "kg", "lb", "s", "min", "h"],
) -> float:
    """Convert a quantity between units of length, mass or time.

    Args:
        value: the quantity
        from_unit: its unit
        to_unit: the unit to convert to
    """
    (kind_a, a), (kind_b, b) = _UNITS[from_unit], _UNITS[to_unit]
    if kind_a != kind_b:
        raise ValueError(f"cannot convert {kind_a} to {kind_b}")
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ValueError("value out of range")
    return round(value * a / b, 6)


def _world(state: dict) -> dict[str, Any]:
    return state.get("world") or {"customers": [], "orders": [], "products": []}


def find_customer(name: str, state: dict) -> dict:
    """Look a customer up by full name in the company database.

    Args:
        name: the customer's full name
    """
    for customer in _world(state)["customers"]:
        if customer["name"].lower() == name.strip().lower():
            return dict(customer)
    raise KeyError(f"no customer named {name[:80]!r}")


def list_orders(customer_id: str, state: dict) -> list:
    """The orders of a customer (order id, product SKU, quantity).

    Args:
        customer_id: the customer's id, e.g. "C-1234"
    """
    world = _world(state)
    if not any(c["customer_id"] == customer_id for c in world["customers"]):
        raise KeyError(f"unknown customer id {customer_id[:40]!r}; ids change, look the customer up by name")
    return [dict(o) for o in world["orders"] if o["customer_id"] == customer_id]


def get_product(sku: str, state: dict) -> dict:
    """A product of the catalogue: its name and unit price.

    Args:
        sku: the product's SKU, e.g. "SKU-AB123"
    """
    for product in _world(state)["products"]:
        if product["sku"] == sku.strip().upper():
            return dict(product)
    raise KeyError(f"unknown SKU {sku[:40]!r}")


_PATH = re.compile(r"(?=.{1,100}$)[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def write_file(path: str, content: str, state: dict) -> str:
    """Write a text file into the workspace (the python tool sees it).

    Args:
        path: a relative file name, e.g. "data.txt"
        content: the text to write
    """
    if not _PATH.fullmatch(path) or path == "main.py":
        raise ValueError(
            "path must be a relative file name of letters, digits and ._- (folders with /, "
            f"no . or .. parts, not main.py), at most 100 characters; got {path[:80]!r}"
        )
    if len(state.setdefault("files", {})) >= 16 or len(content) > 100_000:
        raise ValueError("at most 16 files of 100 kB")
    state["files"][path] = content
    return f"wrote {len(content)} characters to {path}"


def read_file(path: str, state: dict) -> str:
    """Read a text file from the workspace.

    Args:
        path: the file name
    """
    files = state.get("files", {})
    if path not in files:
        raise FileNotFoundError(f"no file {path[:80]!r}; files: {sorted(files)}")
    return files[path]


def python(code: str, state: dict) -> str:
    """Run Python code in a sandbox (workspace files are in the current directory) and return its output.

    Args:
        code: the program; print what you need to see
    """
    wall = max(0.5, min(5.0, float(state.get("time_left_s", 5.0))))  # the env's step/episode budget
    files = {**state.get("files", {}), "main.py": code}
    result = get_sandbox().run(
        ["/usr/bin/python3", "-I", "main.py"],
        files=files,
        limits=SandboxLimits(wall_time_s=wall, output_bytes=8192),
    )
    if result.status != "ok":  # a crash, timeout or limit is a failed call, with its output as feedback
        raise RuntimeError(f"[{result.status}] {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout[-4000:]


BUILTIN_TOOLS = [
    find_customer,
    list_orders,
    get_product,
    calculator,
    convert_units,
    write_file,
    read_file,
    python,
]


# ---- the seeded world ---------------------------------------------------------------------------
_SYLLABLES = [
    "ka",
    "ren",
    "vo",
    "lis",
    "tam",
    "dru",
    "sel",
    "mor",
    "qui",
    "zan",
    "bel",
    "thu",
    "nov",
    "ari",
    "pex",
    "olo",
    "gra",
    "fen",
    "shi",
    "wex",
]


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def generate_world(rng: random.Random) -> dict[str, Any]:
    """Invented customers, orders, products and a sales CSV (values no model can know)."""
    products = []
    for _ in range(6):
        sku = "SKU-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(5))
        products.append(
            {
                "sku": sku,
                "name": f"{_word(rng, 2)} {rng.choice(['valve', 'panel', 'cable', 'lamp'])}",
                "unit_price": round(rng.uniform(3, 400), 2),
            }
        )
    customers, names = [], set()
    while len(customers) < 5:
        name = f"{_word(rng, 2)} {_word(rng, 3)}"
        if name not in names:
            names.add(name)
            customers.append(
                {
                    "customer_id": f"C-{rng.randint(1000, 9999)}{len(customers)}",
                    "name": name,
                    "city": _word(rng, 3),
                    "balance": round(rng.uniform(-500, 9000), 2),
                }
            )
    orders = []
    for customer in customers:
        for sku in rng.sample([p["sku"] for p in products], rng.randint(1, 3)):
            orders.append(
                {
                    "order_id": f"O-{rng.randint(10000, 99999)}",
                    "customer_id": customer["customer_id"],
                    "sku": sku,
                    "quantity": rng.randint(1, 40),
                }
            )
    regions = [_word(rng, 2) for _ in range(3)]
    rows = [(rng.choice(regions), round(rng.uniform(1, 999), 2)) for _ in range(rng.randint(20, 40))]
    csv = "region,amount\n" + "".join(f"{r},{a}\n" for r, a in rows)
    return {
        "customers": customers,
        "orders": orders,
        "products": products,
        "files": {"sales.csv": csv},
        "regions": regions,
        "faults": {},
    }


def _call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def generate_tool_task(rng: random.Random) -> dict[str, Any]:
    """A task: question, needed calls (BFCL-style ground truth), answer, world and reference plan."""
    world = generate_world(rng)
    kind = rng.choice(["single", "parallel", "sequential", "nested", "python"])
    a, b = rng.sample(world["customers"], 2)
    if kind == "single":
        question = f"What is the account balance of our customer {a['name']}?"
        plan, answer = [[_call("find_customer", name=a["name"])]], [a["balance"]]
    elif kind == "parallel":
        question = f"What are the account balances of our customers {a['name']} and {b['name']}?"
        plan = [[_call("find_customer", name=a["name"]), _call("find_customer", name=b["name"])]]
        answer = [a["balance"], b["balance"]]
    elif kind in ("sequential", "nested"):
        orders = [o for o in world["orders"] if o["customer_id"] == a["customer_id"]]
        stale = f" (old id C-{rng.randint(1000, 9999)}9)" if rng.random() < 0.3 else ""
        plan = [
            [_call("find_customer", name=a["name"])],
            [_call("list_orders", customer_id=a["customer_id"])],
        ]
        if kind == "sequential":
            question = f"How many units in total has our customer {a['name']}{stale} ordered?"
            answer = [sum(o["quantity"] for o in orders)]
        else:
            question = (
                f"What is the total value (quantity times unit price) of all orders of customer "
                f"{a['name']}{stale}?"
            )
            prices = {p["sku"]: p["unit_price"] for p in world["products"]}
            plan.append([_call("get_product", sku=o["sku"]) for o in orders])
            expression = " + ".join(f"{o['quantity']} * {prices[o['sku']]}" for o in orders)
            plan.append([_call("calculator", expression=expression)])
            answer = [round(calculator(expression), 2)]
    else:
        region = rng.choice(world["regions"])
        question = (
            "The workspace file sales.csv has columns region,amount. "
            f"Use the python tool to compute the total amount for region {region}, rounded to 2 decimals."
        )
        code = (
            "import csv\nrows = csv.DictReader(open('sales.csv'))\n"
            f"print(round(sum(float(r['amount']) for r in rows if r['region'] == {region!r}), 2))"
        )
        lines = world["files"]["sales.csv"].splitlines()[1:]
        answer = [round(sum(float(x.split(",")[1]) for x in lines if x.split(",")[0] == region), 2)]
        plan = [[_call("python", code=code)]]
    if rng.random() < 0.4:  # the env fails the first call of one needed tool
        world["faults"] = {
            rng.choice(sorted({c["name"] for turn in plan for c in turn})): rng.choice(sorted(FAULTS))
        }
    ground_truth = [{c["name"]: {k: [v] for k, v in c["arguments"].items()}} for turn in plan for c in turn]
    for truth in ground_truth:  # any expression or program that gives the result is fine
        for tool, param in (("calculator", "expression"), ("python", "code")):
            if tool in truth:
                truth[tool][param] = []
    return {
        "kind": kind,
        "question": question,
        "ground_truth": ground_truth,
        "answer": answer,
        "world": world,
        "plan": plan,
    }


def plan_turns(plan: list[list[dict[str, Any]]], answer: list[Any], faults: dict[str, str]) -> list[str]:
    """The assistant turns that carry out a plan: each turn's calls (a call the env fails on
    purpose is retried in the next turn), then the answer."""
    turns, pending = [], set(faults)
    for calls in plan:
        turns.append("".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls))
        failed = []
        for call in calls:
            if call["name"] in pending:  # only the first call of a faulty tool fails
                pending.discard(call["name"])
                failed.append(call)
        if failed:
            turns.append("".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in failed))
    return turns + [f"<answer>{json.dumps(answer)}</answer>"]
