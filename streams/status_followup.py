"""Status follow-up: ask the carrier about a sent text whose final status never arrived.

Twilio posts each status change to the text's StatusCallback once and never again. A
callback that finds the API down (PostgreSQL restarting, every API process busy dying)
is gone, and the text would show ``sent`` for ever although the client's phone has it.
So every text handed to the carrier is followed up: when no final status (delivered,
undelivered, failed, ...) is recorded ``after`` seconds later, the carrier's own record
(``GET /Messages/{sid}.json``) is read and its status applied like a callback's, with
the same forward-only rule. A text still not final is asked about again later, less
and less often, and given up on after ``GIVE_UP_AFTER``.

The rows live in ``outbound_dispatches`` (``follow_up_at``); a claim moves the row's
time forward first, so two workers rarely ask about the same text, and asking twice
is harmless anyway (a status is only applied when it moves the text forward).
"""
from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain import statuses

log = logging.getLogger("firmtext.status_followup")
GIVE_UP_AFTER = 2 * 24 * 3600.0  # Twilio keeps no status changes for older texts either
MAX_DELAY = 3600.0
BATCH = 50

# Claimed rows are pushed to the next try at once (a worker killed mid-check leaves them due then).
_CLAIM = """
WITH due AS (
    SELECT message_id FROM outbound_dispatches
    WHERE follow_up_at IS NOT NULL AND follow_up_at <= now()
    ORDER BY follow_up_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE outbound_dispatches d
SET follow_ups = d.follow_ups + 1,
    follow_up_at = CASE WHEN d.done_at < now() - make_interval(secs => %(give_up)s) THEN NULL
                   ELSE now() + make_interval(secs => least(%(after)s * 2 ^ d.follow_ups, %(max)s)) END
FROM due WHERE d.message_id = due.message_id
RETURNING d.message_id, d.conversation_id"""


class StatusFollowUp:
    """Follows up texts sent ``after`` seconds ago and still not final (see the module docstring)."""

    def __init__(self, pool: ConnectionPool, texting, carrier, after: float) -> None:
        self.pool, self.texting, self.carrier, self.after = pool, texting, carrier, after
        self.applied = 0  # statuses learnt from the carrier rather than from a callback

    async def tick(self) -> int:
        """Check the texts due now; returns how many were checked."""
        due = await asyncio.to_thread(self._claim)
        for message_id, conversation_id in due:
            try:
                await self._check(conversation_id, message_id)
            except Exception as exc:  # this text is asked about again later; the others go on
                log.warning("status follow-up of message %s failed (%s); trying later",
                            message_id, type(exc).__name__)
        return len(due)

    async def _check(self, conversation_id: UUID, message_id: str) -> None:
        known = await asyncio.to_thread(self._known, conversation_id, message_id)
        if known is None:  # final already (a callback came), or the text is gone (blocked)
            await asyncio.to_thread(self._settle, message_id)
            return
        status, sid = known
        found = await self.carrier.message(sid)
        if found is None:
            log.warning("the carrier has no record of %s (message %s)", sid, message_id)
            return
        new, code = str(found.get("status") or ""), found.get("error_code")
        error_code = int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None
        if statuses.moves_forward(status, new):
            changed = await asyncio.to_thread(self.texting.record_status, conversation_id, message_id,
                                              new, error_code)
            if changed:
                self.applied += 1
                log.info("message %s: the carrier says %s (its callback never arrived)", message_id, new)
        if new in statuses.FINAL:
            await asyncio.to_thread(self._settle, message_id)

    def _known(self, conversation_id: UUID, message_id: str) -> tuple[str, str] | None:
        """(status, carrier sid) of a handed-over text still waiting for its outcome."""
        conv = self.texting.get_or_none(conversation_id)
        message = (getattr(conv, "messages", None) or {}).get(message_id)
        if conv is None or conv.blocked or not message or not message.get("carrier_sid"):
            return None
        if message["status"] in statuses.FINAL:
            return None
        return message["status"], message["carrier_sid"]

    def _claim(self) -> list[tuple[str, UUID]]:
        with self.pool.connection() as conn:
            return conn.execute(_CLAIM, {"batch": BATCH, "give_up": GIVE_UP_AFTER, "after": self.after,
                                         "max": MAX_DELAY}).fetchall()

    def _settle(self, message_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE outbound_dispatches SET follow_up_at = NULL WHERE message_id = %s", (message_id,))
