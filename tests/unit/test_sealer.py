import pytest
from eventsourcing.persistence import IntegrityError

from adapters.keystore import InMemoryKeyStore, KeyDestroyed
from adapters.sealer import AesGcmSealer


def test_a_fresh_key_is_stored_only_by_its_write_and_then_opens_everywhere():
    store = InMemoryKeyStore()
    api, worker = AesGcmSealer(store, b"m" * 32), AesGcmSealer(store, b"m" * 32)
    key = api.fresh_key("conversation:1")
    sealed = api.seal("conversation:1", "hello", key)
    assert store.get("conversation:1") is None  # not yet durable
    api.keep_keys({"conversation:1": key}).apply(None)
    api.adopt({"conversation:1": key})
    assert worker.open("conversation:1", sealed) == "hello" and api.open("conversation:1", sealed) == "hello"


def test_a_fresh_key_that_loses_a_race_is_refused_and_never_used():
    store = InMemoryKeyStore()
    api, other = AesGcmSealer(store, b"m" * 32), AesGcmSealer(store, b"m" * 32)
    lost_key = api.fresh_key("conversation:2")
    lost = api.seal("conversation:2", "never stored", lost_key)
    other.seal("conversation:2", "the winner")  # another process got the scope a key meanwhile
    with pytest.raises(IntegrityError):
        api.keep_keys({"conversation:2": lost_key}).apply(None)
    again = api.seal("conversation:2", "stored")  # the stored key, not the one that lost
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
    with pytest.raises(IntegrityError):
        sealer.keep_keys({"conversation:3": sealer.fresh_key("conversation:3")}).apply(None)
