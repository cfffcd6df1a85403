"""The drills' traffic: 20 firms with 10 clients each. Every client texts its firm in
order (a warm-up text, then the burst's 10), and mid-burst the firm answers each client
once: 2,000 inbound texts and 200 outbound sends, all while a fault is going on.

The load generator retries as Twilio does: the same MessageSid (and form) again after a
timeout, a connection reset or a 5xx; staff sends retry with the same Idempotency-Key.
Every status seen is counted, so a drill can assert that no 500 was ever answered.
"""
from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import httpx

from adapters.twilio_signature import compute_signature
from bench.load import PATH, Client, form_for
from firmtext.config import Settings
from tests.e2e.harness import Firm

FIRMS, CLIENTS, TEXTS = 20, 10, 10
RETRY_FOR = 240.0  # Twilio gives up after a while too; a drill's fault lasts well under this
REQUEST_TIMEOUT = 15.0


@dataclass
class Conversation:
    """One client of one firm, and what its conversation must show, in order."""

    firm: Firm
    phone: str
    id: str = ""
    expected: list[tuple[str, str]] = field(default_factory=list)  # (direction, body)


class Traffic:
    """Sets the firms up, then drives the burst; see the module docstring."""

    def __init__(self, settings: Settings, tag: str):
        self.settings = settings
        self.tag = tag
        self.statuses: Counter[int] = Counter()  # 0: no answer (timeout, reset)
        self.conversations: list[Conversation] = []
        self.inbound_accepted = 0
        self.outbound_bodies: list[str] = []
        self.running: asyncio.Task | None = None  # the burst, once started
        self.shown_status: dict[str, str] = {}  # staff text body -> status the API shows (filled by the checks)
        self._sids = (f"SM{uuid.uuid4().hex}" for _ in iter(int, 1))

    async def setup(self, http: httpx.AsyncClient) -> None:
        """20 firms, each texted once by its 10 clients; waits for the 200 conversations."""
        firms = await asyncio.gather(*(Firm(self.settings, http).setup(name=f"Drill Law {n}")
                                       for n in range(FIRMS)))
        self.conversations = [Conversation(firm, f"+1555{uuid.uuid4().int % 10**7:07d}")
                              for firm in firms for _ in range(CLIENTS)]
        async with self._session() as session:
            await asyncio.gather(*(self._text_in(session, conv, f"{self.tag} hello") for conv in self.conversations))
        for conv in self.conversations:
            conv.id = (await conv.firm.conversation_with(conv.phone))["id"]

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.settings.public_url, connector=aiohttp.TCPConnector(limit=100),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))

    async def _retrying(self, what: str, post) -> int:
        """``post()`` until it is answered 2xx: again after no answer or a 5xx."""
        delay, deadline = 0.2, time.monotonic() + RETRY_FOR
        while True:
            try:
                status = await post()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            self.statuses[status] += 1
            if 200 <= status < 300:
                return status
            assert not 400 <= status < 500, f"{what} was refused with {status}"
            assert time.monotonic() < deadline, f"{what} still failing after {RETRY_FOR:.0f} s ({status})"
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _text_in(self, session: aiohttp.ClientSession, conv: Conversation, body: str) -> None:
        client = Client(conv.firm.firm_id, conv.firm.number, conv.phone)
        form = form_for(client, next(self._sids), body, self.settings.twilio_account_sid)
        headers = {"X-Twilio-Signature": compute_signature(self.settings.twilio_auth_token,
                                                           self.settings.public_url + PATH, form)}

        async def post() -> int:
            async with session.post(PATH, data=form, headers=headers) as answer:
                await answer.read()
                return answer.status
        await self._retrying(f"inbound {body!r}", post)
        conv.expected.append(("inbound", body))

    async def _send(self, session: aiohttp.ClientSession, conv: Conversation, body: str) -> None:
        headers = {**conv.firm.headers("alice"), "Idempotency-Key": uuid.uuid4().hex}

        async def post() -> int:
            async with session.post(f"/v1/conversations/{conv.id}/messages", json={"body": body},
                                    headers=headers) as answer:
                await answer.read()
                return answer.status
        await self._retrying(f"send {body!r}", post)
        conv.expected.append(("outbound", body))
        self.outbound_bodies.append(body)

    async def burst(self, spread: float = 0.0) -> None:
        """Every client's 10 texts in order, the firm's reply after the 5th; with ``spread``
        (seconds) each client's texts are spaced over about that long, as real traffic is,
        instead of sent as fast as they are answered."""
        gap = spread / TEXTS

        async def client(session, conv: Conversation) -> None:
            await asyncio.sleep(random.uniform(0, gap))  # the clients are not in step
            for i in range(TEXTS):
                began = time.monotonic()
                await self._text_in(session, conv, f"{self.tag} {conv.phone[-7:]} in {i}")
                self.inbound_accepted += 1
                if i == TEXTS // 2 - 1:
                    await self._send(session, conv, f"{self.tag} {conv.phone[-7:]} out")
                await asyncio.sleep(max(0.0, gap - (time.monotonic() - began)))

        async with self._session() as session:
            await asyncio.gather(*(client(session, conv) for conv in self.conversations))

    async def reached(self, fraction: float) -> None:
        """Return once ``fraction`` of the burst's inbound texts were accepted; raise the
        burst's own failure if it ended first (a refused request), rather than wait for ever."""
        while self.inbound_accepted < fraction * FIRMS * CLIENTS * TEXTS:
            if self.running is not None and self.running.done():
                self.running.result()  # its exception, if it failed
                raise AssertionError(f"the burst ended at {self.inbound_accepted} texts, before {fraction:.0%}")
            await asyncio.sleep(0.05)
