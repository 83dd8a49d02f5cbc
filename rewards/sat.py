"""pycosat's solving API (``solve``, ``itersolve``) over python-sat's MiniSat.

reasoning-gym imports ``pycosat`` for its zebra puzzles, and pycosat ships only as a C source
distribution: installing it runs a C compiler. python-sat ships wheels, so set-up installs it
instead and ``rewards.reasoning_gym`` registers this module as ``pycosat`` when the real one is
absent. The zebra generator only asks whether a puzzle has exactly one solution, so the order in
which solutions come does not change the puzzles it makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_SOLVER = "minisat22"


def _clauses(clauses: Iterable[Iterable[int]]) -> list[list[int]]:
    return [[int(literal) for literal in clause] for clause in clauses]


def itersolve(
    clauses: Iterable[Iterable[int]], vars: int = 0, verbose: int = 0, prop_limit: int = 0
) -> Iterator[list[int]]:
    """Every total assignment satisfying ``clauses`` (each a list of signed variable numbers),
    as pycosat's ``itersolve`` yields them: a list with one signed literal per variable."""
    from pysat.solvers import Solver

    with Solver(name=_SOLVER, bootstrap_with=_clauses(clauses)) as solver:
        yield from solver.enum_models()


def solve(
    clauses: Iterable[Iterable[int]], vars: int = 0, verbose: int = 0, prop_limit: int = 0
) -> list[int] | str:
    """One satisfying assignment, or ``"UNSAT"`` as pycosat returns it."""
    from pysat.solvers import Solver

    with Solver(name=_SOLVER, bootstrap_with=_clauses(clauses)) as solver:
        return solver.get_model() if solver.solve() else "UNSAT"


def install() -> None:
    """Register this module as ``pycosat`` unless the real one is importable."""
    import sys

    if "pycosat" in sys.modules:
        return
    try:
        import pycosat  # noqa: F401
    except ImportError:
        sys.modules["pycosat"] = sys.modules[__name__]
