"""How the outbox relay is doing, kept in PostgreSQL so every process can tell operators.

The relay writes its state when it changes and a heartbeat every few seconds
(``relay_status``); what the log refused for good is in ``relay_set_aside``. Readers
(/readyz, /metrics, ``firmtext projections status``) call :func:`relay_report`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

HEARTBEAT_SECONDS = 5.0
# No heartbeat for this long: no relay is running (or it is stuck).
STALE_SECONDS = 30.0
DETAIL_CHARS = 300


def describe(exc: BaseException) -> str:
    """One line for operators: the error's type and message, never a traceback."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    return text[:DETAIL_CHARS]


def record_state(conn: psycopg.Connection, name: str, state: str, detail: str = "") -> None:
    """Upsert the relay's state; ``since`` moves only when the state itself changes."""
    conn.execute(
        "INSERT INTO relay_status (name, state, detail) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET detail = EXCLUDED.detail, heartbeat_at = now(), "
        "state = EXCLUDED.state, since = CASE WHEN relay_status.state = EXCLUDED.state "
        "THEN relay_status.since ELSE now() END",
        (name, state, detail[:DETAIL_CHARS]))


def record_set_aside(conn: psycopg.Connection, envelope: dict, size: int, reason: str) -> None:
    conn.execute(
        "INSERT INTO relay_set_aside (notification_id, stream_id, event_type, size_bytes, reason) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (notification_id) DO NOTHING",
        (envelope["notification_id"], envelope["stream_id"], envelope["type"], size, reason[:DETAIL_CHARS]))


@dataclass(frozen=True)
class RelayReport:
    state: str  # active | standby | failing | stale | unknown
    detail: str
    since: str | None
    heartbeat_age_seconds: float | None
    relayed_notification_id: int
    newest_notification_id: int
    lag: int
    set_aside: int

    @property
    def healthy(self) -> bool:
        return self.state in ("active", "standby")

    def as_dict(self) -> dict:
        return asdict(self)


def relay_report(conn: psycopg.Connection, newest_notification_id: int, name: str = "events") -> RelayReport | None:
    """The relay's state as operators should see it; None where `firmtext migrate` never ran."""
    if not conn.execute("SELECT to_regclass('relay_status')").fetchone()[0]:
        return None
    row = conn.execute("SELECT notification_id FROM relay_position WHERE name = %s", (name,)).fetchone()
    relayed = row[0] if row else 0
    status = conn.execute(
        "SELECT state, detail, since, extract(epoch FROM now() - heartbeat_at)::float8 "
        "FROM relay_status WHERE name = %s", (name,)).fetchone()
    set_aside = conn.execute("SELECT count(*) FROM relay_set_aside").fetchone()[0]
    if status is None:
        state, detail, since, age = "unknown", "no relay has reported yet", None, None
    else:
        state, detail, since, age = status[0], status[1], status[2].isoformat(), status[3]
        if age > STALE_SECONDS:
            state, detail = "stale", f"no heartbeat for {age:.0f} s (last state {status[0]}: {status[1]})"
    return RelayReport(state, detail, since, age, relayed, newest_notification_id,
                       max(0, newest_notification_id - relayed), set_aside)
