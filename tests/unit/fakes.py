"""Real collaborators without infrastructure: AES-GCM over an in-memory key store."""
from __future__ import annotations

from adapters.keystore import InMemoryKeyStore
from adapters.sealer import AesGcmSealer
from domain.texting import Texting


def in_memory_texting() -> Texting:
    """The texting application on eventsourcing's in-memory (POPO) store."""
    sealer = AesGcmSealer(InMemoryKeyStore(), b"k" * 32)
    return Texting(sealer, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
