"""Process-wide settings that cost every text CPU or latency when they are wrong (issue 11)."""
from __future__ import annotations

import gc
import importlib.util
import logging

import faust

from firmtext.commands.worker import faust_worker
from firmtext.gc_tuning import YOUNG_THRESHOLD, settle


def test_the_worker_at_warning_level_does_not_build_every_librarys_debug_records():
    """Faust's spinner set the root logger to DEBUG from level warning up, so aiokafka's
    and httpcore's debug calls (several per fetch and per carrier request) built records."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    worker = faust_worker(faust.App("tuning-test", broker="memory://", web_enabled=False), "warning")
    worker.redirect_stdouts = False  # pytest owns stdout; the logging set-up is what is tested
    try:
        worker._setup_logging()  # what Faust runs first on start
        assert not logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("firmtext").isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


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
