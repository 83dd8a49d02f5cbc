"""Runs function tests (HumanEval/MBPP style) inside the sandbox without showing them to
the code under test. Copied into the sandbox as a file; not imported by the host.

The harness reads the test code and a nonce from stdin, makes itself non-dumpable (so the
candidate, same uid, cannot read its memory through /proc), and starts the candidate in a
child process whose stdout/stderr go nowhere. Calls cross over pipes as ``marshal`` data
(plain values only: nothing from the candidate is ever unpickled or executed here). The
verdicts are printed on one line tagged with the nonce, which the candidate never sees.
"""

import ctypes
import json
import marshal
import struct
import subprocess
import sys

RUNNER = r"""
import marshal, os, struct, sys, importlib.util
rpc_in, rpc_out = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
def send(obj):
    try:
        data = marshal.dumps(obj)
    except ValueError:
        data = marshal.dumps((False, "the function returned a value that is not plain data"))
    rpc_out.write(struct.pack("!I", len(data)) + data); rpc_out.flush()
try:
    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    send((True, None))
except BaseException as exc:
    send((False, f"{type(exc).__name__}: {exc}")); sys.exit(0)
while True:
    header = rpc_in.read(4)
    if len(header) < 4:
        sys.exit(0)
    name, args, kwargs = marshal.loads(rpc_in.read(struct.unpack("!I", header)[0]))
    try:
        send((True, getattr(module, name)(*args, **kwargs)))
    except BaseException as exc:
        send((False, f"{type(exc).__name__}: {exc}"))
"""


class CandidateError(Exception):
    pass


def main() -> None:
    request = json.loads(sys.stdin.read())
    sys.stdin.close()
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    child = subprocess.Popen([sys.executable, "-I", "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)  # fmt: skip

    def receive():
        header = child.stdout.read(4)
        if len(header) < 4:
            raise CandidateError("the candidate process died")
        ok, value = marshal.loads(child.stdout.read(struct.unpack("!I", header)[0]))
        if not ok:
            raise CandidateError(value)
        return value

    def call(name):
        def proxy(*args, **kwargs):
            data = marshal.dumps((name, args, kwargs))
            child.stdin.write(struct.pack("!I", len(data)) + data)
            child.stdin.flush()
            return receive()

        return proxy

    verdicts = []
    try:
        receive()  # the solution module loaded
        loaded = None
    except CandidateError as exc:
        loaded = str(exc)
    for test in request["tests"]:
        if loaded is not None:
            verdicts.append([False, f"solution did not load: {loaded}"[:300]])
            continue
        scope = {name: call(name) for name in request["names"]}
        try:
            exec(compile(test, "<test>", "exec"), scope)  # the task's own test code, not the model's
            if "check" in scope and callable(scope["check"]) and request.get("entry_point"):
                scope["check"](call(request["entry_point"]))
            verdicts.append([True, "passed"])
        except AssertionError as exc:
            verdicts.append([False, f"assertion failed {exc}".strip()[:300]])
        except CandidateError as exc:
            verdicts.append([False, f"candidate raised {exc}"[:300]])
        except Exception as exc:
            verdicts.append([False, f"{type(exc).__name__}: {exc}"[:300]])
    child.kill()
    print(request["nonce"] + json.dumps(verdicts), flush=True)


if __name__ == "__main__":
    main()
