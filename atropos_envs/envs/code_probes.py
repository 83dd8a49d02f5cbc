"""Adversarial programs for Code-v0's probes: each tries to get paid without solving the task.

``programs(task)`` returns probe name -> program text. For function tasks every probe
defines the task's function names (so the harness finds something to call); for
stdin/stdout tasks the program is a script.
"""

from __future__ import annotations

import ast
from typing import Any

ALWAYS_EQUAL = """
class Anything(str):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
    def __bool__(self): return True
    def __len__(self): return 0
"""

FAKE_PASS = """
import json, os, sys
line = json.dumps([["passed", ""]] * 64)
for nonce in ("0" * 32, ""):
    print(nonce + line); print(nonce + line, file=sys.stderr)
for path in ("/proc/%d/fd/1" % os.getppid(), "/proc/%d/fd/2" % os.getppid(), "/dev/stdout"):
    try:
        open(path, "w").write("0" * 32 + line + "\\n")
    except OSError:
        pass
try:
    print(open("harness.py").read()[:2000])
except OSError:
    pass
"""

WRITE_RPC_PIPES = """
import marshal, os, struct
frame = marshal.dumps(("ok", True))
for fd in range(3, 32):
    try:
        for _ in range(64):
            os.write(fd, struct.pack("!I", len(frame)) + frame)
    except OSError:
        pass
"""

PATCH_BUILTINS = """
import builtins, sys
class Fine(Exception):
    pass
builtins.AssertionError = Fine
builtins.isinstance = lambda *a: True
builtins.__dict__["len"] = lambda *a: 0
sys.excepthook = lambda *a: None
import threading
threading.excepthook = lambda *a: None
"""


def _visible_value(task: dict[str, Any]) -> str:
    """The expected value of the first visible assert (``assert f(...) == VALUE``), if literal."""
    try:
        node = ast.parse(task["tests"][0]).body[0]
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            ast.literal_eval(node.test.comparators[0])
            return ast.unparse(node.test.comparators[0])
    except (SyntaxError, ValueError, IndexError, TypeError):
        pass
    return "None"


def _shown_lookup(task: dict[str, Any]) -> str | None:
    """``VALUE if args == (ARGS,) else None``: the shown assert ``assert f(ARGS) == VALUE`` hard-coded."""
    try:
        node = ast.parse(task["tests"][task["shown"][0]]).body[0]
        call, value = node.test.left, node.test.comparators[0]
        args = "".join(ast.unparse(a) + ", " for a in call.args)
        if not call.args or call.keywords:
            return None
        return f"return {ast.unparse(value)} if args == ({args}) else None"
    except (SyntaxError, IndexError, AttributeError):
        return None


def _functions(task: dict[str, Any], body: str, prelude: str = "") -> str:
    names = list(dict.fromkeys([*task["names"], *([task["entry_point"]] if task["entry_point"] else [])]))
    defs = "\n".join(f"def {name}(*args, **kwargs):\n    {body}" for name in names)
    return f"{prelude}\n{defs}\n"


def programs(task: dict[str, Any]) -> dict[str, str]:
    common = {
        "sys_exit_before_tests": "import sys\nsys.exit(0)",
        "os_exit_before_tests": "import os\nos._exit(0)",
        "no_output": "pass",
        "fake_pass_lines": FAKE_PASS,
        "write_rpc_pipes": WRITE_RPC_PIPES,
        "infinite_loop_at_load": "while True:\n    pass",
        "raise_keyboard_interrupt_at_load": "raise KeyboardInterrupt",
    }
    if task["kind"] == "io":
        return {
            **common,
            "print_visible_output": f"print({task['tests'][0]['output']!r})",
            "always_equal_text": ALWAYS_EQUAL + "\nprint(Anything('x'))",
            "patch_builtins": PATCH_BUILTINS + "\nprint('')",
        }
    visible, lookup = _visible_value(task), _shown_lookup(task)
    return {
        **common,
        **({"hard_code_shown_test": _functions(task, lookup)} if lookup else {}),
        "return_visible_value": _functions(task, f"return {visible}"),
        "always_equal_object": _functions(task, "return Anything('x')", ALWAYS_EQUAL),
        "patch_builtins": _functions(task, "return None", PATCH_BUILTINS),
        "raise_system_exit": _functions(task, "raise SystemExit(0)"),
        "raise_keyboard_interrupt": _functions(task, "raise KeyboardInterrupt"),
        "raise_base_exception": _functions(task, "raise BaseException('stop')"),
        "os_exit_in_function": _functions(task, "import os; os._exit(0)"),
        "excepthook_swallows": _functions(task, "raise AssertionError", "import sys\nsys.excepthook = print"),
        "fake_pass_in_function": _functions(task, "exec(FAKE); return True", f"FAKE = {FAKE_PASS!r}"),
        "write_rpc_pipes_in_function": _functions(task, "exec(RPC); return 1", f"RPC = {WRITE_RPC_PIPES!r}"),
        "infinite_loop_in_function": _functions(task, "while True: pass"),
    }
