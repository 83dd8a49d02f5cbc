"""Runs function tests (HumanEval/MBPP style) inside the sandbox without trusting the code
under test. Copied into the sandbox as a file; not imported by the host.

The harness reads the request (trusted setup code, the tests, the names to call, a nonce
and time limits) from stdin, makes itself non-dumpable (so the candidate, same uid, cannot
read its memory or open its file descriptors through /proc), and starts the candidate in a
child process (this file run with ``--child``) whose stdout/stderr go nowhere. The tests run
here, in the harness; every call of a candidate function crosses a pipe as ``marshal`` data
in the tagged form of ``encode``, and what comes back is rebuilt here by ``decode`` as
objects of safe built-in types only (never an object of the candidate's classes: its
``__eq__`` is never called, and nothing from the candidate is executed here):
- None, bool, int, float, complex, str, bytes as themselves (exact types);
- list/tuple/dict/set/frozenset and their subclasses (Counter, namedtuple, OrderedDict,
  defaultdict...) as the base type built from their items; bytearray; dict views;
- Fraction, Decimal, complex subclasses rebuilt from their parts; range as a range;
- a returned iterator or generator as an iterator over its rebuilt items (materialized in
  the child, at most ITER_MAX: reading past them fails the test, so islice(gen(), 5) of an
  endless generator works);
- a function passed by the test (a callback) runs here, called back from the child.
After a call, list/dict/set/bytearray arguments are updated in place from their state in
the child (so an in-place sort is seen). Each call has a deadline; a child that hangs,
dies or exits is killed and restarted for the next test. The verdicts are printed on one
line tagged with the nonce, on a stream the candidate cannot write.

What cannot cross (the test fails, or is an error when the harness's own argument cannot pass):
subclasses of int/float/str/bytes (IntEnum, numpy scalars) and objects of other classes
(dataclasses, numpy arrays) returned by the candidate; such objects as a test's arguments; an
iterator nested inside a value, or as an argument; behaviour of the rebuilt types' subclasses
(a Counter comes back a dict: no most_common, a missing key raises KeyError); identity (the same
list passed twice arrives as two lists; copy-back replaces the items of the original); changes
to arguments when the call raises; a callback that calls the candidate again, or one of
eval/exec/open/getattr... (they would run the candidate's text here).

Verdicts: [status, detail] with status passed | failed | timeout | error (error: the
harness could not run the test, e.g. an argument that it cannot pass).
"""

import builtins
import collections.abc
import ctypes
import itertools
import json
import marshal
import os
import select
import struct
import subprocess
import sys
import time

MAX_FRAME = 32 << 20
MAX_DEPTH = 200
ITER_MAX = 10_000  # items of a returned iterator that cross
ATOMS = (type(None), bool, int, float, complex, str, bytes)
MUTABLE = (list, dict, set, bytearray)
SEQUENCES = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
UNSAFE_CALLBACKS = [
    getattr(builtins, name)
    for name in (  # they would run the candidate's text here
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "breakpoint",
        "input",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "exit",
        "quit",
    )
    if hasattr(builtins, name)
]
VIEWS = {type({}.keys()): "keys", type({}.values()): "values", type({}.items()): "items"}


class Unplain(Exception):
    """A value that has no safe plain form."""


def encode(value, function_index, depth=0):
    """Plain data for marshal: exact atoms as themselves, anything else a (tag, payload) tuple.
    ``function_index(f)`` gives a callable's index (or raises Unplain)."""
    kind = type(value)
    if kind in ATOMS:
        return value
    if depth > MAX_DEPTH:
        raise Unplain("a value nested too deeply")

    def sub(item):
        return encode(item, function_index, depth + 1)

    fractions, decimal = sys.modules.get("fractions"), sys.modules.get("decimal")
    if isinstance(value, dict):
        return "dict", [node for pair in dict.items(value) for node in (sub(pair[0]), sub(pair[1]))]
    for tag, base in SEQUENCES.items():
        if isinstance(value, base):
            return tag, [sub(item) for item in base.__iter__(value)]
    for view, tag in VIEWS.items():  # odict_keys etc. are subclasses
        if isinstance(value, view):
            return tag, [sub(item) for item in value]
    if isinstance(value, bytearray):
        return "bytearray", bytes(value)
    if isinstance(value, complex):
        return "complex", (float(value.real), float(value.imag))
    if isinstance(value, range):
        return "range", (value.start, value.stop, value.step)
    if fractions and isinstance(value, fractions.Fraction):
        return "fraction", (int(value.numerator), int(value.denominator))
    if decimal and isinstance(value, decimal.Decimal):
        return "decimal", decimal.Decimal.__str__(value)
    if depth == 0 and isinstance(value, collections.abc.Iterator):
        items = list(itertools.islice(value, ITER_MAX + 1))
        return "iter" if len(items) <= ITER_MAX else "iter_prefix", [sub(item) for item in items[:ITER_MAX]]
    if callable(value):
        return "fn", function_index(value)
    raise Unplain(f"a {kind.__name__}")


def decode(node, function, depth=0):
    """The value of an ``encode`` node, built from safe types only; ``function(index)`` gives the
    callable for a function index. Raises ValueError/TypeError on a malformed node."""
    kind = type(node)
    if kind in ATOMS:
        return node
    if kind is not tuple or len(node) != 2 or type(node[0]) is not str or depth > MAX_DEPTH:
        raise ValueError("malformed value")
    tag, payload = node

    def items():
        if type(payload) is not list:
            raise ValueError("malformed value")
        return [decode(item, function, depth + 1) for item in payload]

    if tag in SEQUENCES:
        return SEQUENCES[tag](items())
    if tag == "dict":
        flat = items()
        return dict(zip(flat[::2], flat[1::2], strict=True))
    if tag == "items":
        pairs = items()
        if not all(type(pair) is tuple and len(pair) == 2 for pair in pairs):
            raise ValueError("malformed dict items")
        return dict(pairs).items()
    if tag == "keys":
        return dict.fromkeys(items()).keys()
    if tag == "values":
        return dict(enumerate(items())).values()
    if tag == "iter":
        return iter(items())
    if tag == "iter_prefix":
        return prefix_then_fail(items())
    parts = payload if type(payload) is tuple else ()
    if tag == "bytearray" and type(payload) is bytes:
        return bytearray(payload)
    if tag == "complex" and len(parts) == 2 and all(type(p) is float for p in parts):
        return complex(*parts)
    if tag == "range" and len(parts) == 3 and all(type(p) is int for p in parts):
        return range(*parts)
    if tag == "fraction" and len(parts) == 2 and all(type(p) is int for p in parts):
        from fractions import Fraction

        return Fraction(*parts)
    if tag == "decimal" and type(payload) is str and len(payload) < 10_000:
        from decimal import Decimal

        return Decimal(payload)
    if tag == "fn" and type(payload) is int:
        return function(payload)
    raise ValueError("malformed value")


def prefix_then_fail(items):
    yield from items
    raise CandidateError(f"returned an iterator of more than {ITER_MAX} items; only those cross")


def mutable_arguments(args, kwargs):
    return [a for a in list(args) + list(kwargs.values()) if isinstance(a, MUTABLE)]


def exception_text(exc):
    return type(exc).__name__ + ": " + str(exc)[:200]


def builtin_exception(text):
    """The builtin Exception class named at the start of text, or None."""
    base = getattr(builtins, text.split(":", 1)[0], None)
    return base if isinstance(base, type) and issubclass(base, Exception) else None


class Pipe:
    """Length-prefixed marshal frames over a pair of file objects (the child's side)."""

    def __init__(self, rpc_in, rpc_out):
        self.rpc_in, self.rpc_out = rpc_in, rpc_out

    def send(self, *message):
        data = marshal.dumps(message)
        self.rpc_out.write(struct.pack("!I", len(data)) + data)
        self.rpc_out.flush()

    def receive(self):
        header = self.rpc_in.read(4)
        if len(header) < 4:
            os._exit(0)
        return marshal.loads(self.rpc_in.read(struct.unpack("!I", header)[0]))


def child():
    """The candidate's side: load solution.py, then answer calls until the pipe closes."""
    import importlib.util

    pipe = Pipe(os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb"))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    proxies = {}

    def proxy(index):
        def callback(*args, **kwargs):
            pipe.send("callback", index, encode(args, proxy_index), encode(kwargs, proxy_index))
            tag, value = pipe.receive()
            if tag == "raised":
                raise (builtin_exception(value) or RuntimeError)(value)
            return decode(value, proxy)

        return proxies.setdefault(index, callback)

    def proxy_index(function):
        for index, known in proxies.items():
            if known is function:
                return index
        raise Unplain(f"a {type(function).__name__}")

    try:
        spec = importlib.util.spec_from_file_location("solution", "solution.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        pipe.send("ok")
    except BaseException as exc:
        pipe.send("raised", exception_text(exc))
        os._exit(0)
    while True:
        _, name, args, kwargs = pipe.receive()
        proxies.clear()
        args, kwargs = decode(args, proxy), decode(kwargs, proxy)
        try:
            value = getattr(module, name)(*args, **kwargs)
        except BaseException as exc:
            pipe.send("raised", exception_text(exc))
            continue
        try:
            states = [encode(a, proxy_index, 1) for a in mutable_arguments(args, kwargs)]
            pipe.send("ok", encode(value, proxy_index), states)
        except (Unplain, ValueError) as exc:  # ValueError: marshal's too deep/too big
            pipe.send("unplain", str(exc) if isinstance(exc, Unplain) else "a value marshal cannot send")
        except BaseException as exc:
            pipe.send("raised", exception_text(exc))


class CandidateError(BaseException):
    """The candidate died, sent a malformed reply or returned something with no safe form.
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
    base = builtin_exception(text)
    if base is None:  # SystemExit etc.: a plain failure
        return CandidateError(f"raised {text}")
    if issubclass(base, (StopIteration, StopAsyncIteration)):  # as PEP 479 does for generators:
        base, text = RuntimeError, f"RuntimeError: the function raised {text}"  # all(map(f, ...)) fails
    try:
        return type(base.__name__, (CandidateRaised, base), {})(text)
    except TypeError:
        return CandidateRaised(text)


class Candidate:
    """The candidate's module, loaded in a child process; calls go over a pipe."""

    def __init__(self, deadline):
        self.deadline, self.busy = deadline, False
        pipe = subprocess.PIPE
        command = [sys.executable, "-I", os.path.abspath(__file__), "--child"]
        self.child = subprocess.Popen(
            command, stdin=pipe, stdout=pipe, stderr=subprocess.DEVNULL, close_fds=True
        )
        self.died = False
        message = self.receive()
        if message[0] != "ok":
            raise CandidateError(f"{message[1]}")

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

    def fail(self, why):
        self.kill()
        return CandidateError(why)

    def receive(self):
        """One message from the child, a tuple starting with its tag (the rest not yet checked)."""
        try:
            size = struct.unpack("!I", self._read(4))[0]
            if size > MAX_FRAME:
                raise CandidateError("the candidate sent an oversized reply")
            message = marshal.loads(self._read(size))
        except (CandidateError, CandidateTimeout):
            self.kill()
            raise
        except Exception:
            raise self.fail("the candidate sent a malformed reply") from None
        if type(message) is not tuple or not message or type(message[0]) is not str:
            raise self.fail("the candidate sent a malformed reply")
        if message[0] in ("raised", "unplain") and (len(message) != 2 or type(message[1]) is not str):
            raise self.fail("the candidate sent a malformed reply")
        return message

    def send(self, *message):
        data = marshal.dumps(message)
        fd, frame = self.child.stdin.fileno(), struct.pack("!I", len(data)) + data
        try:
            while frame:
                self._wait(fd, write=True)
                frame = frame[os.write(fd, frame[:65536]) :]
        except OSError:
            raise self.fail("the candidate process died") from None
        except CandidateTimeout:
            self.kill()
            raise

    def call(self, name, args, kwargs):
        if self.died:
            raise CandidateError("the candidate process died earlier in this test")
        if self.busy:
            raise HarnessError("a callback calls the candidate again; this harness cannot do that")
        functions = []

        def function_index(function):
            if any(function is unsafe for unsafe in UNSAFE_CALLBACKS):
                raise Unplain(f"{function.__name__}, which would run the candidate's text in the harness")
            functions.append(function)
            return len(functions) - 1

        try:
            message = ("call", name, encode(args, function_index), encode(kwargs, function_index))
            marshal.dumps(message)
        except (Unplain, ValueError) as exc:
            why = f"an argument of {name}() ({exc}) is not plain data or a safe type; cannot pass it"
            raise HarnessError(why) from None
        self.send(*message)
        self.busy = True
        try:
            message = self.receive()
            while message[0] == "callback":
                self.answer_callback(message, functions, function_index)
                message = self.receive()
        except BaseException:  # the child is mid-call: restart it for the next test
            self.kill()
            raise
        finally:
            self.busy = False
        return self.result(message, functions, mutable_arguments(args, kwargs))

    def answer_callback(self, message, functions, function_index):
        """Runs a function the test passed (a callback) on the arguments the candidate gave it."""
        try:
            _, index, args, kwargs = message
            function = functions[index]
            args, kwargs = decode(args, functions.__getitem__), decode(kwargs, functions.__getitem__)
            if type(args) is not tuple or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise ValueError
        except Exception:
            raise self.fail("the candidate sent a malformed callback") from None
        try:
            reply = ("ok", encode(function(*args, **kwargs), function_index))
        except Unplain as exc:
            reply = ("raised", f"TypeError: a callback returned {exc}, which cannot cross to the candidate")
        except Exception as exc:
            reply = ("raised", exception_text(exc))
        self.send(*reply)

    def result(self, message, functions, mutable):
        tag = message[0]
        if tag == "raised":
            raise raised(message[1])
        if tag == "unplain":
            why = f"returned {message[1]}, not plain data (numbers, strings, containers of them)"
            raise CandidateError(why)
        try:
            _, value, states = message
            value = decode(value, functions.__getitem__)
            if type(states) is not list or len(states) != len(mutable):
                raise ValueError
            states = [decode(state, functions.__getitem__, 1) for state in states]
        except Exception:
            raise self.fail("the candidate sent a malformed reply") from None
        for original, state in zip(mutable, states):
            base = next(kind for kind in MUTABLE if isinstance(original, kind))
            if type(state) is not base:
                raise self.fail("the candidate sent a malformed reply")
            if state != original:
                if base is dict or base is set:
                    original.clear()
                    original.update(state)
                else:
                    original[:] = state
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
    child() if sys.argv[1:] == ["--child"] else main()
