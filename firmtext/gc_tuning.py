"""The garbage collector of the long-running processes (API, relay, worker).

CPython's cyclic collector stops the process while it scans. With its default settings a
full (oldest-generation) collection scans every object the process holds, its imported
modules, FastAPI's, aiokafka's and pydantic's objects included: 40-125 ms each at start-up
and 75-84 ms in the relay and the worker during a 15 s run of bench/outbound.py (measured
with ``gc.callbacks``, issue 11), landing on whichever text is in flight. With
:func:`settle`, no collection in those runs took more than 8 ms.

:func:`settle` runs once a process has built what it keeps for its whole life: one
collection, then ``gc.freeze()`` moves every surviving object into a permanent
generation that later collections do not scan (the technique CPython documents for
exactly this), and young collections run less often, so each costs a little more and
far fewer run. Reference counting, which frees almost everything, is untouched; cycles
are still collected.
"""
from __future__ import annotations

import gc

# Allocations (minus deallocations) between young collections; CPython's default is 700.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze what the process holds now and space the young collections out."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
