"""Code-v0 task records, checked field by field at load (a bad field is a one-line
ValueError naming it and what was expected), normalised to one of two task kinds:

- ``io``: {"question", "tests": [{"input", "output"}], "shown", "solution"?} from ``tests``, APPS'
  ``input_output`` or CodeContests' ``public_tests``/``private_tests``/``generated_tests``;
- ``function``: {"question", "setup", "prefix", "tests", "shown", "names", "entry_point", "solution"?}
  run as the datasets' own harnesses run them. HumanEval: prompt + completion, then
  ``test``, then ``check(entry_point)``: ``setup`` (trusted, run by the harness) is the
  prompt (its helpers and imports), ``prefix`` (run before the candidate's code) is the
  prompt too. MBPP: ``test_setup_code`` + ``test_imports`` + candidate + each assert of
  ``test_list``; the function names come from ``entry_point``, the reference ``code``, or the
  calls in the asserts that are not builtins and not defined by the setup.

``shown``: the indexes of the tests the model sees with the problem (MBPP's first assert, which
the question quotes; CodeContests' public tests, which its statements hold). Code-v0 makes them a
gate and pays for the others, so a reply that hard-codes what it was shown is not paid.
"""

from __future__ import annotations

import ast
import builtins
import json
from typing import Any

IO_KEYS = ("tests", "input_output", "public_tests", "private_tests", "generated_tests")
DATASET_IDS = ("task_id", "question_id")


def _str(record: dict[str, Any], key: str, *, required: bool = True, empty: bool = False) -> str | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string, got {type(value).__name__}")
    if not empty and not value.strip():
        raise ValueError(f"{key}: expected a non-empty string")
    return value


def _python(source: str, field: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{field}: not valid Python ({exc.msg}, line {exc.lineno})") from None


def _io_pair(inp: Any, out: Any, field: str) -> dict[str, str]:
    for what, value in (("input", inp), ("output", out)):
        if not isinstance(value, str):
            raise ValueError(f"{field} {what}: expected a string, got {type(value).__name__}")
    if not out.strip():
        raise ValueError(f"{field} output: expected non-empty text (a program printing nothing would pass)")
    return {"input": inp, "output": out}


def _parallel(inputs: Any, outputs: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ValueError(f"{field}: expected lists of inputs and outputs")
    if len(inputs) != len(outputs):
        raise ValueError(f"{field}: {len(inputs)} inputs but {len(outputs)} outputs; expected equal lengths")
    return [_io_pair(i, o, f"{field}[{n}]") for n, (i, o) in enumerate(zip(inputs, outputs))]


def io_tests(record: dict[str, Any]) -> tuple[list[dict[str, str]], list[int]]:
    """The tests, and the indexes of those shown with the statement (CodeContests' public_tests)."""
    tests: list[dict[str, str]] = []
    shown: list[int] = []
    if "tests" in record:
        if not isinstance(record["tests"], list):
            got = type(record["tests"]).__name__
            raise ValueError(f"tests: expected a list of {{input, output}}, got {got}")
        for n, test in enumerate(record["tests"]):
            if not isinstance(test, dict) or "input" not in test or "output" not in test:
                raise ValueError(f"tests[{n}]: expected an object with 'input' and 'output'")
            tests.append(_io_pair(test["input"], test["output"], f"tests[{n}]"))
    if "input_output" in record:
        io = record["input_output"]
        if isinstance(io, str):
            try:
                io = json.loads(io)
            except json.JSONDecodeError:
                raise ValueError("input_output: expected JSON {inputs, outputs}") from None
        if not isinstance(io, dict):
            raise ValueError("input_output: expected {inputs: [...], outputs: [...]}")
        tests += _parallel(io.get("inputs"), io.get("outputs"), "input_output")
    for key in ("public_tests", "private_tests", "generated_tests"):
        block = record.get(key)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise ValueError(f"{key}: expected {{input: [...], output: [...]}}, got {type(block).__name__}")
        block_tests = _parallel(block.get("input", []), block.get("output", []), key)
        if key == "public_tests":
            shown += range(len(tests), len(tests) + len(block_tests))
        tests += block_tests
    if not tests:
        raise ValueError(f"{'/'.join(k for k in IO_KEYS if k in record)}: expected at least one test")
    return tests, shown


def _defined(tree: ast.Module) -> set[str]:
    """Every name the code binds, at any nesting (under try/if/with/for, inside functions):
    functions, classes, assignment/loop/with/except targets, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _called(trees: list[ast.Module]) -> list[str]:
    found = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in found:
                found.append(node.func.id)
    return found


def _asserts(node: ast.AST) -> bool:
    return any(
        isinstance(n, (ast.Assert, ast.Raise))
        or (isinstance(n, ast.Call) and "assert" in ast.unparse(n.func).lower())
        for n in ast.walk(node)
    )


def _check_asserts(test: ast.Module) -> None:
    """HumanEval's ``test`` defines check(candidate) that can fail: one that asserts nothing
    (only ``pass``, or no assert/raise anywhere in the test) would pay any reply."""
    checks = [n for n in ast.walk(test) if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not checks:
        raise ValueError("test: expected it to define check(candidate)")
    for check in checks:
        calls = any(isinstance(n, ast.Call) for n in ast.walk(check))
        if not _asserts(test) or not (calls or _asserts(check)):
            raise ValueError(
                f"test: check() at line {check.lineno} asserts nothing (no assert or raise); "
                "it would pass any reply"
            )


def function_task(record: dict[str, Any]) -> dict[str, Any]:
    if "test_list" not in record:  # HumanEval
        prompt, test, entry = _str(record, "prompt"), _str(record, "test"), _str(record, "entry_point")
        if not entry.isidentifier():
            raise ValueError(f"entry_point: expected a function name, got {entry!r}")
        _check_asserts(_python(test, "test"))
        try:  # HumanEval prompts parse (a docstring body); a bare signature does not: keep its imports
            ast.parse(prompt)
            setup = prompt
        except SyntaxError:
            setup = "\n".join(ln for ln in prompt.splitlines() if ln.startswith(("import ", "from ")))
        body = _str(record, "canonical_solution", required=False)
        return {
            "kind": "function",
            "question": prompt,
            "setup": setup,
            "prefix": setup,
            "tests": [test],  # one check(): all its asserts, the prompt's examples too, or nothing
            "shown": [],
            "names": [entry],
            "entry_point": entry,
            "solution": body and prompt + body,
        }
    tests = record["test_list"]
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
        raise ValueError("test_list: expected a non-empty list of assert statements (strings)")
    trees = [_python(t, f"test_list[{n}]") for n, t in enumerate(tests)]
    setup = _str(record, "test_setup_code", required=False, empty=True) or ""
    imports = record.get("test_imports") or []
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        raise ValueError("test_imports: expected a list of import statements (strings)")
    setup = "\n".join([setup, *imports])
    provided = _defined(_python(setup, "test_setup_code/test_imports"))
    text = _str(record, "text", required=False) or _str(record, "prompt", required=False)
    if text is None:
        raise ValueError("text (or prompt): expected the problem statement, a non-empty string")
    code = _str(record, "code", required=False)
    called = [n for n in _called(trees) if n not in provided and not hasattr(builtins, n)]
    if isinstance(record.get("entry_point"), str):
        names = [record["entry_point"]]
    elif code is not None:
        names = [n for n in called if n in _defined(_python(code, "code"))] or called
    else:
        names = called
    if not names:
        raise ValueError("test_list: no call of a function to test (give entry_point)")
    question = f"{text}\nYour code should pass these tests:\n{tests[0]}"
    return {
        "kind": "function",
        "question": question,
        "setup": setup,
        "prefix": setup,
        "tests": tests,
        "shown": [0],
        "names": names,
        "entry_point": None,
        "solution": code,
    }


def task_from_record(record: dict[str, Any]) -> dict[str, Any]:
    function_keys = [k for k in ("test", "test_list") if k in record]
    if any(k in record for k in IO_KEYS) and function_keys:
        io_keys = ", ".join(k for k in IO_KEYS if k in record)
        raise ValueError(
            f"{io_keys} and {', '.join(function_keys)}: a record has stdin/stdout tests or a function "
            "test, not both (ambiguous); keep one shape"
        )
    if any(k in record for k in IO_KEYS):
        statement = next((record[k] for k in ("question", "problem", "description") if k in record), None)
        if not isinstance(statement, str) or not statement.strip():
            raise ValueError("question (or problem/description): expected the problem statement, non-empty")
        tests, shown = io_tests(record)
        task = {
            "kind": "io",
            "question": statement,
            "tests": tests,
            "shown": shown,
            "solution": _str(record, "solution", required=False),
        }
    elif "test_list" in record or "test" in record:
        task = function_task(record)
    else:
        raise ValueError(
            "expected stdin/stdout tests (tests, input_output, public_tests), "
            "a HumanEval test + entry_point, or an MBPP test_list"
        )
    for key in DATASET_IDS:  # kept for tasks.py, which takes the task id from the record
        if key in record:
            task[key] = record[key]
    return task
