"""Real collaborators without infrastructure: AES-GCM over an in-memory key store."""
from __future__ import annotations

from adapters.keystore import InMemoryKeyStore
from adapters.sealer import AesGcmSealer
from adapters.unit_recorder import InMemoryUnitRecorder
from domain.texting import Texting


class InMemoryTexting(Texting):
    def construct_recorder(self) -> InMemoryUnitRecorder:
        return InMemoryUnitRecorder()


def in_memory_texting() -> Texting:
    """The texting application on eventsourcing's in-memory (POPO) store."""
    sealer = AesGcmSealer(InMemoryKeyStore(), b"k" * 32)
    return InMemoryTexting(sealer, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
