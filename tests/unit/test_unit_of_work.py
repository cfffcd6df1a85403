"""The unit of work: one transaction for what its use cases save, effects only after it commits."""
import asyncio

from domain.group_commit import GroupCommitter
from domain.scopes import conversation_scope
from domain.use_cases_conversation import receive_inbound, request_outbound
from domain.use_cases_inbox import block
from tests.unit.fakes import in_memory_texting

CLIENT = "+15551230001"


def _texting_with_a_conversation():
    texting = in_memory_texting()
    texting.configure_firm("acme", "Acme Law", "+15550000000")
    out = texting.receive_inbound("acme", CLIENT, "SM" + "1" * 32, "hello")
    return texting, out.conversation_id, texting.sealer.seal(conversation_scope(out.conversation_id), "readable")


def test_a_dropped_unit_stores_nothing_and_runs_no_after_commit_effect():
    texting, conv_id, sealed = _texting_with_a_conversation()
    stored = texting.recorder.max_notification_id()
    uow = texting.unit()
    block(uow, "acme", conv_id, "alice")
    receive_inbound(uow, "acme", "+15551239999", "SM" + "2" * 32, "a new conversation")
    del uow  # dropped, never committed
    assert texting.recorder.max_notification_id() == stored
    assert texting.sealer.open(conversation_scope(conv_id), sealed) == "readable"  # key not destroyed
    assert not texting.is_blocked(conv_id)


def test_a_group_commit_dropped_by_a_refusal_destroys_the_blocked_key_only_once_it_is_committed():
    texting, conv_id, sealed = _texting_with_a_conversation()
    stopped = texting.receive_inbound("acme", "+15551230002", "SM" + "3" * 32, "STOP").conversation_id
    destroyed_while_blocked_is_stored = []
    destroy = texting.sealer.destroy

    def destroy_and_look(scope):  # when the key goes, the block must already be stored
        destroyed_while_blocked_is_stored.append(texting.is_blocked(conv_id))
        destroy(scope)

    texting.sealer.destroy = destroy_and_look
    committer = GroupCommitter(texting, max_wait=0.05)

    async def batch():
        return await asyncio.gather(committer.submit(block, "acme", conv_id, "alice"),
                                    committer.submit(request_outbound, "acme", stopped, "alice", "refused"),
                                    return_exceptions=True)

    blocked, refused = asyncio.run(batch())
    assert committer.fallbacks == 1 and type(refused).__name__ == "OptedOut"
    assert destroyed_while_blocked_is_stored == [True]  # once, after the commit; never for the dropped batch
    assert texting.sealer.open(conversation_scope(conv_id), sealed) is None


def test_a_new_conversations_key_is_stored_in_the_transaction_of_its_first_events():
    texting = in_memory_texting()
    keys = texting.sealer.keys.keys
    uow = texting.unit()
    out = receive_inbound(uow, "acme", CLIENT, "SM" + "4" * 32, "hello")
    assert conversation_scope(out.conversation_id) not in keys
    uow.commit()
    assert conversation_scope(out.conversation_id) in keys
    assert texting.conversation("acme", out.conversation_id).inbound_count == 1


def test_a_long_conversation_loads_from_its_snapshot_the_same_as_from_its_events():
    from domain.texting import SNAPSHOT_EVERY
    from domain.use_cases_conversation import open_conversation

    texting = in_memory_texting()
    texting.configure_firm("acme", "Acme Law", "+15550000000")
    conv, _ = texting.open_conversation("acme", CLIENT, "alice")
    texting.mute("acme", conv.id, "alice")
    uow = texting.unit()
    for i in range(SNAPSHOT_EVERY + 5):
        receive_inbound(uow, "acme", CLIENT, f"SM{i:032x}", f"text {i}")
    uow.commit()
    assert list(texting.snapshots.get(conv.id))  # a snapshot was taken
    from_snapshot = texting.repository.get(conv.id)  # no aggregate cache here: snapshot + 5 events
    rebuilt = None
    events = list(texting.events.get(conv.id))
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert from_snapshot.__dict__ == rebuilt.__dict__ and from_snapshot.muted == {"alice"}
    assert texting.receive_inbound("acme", CLIENT, f"SM{3:032x}", "again").duplicate  # sids survive
    assert open_conversation(texting.unit(), "acme", CLIENT, "bob")[0].inbound_count == SNAPSHOT_EVERY + 5


def test_a_dropped_units_carrier_sid_never_reaches_the_aggregate_cache():
    from adapters.keystore import InMemoryKeyStore
    from adapters.sealer import AesGcmSealer
    from tests.unit.fakes import InMemoryTexting

    texting = InMemoryTexting(AesGcmSealer(InMemoryKeyStore(), b"k" * 32),
                              env={"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": "10"})
    first = texting.receive_inbound("acme", CLIENT, "SM" + "1" * 32, "hello")  # cached from now on
    dropped = texting.unit()
    receive_inbound(dropped, "acme", CLIENT, "SM" + "2" * 32, "lost with its unit")
    again = texting.receive_inbound("acme", CLIENT, "SM" + "2" * 32, "the carrier's retry")
    assert not again.duplicate and again.message_id
    assert texting.receive_inbound("acme", CLIENT, "SM" + "1" * 32, "hello").message_id == first.message_id
    assert texting.conversation("acme", first.conversation_id).inbound_count == 2


def test_a_status_an_older_release_stored_for_an_inbound_text_still_loads():
    texting, conv_id, _ = _texting_with_a_conversation()
    conv = texting.repository.get(conv_id)
    inbound_id = texting.unit().carrier_sid(conv_id, "SM" + "1" * 32)
    conv.change_status(message_id=inbound_id, status="delivered", error_code=None)  # as the old rule allowed
    texting.save(conv)
    assert texting.conversation("acme", conv_id).inbound_count == 1


def test_a_conversations_snapshot_stays_the_same_size_however_many_texts_it_received():
    """Issue 11: the carrier sids are in the sid index, not the aggregate, so the snapshot a
    cold load starts from (and every copy of the aggregate) does not grow with the history;
    every sid is still recognised, at any age, whether it was received, dropped or sent."""
    from domain.texting import SNAPSHOT_EVERY

    texting = in_memory_texting()
    texting.configure_firm("acme", "Acme Law", "+15550000000")
    first = texting.receive_inbound("acme", CLIENT, f"SM{0:032x}", "the first")
    conv_id = first.conversation_id
    for batch in range(5):
        uow = texting.unit()
        for i in range(SNAPSHOT_EVERY):
            receive_inbound(uow, "acme", CLIENT, f"SM{1 + batch * SNAPSHOT_EVERY + i:032x}", "text")
        uow.commit()
    sizes = [len(s.state) for s in texting.snapshots.recorder.select_events(conv_id)]
    assert len(sizes) == 5 and max(sizes) - min(sizes) < 16, sizes  # 200 sids more each: ~14 KB each before

    retry = texting.receive_inbound("acme", CLIENT, f"SM{0:032x}", "the carrier's retry, 1,000 texts later")
    assert retry.duplicate and retry.message_id == first.message_id
    sent = texting.request_outbound("acme", conv_id, "alice", "a reply")
    assert texting.record_dispatch(conv_id, sent["id"], "SM" + "e" * 32, "sent")
    echoed = texting.receive_inbound("acme", CLIENT, "SM" + "e" * 32, "a webhook bearing our own text's sid")
    assert echoed.duplicate and echoed.message_id == sent["id"]
    texting.block("acme", conv_id, "alice")
    dropped = texting.receive_inbound("acme", CLIENT, "SM" + "d" * 32, "after the block")
    assert dropped.dropped and texting.receive_inbound("acme", CLIENT, "SM" + "d" * 32, "again").duplicate
    assert texting.repository.get(conv_id).inbound_count == 1 + 5 * SNAPSHOT_EVERY


def test_a_sid_seen_earlier_in_the_same_group_commit_is_a_duplicate_there():
    texting, conv_id, _ = _texting_with_a_conversation()
    uow = texting.unit()
    uow.preload([conv_id], [(conv_id, "SM" + "5" * 32)])
    first = receive_inbound(uow, "acme", CLIENT, "SM" + "5" * 32, "once")
    again = receive_inbound(uow, "acme", CLIENT, "SM" + "5" * 32, "the carrier's retry, same batch")
    uow.commit()
    assert again.duplicate and again.message_id == first.message_id
    assert texting.repository.get(conv_id).inbound_count == 2


def test_a_conversations_copy_equals_it_and_shares_nothing_it_could_change():
    """The aggregate cache hands out copies (Conversation.__deepcopy__, a fast one): a unit
    that changes its copy (a status, a mute, a leave) must leave the cached one as it was."""
    from copy import deepcopy

    texting, conv_id, _ = _texting_with_a_conversation()
    sent = texting.request_outbound("acme", conv_id, "alice", "hello")
    texting.mute("acme", conv_id, "bob")
    texting.leave("acme", conv_id, "carol")
    cached = texting.repository.get(conv_id)
    before = deepcopy(cached.__dict__)  # the generic walk, for comparison
    copy = deepcopy(cached)
    assert copy.__dict__ == cached.__dict__ and type(copy) is type(cached)
    copy.messages[sent["id"]]["status"] = "delivered"
    copy.messages["another"] = {}
    for users in (copy.participants, copy.muted, copy.left):
        users.add("mallory")
    copy.change_status(message_id=sent["id"], status="delivered", error_code=None)
    assert cached.__dict__ == before and not cached.pending_events
