"""What a notification email says. Pure: the facts come in, a Letter goes out.

Privacy: an email leaves firmtext's control (mail servers, phones, forwarding
rules), so it never carries the text itself nor the full phone number: only the
contact's name (or the number masked to its last 4 digits) and a link to sign in.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from adapters.phone import mask_phone
from adapters.smtp_relay import Letter


@dataclass(frozen=True)
class NoticeFacts:
    notification_id: str
    kind: str  # inbound | new_number | firm_message
    conversation_id: str
    to: str
    contact_names: tuple[str, ...]
    phone: str
    sender_name: str | None = None  # the colleague, for firm_message


def who(facts: NoticeFacts) -> str:
    """The contact's name(s), or the number masked to its last 4 digits."""
    if facts.contact_names:
        return " / ".join(facts.contact_names[:2]) + (" and others" if len(facts.contact_names) > 2 else "")
    return mask_phone(facts.phone)


def message_id(notification_id: str) -> str:
    """Stable per row: if a crash ever makes us send a row twice, mail systems can drop the copy."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@firmtext>"


def compose(facts: NoticeFacts, public_url: str) -> Letter:
    """The email for one notification row."""
    link = f"{public_url}/v1/conversations/{facts.conversation_id}"
    if facts.kind == "firm_message":
        subject = f"New text message to {who(facts)} from {facts.sender_name or 'a colleague'}"
        lead = f"{facts.sender_name or 'A colleague'} sent a text message to {who(facts)}."
    else:
        subject = f"New text message from {who(facts)}"
        lead = (f"{who(facts)} texted your firm; no one has answered yet." if facts.kind == "new_number"
                else f"{who(facts)} sent a new text message.")
    body = (f"{lead}\n\nRead and answer it in firmtext (conversation {facts.conversation_id}):\n{link}\n\n"
            "For your clients' privacy this email does not include the message or the full phone number.\n"
            "You receive these emails because of your notification settings; change them under "
            "Settings > My Notifications.\n")
    return Letter(to=facts.to, subject=subject, body=body,
                  headers={"Message-ID": message_id(facts.notification_id),
                           "X-Firmtext-Notification": facts.notification_id})
