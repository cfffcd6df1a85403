"""Inbound MMS attachments: fetched from the carrier, checked, encrypted and stored.

Rules (docs/media.md): JPEG, PNG and GIF only, recognised by their bytes (the declared
type is never trusted); at most 10 per text; the accepted ones must stay under 5 MiB
in all. Attachments are judged in the order the client sent them; one that breaks a
rule is listed as rejected with a reason, and the text itself is always kept.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from uuid import UUID

import httpx

from adapters.keystore import KeyDestroyed
from adapters.twilio_client import MediaTooLarge, MediaUnavailable, TwilioMessages
from domain.ids import structural_key

log = logging.getLogger(__name__)
MAX_MEDIA = 10
MAX_TOTAL_BYTES = 5 * 1024 * 1024  # accepted bytes must stay strictly below this
FETCH_CONCURRENCY = 4  # per text: bounds memory (4 × 5 MiB) and load on the carrier
FETCH_BUDGET_SECONDS = 10.0  # Twilio gives up on a webhook after 15 s
_MEDIA_NAMESPACE = uuid.UUID("6f1c1d52-5a0e-4d43-9d0c-7f7a9f1b2e61")
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the last chunk is always exactly this


def sniff_image(data: bytes) -> str | None:
    """The image type of ``data`` from its bytes (``image/jpeg|png|gif``), else None.

    Both ends are checked, so a text file with an image's name, or an image cut
    short in transit (no end marker), is not taken for an image.
    """
    if data[:3] == b"\xff\xd8\xff" and data.find(b"\xff\xd9", 4) > 0:
        return "image/jpeg"  # EOI may be followed by vendor trailers, so search, don't anchor
    if data[:8] == _PNG and data[12:16] == b"IHDR" and len(data) >= 45 and data.find(_PNG_IEND, 33) > 0:
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 14 and data.rstrip(b"\x00").endswith(b";"):
        return "image/gif"
    return None


def media_id_of(conversation_id: UUID | str, message_sid: str, index: int) -> str:
    """Deterministic id: a retried webhook maps each attachment to the same id."""
    return uuid.uuid5(_MEDIA_NAMESPACE, structural_key(str(conversation_id), message_sid, index)).hex


class MediaIntake:
    """Turns an inbound text's ``MediaUrl{N}`` into stored, encrypted attachments."""

    def __init__(self, settings, media_store, pool, carrier: TwilioMessages | None = None) -> None:
        self.settings, self.media_store, self.pool = settings, media_store, pool
        self._carrier, self._owns_carrier = carrier, carrier is None

    @property
    def carrier(self) -> TwilioMessages:
        # Built on first use (inside the event loop), then reused for its connection pool.
        if self._carrier is None:
            self._carrier = TwilioMessages.from_settings(self.settings)
        return self._carrier

    async def ingest(self, firm_id: str, conversation_id: UUID, text) -> tuple[list[dict], list[dict]]:
        """Fetch, check and store ``text.media``; returns (media, rejected).

        media: ``{id, content_type, size, sha256}`` in the client's order; rejected:
        ``{index, reason, content_type}`` with reason ``too_many``, ``too_large``,
        ``unsupported_type`` or ``fetch_failed``. Problems with one attachment never
        raise; storage or database failures do (the carrier then retries the webhook).
        """
        refs = list(text.media)
        rejected = [{"index": i, "reason": "too_many", "content_type": ref.content_type}
                    for i, ref in enumerate(refs) if i >= MAX_MEDIA]
        gate, deadline = asyncio.Semaphore(FETCH_CONCURRENCY), time.monotonic() + FETCH_BUDGET_SECONDS
        fetched = await asyncio.gather(*(self._fetch(ref.url, gate, deadline) for ref in refs[:MAX_MEDIA]))
        accepted, total = [], 0
        for index, (ref, outcome) in enumerate(zip(refs, fetched)):
            if isinstance(outcome, tuple) and total + len(outcome[0]) >= MAX_TOTAL_BYTES:
                outcome = "too_large"  # later, smaller attachments may still fit
            if isinstance(outcome, str):
                # The declared type, as the phone sent it (capped at the edge: docs/input-policy.md).
                rejected.append({"index": index, "reason": outcome, "content_type": ref.content_type})
                continue
            data, content_type = outcome
            total += len(data)
            accepted.append((media_id_of(conversation_id, text.message_sid, index), data, content_type))
        try:
            media = await asyncio.to_thread(self._store, firm_id, conversation_id, accepted)
        except KeyDestroyed:
            # Blocked meanwhile: the text will be dropped unseen, so keep nothing of it.
            await asyncio.to_thread(self.media_store.delete_conversation, self.pool, conversation_id)
            return [], []
        rejected.sort(key=lambda r: r["index"])
        if rejected:
            log.info("message %s: %d attachment(s) accepted, rejected %s", text.message_sid, len(media),
                     [(r["index"], r["reason"]) for r in rejected])
        return media, rejected

    async def _fetch(self, url: str, gate: asyncio.Semaphore, deadline: float) -> tuple[bytes, str] | str:
        """(bytes, sniffed type), or the reason it is rejected."""
        async with gate:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "fetch_failed"
            try:
                async with asyncio.timeout(remaining):
                    # One attachment alone must be under the limit: stop reading past it.
                    download = await self.carrier.fetch_media(url, max_bytes=MAX_TOTAL_BYTES - 1)
            except MediaTooLarge:
                return "too_large"
            except (MediaUnavailable, httpx.HTTPError, ValueError, TimeoutError) as exc:
                log.warning("attachment fetch failed: %s", type(exc).__name__)
                return "fetch_failed"
        content_type = sniff_image(download.content)
        # A non-image is dropped here, so its bytes are not held while others download.
        return (download.content, content_type) if content_type else "unsupported_type"

    def _store(self, firm_id: str, conversation_id: UUID, accepted: list[tuple[str, bytes, str]]) -> list[dict]:
        media = [{"id": media_id, "content_type": content_type, "size": len(data),
                  "sha256": hashlib.sha256(data).hexdigest()} for media_id, data, content_type in accepted]
        for media_id, data, _ in accepted:
            self.media_store.put(conversation_id, media_id, data)
        if media:
            # Rows after files: a row always points at a stored file. ON CONFLICT: retried webhooks.
            with self.pool.connection() as conn, conn.transaction():
                conn.cursor().executemany(
                    "INSERT INTO media_objects (media_id, firm_id, conversation_id, content_type, size, sha256) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (media_id) DO NOTHING",
                    [(m["id"], firm_id, conversation_id, m["content_type"], m["size"], m["sha256"]) for m in media])
        return media

    async def aclose(self) -> None:
        """Close the carrier client if this object built it."""
        if self._owns_carrier and self._carrier is not None:
            await self._carrier.aclose()
