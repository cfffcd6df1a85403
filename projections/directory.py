"""Directory projection: firms and staff users as the host platform last synced them."""
from __future__ import annotations

from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

FIRMS = Table("firms", ("firm_id",), ("firm_id", "name", "number", "time_zone", "help_text"))
USERS = Table("users", ("stream_id",), ("stream_id", "firm_id", "user_id", "name", "email", "permissions",
                                        "notify_email", "notify_desktop", "notifications_seen"),
              json=frozenset({"permissions"}))

DDL = """
CREATE TABLE {schema}.firms (firm_id text PRIMARY KEY, name text NOT NULL, number text NOT NULL,
    time_zone text NOT NULL, help_text text NOT NULL);
CREATE UNIQUE INDEX ON {schema}.firms (number);
CREATE TABLE {schema}.users (stream_id text PRIMARY KEY, firm_id text NOT NULL, user_id text NOT NULL,
    name text NOT NULL, email text, permissions jsonb NOT NULL, notify_email text NOT NULL,
    notify_desktop text NOT NULL, notifications_seen bigint NOT NULL);
CREATE UNIQUE INDEX ON {schema}.users (firm_id, user_id);
"""


def on_firm(store: RowStore, event: Event) -> None:
    d = event.data
    store.put(FIRMS, {"firm_id": event.firm_id, "name": d["name"], "number": d["number"],
                      "time_zone": d["time_zone"], "help_text": d["help_text"]})


def on_user(store: RowStore, event: Event) -> None:
    d = event.data
    old = store.get(USERS, (event.stream_id,)) or {}
    store.put(USERS, {"stream_id": event.stream_id, "firm_id": event.firm_id,
                      "user_id": d.get("user_id", old.get("user_id")), "name": d["name"], "email": d["email"],
                      "permissions": d["permissions"], "notify_email": d["notify_email"],
                      "notify_desktop": d["notify_desktop"],
                      "notifications_seen": old.get("notifications_seen", 0)})


def on_seen(store: RowStore, event: Event) -> None:
    row = store.get(USERS, (event.stream_id,))
    if row is not None:
        row["notifications_seen"] = max(row["notifications_seen"], int(event.data["up_to"]))
        store.put(USERS, row)


DIRECTORY = Projection(
    name="directory", tables=(FIRMS, USERS), ddl=DDL,
    handlers={"Firm.Registered": on_firm, "Firm.Updated": on_firm, "StaffUser.Synced": on_user,
              "StaffUser.Updated": on_user, "StaffUser.NotificationsSeen": on_seen})
