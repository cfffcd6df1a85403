"""Create and drop databases on any PostgreSQL server (tests get one each)."""
from __future__ import annotations

from firmtext.infra.daemon import InfraError


def create_database(url: str, name: str, exist_ok: bool = False) -> str:
    """Create database ``name`` on the server of ``url``; returns its URL."""
    import psycopg  # imported here: no I/O or heavy imports when the module loads
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not exist_ok:
            raise InfraError(f"database {name} already exists")
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(url, name)


def _with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (URL or key=value conninfo)."""
    from urllib.parse import urlsplit, urlunsplit

    from psycopg.conninfo import make_conninfo

    if "://" in url:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + name))
    return make_conninfo(url, dbname=name)


def drop_database(url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``url``, disconnecting its sessions."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
