"""Tamper evidence, checked: every hash chain of the log (the store side is audit_store.py).

Pure: records in, the first break (or a clean summary) out. Feed records in log order
(partition by partition, ascending offsets). What a clean log looks like (docs/audit.md):

* each envelope's ``hash`` is sha256 of its canonical JSON without ``hash``;
* per stream, versions run 1, 2, 3 … and each ``prev_hash`` is the previous version's
  hash (``GENESIS`` for version 1);
* each record's Kafka key is its firm id, and per firm, new events appear in increasing
  notification id (the relay publishes in store order; one firm shares one partition);
* a record may repeat an earlier (stream, version) only byte for byte: the relay
  republishes after a crash, and such copies are skipped, not errors.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from domain.envelope import GENESIS, compute_hash
from streams.log_reader import LogRecord


@dataclass(frozen=True)
class Break:
    """Where verification failed, and what is wrong there."""

    problem: str
    partition: int | None = None
    offset: int | None = None
    stream_id: str | None = None
    version: int | None = None
    event_type: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.partition is not None and self.partition >= 0:
            where.append(f"partition {self.partition} offset {self.offset}")
        if self.line is not None:
            where.append(f"dump line {self.line}")
        if self.stream_id:
            what = f"stream {self.stream_id} version {self.version}"
            where.append(f"{what} ({self.event_type})" if self.event_type else what)
        return f"{', '.join(where) or 'log'}: {self.problem}"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Seen:
    """What the log holds for one event (first copy), kept to compare with the store.
    Compact on purpose: a verifier keeps one per event of the whole log."""

    stream_id: str
    version: int
    type: str
    digest: bytes  # the 32 bytes of the hash
    partition: int
    offset: int

    @property
    def hash(self) -> str:
        return self.digest.hex()


class ChainVerifier:
    """Feed records one at a time; stops judging at the first break."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str, int, int, str]] = {}  # stream -> version, hash, where, firm
        self.by_notification: dict[int, Seen] = {}
        self._versions: dict[str, list[int]] = {}  # stream -> notification id of version 1, 2, ...
        self._firm_last: dict[str, int] = {}
        self.events = self.duplicates = 0
        self.first_break: Break | None = None

    def feed(self, rec: LogRecord) -> Break | None:
        """Check one record; returns (and remembers) the first break."""
        if self.first_break is None:
            self.first_break = self._check(rec)
        return self.first_break

    def _check(self, rec: LogRecord) -> Break | None:
        try:
            env = rec.envelope()
            sid, version, nid = str(env["stream_id"]), int(env["stream_version"]), int(env["notification_id"])
        except (ValueError, TypeError) as exc:
            return Break(f"not a firmtext event envelope ({exc})", rec.partition, rec.offset, line=rec.line)

        def broken(problem: str) -> Break:
            return Break(problem, rec.partition, rec.offset, sid, version, env.get("type"), rec.line)

        recomputed = compute_hash(env)
        if recomputed != env["hash"]:
            return broken(f"content does not match its hash: recomputed {recomputed}, envelope says "
                          f"{env['hash']} (the event was changed after it was written)")
        if rec.key != env["firm_id"]:
            # The key picks the partition: a wrong key splits a firm's history across partitions.
            return broken(f"the record's key {rec.key!r} is not its firm_id {env['firm_id']!r}")
        versions = self._versions.get(sid, ())
        if 1 <= version <= len(versions):
            first = self.by_notification[versions[version - 1]]
            if first.hash == env["hash"]:
                self.duplicates += 1  # the relay's byte-identical republication
                return None
            return broken(f"a second, different copy of this version (the first is at partition "
                          f"{first.partition} offset {first.offset})")
        head_version, head_hash, head_p, head_o, firm = self.heads.get(sid, (0, GENESIS, -1, -1, env["firm_id"]))
        if version != head_version + 1:
            gap = f"version {version - 1} is" if version - 1 == head_version + 1 else \
                f"versions {head_version + 1}-{version - 1} are"
            return broken(f"expected version {head_version + 1} of this stream here, found {version}: "
                          f"{gap} missing or out of order")
        if env["prev_hash"] != head_hash:
            after = "GENESIS" if head_version == 0 else \
                f"the hash of version {head_version} at partition {head_p} offset {head_o}"
            return broken(f"prev_hash {env['prev_hash']} is not {after} ({head_hash}): one of the two "
                          f"events was altered and re-hashed")
        if env["firm_id"] != firm:
            return broken(f"firm_id {env['firm_id']!r} differs from the stream's firm {firm!r}")
        if nid in self.by_notification:
            other = self.by_notification[nid]
            return broken(f"notification_id {nid} is already used by stream {other.stream_id} "
                          f"version {other.version}")
        last = self._firm_last.get(firm, 0)
        if nid <= last:
            return broken(f"notification_id {nid} comes after {last} of the same firm: events are out of order")
        self._firm_last[firm] = nid
        sid = sys.intern(sid)  # one string per stream, not one per event
        self.heads[sid] = (version, env["hash"], rec.partition, rec.offset, firm)
        self.by_notification[nid] = Seen(sid, version, sys.intern(env["type"]), bytes.fromhex(env["hash"]),
                                         rec.partition, rec.offset)
        self._versions.setdefault(sid, []).append(nid)
        self.events += 1
        return None
