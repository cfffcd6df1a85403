"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests."""
from __future__ import annotations

import asyncio
import email
import threading
import time
from email.message import Message

from aiosmtpd.controller import Controller


class Mailbox:
    """Collects every email accepted; ``delay`` slows each DATA down (to widen races);
    addresses in ``refuse`` are refused for good (550)."""

    def __init__(self, port: int, delay: float = 0.0, refuse: frozenset[str] = frozenset()) -> None:
        self.port, self.delay, self.refuse = port, delay, refuse
        self.received: list[Message] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        with self._lock:
            self.received.append(message)
        return "250 OK"

    def start(self) -> "Mailbox":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Message]:
        """Emails received for ``address`` so far."""
        with self._lock:
            return [m for m in self.received if m["To"] == address]

    def notification_ids(self) -> list[str]:
        with self._lock:
            return [m["X-Firmtext-Notification"] for m in self.received]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[Message]:
        """Block until ``address`` has ``count`` emails (returned); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{address} got {len(self.to(address))} emails, expected {count}")

    async def await_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[Message]:
        """:meth:`wait_for` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, address, count, timeout)
