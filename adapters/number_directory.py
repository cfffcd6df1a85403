"""Which firm texts from a number, for inbound webhooks: the event store's answer,
remembered briefly (numbers move between firms rarely; every webhook asks)."""
from __future__ import annotations

import time
from typing import Callable

CACHE_SECONDS = 5.0


class FirmsByNumber:
    """``firm_for(number)``: the firm whose texting number it is, or None (never cached)."""

    def __init__(self, lookup: Callable[[str], str | None], ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lookup, self.ttl, self.clock = lookup, ttl, clock
        self._seen: dict[str, tuple[float, str]] = {}

    def remembered(self, number: str) -> str | None:
        """The firm when its answer is remembered and fresh, else None: no I/O, so the
        event loop may ask before it hands :meth:`firm_for` to a thread."""
        hit = self._seen.get(number)
        return hit[1] if hit and self.clock() - hit[0] < self.ttl else None

    def firm_for(self, number: str) -> str | None:
        firm_id = self.remembered(number)
        if firm_id is not None:
            return firm_id
        now = self.clock()
        firm_id = self.lookup(number)
        if firm_id is not None:  # an unknown number may be claimed any moment: ask again next time
            self._seen[number] = (now, firm_id)
        return firm_id
