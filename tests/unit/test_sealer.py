import pytest

from adapters.keystore import InMemoryKeyStore, KeyDestroyed
from adapters.sealer import AesGcmSealer, KeyConflict


def test_deferred_keys_are_stored_at_flush_and_open_everywhere():
    store = InMemoryKeyStore()
    api, worker = AesGcmSealer(store, b"m" * 32), AesGcmSealer(store, b"m" * 32)
    with api.deferring():
        api.new_scope("conversation:1")
        sealed = api.seal("conversation:1", "hello")
        assert store.get("conversation:1") is None  # not yet durable
        api.flush_deferred()
    assert worker.open("conversation:1", sealed) == "hello"


def test_a_deferred_key_that_loses_a_race_is_refused_and_forgotten():
    store = InMemoryKeyStore()
    api, other = AesGcmSealer(store, b"m" * 32), AesGcmSealer(store, b"m" * 32)
    with api.deferring():
        api.new_scope("conversation:2")
        lost = api.seal("conversation:2", "never stored")
        other.new_scope("conversation:2")  # another process won the scope meanwhile
        with pytest.raises(KeyConflict):
            api.flush_deferred()
    # The losing key is gone from the cache: sealing again uses the stored key.
    again = api.seal("conversation:2", "stored")
    assert other.open("conversation:2", again) == "stored"
    assert other.open("conversation:2", lost) is None


def test_destroyed_scopes_stay_destroyed():
    store = InMemoryKeyStore()
    sealer = AesGcmSealer(store, b"m" * 32)
    sealed = sealer.seal("conversation:3", "secret")
    sealer.destroy("conversation:3")
    assert sealer.open("conversation:3", sealed) is None
    with pytest.raises(KeyDestroyed):
        sealer.seal("conversation:3", "again")
    with sealer.deferring():
        sealer.new_scope("conversation:3")
        with pytest.raises(KeyConflict):
            sealer.flush_deferred()
