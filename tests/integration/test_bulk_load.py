"""Loading many aggregates in one round trip (issue 11): ``Texting.load_many`` gives the
same state as eventsourcing's own ``repository.get`` for each, whether the aggregate was
never loaded, is cached and stale (another process wrote since), has snapshots, or does not
exist; and a group commit that preloads a stale aggregate still decides on fresh state."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.group_commit import GroupCommitter
from domain.ids import conversation_id_of
from domain.scopes import conversation_scope
from domain.texting import SNAPSHOT_EVERY, Texting
from domain.use_cases_conversation import receive_inbound
from adapters.keystore import PostgresKeyStore
from adapters.sealer import AesGcmSealer, master_key_bytes
from firmtext.bootstrap import Container, eventsourcing_env
from firmtext.commands.migrate import migrate


def _state(conv) -> dict:
    return {"version": conv.version, "inbound": conv.inbound_count,
            "messages": conv.messages, "opted_out": conv.opted_out, "participants": conv.participants}


@pytest.fixture
def stores(two_processes):
    _, container, other = two_processes  # the second: "another process"
    return container.texting, other


def _sid() -> str:
    return "SM" + uuid.uuid4().hex


def test_load_many_matches_one_by_one_loads(stores):
    texting, other = stores
    phones = [f"+1555123{i:04d}" for i in range(4)]
    ids = [conversation_id_of("firm-a", texting.sealer.phone_hash("firm-a", p)) for p in phones]
    for _ in range(SNAPSHOT_EVERY + 5):  # the first: past its first snapshot
        texting.receive_inbound("firm-a", phones[0], _sid(), "long")
    texting.receive_inbound("firm-a", phones[1], _sid(), "STOP")
    texting.receive_inbound("firm-a", phones[2], _sid(), "cached, then changed elsewhere")
    assert texting.get_or_none(ids[2]).inbound_count == 1  # now in this process's cache
    other.receive_inbound("firm-a", phones[2], _sid(), "written by another process")
    absent = conversation_id_of("firm-a", texting.sealer.phone_hash("firm-a", "+15559999999"))

    texting.repository.cache.get(ids[0], evict=True)  # a cold load: from the snapshot
    found = texting.load_many(ids[:3] + [absent])

    assert set(found) == set(ids[:3])
    for i in ids[:3]:
        assert _state(found[i]) == _state(other.repository.get(i))
    assert found[ids[0]].inbound_count == SNAPSHOT_EVERY + 5
    assert found[ids[2]].inbound_count == 2  # the other process's text included
    # Private copies: changing one changes neither the cache nor the next load.
    found[ids[1]].inbound_count = 99
    assert texting.load_many([ids[1]])[ids[1]].inbound_count == 1


def test_a_group_commit_on_a_stale_aggregate_decides_again_on_fresh_state(stores):
    texting, other = stores
    phone = "+15551230100"
    conv_id = conversation_id_of("firm-a", texting.sealer.phone_hash("firm-a", phone))
    texting.receive_inbound("firm-a", phone, _sid(), "first")
    texting.get_or_none(conv_id)  # cached here
    repeated = _sid()
    other.receive_inbound("firm-a", phone, repeated, "elsewhere")  # this process's cache is stale now
    committer = GroupCommitter(texting)

    async def both():
        return await asyncio.gather(
            committer.submit(receive_inbound, "firm-a", phone, repeated, "the carrier's retry", loads=(conv_id,)),
            committer.submit(receive_inbound, "firm-a", phone, _sid(), "new", loads=(conv_id,)))

    retried, new = asyncio.run(both())
    assert retried.duplicate  # the other process's text was seen: not recorded twice
    assert not new.duplicate
    assert other.repository.get(conv_id).inbound_count == 3


class _CountingKeys:
    """The real PostgreSQL key store, counting its reads (what this test is about)."""

    def __init__(self, keys) -> None:
        self.keys, self.gets, self.batches = keys, 0, []

    def get(self, scope):
        self.gets += 1
        return self.keys.get(scope)

    def get_many(self, scopes):
        self.batches.append(len(scopes))
        return self.keys.get_many(scopes)

    def __getattr__(self, name):
        return getattr(self.keys, name)


def test_a_group_commit_reads_its_conversations_keys_in_one_query(test_settings, make_database):
    """Texts to known conversations whose keys this process has not cached (a restart,
    another API process, or minutes since their last text): the keys are read with the
    aggregates' batch, one query for all, not one per text inside the serial commit."""
    settings = test_settings.with_overrides(database_url=make_database())
    migrate(settings)
    container = Container(settings, pool_size=2)
    counting = _CountingKeys(PostgresKeyStore(container.pool))
    cold = Texting(AesGcmSealer(counting, master_key_bytes(settings.master_key)),
                   env=eventsourcing_env(container.database_url, 2))  # another process: nothing cached
    try:
        writer = container.texting
        phones = [f"+1555124{i:04d}" for i in range(6)]
        for phone in phones:
            writer.receive_inbound("firm-a", phone, _sid(), "hello")
        ids = [conversation_id_of("firm-a", writer.sealer.phone_hash("firm-a", p)) for p in phones]
        committer = GroupCommitter(cold, max_wait=0.05)

        async def all_at_once():
            return await asyncio.gather(*(committer.submit(receive_inbound, "firm-a", p, _sid(), f"second from {p}",
                                                           loads=(i,)) for p, i in zip(phones, ids)))

        outcomes = asyncio.run(all_at_once())
        assert not any(o.duplicate for o in outcomes) and committer.batches == 1
        assert counting.batches == [len(phones)] and counting.gets == 0
        for phone, conv_id in zip(phones, ids):  # sealed under each conversation's own key
            last = list(writer.repository.event_store.get(conv_id))[-1]
            assert writer.sealer.open(conversation_scope(conv_id), last.body_ct) == f"second from {phone}"
    finally:
        cold.close()
        container.close()
