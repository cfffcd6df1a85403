import pytest

from domain.errors import Blocked, InvalidBody, NotFound, NumberTaken, OptedOut
from domain.texting import conversation_scope
from domain.use_cases_conversation import receive_inbound, request_outbound
from tests.unit.fakes import in_memory_texting

CLIENT = "+15551230001"


@pytest.fixture
def app():
    app = in_memory_texting()
    app.configure_firm("acme", "Acme Law", "+15550000000")
    return app


def test_same_number_threads_into_one_conversation(app):
    first, created = app.open_conversation("acme", CLIENT, "alice")
    again, created_again = app.open_conversation("acme", CLIENT, "bob")
    inbound = app.receive_inbound("acme", CLIENT, "SM" + "1" * 32, "hello")
    assert created and not created_again
    assert first.id == again.id == inbound.conversation_id


def test_bodies_and_numbers_are_stored_only_as_ciphertext(app):
    app.receive_inbound("acme", CLIENT, "SM" + "1" * 32, "my secret marker")
    events = list(app.recorder.select_notifications(start=1, limit=100))
    raw = b"".join(e.state for e in events)
    assert b"my secret marker" not in raw and CLIENT.encode() not in raw


def test_same_carrier_sid_twice_records_one_message(app):
    first = app.receive_inbound("acme", CLIENT, "SM" + "2" * 32, "hi")
    second = app.receive_inbound("acme", CLIENT, "SM" + "2" * 32, "hi")
    conv = app.conversation("acme", first.conversation_id)
    assert second.duplicate and second.message_id == first.message_id
    assert conv.inbound_count == 1


@pytest.mark.parametrize("keyword", ["STOP", "stop", "  Stop ", "UNSUBSCRIBE", "cancel", "END", "QUIT",
                                     "REVOKE", "OPTOUT", "STOPALL"])
def test_opt_out_keywords_refuse_later_sends(app, keyword):
    out = app.receive_inbound("acme", CLIENT, "SM" + "3" * 32, keyword)
    with pytest.raises(OptedOut):
        app.request_outbound("acme", out.conversation_id, "alice", "are you there?")


@pytest.mark.parametrize("keyword", ["START", "yes", " unstop "])
def test_opt_in_keywords_restore_texting(app, keyword):
    out = app.receive_inbound("acme", CLIENT, "SM" + "4" * 32, "STOP")
    app.receive_inbound("acme", CLIENT, "SM" + "5" * 32, keyword)
    assert app.request_outbound("acme", out.conversation_id, "alice", "welcome back")["status"] == "queued"


def test_keyword_inside_a_longer_text_changes_nothing(app):
    out = app.receive_inbound("acme", CLIENT, "SM" + "6" * 32, "please stop calling me at work")
    assert not app.conversation("acme", out.conversation_id).opted_out


def test_help_is_answered_with_the_firms_help_text(app):
    out = app.receive_inbound("acme", CLIENT, "SM" + "7" * 32, "help")
    conv = app.conversation("acme", out.conversation_id)
    outbound = [m for m in conv.messages.values() if m["direction"] == "outbound"]
    assert len(outbound) == 1 and "system" not in conv.participants


def test_body_limits(app):
    conv, _ = app.open_conversation("acme", CLIENT, "alice")
    with pytest.raises(InvalidBody):
        app.request_outbound("acme", conv.id, "alice", "   ")
    with pytest.raises(InvalidBody):
        app.request_outbound("acme", conv.id, "alice", "x" * 1601)
    assert app.request_outbound("acme", conv.id, "alice", "x" * 1600)["status"] == "queued"


def test_statuses_only_move_forward(app):
    conv, _ = app.open_conversation("acme", CLIENT, "alice")
    msg = app.request_outbound("acme", conv.id, "alice", "hello")
    app.record_dispatch(conv.id, msg["id"], "SM" + "8" * 32, "queued")
    assert app.record_status(conv.id, msg["id"], "delivered")
    assert not app.record_status(conv.id, msg["id"], "sent")
    assert app.conversation("acme", conv.id).messages[msg["id"]]["status"] == "delivered"


def test_carrier_21610_marks_the_number_opted_out(app):
    conv, _ = app.open_conversation("acme", CLIENT, "alice")
    msg = app.request_outbound("acme", conv.id, "alice", "hello")
    app.record_status(conv.id, msg["id"], "failed", 21610)
    assert app.conversation("acme", conv.id).opted_out


def test_block_hides_conversation_shreds_key_and_drops_later_texts(app):
    out = app.receive_inbound("acme", CLIENT, "SM" + "9" * 32, "hello")
    body_ct = app.repository.get(out.conversation_id)  # noqa: F841 - loads fine before block
    app.block("acme", out.conversation_id, "alice")
    with pytest.raises(NotFound):
        app.conversation("acme", out.conversation_id)
    later = app.receive_inbound("acme", CLIENT, "SM" + "a" * 32, "still there?")
    assert later.dropped and later.message_id is None
    assert app.sealer.open(conversation_scope(out.conversation_id), "v1.AAAA") is None
    with pytest.raises(Blocked):
        app.open_conversation("acme", CLIENT, "bob")


def test_another_firm_cannot_see_the_conversation(app):
    out = app.receive_inbound("acme", CLIENT, "SM" + "b" * 32, "hello")
    with pytest.raises(NotFound):
        app.conversation("other", out.conversation_id)


def test_a_number_belongs_to_one_firm(app):
    with pytest.raises(NumberTaken):
        app.configure_firm("other", "Other LLP", "+15550000000")
    assert app.firm_for_number("+15550000000") == "acme"


def test_a_group_commit_saves_many_commands_in_one_transaction_with_one_by_one_semantics(app):
    import asyncio

    from domain.group_commit import GroupCommitter

    committer = GroupCommitter(app, max_wait=0.05)

    async def burst():
        sids = ["SM" + f"{i:032x}" for i in range(40)]
        calls = [committer.submit(receive_inbound, "acme", f"+1555123{i % 5:04d}", sid, f"text {i}")
                 for i, sid in enumerate(sids)]
        calls.append(committer.submit(receive_inbound, "acme", "+15551230000", sids[0], "duplicate"))
        return await asyncio.gather(*calls)

    outcomes = asyncio.run(burst())
    assert committer.batches < 10 and committer.fallbacks == 0
    assert outcomes[-1].duplicate and outcomes[-1].message_id == outcomes[0].message_id
    conv = app.conversation("acme", outcomes[0].conversation_id)
    assert conv.inbound_count == 8  # 40 texts over 5 numbers


def test_two_executors_decide_each_conversation_in_order_and_never_race_each_other(app):
    """With two batch executors, every conversation's commands go to one of them (by its
    id): all 40 texts are kept, each conversation's in the order submitted, a duplicate is
    still a duplicate, and no batch fell back (two executors on one conversation would)."""
    import asyncio

    from domain.group_commit import GroupCommitter
    from domain.ids import conversation_id_of

    committer = GroupCommitter(app, max_wait=0.05, executors=2)
    phones = [f"+1555123{i:04d}" for i in range(5)]
    ids = {p: conversation_id_of("acme", app.sealer.phone_hash("acme", p)) for p in phones}
    assert len({i.int % 2 for i in ids.values()}) == 2  # both executors get work

    async def burst():
        sids = ["SM" + f"{i:032x}" for i in range(40)]
        calls = [committer.submit(receive_inbound, "acme", phones[i % 5], sid, f"text {i}",
                                  loads=(ids[phones[i % 5]],)) for i, sid in enumerate(sids)]
        calls.append(committer.submit(receive_inbound, "acme", phones[0], sids[0], "duplicate",
                                      loads=(ids[phones[0]],)))
        return await asyncio.gather(*calls)

    outcomes = asyncio.run(burst())
    assert committer.fallbacks == 0 and committer.commands == 41
    assert outcomes[-1].duplicate and outcomes[-1].message_id == outcomes[0].message_id
    for n, phone in enumerate(phones):
        conv = app.conversation("acme", ids[phone])
        assert conv.inbound_count == 8
        kept = [(e.carrier_sid, e.message_id) for e in app.events.get(ids[phone]) if hasattr(e, "carrier_sid")]
        assert kept == [(f"SM{i:032x}", outcomes[i].message_id) for i in range(n, 40, 5)]  # in order


def test_a_refused_command_in_a_batch_does_not_leak_its_neighbours_changes(app):
    import asyncio

    from domain.group_commit import GroupCommitter

    committer = GroupCommitter(app, max_wait=0.05)
    stopped = app.receive_inbound("acme", CLIENT, "SM" + "c" * 32, "STOP")

    async def mixed():
        return await asyncio.gather(
            committer.submit(receive_inbound, "acme", "+15559870001", "SM" + "d" * 32, "hello"),
            committer.submit(request_outbound, "acme", stopped.conversation_id, "alice", "refused"),
            return_exceptions=True)

    ok, refused = asyncio.run(mixed())
    assert isinstance(refused, OptedOut) and committer.fallbacks == 1
    assert app.conversation("acme", ok.conversation_id).inbound_count == 1


def test_sending_in_an_archived_conversation_brings_it_back(app):
    conv, _ = app.open_conversation("acme", CLIENT, "alice")
    app.archive("acme", conv.id, "alice")
    assert app.conversation("acme", conv.id).archived
    app.request_outbound("acme", conv.id, "bob", "one more thing")
    assert not app.conversation("acme", conv.id).archived


def test_a_command_whose_event_would_not_fit_the_log_is_refused_before_storing():
    from domain.envelope import MAX_ENVELOPE_BYTES
    from domain.errors import EventTooLarge

    texting = in_memory_texting()
    with pytest.raises(EventTooLarge):
        texting.receive_inbound("firm-s", "+15551230008", "SM-huge", "y" * MAX_ENVELOPE_BYTES)
    assert list(texting.recorder.select_notifications(start=1, limit=10)) == []
    texting.receive_inbound("firm-s", "+15551230008", "SM-ok", "a normal text")
    assert len(list(texting.recorder.select_notifications(start=1, limit=10))) == 2


def test_every_domain_refusal_has_its_http_status_at_the_edge_and_none_in_the_domain():
    import domain.errors as errors
    from adapters.http.errors import DOMAIN_STATUS

    refusals = {v for v in vars(errors).values()
                if isinstance(v, type) and issubclass(v, errors.DomainError) and v is not errors.DomainError}
    assert refusals <= set(DOMAIN_STATUS), f"map {refusals - set(DOMAIN_STATUS)} in adapters/http/errors.py"
    assert not any("status" in vars(cls) for cls in refusals | {errors.DomainError})


def test_the_firm_of_a_number_is_remembered_briefly_and_an_unknown_number_never():
    from adapters.number_directory import FirmsByNumber

    asked, now = [], [0.0]
    firms = {"+15550000001": "acme"}
    directory = FirmsByNumber(lambda n: asked.append(n) or firms.get(n), ttl=5.0, clock=lambda: now[0])
    assert directory.firm_for("+15550000001") == "acme" and directory.firm_for("+15550000001") == "acme"
    assert directory.firm_for("+15550000002") is None and directory.firm_for("+15550000002") is None
    assert asked == ["+15550000001", "+15550000002", "+15550000002"]
    now[0] = 6.0
    firms["+15550000001"] = "other"
    assert directory.firm_for("+15550000001") == "other"
