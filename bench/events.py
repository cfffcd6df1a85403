"""A realistic event log, fast: valid envelopes (hash-chained per stream, notification ids
in total order, keyed by firm) written straight to a Kafka topic, for the rebuild
benchmark. Going through the API would take hours for a million events.

The mix follows what a firm's texting looks like: firms with staff, contacts and cases
synced first; then conversations that receive texts, get replies (each reply: requested,
dispatched, sent, delivered), are read, muted, left, archived, sometimes opted out.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import heapq
import random
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid5

from domain.ids import case_id_of, contact_id_of, conversation_id_of, firm_id_of, user_id_of
from domain.envelope import GENESIS, SCHEMA_VERSION, canonical


def _ct(rng: random.Random, length: int) -> str:
    # Looks like the sealer's output: "v1." + base64url(nonce + ciphertext + tag).
    return "v1." + base64.urlsafe_b64encode(rng.randbytes(12 + length + 16)).decode().rstrip("=")


class LogWriter:
    """Builds envelopes in order; ``emit`` returns (key, value) ready for Kafka."""

    def __init__(self, start: datetime) -> None:
        self.notification_id = 0
        self.clock = start
        self.heads: dict[str, tuple[int, str]] = {}  # stream -> (version, hash)

    def emit(self, firm: str, stream: UUID, type_: str, data: dict) -> tuple[bytes, bytes]:
        self.notification_id += 1
        self.clock += timedelta(milliseconds=7)
        sid = str(stream)
        version, prev = self.heads.get(sid, (0, GENESIS))
        version += 1
        env = {"event_id": str(uuid5(stream, str(version))), "type": type_, "schema_version": SCHEMA_VERSION,
               "firm_id": firm, "stream_id": sid, "stream_version": version,
               "notification_id": self.notification_id, "occurred_at": self.clock.isoformat(),
               "prev_hash": prev, "data": data}
        body = canonical(env)
        digest = hashlib.sha256(body).hexdigest()
        self.heads[sid] = (version, digest)
        # Keys are sorted, so "hash" sits just before "notification_id" (after "firm_id"):
        # splicing it in gives exactly encode(env | {"hash": digest}), at half the cost.
        at = body.index(b',"notification_id":', body.index(b'"firm_id":'))
        return firm.encode(), body[:at] + b',"hash":"' + digest.encode() + b'"' + body[at:]


def generate(total: int, firms: int = 200, seed: int = 7):
    """Yield ``total`` (key, value) records; deterministic for a given seed."""
    rng = random.Random(seed)
    log = LogWriter(datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc))
    made = 0

    def out(*args):
        nonlocal made
        made += 1
        return log.emit(*args)

    directory, books = {}, {}
    for f in range(firms):
        firm = f"bench-firm-{f:04d}"
        number = f"+1555{f:07d}"
        yield out(firm, firm_id_of(firm), "Firm.Registered", {
            "firm_id": firm, "name": f"Firm {f} LLP", "number": number, "time_zone": "America/New_York",
            "help_text": "Reply STOP to stop."})
        users = [f"user{u}" for u in range(rng.randint(2, 6))]
        for u in users:
            yield out(firm, user_id_of(firm, u), "StaffUser.Synced", {
                "firm_id": firm, "user_id": u, "name": u.title(), "email": f"{u}@{firm}.test",
                "permissions": ["texting"], "notify_email": rng.choice(["none", "clients", "both"]),
                "notify_desktop": rng.choice(["none", "clients", "firm", "both"])})
        contacts = [f"c{c}" for c in range(rng.randint(5, 30))]
        for c in contacts:
            yield out(firm, contact_id_of(firm, c), "Contact.Synced", {
                "firm_id": firm, "contact_id": c, "name": f"Client {c}", "kind": "client",
                "phone_hashes": [rng.randbytes(20).hex()], "phones_ct": [_ct(rng, 12)]})
        for k in range(len(contacts) // 3):
            yield out(firm, case_id_of(firm, f"case{k}"), "Case.Synced", {
                "firm_id": firm, "case_id": f"case{k}", "name": f"Case {k}",
                "contact_ids": rng.sample(contacts, min(3, len(contacts)))})
        directory[firm] = users
        books[firm] = {"contacts": contacts, "cases": len(contacts) // 3}
    # Firms differ in size (a Zipf-like share of the traffic); within a firm, recent
    # conversations are the busy ones. A reply's carrier updates arrive later, between
    # other events, as they do live: dispatched soon, sent later, delivered later still.
    order = list(directory)
    rng.shuffle(order)
    cumulative, acc = [], 0.0
    for rank in range(len(order)):
        acc += 1 / (rank + 1) ** 0.6
        cumulative.append(acc)
    threads: dict[str, list[dict]] = {f: [] for f in order}
    later: list[tuple[int, int, tuple]] = []  # (emit at, tiebreak, record args)
    started, tick, blocked = 0, 0, set()
    while made < total:
        if later and later[0][0] <= tick:
            args = heapq.heappop(later)[2]
            if args[1] not in blocked:  # a blocked conversation's callbacks change nothing
                yield out(*args)
            continue
        tick += 1
        firm = order[bisect.bisect(cumulative, rng.random() * acc)]
        convs = threads[firm]
        if not convs or (rng.random() < 0.06 and started < total // 12):
            phone_hash = rng.randbytes(20).hex()
            by = rng.choice(directory[firm]) if rng.random() < 0.3 else None
            conv = {"id": conversation_id_of(firm, phone_hash), "inbound": 0}
            convs.append(conv)
            started += 1
            yield out(firm, conv["id"], "Conversation.Started", {
                "firm_id": firm, "phone_hash": phone_hash, "phone_ct": _ct(rng, 12), "started_by": by})
            continue
        conv = convs[-1 - min(len(convs) - 1, int(rng.expovariate(0.2)))] if rng.random() < 0.6 else rng.choice(convs)
        cid, roll = conv["id"], rng.random()
        if roll < 0.45:
            conv["inbound"] += 1
            yield out(firm, cid, "Conversation.InboundReceived", {
                "message_id": rng.randbytes(16).hex(), "carrier_sid": "SM" + rng.randbytes(16).hex(),
                "body_ct": _ct(rng, rng.randint(10, 160)), "media": [], "rejected_media": [], "keyword": None})
        elif roll < 0.80:
            mid, sid = rng.randbytes(16).hex(), "SM" + rng.randbytes(16).hex()
            yield out(firm, cid, "Conversation.OutboundRequested", {
                "message_id": mid, "user_id": rng.choice(directory[firm]), "body_ct": _ct(rng, rng.randint(10, 300))})
            for delay, type_, data in (
                    (rng.randint(2, 40), "MessageDispatched", {"message_id": mid, "carrier_sid": sid,
                                                               "carrier_status": "queued"}),
                    (rng.randint(50, 600), "MessageStatusChanged", {"message_id": mid, "status": "sent",
                                                                    "error_code": None}),
                    (rng.randint(700, 9000), "MessageStatusChanged", {"message_id": mid, "status": "delivered",
                                                                      "error_code": None})):
                heapq.heappush(later, (tick + delay, len(later) + made, (firm, cid, f"Conversation.{type_}", data)))
        elif roll < 0.92:
            yield out(firm, cid, "Conversation.MarkedRead", {
                "user_id": rng.choice(directory[firm]), "inbound_count": conv["inbound"]})
        elif roll < 0.995:
            kind = rng.choice(["Muted", "Unmuted", "Left", "Archived"])
            yield out(firm, cid, f"Conversation.{kind}", {"user_id": rng.choice(directory[firm])})
        elif roll < 0.9975:
            yield out(firm, cid, "Conversation.OptedOut", {"source": "keyword", "keyword": "STOP",
                                                            "message_id": rng.randbytes(16).hex()})
        elif roll < 0.998:
            convs.remove(conv)
            blocked.add(cid)
            yield out(firm, cid, "Conversation.Blocked", {"user_id": rng.choice(directory[firm])})
        else:  # the host platform syncs its directory now and then
            yield _directory_change(rng, firm, directory[firm], books[firm], out)


def _directory_change(rng: random.Random, firm: str, users: list[str], book: dict, out):
    """A contact moved or deleted, a case relinked, a user's preferences changed."""
    roll, contacts = rng.random(), book["contacts"]
    if roll < 0.4 and contacts:
        c = rng.choice(contacts)
        return out(firm, contact_id_of(firm, c), "Contact.Updated", {
            "name": f"Client {c}", "kind": rng.choice(["client", "lead"]),
            "phone_hashes": [rng.randbytes(20).hex() for _ in range(rng.randint(1, 2))], "phones_ct": [_ct(rng, 12)]})
    if roll < 0.5 and len(contacts) > 3:
        c = contacts.pop(rng.randrange(len(contacts)))
        return out(firm, contact_id_of(firm, c), "Contact.Deleted", {})
    if roll < 0.8 and book["cases"] and contacts:
        k = rng.randrange(book["cases"])
        return out(firm, case_id_of(firm, f"case{k}"), "Case.Updated", {
            "name": f"Case {k} (amended)", "contact_ids": rng.sample(contacts, min(2, len(contacts)))})
    u = rng.choice(users)
    return out(firm, user_id_of(firm, u), "StaffUser.Updated", {
        "name": u.title(), "email": f"{u}@{firm}.test", "permissions": rng.choice([["texting"], ["texting", "admin"]]),
        "notify_email": rng.choice(["none", "clients", "both"]),
        "notify_desktop": rng.choice(["none", "firm", "both"])})
