"""Every advisory lock has a key of its own (the rebuild lock once shared the live
batches' partition lock class, 7_013_003)."""
import ast
from pathlib import Path

from adapters import pg_locks

ROOT = Path(__file__).resolve().parents[2]


def test_lock_keys_are_distinct_within_each_key_space():
    singles, classes = list(pg_locks.SINGLE_KEY.values()), list(pg_locks.TWO_KEY_CLASSES.values())
    assert len(set(singles)) == len(singles)
    assert len(set(classes)) == len(classes)
    assert pg_locks.REBUILD != pg_locks.PROJECTION_PARTITION


def test_no_module_spells_a_lock_key_of_its_own():
    spelled = []
    for path in ROOT.glob("[dpsaf]*/**/*.py"):
        if path.name == "pg_locks.py" or ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, int) and 7_013_000 <= node.value < 7_014_000:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert spelled == [], "declare advisory lock keys in adapters/pg_locks.py"
