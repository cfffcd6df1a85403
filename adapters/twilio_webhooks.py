"""Pure parsing of Twilio's webhook form posts (inbound messages and status callbacks).

No I/O and no signature checking here: the HTTP edge verifies ``X-Twilio-Signature``
first (see ``adapters.twilio_signature``), then hands the form to these functions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qsl

from domain.input_policy import (CARRIER_SID, MAX_CONTENT_TYPE_CHARS, MAX_INBOUND_BODY_CHARS, MAX_MEDIA_URL_CHARS,
                                 InputRefused, check_line, check_text)
from domain.statuses import FINAL, RANK, moves_forward

_WHOLE = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() accepts "²"

# The status vocabulary and its order are the domain's (domain/statuses.py).
STATUS_RANK, FINAL_STATUSES = RANK, FINAL

_CONSUMED = {"MessageSid", "From", "To", "Body", "NumMedia"}
_MEDIA_KEY = re.compile(r"Media(Url|ContentType)\d+")


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """A form-encoded body's (name, value) pairs, in order, exactly as Starlette's form
    parser gives them (tests/unit/test_webhook_form.py compares the two), at a fifth of
    its cost: bytes read as Latin-1, then "+" and %-escapes decoded as UTF-8, what is not
    UTF-8 replaced; only "&" separates, empty chunks are skipped, a name without "=" has
    an empty value."""
    return parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")


class WebhookInvalid(ValueError):
    """The form is missing a field Twilio always sends, or a field is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MediaRef:
    """One attachment of an inbound MMS, still at the carrier."""

    url: str
    content_type: str


@dataclass(frozen=True)
class InboundText:
    """An inbound SMS/MMS as Twilio described it; ``extra`` holds every other parameter."""

    message_sid: str
    from_number: str
    to_number: str
    body: str
    media: list[MediaRef] = field(default_factory=list)
    num_media: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A status callback for a message firmtext sent."""

    message_sid: str
    status: str
    error_code: int | None = None


def _policed(check, *args) -> str:
    """The input policy's verdict as a WebhookInvalid (its message never holds the value)."""
    try:
        return check(*args)
    except InputRefused as refused:
        raise WebhookInvalid(refused.message) from None


def _required(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise WebhookInvalid(f"{name} is required")
    return _policed(check_line, value, name, 64)


def _message_sid(form: Mapping[str, str]) -> str:
    sid = _required(form, "MessageSid")
    if not CARRIER_SID.fullmatch(sid):
        raise WebhookInvalid("MessageSid must be SM or MM followed by 32 hex digits")
    return sid


def parse_inbound(form: Mapping[str, str]) -> InboundText:
    """Read Twilio's inbound-message form into an :class:`InboundText`.

    Counts above Twilio's 10-media limit are kept as sent: the domain decides what to do.
    """
    sid = _message_sid(form)
    raw_count = (form.get("NumMedia") or "0").strip()
    if not _WHOLE.fullmatch(raw_count):
        raise WebhookInvalid("NumMedia must be a whole number")
    num_media = int(raw_count)
    media = []
    for i in range(num_media):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        if not url:
            raise WebhookInvalid(f"MediaUrl{i} is required when NumMedia is {num_media}")
        content_type = (form.get(f"MediaContentType{i}") or "").strip() or "application/octet-stream"
        media.append(MediaRef(url=_policed(check_line, url, f"MediaUrl{i}", MAX_MEDIA_URL_CHARS),
                              content_type=_policed(check_line, content_type, f"MediaContentType{i}",
                                                    MAX_CONTENT_TYPE_CHARS)))
    extra = {k: str(form[k]) for k in form.keys() if k not in _CONSUMED and not _MEDIA_KEY.fullmatch(k)}
    return InboundText(
        message_sid=sid,
        from_number=_required(form, "From"),
        to_number=_required(form, "To"),
        # An MMS may have no text; spaces are the sender's. The cap: docs/input-policy.md.
        body=_policed(check_text, form.get("Body") or "", "Body", MAX_INBOUND_BODY_CHARS),
        media=media,
        num_media=num_media,
        extra=extra,
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """Read a status callback (``MessageSid, MessageStatus, ErrorCode``)."""
    sid = _message_sid(form)
    # Older callbacks carry SmsStatus only; Twilio still sends both today.
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status:
        raise WebhookInvalid("MessageStatus is required")
    if status not in STATUS_RANK:
        raise WebhookInvalid("MessageStatus is not a Twilio message status")
    raw_code = (form.get("ErrorCode") or "").strip()
    if raw_code and not _WHOLE.fullmatch(raw_code):
        raise WebhookInvalid("ErrorCode must be a whole number")
    return StatusUpdate(message_sid=sid, status=status, error_code=int(raw_code) if raw_code else None)


def is_forward(current: str | None, new: str) -> bool:
    """True when moving a message from ``current`` to ``new`` advances it (see domain/statuses.py).
    Unlike the domain's rule, an unknown status here is the caller's mistake: ValueError."""
    for status in (current, new):
        if status is not None and status not in STATUS_RANK:
            raise ValueError(f"unknown message status {status!r}")
    return moves_forward(current, new)
