"""The sender, in two halves joined by the ``outbound_dispatches`` table.

1. :func:`record_requests` (the send agent): each OutboundRequested becomes one row,
   idempotent on the message id, in the same transaction as the agent's partition
   position. Recording is fast, so a partition never waits for any carrier.
2. :class:`Dispatcher` (called by streams/send_lanes.py, one lane per sending number):
   sends one claimed row, if still allowed (opt-out and block re-checked against the
   event store just before), and records what the carrier said as commands.

A row claimed earlier whose outcome was never recorded (the sender died mid-send) is
reconciled with the carrier before anything is sent again: see streams/reconcile.py.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Awaitable, Callable
from uuid import UUID

import psycopg

from adapters.twilio_client import CarrierRejected, CarrierUnavailable
from domain.texting import Texting, conversation_scope
from domain.envelope import Event
from streams.reconcile import interrupted_send

log = logging.getLogger("firmtext.sender")
EFFECT = "send_sms"
REQUESTED = "Conversation.OutboundRequested"


def sender_offsets(conn: psycopg.Connection) -> dict[int, int]:
    """partition -> next offset the sender needs."""
    rows = conn.execute("SELECT partition, kafka_offset FROM side_effect_tracking WHERE effect = %s",
                        (EFFECT,)).fetchall()
    return {r[0]: r[1] + 1 for r in rows}


def record_requests(conn: psycopg.Connection, texting: Texting, events: list[Event], track: bool = True) -> int:
    """Record every OutboundRequested of ``events`` as a due dispatch and move each
    partition's position past ``events``, in one transaction. Returns how many texts
    ``events`` requested (a redelivered one is recorded once).

    ``track=False``: a batch that requests nothing is skipped without touching PostgreSQL
    (its position is written with a later batch's). Safe: a worker restarted before then
    reads those events again, and they still request nothing; under inbound load it spares
    a transaction per batch (issue 11)."""
    numbers: dict[str, str] = {}

    def number_of(firm_id: str) -> str:
        if firm_id not in numbers:  # the pacing key: the firm's number when the text was requested
            firm = texting.firm(firm_id)
            numbers[firm_id] = (firm.number if firm is not None else None) or ""
        return numbers[firm_id]

    rows = [(e.data["message_id"], e.stream_id, e.firm_id, number_of(e.firm_id), e.notification_id,
             e.data["body_ct"]) for e in events if e.type == REQUESTED]
    if not rows and not track:
        return 0
    last: dict[int, Event] = {}
    for event in events:
        if event.partition not in last or event.offset > last[event.partition].offset:
            last[event.partition] = event
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO outbound_dispatches (message_id, conversation_id, firm_id, from_number, seq, "
                        "body_ct) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING", rows)
        cur.executemany(
            "INSERT INTO side_effect_tracking (effect, partition, notification_id, kafka_offset) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (effect, partition) DO UPDATE SET "
            "notification_id = EXCLUDED.notification_id, kafka_offset = EXCLUDED.kafka_offset "
            "WHERE side_effect_tracking.kafka_offset < EXCLUDED.kafka_offset",
            [(EFFECT, p, e.notification_id, e.offset) for p, e in last.items()])
    return len(rows)


@dataclass(frozen=True)
class Claim:
    """A due dispatch a lane took: ``interrupted_at`` is when an earlier claim of it began
    (None on the first try), i.e. the carrier may already have it."""
    message_id: str
    conversation_id: UUID
    from_number: str
    body_ct: str
    attempts: int
    interrupted_at: datetime | None


class LeaseLost(Exception):
    """The sender's lease on the sending number lapsed after it claimed the text: another
    sender may hold the number (and the text) now, so this one must not ask the carrier."""


class Undecided(Exception):
    """Whether the carrier has the text could not be told (carrier unreachable): nothing
    was recorded, and the claim is tried again later."""


def _fence(still_held: Callable[[], Awaitable[None]] | None) -> Callable[[], Awaitable[None]] | None:
    """``still_held`` whose own failure (PostgreSQL away, say) is :class:`Undecided`, never
    read as the carrier refusing the text: the lease could not be confirmed, so nothing is
    asked and the claim is tried again (reconciled first)."""
    if still_held is None:
        return None

    async def fence() -> None:
        try:
            await still_held()
        except LeaseLost:
            raise
        except Exception as exc:
            raise Undecided(f"the lease could not be confirmed ({type(exc).__name__})") from exc
    return fence


class Dispatcher:
    """Sends one claimed text and records the outcome (see the module docstring)."""

    # Our clock and the carrier's differ; a carrier record this much older than the
    # interrupted claim still counts as that send.
    CLOCK_SLACK_SECONDS = 120

    def __init__(self, texting: Texting, carrier, public_url: str) -> None:
        self.texting, self.carrier, self.public_url = texting, carrier, public_url

    def _prepare(self, claim: Claim) -> tuple[dict, set[str]] | None:
        """(carrier request, sids of the conversation's other texts), or None when the text
        must not (or need not) be sent any more."""
        conv_id, message_id = claim.conversation_id, claim.message_id
        if not self.texting.may_send(conv_id, message_id):
            return None
        conv = self.texting.repository.get(conv_id)
        firm = self.texting.firm(conv.firm_id)
        scope = conversation_scope(conv_id)
        to = self.texting.sealer.open(scope, conv.phone_ct)
        body = self.texting.sealer.open(scope, claim.body_ct)
        if firm is None or not firm.number or to is None or body is None:
            return None
        callback = f"{self.public_url}/webhooks/twilio/status?conversation={conv_id}&message={message_id}"
        known = {m["carrier_sid"] for m in conv.messages.values() if m.get("carrier_sid")}
        return {"from_number": firm.number, "to_number": to, "body": body, "status_callback": callback}, known

    async def send(self, claim: Claim, still_held: Callable[[], Awaitable[None]] | None = None) -> str:
        """Send ``claim`` (unless the carrier already has it) and record the outcome:
        ``sent``, ``reconciled``, ``failed`` or ``skipped``. Raises :class:`Undecided`.

        ``still_held`` is awaited right before each request to the carrier and raises when
        the claim is no longer this sender's (streams/send_lanes.py's lease, :class:`LeaseLost`):
        that exception passes through, nothing recorded, nothing sent."""
        prepared = await asyncio.to_thread(self._prepare, claim)
        if prepared is None:
            return "skipped"
        request, known = prepared
        if claim.interrupted_at is not None and await self._reconcile(claim, request, known):
            return "reconciled"
        try:
            receipt = await self.carrier.send(**request, before_request=_fence(still_held))
        except (CarrierRejected, CarrierUnavailable) as exc:  # the carrier said no, or never answered
            if getattr(exc, "maybe_sent", False):
                raise Undecided(str(exc)) from exc  # the next try reconciles first
            log.warning("send of message %s failed: %s", claim.message_id, type(exc).__name__)
            await asyncio.to_thread(self.texting.record_status, claim.conversation_id, claim.message_id,
                                    "failed", getattr(exc, "code", None))
            return "failed"
        await asyncio.to_thread(self.texting.record_dispatch, claim.conversation_id, claim.message_id,
                                receipt.sid, receipt.status)
        return "sent"

    async def _reconcile(self, claim: Claim, request: dict, known: set[str]) -> bool:
        """Ask the carrier whether the interrupted send reached it; if so, record its sid."""
        since = claim.interrupted_at.astimezone(timezone.utc)
        try:
            listing = await self.carrier.messages_between(
                request["from_number"], request["to_number"], since.date())
        except Exception as exc:
            raise Undecided(f"carrier listing failed: {exc}") from exc
        found = interrupted_send(listing, request["body"], since, known, self.CLOCK_SLACK_SECONDS)
        if found is None:
            log.info("interrupted send of message %s never reached the carrier: sending it", claim.message_id)
            return False
        log.warning("interrupted send of message %s had reached the carrier as %s: not sent again",
                    claim.message_id, found["sid"])
        await asyncio.to_thread(self.texting.record_dispatch, claim.conversation_id, claim.message_id,
                                str(found["sid"]), str(found.get("status") or "queued"))
        return True

