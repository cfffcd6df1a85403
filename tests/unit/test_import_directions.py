"""Imports point one way (docs/architecture.md): each package may import only the
packages below it, so there are no cycles to hide behind function-local imports."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# package -> what it may import of ours. firmtext.config (Settings) is a leaf every layer
# may read; firmtext (the composition root and the command line) may import everything.
ALLOWED = {
    "domain": set(),
    "projections": {"domain", "adapters"},
    "adapters": {"domain", "firmtext.config"},
    "streams": {"domain", "projections", "adapters", "firmtext.config"},
    "firmtext": {"domain", "projections", "adapters", "streams"},
}
OURS = set(ALLOWED)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of ours in ``path``, function bodies included."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if node.lineno not in typing_only:
            found += [(node.lineno, n) for n in names if n.split(".")[0] in OURS]
    return found


def _permitted(package: str, module: str) -> bool:
    top = module.split(".")[0]
    return top == package or top in ALLOWED[package] or any(
        module == leaf or module.startswith(leaf + ".") for leaf in ALLOWED[package])


def test_every_import_points_down():
    wrong = []
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            wrong += [f"{path.relative_to(ROOT)}:{line} imports {module}"
                      for line, module in imports_of(path) if not _permitted(package, module)]
    assert wrong == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_alone_in_a_fresh_interpreter(package):
    modules = sorted({".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                      for p in (ROOT / package).rglob("*.py") if p.name != "__main__.py"})
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + \
           "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split()) & OURS
    assert loaded - {package} - {a.split(".")[0] for a in ALLOWED[package]} == set()


def test_the_allowed_directions_have_no_cycle():
    def reaches(start: str, goal: str, seen=()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,)))
                   for n in (a.split(".")[0] for a in ALLOWED.get(start, ())) if n != start and n in ALLOWED
                   and not (start != "firmtext" and n == "firmtext"))
    assert not [p for p in ALLOWED if p != "firmtext" and reaches(p, p)]
