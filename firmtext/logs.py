"""Process logging: one line per record, never a message body or a whole phone number."""
from __future__ import annotations

import logging
import re

from adapters.phone import mask_phone

_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{6,}\d")


def mask_phones_in(text: str) -> str:
    """Hide all but the last four digits of anything in ``text`` that looks like a phone number."""
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


class _MaskPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phones_in(str(record.msg))
        if record.args:
            record.args = tuple(mask_phones_in(a) if isinstance(a, str) else a for a in record.args)
        return True


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskPhones())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
