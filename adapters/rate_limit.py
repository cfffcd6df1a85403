"""Per-sending-number pacing for carrier calls (Twilio: ~1 segment/s per long code).

The unit is the SMS segment, so :func:`estimate_segments` lives here too.

Each key has a "next free time". A caller reserves the next slot synchronously (so
concurrent callers on one event loop queue up in arrival order without a lock) and
then sleeps until its slot. Different keys never wait for each other.
"""
from __future__ import annotations

import asyncio
import math
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

# Forget keys idle for this long so a limiter serving many numbers stays small.
_IDLE_SECONDS = 60.0
# GSM 03.38: messages using only these characters get 160 per segment, others 70.
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€\f")  # each costs two septets


def estimate_segments(body: str) -> int:
    """How many SMS segments Twilio bills for ``body`` (GSM-7: 160/153, else UCS-2: 70/67)."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units, single, multi = sum(2 if c in _GSM7_EXT else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


class PerNumberRateLimiter:
    """At most ``rate_per_second`` units per key (e.g. per sending phone number)."""

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate_per_second = rate_per_second
        self._interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_free: dict[str, float] = {}

    def reserve(self, key: str, weight: float = 1.0) -> float:
        """Book the next slot for ``key`` and return how long to wait for it (seconds).

        ``weight`` is the slot's cost in units (a 3-segment SMS costs 3 at Twilio).
        """
        now = self._clock()
        self._forget_idle(now)
        start = max(now, self._next_free.get(key, now))
        self._next_free[key] = start + self._interval * max(weight, 0.0)
        return start - now

    async def acquire(self, key: str, weight: float = 1.0) -> None:
        """Wait until ``key`` may be used again. A cancelled wait keeps its slot spent,
        which errs on the side of sending slower, never faster."""
        delay = self.reserve(key, weight)
        if delay > 0:
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def slot(self, key: str, weight: float = 1.0) -> AsyncIterator[None]:
        """``async with limiter.slot(number): ...`` runs the body in ``key``'s next slot."""
        await self.acquire(key, weight)
        yield

    def _forget_idle(self, now: float) -> None:
        if len(self._next_free) < 1024:
            return
        for key in [k for k, t in self._next_free.items() if t < now - _IDLE_SECONDS]:
            del self._next_free[key]
