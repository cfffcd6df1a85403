"""Every projection the worker maintains, by name."""
from __future__ import annotations

from projections.base import Projection
from projections.directory import DIRECTORY
from projections.inbox import INBOX
from projections.links import LINKS
from projections.messages import MESSAGES_PROJECTION
from projections.notifications import NOTIFICATIONS_PROJECTION
from projections.search import SEARCH

ALL: dict[str, Projection] = {p.name: p for p in (
    DIRECTORY, LINKS, INBOX, MESSAGES_PROJECTION, NOTIFICATIONS_PROJECTION, SEARCH)}
