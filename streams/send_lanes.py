"""Sending lanes: one asyncio task per sending number with texts due, in every worker.

A lane holds its number's lease in ``sending_lanes`` (so across all workers one lane at
a time paces a number), takes the number's due dispatches one by one in request order
(so a conversation's texts reach the carrier in the order they were requested) and
hands each to the :class:`~streams.dispatch.Dispatcher`, whose carrier client paces the
number. Lanes never wait for each other: a firm's backlog delays only its own number.

A lease is renewed every few seconds while its lane lives. A worker killed with SIGKILL
stops renewing, and after ``LEASE_SECONDS`` any worker takes the number over; a claim
is only granted while its lane still holds the lease, and right before each request to
the carrier (after any pacing wait or backoff) the lane confirms, and renews, its lease:
a lane that lost it meanwhile (its worker stalled longer than the lease) asks the
carrier nothing, since whoever holds the number now may have sent that text already.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid

from psycopg_pool import ConnectionPool

from streams.dispatch import Claim, Dispatcher, LeaseLost, Undecided
from streams.status_followup import StatusFollowUp

log = logging.getLogger("firmtext.sender")
LEASE_SECONDS = 10.0
RENEW_EVERY = 2.0
MAX_ATTEMPTS = 8  # a text still not dispatched after this many tries (crashes included) fails
MAX_BACKOFF = 60.0
FOLLOW_UP_EVERY = 1.0  # how often texts whose final status is overdue are looked for
HANDED_OVER = ("sent", "reconciled")  # outcomes whose final status is followed up
LOST = "lease lost"  # the lane lost its number mid-send: the claim is left to the new holder

_DUE = """
SELECT d.from_number FROM outbound_dispatches d LEFT JOIN sending_lanes l USING (from_number)
WHERE d.done_at IS NULL AND (l.lease_until IS NULL OR l.lease_until < now() OR l.holder = %s)
GROUP BY d.from_number ORDER BY min(d.seq) LIMIT %s"""
_TAKE_LANE = """
INSERT INTO sending_lanes (from_number, holder, lease_until) VALUES (%s, %s, now() + make_interval(secs => %s))
ON CONFLICT (from_number) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
WHERE sending_lanes.lease_until < now() OR sending_lanes.holder = EXCLUDED.holder RETURNING 1"""
# The earliest due text of the number, only while this lane holds the number's lease
# (which each claim renews). claimed_at keeps the first claim's time: a reconciliation
# looks back to it.
_CLAIM = """
WITH lane AS (
    UPDATE sending_lanes SET lease_until = now() + make_interval(secs => %(lease)s)
    WHERE from_number = %(number)s AND holder = %(holder)s AND lease_until > now() RETURNING 1),
next AS (
    SELECT message_id, claimed_at FROM outbound_dispatches
    WHERE from_number = %(number)s AND done_at IS NULL AND EXISTS (SELECT 1 FROM lane)
    ORDER BY seq LIMIT 1 FOR UPDATE)
UPDATE outbound_dispatches d SET claimed_at = coalesce(d.claimed_at, now()), attempts = d.attempts + 1
FROM next WHERE d.message_id = next.message_id
RETURNING d.message_id, d.conversation_id, d.from_number, d.body_ct, d.attempts, next.claimed_at"""

_CONFIRM = """
UPDATE sending_lanes SET lease_until = now() + make_interval(secs => %s)
WHERE from_number = %s AND holder = %s AND lease_until > now() RETURNING 1"""


def sending_lanes(settings, container) -> "SendingLanes":
    """A worker's lanes: the real carrier client, and a small pool of their own."""
    from adapters.twilio_client import TwilioMessages

    pool = ConnectionPool(container.database_url, min_size=1, max_size=4, open=True)
    carrier = TwilioMessages.from_settings(settings)
    dispatcher = Dispatcher(container.texting, carrier, settings.public_url)
    follow_up = StatusFollowUp(pool, container.texting, carrier, settings.status_follow_up_seconds)
    return SendingLanes(pool, dispatcher, pace_seconds=1.0 / settings.carrier_rate_per_second,
                        follow_up=follow_up)


class SendingLanes:
    """The lanes of one worker process; :meth:`tick` starts lanes for numbers with due
    texts (call it often), :meth:`wake` makes the next tick come now."""

    def __init__(self, pool: ConnectionPool, dispatcher: Dispatcher, max_lanes: int = 200,
                 pace_seconds: float = 1.0, follow_up: StatusFollowUp | None = None) -> None:
        self.pool, self.dispatcher, self.max_lanes = pool, dispatcher, max_lanes
        self.follow_up = follow_up  # asks the carrier about texts whose final status is overdue
        self.pace_seconds = pace_seconds  # how long a released number stays untouched
        self.holder = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"  # pid first: which process paces a number
        self.lanes: dict[str, asyncio.Task] = {}
        self.starved = False  # numbers were due but every lane slot was taken
        self._woken = asyncio.Event()
        self._renewed = 0.0

    def wake(self) -> None:
        """New texts were recorded: look for due numbers at once."""
        self._woken.set()

    async def run(self, interval: float = 0.25) -> None:
        """Tick every ``interval`` seconds, or at once when woken; never stops on an error.
        The status follow-up runs beside it, in a task of its own: its carrier lookups (up
        to 50 a round, each waiting on the carrier) never hold up a new text's lane.
        When cancelled (the worker stops), stops its lanes, which hand their numbers back."""
        following = asyncio.create_task(self._follow_up_forever(), name="status follow-up") \
            if self.follow_up is not None else None
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("sending lanes: tick failed; trying again")
                self._woken.clear()
                try:
                    await asyncio.wait_for(self._woken.wait(), interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            if following is not None:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
            await self.close()

    async def _follow_up_forever(self) -> None:
        while True:
            try:
                await self.follow_up.tick()
            except Exception:  # sending goes on whatever the follow-up meets
                log.exception("status follow-up failed; trying again")
            await asyncio.sleep(FOLLOW_UP_EVERY)

    async def tick(self) -> None:
        """Renew this worker's leases when due, and start a lane for each due number."""
        if time.monotonic() - self._renewed > RENEW_EVERY and self.lanes:
            await asyncio.to_thread(self._renew, list(self.lanes))
            self._renewed = time.monotonic()
        free = self.max_lanes - len(self.lanes)
        due = await asyncio.to_thread(self._due, free + len(self.lanes) + 1)
        waiting = [n for n in due if n not in self.lanes]
        self.starved = len(waiting) > free
        for number in waiting[:max(free, 0)]:
            if await asyncio.to_thread(self._take_lane, number):
                self.lanes[number] = asyncio.create_task(self._lane(number), name=f"lane {number[-4:]}")

    async def close(self) -> None:
        """Stop every lane (an interrupted send is reconciled by whoever sends next)."""
        for task in self.lanes.values():
            task.cancel()
        await asyncio.gather(*self.lanes.values(), return_exceptions=True)

    async def _lane(self, number: str) -> None:
        backoff = 1.0
        try:
            while (claim := await asyncio.to_thread(self._claim, number)) is not None:
                try:
                    outcome = await self._send(claim)
                except Exception as exc:  # this text only; every other number goes on
                    if isinstance(exc, Undecided):
                        log.warning("message %s: %s; trying again in %.0f s", claim.message_id, exc, backoff)
                    else:
                        log.exception("message %s could not be dispatched; trying again", claim.message_id)
                    await asyncio.sleep(backoff)  # the text stays first in line: order holds
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                if outcome == LOST:
                    break
                backoff = 1.0
                await asyncio.to_thread(self._finish, claim.message_id, outcome)
                if self.starved:  # more numbers due than lane slots: hand this one round
                    break
        finally:
            try:  # before the lane is forgotten, so a new lane never has its lease shortened
                await asyncio.to_thread(self._release, number)
            except Exception:  # the lease lapses by itself
                log.warning("could not release the lane of %s", number[-4:])
            self.lanes.pop(number, None)

    async def _send(self, claim: Claim) -> str:
        async def still_held() -> None:
            if not await asyncio.to_thread(self._confirm, claim.from_number):
                raise LeaseLost(claim.from_number)
        try:
            return await self.dispatcher.send(claim, still_held)
        except LeaseLost:
            log.warning("lost the lane of %s before sending message %s: left to its new holder",
                        claim.from_number[-4:], claim.message_id)
            return LOST
        except Exception:
            if claim.attempts < MAX_ATTEMPTS:
                raise
            # Set aside: one text that keeps failing must not hold its number forever.
            log.exception("message %s still not dispatched after %d tries: failed", claim.message_id, claim.attempts)
            await asyncio.to_thread(self.dispatcher.texting.record_status, claim.conversation_id,
                                    claim.message_id, "failed", None)
            return "failed"

    # -- PostgreSQL (each in a worker thread) ---------------------------------------

    def _due(self, limit: int) -> list[str]:
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute(_DUE, (self.holder, limit)).fetchall()]

    def _take_lane(self, number: str) -> bool:
        with self.pool.connection() as conn:
            return conn.execute(_TAKE_LANE, (number, self.holder, LEASE_SECONDS)).fetchone() is not None

    def _renew(self, numbers: list[str]) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE sending_lanes SET lease_until = now() + make_interval(secs => %s) "
                         "WHERE holder = %s AND from_number = ANY(%s)", (LEASE_SECONDS, self.holder, numbers))

    def _confirm(self, number: str) -> bool:
        """Whether this lane still holds ``number``'s lease, renewed if so: the fence before
        each request to the carrier (another holder only takes a lease that has lapsed)."""
        with self.pool.connection() as conn:
            return conn.execute(_CONFIRM, (LEASE_SECONDS, number, self.holder)).fetchone() is not None

    def _claim(self, number: str) -> Claim | None:
        with self.pool.connection() as conn:
            row = conn.execute(_CLAIM, {"number": number, "holder": self.holder, "lease": LEASE_SECONDS}).fetchone()
        return Claim(*row) if row else None

    def _finish(self, message_id: str, outcome: str) -> None:
        after = self.follow_up.after if self.follow_up is not None and outcome in HANDED_OVER else None
        with self.pool.connection() as conn:
            conn.execute("UPDATE outbound_dispatches SET done_at = now(), outcome = %s, "
                         "follow_up_at = now() + make_interval(secs => %s) WHERE message_id = %s",
                         (outcome, after, message_id))

    def _release(self, number: str) -> None:
        # Not free at once: whoever takes the number next keeps to its pace.
        with self.pool.connection() as conn:
            conn.execute("UPDATE sending_lanes SET lease_until = now() + make_interval(secs => %s) "
                         "WHERE from_number = %s AND holder = %s", (self.pace_seconds, number, self.holder))
