"""Dependencies point one way: trainers -> atropos_envs -> rewards."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"rewards": {"atropos_envs", "trainers"}, "atropos_envs": {"trainers"}}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) & FORBIDDEN[package]
    }
    assert not offenders, f"{package} must not import {FORBIDDEN[package]}: {offenders}"


def test_rewards_do_no_io():
    io_modules = {"os", "subprocess", "socket", "httpx", "requests", "shutil", "pathlib"}
    for path in (ROOT / "rewards").rglob("*.py"):
        assert not imported_packages(path) & io_modules, f"{path.name} imports an I/O module"
