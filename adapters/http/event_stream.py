"""Server-Sent Events plumbing: the wire format, and the bell that wakes open streams
when the notifications projection commits.

One LISTEN connection per API process (not one per open stream: a firm of browsers
would otherwise use up PostgreSQL's connections). The projection writer issues
``NOTIFY firmtext_notifications`` after each commit of a live projection, with the
firms of the batch as payload; the bell then wakes the streams of those firms, and
each stream asks for its own caller's new rows.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading

import psycopg
from psycopg import sql

from adapters.schema import NOTIFY_CHANNEL

log = logging.getLogger("firmtext.api.stream")
RECONNECT_MAX = 30.0


def event_frame(event_id: int, event: str, data: dict) -> str:
    """One SSE event; ``json.dumps`` never emits a newline, so one ``data:`` line is enough."""
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def comment_frame(text: str) -> str:
    """A comment line: ignored by EventSource, but keeps proxies from closing an idle stream."""
    return f": {text}\n\n"


def retry_frame(milliseconds: int) -> str:
    """How long a browser waits before reconnecting (with Last-Event-ID) after a drop."""
    return f"retry: {milliseconds}\n\n"


class NotificationBell:
    """Wakes subscribed streams on each NOTIFY; also rung for everyone on shutdown."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.stopping = False
        self._waiters: dict[asyncio.Event, str | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def subscribe(self, firm_id: str | None = None) -> asyncio.Event:
        """An event set whenever new rows (of ``firm_id``'s, when given) may have
        committed. Call from the event loop."""
        if self._task is None and not self.stopping:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._listen(), name="notification-bell")
            _stop_first_on_exit_signals(self)
        waiter = asyncio.Event()
        self._waiters[waiter] = firm_id
        return waiter

    def unsubscribe(self, waiter: asyncio.Event) -> None:
        """Forget a closed stream's event."""
        self._waiters.pop(waiter, None)

    def ring(self, firms: frozenset[str] | None = None) -> None:
        """Wake the streams of ``firms`` (default: every stream); each then looks for
        its own new rows."""
        for waiter, firm_id in list(self._waiters.items()):
            if firms is None or firm_id is None or firm_id in firms:
                waiter.set()

    def stop(self) -> None:
        """End every open stream. Safe from a signal handler or another thread."""
        self.stopping = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._shutdown)

    def _shutdown(self) -> None:
        self.ring()
        if self._task is not None:
            self._task.cancel()

    async def _listen(self) -> None:
        delay = 1.0
        while not self.stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                    delay = 1.0
                    self.ring()  # a commit may have slipped by while we were not listening
                    async for notice in conn.notifies():
                        self.ring(firms_of(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Streams keep polling meanwhile; the bell only makes them faster.
                log.warning("notification LISTEN lost (%s); retrying in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)


def firms_of(payload: str) -> frozenset[str] | None:
    """The firms a NOTIFY names; None (everyone) for an empty or unreadable payload."""
    try:
        firms = json.loads(payload) if payload else None
    except ValueError:
        return None
    return frozenset(map(str, firms)) if isinstance(firms, list) else None


def bell_of(app, database_url: str) -> NotificationBell:
    """The app's bell, made on first use (nothing connects before a stream opens)."""
    bell = getattr(app.state, "notification_bell", None)
    if bell is None:
        bell = app.state.notification_bell = NotificationBell(database_url)
    return bell


def _stop_first_on_exit_signals(bell: NotificationBell) -> None:
    """Chain the server's SIGTERM/SIGINT handlers so open streams end at once.

    uvicorn waits for responses in flight before its lifespan shutdown, and an event
    stream never finishes by itself: without this every shutdown would sit out the
    graceful timeout and then cut the streams. The server installed its handlers
    before serving (in each worker process), so they are there to chain by now.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signals belong to the main thread; elsewhere the server cancels streams
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # default or ignored: no server handler, leave the process's behaviour alone

        def handler(signum, frame, previous=previous) -> None:
            bell.stop()
            previous(signum, frame)
        signal.signal(sig, handler)
