"""Where MMS attachments live: encrypted at rest under their conversation's data key.

Only ciphertext ever reaches the disk. Blocking a conversation destroys its key, so
the files are unreadable at once; ``delete_conversation`` then removes them too.
The interface is small on purpose: an object store (S3-like) can implement it with
keys ``<conversation_id>/<media_id>``.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path
from typing import Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag

from domain.texting import conversation_scope

log = logging.getLogger(__name__)
MEDIA_ID = re.compile(r"[0-9a-f]{32}")
# Sealed with the plaintext so a file copied under another id fails to open.
_HEADER = b"firmtext-media:"


class MediaStore(Protocol):
    def put(self, conversation_id: UUID | str, media_id: str, data: bytes) -> None:
        """Store ``data`` encrypted; the same id again replaces it (retries are safe)."""

    def get(self, conversation_id: UUID | str, media_id: str) -> bytes | None:
        """The plaintext, or None when missing or its conversation's key is destroyed."""

    def delete_conversation(self, pool, conversation_id: UUID | str) -> int:
        """Remove every attachment of a conversation and its ``media_objects`` rows."""


def _check_id(media_id: str) -> str:
    # Ids become file names: only our own hex ids, never a path.
    if not isinstance(media_id, str) or not MEDIA_ID.fullmatch(media_id):
        raise ValueError("media id must be 32 lowercase hex digits")
    return media_id


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemMediaStore:
    """Files ``root/<conversation_id>/<media_id>``, each ``sealer.seal_bytes`` output."""

    def __init__(self, root: Path, sealer) -> None:
        self.root = Path(root)
        self.sealer = sealer

    def _dir(self, conversation_id: UUID | str) -> Path:
        return self.root / str(UUID(str(conversation_id)))

    def put(self, conversation_id: UUID | str, media_id: str, data: bytes) -> None:
        """Seal ``data`` under the conversation's key and write it atomically.

        Raises ``adapters.keystore.KeyDestroyed`` if the conversation was blocked.
        """
        _check_id(media_id)
        blob = self.sealer.seal_bytes(conversation_scope(conversation_id), _HEADER + media_id.encode() + data)
        folder = self._dir(conversation_id)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = folder / f".{media_id}.{secrets.token_hex(6)}.tmp"
        # Temp + fsync + rename: a reader sees the old file or the whole new one, never half.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, folder / media_id)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)

    def get(self, conversation_id: UUID | str, media_id: str) -> bytes | None:
        """The plaintext bytes, or None (unknown id, file gone, key destroyed, tampered)."""
        try:
            blob = (self._dir(conversation_id) / _check_id(media_id)).read_bytes()
        except (ValueError, FileNotFoundError):
            return None
        try:
            plain = self.sealer.open_bytes(conversation_scope(conversation_id), blob)
        except InvalidTag:
            log.warning("stored media %s failed authentication; not served", media_id)
            return None
        prefix = _HEADER + media_id.encode()
        if plain is None or not plain.startswith(prefix):
            return None
        return plain[len(prefix):]

    def delete_conversation(self, pool, conversation_id: UUID | str) -> int:
        """Delete the conversation's files, its directory, then its rows; returns how many
        attachments were removed. Files go first: if that fails, the rows still list
        what is left to delete and a second call finishes the job."""
        folder = self._dir(conversation_id)
        removed: set[str] = set()
        if folder.is_dir():
            for entry in folder.iterdir():
                entry.unlink(missing_ok=True)
                if MEDIA_ID.fullmatch(entry.name):
                    removed.add(entry.name)
            folder.rmdir()
            _fsync_dir(self.root)
        with pool.connection() as conn:
            rows = conn.execute("DELETE FROM media_objects WHERE conversation_id = %s RETURNING media_id",
                                (UUID(str(conversation_id)),)).fetchall()
        removed.update(r[0] for r in rows)
        log.info("deleted %d attachment(s) of conversation %s", len(removed), conversation_id)
        return len(removed)
