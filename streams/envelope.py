"""Moved to :mod:`domain.envelope` (the log's wire format is the domain's published
language, and projections must not import streams). Kept while callers move over."""
from domain.envelope import *  # noqa: F401,F403
from domain.envelope import (_HASH_FIELD_BYTES, _WIDEST_NOTIFICATION_ID, _plain, _unhashed)  # noqa: F401
