"""Email notifications: the side effect at the end of the notification-triggers projection.

Every row of ``pj_notifications.notifications`` with ``email = true`` is mailed once:
- A worker claims one row at a time with ``SELECT ... FOR UPDATE SKIP LOCKED`` and
  records it in ``email_deliveries`` (primary key: the row id) in the transaction that
  sends it, so workers side by side never pick the same row.
- SMTP down (a transport failure: unreachable, disconnected, a 4xx): the transaction
  rolls back (nothing recorded), the mailer pauses all delivery with exponential
  backoff and tries again. Nothing is lost; the worker keeps running.
- A row that fails for a reason of its own (its email cannot be composed, e.g. a header
  the email package refuses, or the relay refuses it for good with a 5xx) is set aside:
  recorded with ``set_aside_reason`` and never retried, and the mailer goes straight on
  to the next row. Operators see these rows in ``firmtext projections status``.
- Row ids are deterministic (``event_id:user_id``), so the rows of a rebuilt
  projection find their deliveries already recorded and are not mailed again.
The one window left: the relay took the email and the process died before the
commit. The row is then mailed again, with the same Message-ID (see email_notice.py).
"""
from __future__ import annotations

import asyncio
import logging
import time

from adapters.smtp_relay import MailRefused, SmtpRelay
from domain.scopes import conversation_scope
from adapters.render.email_notice import NoticeFacts, compose

log = logging.getLogger("firmtext.mailer")
LOOKBACK = "7 days"  # older rows are not emailed: after an outage that long, a stale email helps no one
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
PER_TICK = 50

CLAIM = """SELECT n.id, n.firm_id, n.user_id, n.conversation_id, n.message_id, n.kind
FROM pj_notifications.notifications n
WHERE n.email AND n.created_at > now() - %s::interval
  AND NOT EXISTS (SELECT 1 FROM email_deliveries d WHERE d.notification_id = n.id)
ORDER BY n.seq LIMIT 1 FOR UPDATE OF n SKIP LOCKED"""
# A second statement, so it sees commits made after CLAIM's snapshot: a worker that
# locks a row just after another committed its delivery finds the record and stops.
RECORD = "INSERT INTO email_deliveries (notification_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING 1"
SENT = "UPDATE email_deliveries SET sent_at = now() WHERE notification_id = %s"
SET_ASIDE = "UPDATE email_deliveries SET set_aside_reason = %s, set_aside_at = now() WHERE notification_id = %s"


class Mailer:
    """Sends due notification emails; ``tick`` is the worker's timer (never raises)."""

    def __init__(self, container, relay: SmtpRelay | None = None, clock=time.monotonic) -> None:
        # The container's pool and sealer are built (and connect) on first use, in a thread.
        s = container.settings
        self.container, self.public_url, self.clock = container, s.public_url, clock
        self.relay = relay or SmtpRelay(s.smtp_host, s.smtp_port, s.smtp_from)
        self.failures, self.resume_at = 0, 0.0

    async def tick(self) -> int:
        """Deliver what is due, unless backing off; returns how many rows were settled."""
        if self.clock() < self.resume_at:
            return 0
        try:
            settled = await asyncio.to_thread(self.deliver_due)
        except Exception as exc:  # SMTP or PostgreSQL down: pause, keep the worker alive
            self.failures += 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
            self.resume_at = self.clock() + delay
            log.warning("email delivery paused for %.0f s after %s (attempt %d)", delay, type(exc).__name__,
                        self.failures)
            return 0
        self.failures = 0
        return settled

    def deliver_due(self, limit: int = PER_TICK) -> int:
        """Settle up to ``limit`` rows (blocking); raises when SMTP or PostgreSQL fails."""
        settled = 0
        while settled < limit:
            outcome = self.deliver_one()
            if outcome is None:
                break
            settled += outcome  # False: another worker settled the row claimed
        return settled

    def deliver_one(self) -> bool | None:
        """Claim, send and record one row: True when this worker settled it, False when
        another did a moment ago, None when nothing is due."""
        with self.container.pool.connection() as conn, conn.transaction():
            row = conn.execute(CLAIM, (LOOKBACK,)).fetchone()
            if row is None:
                return None
            notification_id = row[0]
            if conn.execute(RECORD, (notification_id,)).fetchone() is None:
                return False  # another worker sent it a moment ago
            try:
                facts = self._facts(conn, *row)
                if facts is None:
                    # No address any more, or the number was blocked meanwhile: recorded, never sent.
                    log.info("email for notification %s not sent: nothing to send it to", notification_id)
                    return True
                self.relay.send(compose(facts, self.public_url))
            except (MailRefused, ValueError, TypeError) as exc:
                # This row's own fault (ValueError: a header the email package refuses): retrying
                # cannot help, and waiting on it would hold up everyone else's email.
                reason = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("email for notification %s set aside: %s", notification_id, reason)
                conn.execute(SET_ASIDE, (reason, notification_id))
                return True
            conn.execute(SENT, (notification_id,))
            return True

    def _facts(self, conn, notification_id, firm_id, user_id, conversation_id, message_id, kind):
        to = conn.execute("SELECT email FROM pj_notifications.users WHERE firm_id = %s AND user_id = %s",
                          (firm_id, user_id)).fetchone()
        conv = conn.execute("SELECT phone_ct, phone_hash FROM pj_inbox.conversations WHERE conversation_id = %s",
                            (conversation_id,)).fetchone()
        phone = self.container.sealer.open(conversation_scope(conversation_id), conv[0]) if conv else None
        if not (to and to[0]) or phone is None:
            return None
        names = [r[0] for r in conn.execute(
            "SELECT c.name FROM pj_links.contact_phones p JOIN pj_links.contacts c ON c.firm_id = p.firm_id "
            "AND c.contact_id = p.contact_id WHERE p.firm_id = %s AND p.phone_hash = %s ORDER BY c.name",
            (firm_id, conv[1])).fetchall()]
        sender = conn.execute(
            "SELECT u.name FROM pj_messages.messages m JOIN pj_directory.users u ON u.firm_id = m.firm_id "
            "AND u.user_id = m.sender_user_id WHERE m.message_id = %s", (message_id,)).fetchone()
        return NoticeFacts(notification_id=notification_id, kind=kind, conversation_id=conversation_id, to=to[0],
                           contact_names=tuple(dict.fromkeys(names)), phone=phone,
                           sender_name=sender[0] if sender else None)
