"""``domain/`` is pure Python + eventsourcing + pydantic (STYLE.md rule 1): no
streaming, database driver, web framework or HTTP client may be imported there."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = frozenset({"faust", "aiokafka", "psycopg", "psycopg_pool", "fastapi", "starlette", "httpx",
                       "uvicorn", "aiohttp", "requests"})


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """``file:line module`` for every import of a forbidden top-level package in ``source``.

    Every import statement counts, wherever it sits (function bodies, ``TYPE_CHECKING``
    blocks, try/except), as does ``importlib.import_module("x")`` / ``__import__("x")``
    with a literal name.
    """
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []  # relative imports stay in domain/
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "id", None) == "__import__"
                   or getattr(node.func, "attr", None) == "import_module")):
            names = [node.args[0].value]
        else:
            continue
        found += [f"{filename}:{node.lineno} {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def offences_in(package: Path) -> list[str]:
    """Forbidden imports in every ``.py`` file under ``package``, sub-packages included."""
    return [hit for path in sorted(package.rglob("*.py"))
            for hit in forbidden_imports(path.read_text(), str(path.relative_to(package.parent)))]


def test_the_domain_imports_no_infrastructure():
    assert len(list(DOMAIN.rglob("*.py"))) >= 5, f"expected the domain package at {DOMAIN}"
    offences = offences_in(DOMAIN)
    assert offences == [], "domain/ must stay pure (STYLE.md rule 1):\n" + "\n".join(offences)


def test_the_walk_reaches_nested_modules(tmp_path):
    nested = tmp_path / "domain" / "inbox"
    nested.mkdir(parents=True)
    (tmp_path / "domain" / "rules.py").write_text("from eventsourcing.domain import Aggregate\n")
    (nested / "sync.py").write_text("import os\n\n\ndef fetch():\n    import httpx\n")
    assert offences_in(tmp_path / "domain") == ["domain/inbox/sync.py:5 httpx"]


@pytest.mark.parametrize("source", [
    "import psycopg",
    "import os, httpx as client",
    "from fastapi import APIRouter",
    "from psycopg_pool import ConnectionPool",
    "from starlette.requests import Request",
    "import aiokafka.admin",
    "def later():\n    from faust import App\n",
    "try:\n    import requests\nexcept ImportError:\n    requests = None\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import uvicorn\n",
    "import importlib\nimportlib.import_module('aiohttp')",
    "__import__('psycopg')",
])
def test_the_check_catches_each_way_of_importing_infrastructure(source):
    assert len(forbidden_imports(source)) == 1, source


@pytest.mark.parametrize("source", [
    "from eventsourcing.domain import Aggregate, event",
    "import pydantic\nfrom dataclasses import dataclass",
    "from . import statuses\nfrom .errors import NotFound",
    "import psycopg_like_but_not\nimport requests_oauth_helper",
    "text = 'import psycopg'  # a string is not an import",
])
def test_the_check_leaves_pure_code_alone(source):
    assert forbidden_imports(source) == []
