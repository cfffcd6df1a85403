"""Process-wide settings that cost every text CPU or latency when they are wrong (issue 11)."""
from __future__ import annotations

import gc
import importlib.util

from firmtext.gc_tuning import YOUNG_THRESHOLD, settle


def test_settle_freezes_what_the_process_holds_and_spaces_young_collections_out():
    thresholds = gc.get_threshold()
    try:
        kept = [object() for _ in range(100)]
        settle()
        assert gc.get_freeze_count() >= len(kept)  # no later collection scans them
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_sniffio_is_installed_so_httpcore_does_not_search_for_it_on_every_request():
    """httpcore imports sniffio inside every request and lock; missing, each import fails
    after searching sys.path (about a third of a carrier send's CPU)."""
    assert importlib.util.find_spec("sniffio") is not None
