"""Runs function tests (HumanEval/MBPP style) inside the sandbox without trusting the code
under test. Copied into the sandbox as a file; not imported by the host.

The harness reads the request (trusted setup code, the tests, the names to call, a nonce
and time limits) from stdin, makes itself non-dumpable (so the candidate, same uid, cannot
read its memory or open its file descriptors through /proc), and starts the candidate in a
child process whose stdout/stderr go nowhere. The tests run here, in the harness; every
call of a candidate function crosses a pipe as ``marshal`` data, so what comes back is a
plain built-in value (never an object of the candidate's classes: its ``__eq__`` is never
called) and nothing from the candidate is executed here. Each call has a deadline; a child
that hangs, dies or exits is killed and restarted for the next test. The verdicts are
printed on one line tagged with the nonce, on a stream the candidate cannot write.

Verdicts: [status, detail] with status passed | failed | timeout | error (error: the
harness could not run the test, e.g. an argument that is not plain data).
"""

import builtins
import ctypes
import json
import marshal
import os
import select
import struct
import subprocess
import sys
import time

MAX_FRAME = 32 << 20
PLAIN = (type(None), bool, int, float, complex, str, bytes, tuple, list, set, frozenset, dict)

RUNNER = r"""
import marshal, os, struct, sys, importlib.util
rpc_in, rpc_out = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
def send(tag, value):
    try:
        data = marshal.dumps((tag, value))
    except ValueError:
        data = marshal.dumps(("unplain", type(value).__name__))
    rpc_out.write(struct.pack("!I", len(data)) + data); rpc_out.flush()
try:
    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    send("ok", None)
except BaseException as exc:
    send("raised", type(exc).__name__ + ": " + str(exc)[:200]); os._exit(0)
while True:
    header = rpc_in.read(4)
    if len(header) < 4:
        os._exit(0)
    name, args, kwargs = marshal.loads(rpc_in.read(struct.unpack("!I", header)[0]))
    try:
        send("ok", getattr(module, name)(*args, **kwargs))
    except BaseException as exc:
        send("raised", type(exc).__name__ + ": " + str(exc)[:200])
"""


class CandidateError(BaseException):
    """The candidate died, sent a malformed reply or returned something that is not plain data.
    A BaseException, like the two below, so that no ``except Exception`` in a task's test
    code can swallow it."""


class CandidateTimeout(BaseException):
    pass


class HarnessError(BaseException):
    """The harness cannot run this test (not the candidate's fault)."""


class CandidateRaised(Exception):
    """The candidate's function raised; also an instance of the builtin exception class of that
    name (ValueError, ...), so a test that expects the candidate to raise it sees it."""


def raised(text):
    name = text.split(":", 1)[0]
    base = getattr(builtins, name, None)
    if not (isinstance(base, type) and issubclass(base, Exception)):  # SystemExit etc.: a plain failure
        return CandidateError(f"raised {text}")
    try:
        return type(name, (CandidateRaised, base), {})(text)
    except TypeError:
        return CandidateRaised(text)


def plain(value, depth=0):
    if type(value) not in PLAIN or depth > 200:
        return False
    if type(value) is dict:
        return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in value.items())
    if type(value) in (tuple, list, set, frozenset):
        return all(plain(v, depth + 1) for v in value)
    return True


class Candidate:
    """The candidate's module, loaded in a child process; calls go over a pipe."""

    def __init__(self, deadline):
        self.deadline = deadline
        pipe = subprocess.PIPE
        self.child = subprocess.Popen([sys.executable, "-I", "-c", RUNNER], stdin=pipe, stdout=pipe,
                                      stderr=subprocess.DEVNULL, close_fds=True)  # fmt: skip
        self.died = False
        tag, value = self.receive()
        if tag != "ok":
            raise CandidateError(f"{value}")

    def kill(self):
        self.died = True
        try:
            self.child.kill()
            self.child.wait(5)
        except Exception:
            pass

    def _wait(self, fd, write):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CandidateTimeout()
        ready = select.select([], [fd], [], left) if write else select.select([fd], [], [], left)
        if not any(ready):
            raise CandidateTimeout()

    def _read(self, n):
        fd, data = self.child.stdout.fileno(), b""
        while len(data) < n:
            self._wait(fd, write=False)
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise CandidateError("the candidate process died")
            data += chunk
        return data

    def receive(self):
        try:
            size = struct.unpack("!I", self._read(4))[0]
            if size > MAX_FRAME:
                raise CandidateError("the candidate sent an oversized reply")
            tag, value = marshal.loads(self._read(size))
        except (CandidateError, CandidateTimeout):
            self.kill()
            raise
        except Exception:
            self.kill()
            raise CandidateError("the candidate sent a malformed reply") from None
        if tag == "ok" and plain(value):
            return tag, value
        if tag == "raised" and type(value) is str:
            return tag, value
        if tag == "unplain" and type(value) is str:
            return tag, f"returned a {value}, not plain data (numbers, strings, containers of them)"
        self.kill()
        raise CandidateError("the candidate sent a malformed reply")

    def call(self, name, args, kwargs):
        if self.died:
            raise CandidateError("the candidate process died earlier in this test")
        try:
            data = marshal.dumps((name, args, kwargs))
        except ValueError:
            why = f"an argument of {name}() is not plain data; this harness cannot pass it"
            raise HarnessError(why) from None
        fd, frame = self.child.stdin.fileno(), struct.pack("!I", len(data)) + data
        try:
            while frame:
                self._wait(fd, write=True)
                frame = frame[os.write(fd, frame[:65536]):]
        except OSError:
            self.kill()
            raise CandidateError("the candidate process died") from None
        except CandidateTimeout:
            self.kill()
            raise
        tag, value = self.receive()
        if tag == "raised":
            raise raised(value)
        if tag != "ok":
            raise CandidateError(value)
        return value

    def proxy(self, name):
        def function(*args, **kwargs):
            return self.call(name, args, kwargs)

        function.__name__ = name
        return function


def run_tests(request, deadline):
    setup_scope = {"__name__": "__main__"}
    try:
        exec(compile(request["setup"], "<setup>", "exec"), setup_scope)
    except Exception as exc:
        why = f"the task's setup code failed: {type(exc).__name__}: {exc}"
        return [["error", why[:300]]] * len(request["tests"])
    verdicts, candidate, load_error, load_timeout = [], None, None, False
    for test in request["tests"]:
        now = time.monotonic()
        if now >= deadline or load_timeout:
            why = "loading the solution took too long" if load_timeout else "the step's time budget ran out"
            verdicts.append(["timeout", why])
            continue
        test_deadline = min(deadline, now + request["test_time_s"])
        try:
            if load_error is None and (candidate is None or candidate.died):
                candidate = Candidate(test_deadline)
        except CandidateTimeout:
            load_timeout = True
            verdicts.append(["timeout", "loading the solution took too long"])
            continue
        except CandidateError as exc:
            load_error = str(exc)
        if load_error is not None:
            verdicts.append(["failed", f"solution did not load: {load_error}"])
            continue
        candidate.deadline = test_deadline
        scope = dict(setup_scope)
        scope.update({name: candidate.proxy(name) for name in request["names"]})
        try:
            exec(compile(test, "<test>", "exec"), scope)
            if request.get("entry_point"):
                scope["check"](candidate.proxy(request["entry_point"]))
            verdicts.append(["passed", ""])
        except CandidateTimeout:
            verdicts.append(["timeout", f"no answer within {request['test_time_s']} s"])
        except HarnessError as exc:
            verdicts.append(["error", str(exc)])
        except (CandidateError, CandidateRaised) as exc:
            verdicts.append(["failed", f"candidate: {exc}"])
        except AssertionError as exc:
            verdicts.append(["failed", f"assertion failed {exc}".strip()])
        except Exception as exc:
            verdicts.append(["failed", f"{type(exc).__name__}: {exc}"])
    if candidate is not None:
        candidate.kill()
    return [[status, detail[:300]] for status, detail in verdicts]


def main():
    request = json.loads(sys.stdin.read())
    sys.stdin.close()
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    deadline = time.monotonic() + request["budget_s"]
    verdicts = run_tests(request, deadline)
    print(request["nonce"] + json.dumps(verdicts), flush=True)


if __name__ == "__main__":
    main()
