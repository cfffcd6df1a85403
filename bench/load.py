"""The load generator: signed Twilio inbound webhooks (many client numbers across
several firms, picked at random) kept ``concurrency`` in flight for ``seconds``. The same generator hits
the real API and the bare endpoint (the ceiling), so their ratio is the API's cost."""
from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field

import aiohttp

from adapters.twilio_signature import compute_signature

PATH = "/webhooks/twilio/messages"


@dataclass(frozen=True)
class Client:
    """A client's phone texting a firm's number."""

    firm_id: str
    firm_number: str
    phone: str


@dataclass
class Sent:
    client: Client
    sent_at: float  # perf_counter when the request went out
    status: int
    seconds: float  # until the answer came back


@dataclass
class Run:
    concurrency: int
    seconds: float
    sent: list[Sent] = field(default_factory=list)

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 200]

    def summary(self) -> dict:
        ok = self.accepted
        latencies = sorted(s.seconds for s in ok)
        return {"concurrency": self.concurrency, "seconds": round(self.seconds, 2), "requests": len(self.sent),
                "accepted": len(ok), "errors": len(self.sent) - len(ok),
                "accepted_per_second": round(len(ok) / self.seconds, 1) if self.seconds else 0.0,
                "response_p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "response_p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


def form_for(client: Client, sid: str, body: str, account_sid: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": account_sid,
            "From": client.phone, "To": client.firm_number, "Body": body, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}


async def drive(base_url: str, public_url: str, auth_token: str, account_sid: str, clients: list[Client],
                concurrency: int, seconds: float, run_id: str, on_accepted=None) -> Run:
    """Keep ``concurrency`` requests in flight for ``seconds``; ``on_accepted(sent)`` per 200."""
    numbering = itertools.count()
    pick = random.Random(run_id).choice  # clients text in no particular order, most only once or twice
    run = Run(concurrency, seconds)
    signed_url = public_url + PATH
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base_url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                n = next(numbering)
                client = pick(clients)
                sid = "SM" + f"{run_id}{n:012x}".rjust(32, "0")[-32:]  # run_id is hex: unique per run
                form = form_for(client, sid, f"bench text {n}", account_sid)
                headers = {"X-Twilio-Signature": compute_signature(auth_token, signed_url, form)}
                began = time.perf_counter()
                try:
                    async with http.post(PATH, data=form, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    status = 0
                sent = Sent(client, began, status, time.perf_counter() - began)
                run.sent.append(sent)
                if status == 200 and on_accepted:
                    on_accepted(sent)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - began
    return run
