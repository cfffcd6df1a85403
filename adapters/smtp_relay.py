"""SMTP: hand one email to the configured relay. Blocking (smtplib): call it from a thread.

A relay that is down or answers 4xx raises, and the caller retries later; a relay
that refuses *this* email for good (5xx on the recipient or the content) raises
:class:`MailRefused`, so one bad address never holds up everyone else's email.
"""
from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage


class MailRefused(Exception):
    """The relay refused this email permanently; sending it again would not help."""


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class SmtpRelay:
    """Plain SMTP to ``host:port`` (a local relay or a mail-catcher in development)."""

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def message(self, letter: Letter) -> EmailMessage:
        """The email as it goes on the wire."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, letter.to, letter.subject
        for name, value in letter.headers.items():
            msg[name] = value
        msg.set_content(letter.body)
        return msg

    def send(self, letter: Letter) -> None:
        """Deliver ``letter`` to the relay; raise on failure (see the module docstring)."""
        msg = self.message(letter)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRefused("the relay refused the recipient") from exc
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise MailRefused(f"the relay refused the message ({exc.smtp_code})") from exc
            raise
