"""The sender: turns OutboundRequested events into carrier sends, and the outcome back
into commands. Never texts an opted-out or blocked number (re-checked just before the
send, against the event store), and never acts twice on one event (tracked per partition).
"""
from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import psycopg

from domain.texting import Texting, conversation_scope
from domain.envelope import Event

log = logging.getLogger("firmtext.sender")
EFFECT = "send_sms"
SEND_LOCK = 7_013_004  # with the partition: one sender at a time per partition, across workers


def sender_offsets(conn: psycopg.Connection) -> dict[int, int]:
    """partition -> next offset the sender needs."""
    rows = conn.execute("SELECT partition, kafka_offset FROM side_effect_tracking WHERE effect = %s",
                        (EFFECT,)).fetchall()
    return {r[0]: r[1] + 1 for r in rows}


class Dispatcher:
    def __init__(self, texting: Texting, carrier, conn: psycopg.Connection, public_url: str) -> None:
        self.texting, self.carrier, self.conn, self.public_url = texting, carrier, conn, public_url

    def _done(self, event: Event) -> bool:
        row = self.conn.execute("SELECT notification_id FROM side_effect_tracking WHERE effect = %s AND "
                                "partition = %s", (EFFECT, event.partition)).fetchone()
        return bool(row) and row[0] >= event.notification_id

    def _mark(self, event: Event) -> None:
        self.conn.execute(
            "INSERT INTO side_effect_tracking (effect, partition, notification_id, kafka_offset) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (effect, partition) DO UPDATE SET "
            "notification_id = EXCLUDED.notification_id, kafka_offset = EXCLUDED.kafka_offset "
            "WHERE side_effect_tracking.notification_id < EXCLUDED.notification_id",
            (EFFECT, event.partition, event.notification_id, event.offset))

    def _prepare(self, event: Event) -> dict | None:
        conv_id, message_id = UUID(event.stream_id), event.data["message_id"]
        if self._done(event) or not self.texting.may_send(conv_id, message_id):
            return None
        conv = self.texting.repository.get(conv_id)
        firm = self.texting.firm(conv.firm_id)
        scope = conversation_scope(conv_id)
        to = self.texting.sealer.open(scope, conv.phone_ct)
        body = self.texting.sealer.open(scope, event.data["body_ct"])
        if firm is None or to is None or body is None:
            return None
        callback = f"{self.public_url}/webhooks/twilio/status?conversation={conv_id}&message={message_id}"
        return {"from_number": firm.number, "to_number": to, "body": body, "status_callback": callback}

    def _hold(self, partition: int, held: bool) -> None:
        function = "pg_advisory_lock" if held else "pg_advisory_unlock"
        self.conn.execute(f"SELECT {function}(%s, %s)", (SEND_LOCK, partition))

    async def handle(self, event: Event) -> None:
        """Send one requested text (if still allowed) and record what the carrier said."""
        if event.type != "Conversation.OutboundRequested":
            return  # positions are tracked only at sends; an earlier resume just skips the rest
        # A rebalance can hand the partition to another worker while this send is in
        # flight; the lock makes that worker wait, then find the send recorded.
        await asyncio.to_thread(self._hold, event.partition, True)
        try:
            await self._send(event)
        finally:
            await asyncio.to_thread(self._hold, event.partition, False)

    async def _send(self, event: Event) -> None:
        request = await asyncio.to_thread(self._prepare, event)
        conv_id, message_id = UUID(event.stream_id), event.data["message_id"]
        if request is not None:
            try:
                receipt = await self.carrier.send(**request)
            except Exception as exc:  # the carrier said no, or never answered
                code = getattr(exc, "code", None)
                log.warning("send of message %s failed: %s", message_id, type(exc).__name__)
                await asyncio.to_thread(self.texting.record_status, conv_id, message_id, "failed", code)
            else:
                await asyncio.to_thread(self.texting.record_dispatch, conv_id, message_id,
                                        receipt.sid, receipt.status)
        await asyncio.to_thread(self._mark, event)
