"""firmtext's client for Twilio's Messages API (and the simulator, which speaks the same).

It sends, lists what the carrier holds from one number to another (to reconcile a send
that was interrupted before its outcome was recorded) and fetches MMS media. Sends are paced per sending number, retried with exponential backoff and jitter when
the carrier is busy (429), failing (5xx) or unreachable, and refused outright on any
other 4xx, which Twilio explains with a JSON error ``{code, message, more_info, status}``.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import date
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from adapters.phone import mask_phone
from adapters.rate_limit import PerNumberRateLimiter, estimate_segments

log = logging.getLogger(__name__)

# The request never reached the carrier, so sending it again cannot text anyone twice.
_SAFE_TO_RETRY = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)
_MAX_RETRY_AFTER = 60.0
_LIST_PAGES = 10  # at most 1,000 messages from one number to one client per listing


@dataclass(frozen=True)
class CarrierReceipt:
    """What the carrier said when it accepted a message."""
    sid: str
    status: str


@dataclass(frozen=True)
class MediaDownload:
    """An attachment fetched from the carrier."""
    content: bytes
    content_type: str


class CarrierRejected(Exception):
    """The carrier refused the message for good (e.g. 21610 unsubscribed, 21211 bad To)."""
    def __init__(self, code: int, message: str, status: int) -> None:
        super().__init__(f"carrier error {code} (HTTP {status}): {message}")
        self.code, self.message, self.status = code, message, status


class CarrierUnavailable(Exception):
    """The carrier could not be reached or kept failing. ``maybe_sent`` means the
    request may have been accepted before the answer was lost, so a blind retry could
    send the text twice."""
    def __init__(self, message: str, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.message, self.maybe_sent = message, maybe_sent


class MediaTooLarge(Exception):
    """The attachment is larger than the caller allows."""
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"media is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class MediaUnavailable(Exception):
    """The attachment could not be fetched (refused, missing, or not a carrier URL)."""
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rpartition("@")[2].lower()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: fall back to our own backoff


def _rejection(response: httpx.Response) -> CarrierRejected:
    try:
        data = response.json()
        return CarrierRejected(int(data.get("code") or 0), str(data.get("message") or ""), response.status_code)
    except (ValueError, TypeError, AttributeError):
        return CarrierRejected(0, response.reason_phrase or "refused", response.status_code)


class TwilioMessages:
    """Send SMS and fetch MMS media through Twilio's REST API (2010-04-01)."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str, rate_per_second: float,
                 http: httpx.AsyncClient | None = None, max_attempts: int = 5,
                 backoff_base: float = 0.2, max_backoff: float = 10.0) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        base = self._api_base = api_base.rstrip("/")
        self._messages_url = f"{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._origin = _origin(base)
        self.max_attempts, self.backoff_base, self.max_backoff = max(1, max_attempts), backoff_base, max_backoff
        self.limiter = PerNumberRateLimiter(rate_per_second)

    @classmethod
    def from_settings(cls, settings, http: httpx.AsyncClient | None = None, **kwargs) -> "TwilioMessages":
        """Build from :class:`firmtext.config.Settings`."""
        return cls(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base,
                   settings.carrier_rate_per_second, http=http, **kwargs)

    async def send(self, from_number: str, to_number: str, body: str, status_callback: str | None = None,
                   before_request: Callable[[], Awaitable[None]] | None = None) -> CarrierReceipt:
        """Ask the carrier to send ``body``; returns its receipt (sid, usually ``queued``).

        ``before_request`` is awaited right before each request to the carrier (after the
        pacing wait and any backoff): the sender's check that it may still send, whose
        exception ends the send with nothing asked."""
        form = {"From": from_number, "To": to_number, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        weight, last = estimate_segments(body), "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(from_number, weight)
            if before_request is not None:
                await before_request()
            retry_after = None
            try:
                response = await self._http.post(self._messages_url, data=form, auth=self._auth)
            except _SAFE_TO_RETRY as exc:
                last = type(exc).__name__
            except httpx.TransportError as exc:
                raise CarrierUnavailable(f"carrier answer lost ({type(exc).__name__})", maybe_sent=True) from exc
            else:
                if response.status_code in (200, 201):
                    return self._receipt(response, to_number)
                if response.status_code != 429 and response.status_code < 500:
                    raise _rejection(response)
                last, retry_after = f"HTTP {response.status_code}", _retry_after(response)
            log.warning("carrier send to %s failed (%s), attempt %d/%d",
                        mask_phone(to_number), last, attempt, self.max_attempts)
            if attempt < self.max_attempts:
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise CarrierUnavailable(f"carrier unavailable after {self.max_attempts} attempts ({last})")

    async def messages_between(self, from_number: str, to_number: str, sent_on_or_after: date) -> list[dict]:
        """Message resources the carrier holds from ``from_number`` to ``to_number``, newest
        first: Twilio's list filtered by From, To and ``DateSent>`` (a day, UTC), plus the
        newest page without a date, since a message still queued has no date_sent yet."""
        pair = {"From": from_number, "To": to_number, "PageSize": "100"}
        found: dict[str, dict] = {}
        for query in ({**pair, "DateSent>": sent_on_or_after.isoformat()}, pair):
            url, pages = self._messages_url, _LIST_PAGES if "DateSent>" in query else 1
            params: dict | None = query
            for _ in range(pages):
                page = await self._list_page(url, params)
                for message in page.get("messages") or []:
                    found.setdefault(str(message.get("sid")), message)
                if not page.get("next_page_uri"):
                    break
                url, params = f"{self._api_base}{page['next_page_uri']}", None
        return list(found.values())

    async def message(self, sid: str) -> dict | None:
        """The carrier's message resource ``sid`` (its current status), or None if it has none."""
        if not sid.isalnum():
            raise ValueError("a message sid is letters and digits")
        return await self._get_object(self._messages_url.removesuffix(".json") + f"/{sid}.json", None,
                                      "lookup", missing_ok=True)

    async def _list_page(self, url: str, params: dict | None) -> dict:
        return await self._get_object(url, params, "listing")

    async def _get_object(self, url: str, params: dict | None, what: str, missing_ok: bool = False) -> dict | None:
        """A JSON object the carrier answers 200 with (None for a 404 when ``missing_ok``)."""
        try:
            response = await self._http.get(url, params=params, auth=self._auth)
        except httpx.TransportError as exc:
            raise CarrierUnavailable(f"carrier {what} failed ({type(exc).__name__})") from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code != 200:
            raise CarrierUnavailable(f"carrier {what} answered HTTP {response.status_code}")
        try:
            found = response.json()
        except ValueError as exc:
            raise CarrierUnavailable(f"carrier {what} was unreadable") from exc
        if not isinstance(found, dict):
            raise CarrierUnavailable(f"carrier {what} was unreadable")
        return found

    def _receipt(self, response: httpx.Response, to_number: str) -> CarrierReceipt:
        try:
            data = response.json()
            receipt = CarrierReceipt(sid=str(data["sid"]), status=str(data.get("status") or "queued"))
        except (ValueError, KeyError, TypeError) as exc:
            raise CarrierUnavailable("carrier accepted but its answer was unreadable", maybe_sent=True) from exc
        log.info("carrier accepted %s to %s (%s)", receipt.sid, mask_phone(to_number), receipt.status)
        return receipt

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        ceiling = min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)  # jitter so many senders do not retry in step

    async def fetch_media(self, url: str, max_bytes: int = 5_000_000) -> MediaDownload:
        """Download an MMS attachment with the account's credentials, at most ``max_bytes``.

        Only URLs on the carrier's API host are fetched, so a forged URL can never
        receive the credentials. Redirects (Twilio hands off to storage) are followed;
        httpx drops the credentials when a redirect leaves the API host.
        """
        if _origin(url) != self._origin:
            raise MediaUnavailable("media URL is not on the carrier's API host")
        try:
            async with self._http.stream("GET", url, auth=self._auth, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise MediaUnavailable(f"carrier answered HTTP {response.status_code}", response.status_code)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise MediaTooLarge(max_bytes)
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:  # stop reading: never hold more than allowed
                        raise MediaTooLarge(max_bytes)
                    chunks.append(chunk)
                content_type = response.headers.get("content-type") or "application/octet-stream"
        except httpx.TransportError as exc:
            raise MediaUnavailable(f"media fetch failed ({type(exc).__name__})") from exc
        return MediaDownload(content=b"".join(chunks), content_type=content_type)

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()
