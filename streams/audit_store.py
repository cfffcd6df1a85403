"""The event store's side of an audit: what the relay should have published, and whether
the log holds exactly that.

Envelopes are rebuilt with the relay's own builder, from notification 1 with fresh
stream heads, so they are byte for byte what a correct relay published: any
difference from the log is a break, whatever caused it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import psycopg

from domain.texting import Texting
from streams.audit import Break, ChainVerifier
from streams.relay import chain_envelopes

BATCH = 1000


def stored_envelopes(texting: Texting, batch: int = BATCH) -> Iterator[dict]:
    """Every stored event as the relay publishes it, in notification order."""
    heads: dict = {}
    start = 1
    while True:
        notifications = list(texting.recorder.select_notifications(start=start, limit=batch))
        if not notifications:
            return
        yield from chain_envelopes(texting, notifications, heads)
        start = notifications[-1].id + 1


def relay_position(database_url: str, name: str = "events") -> int:
    """The notification id up to which the relay has published (and Kafka acknowledged)."""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        row = conn.execute("SELECT notification_id FROM relay_position WHERE name = %s", (name,)).fetchone()
    return row[0] if row else 0


@dataclass(frozen=True)
class StoreComparison:
    stored: int  # notifications in the event store
    lag: int  # stored, beyond the relayed position, not yet in the log
    first_break: Break | None


def compare_with_store(verifier: ChainVerifier, stored: Iterable[dict], relayed_up_to: int) -> StoreComparison:
    """Match envelopes rebuilt from the store (in notification order) with the log.

    Ids may have gaps (rolled-back transactions use up sequence numbers), so only a
    stored notification at or below ``relayed_up_to`` that the log lacks is missing;
    above it, it is lag. A log event the store does not hold is always a break.
    """
    count = lag = 0
    matched: set[int] = set()
    for env in stored:
        count += 1
        nid, sid, version = env["notification_id"], env["stream_id"], env["stream_version"]
        seen = verifier.by_notification.get(nid)
        if seen is None:
            if nid <= relayed_up_to:
                return StoreComparison(count, lag, Break(
                    f"notification {nid} is in the event store but not in the log (the relay had "
                    f"published up to {relayed_up_to})", None, None, sid, version, env["type"]))
            lag += 1
            continue
        matched.add(nid)
        if (seen.stream_id, seen.version, seen.type) != (sid, version, env["type"]):
            problem = (f"notification {nid} is stream {sid} version {version} ({env['type']}) in the "
                       f"event store, but stream {seen.stream_id} version {seen.version} ({seen.type}) in the log")
        elif seen.hash != env["hash"]:
            problem = (f"hash {seen.hash} differs from {env['hash']}, the hash of the envelope rebuilt from "
                       f"the event store (notification {nid})")
        else:
            continue
        return StoreComparison(count, lag, Break(problem, seen.partition, seen.offset, seen.stream_id,
                                                 seen.version, seen.type))
    extra = sorted(set(verifier.by_notification) - matched)
    if extra:
        seen = verifier.by_notification[extra[0]]
        return StoreComparison(count, lag, Break(
            f"notification {extra[0]} is in the log but not in the event store", seen.partition,
            seen.offset, seen.stream_id, seen.version, seen.type))
    return StoreComparison(count, lag, None)
