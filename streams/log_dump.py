"""A JSON-lines copy of the events log, for auditors and for tampering drills.

The first line is a header naming the topic, the end offsets and the relay position
at dump time; every other line is one record ``{"partition", "offset", "key",
"envelope"}`` (``"raw"`` instead of ``"envelope"`` when the Kafka value was not JSON,
so a copy never hides a damaged record). Envelopes are plain JSON objects: anyone can
recompute a hash as sha256 of the canonical JSON of the envelope without ``hash``.
"""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator, TextIO

from domain.envelope import encode
from streams.log_reader import LogRecord, TopicReader

DUMP_FORMAT = "firmtext-log-dump/1"


def dump_header(topic: str, end_offsets: dict[int, int], relay_position: int | None) -> dict:
    """The first line of a dump: what was copied, and up to where the relay had published."""
    return {"format": DUMP_FORMAT, "topic": topic, "end_offsets": {str(p): o for p, o in end_offsets.items()},
            "relay_position": relay_position, "dumped_at": datetime.now(timezone.utc).isoformat()}


def dump_line(record: LogRecord) -> str:
    """One record as a dump line (the envelope as JSON, so anyone can recompute its hash)."""
    line = {"partition": record.partition, "offset": record.offset, "key": record.key}
    try:
        line["envelope"] = json.loads(record.value or b"")
    except ValueError:
        line["raw"] = (record.value or b"").decode("utf-8", "replace")
    return json.dumps(line, ensure_ascii=False, sort_keys=True)


async def write_dump(out: TextIO, header: dict, records: AsyncIterator[LogRecord]) -> int:
    """Write a header and every record; returns how many records."""
    out.write(json.dumps(header, sort_keys=True) + "\n")
    count = 0
    async for record in records:
        out.write(dump_line(record) + "\n")
        count += 1
    return count


class DumpFile:
    """A dump written by ``firmtext audit dump``, read back as LogRecords."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.header: dict | None = None  # read lazily: {} when the file has no header line

    def read_header(self) -> dict:
        with self.path.open(encoding="utf-8") as f:
            first = f.readline()
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        self.header = header if isinstance(header, dict) and header.get("format") == DUMP_FORMAT else {}
        return self.header

    def describe(self) -> dict:
        """Where this read came from, for reports."""
        return {"log_file": str(self.path), "topic": (self.header or {}).get("topic"),
                "dumped_at": (self.header or {}).get("dumped_at")}

    async def records(self) -> AsyncIterator[LogRecord]:
        """Every record line; unreadable lines come back with ``problem`` set, never skipped."""
        if self.header is None:
            self.read_header()
        with self.path.open(encoding="utf-8") as f:
            for number, text in enumerate(f, start=1):
                if number == 1 and self.header:
                    continue
                if not text.strip():
                    continue
                yield _record_of(text, number)


def _record_of(text: str, number: int) -> LogRecord:
    try:
        line = json.loads(text)
        partition, offset = int(line["partition"]), int(line["offset"])
    except (ValueError, KeyError, TypeError):
        return LogRecord(-1, -1, None, None, line=number, problem="the line is not a log record (JSON with "
                                                                  "partition, offset and envelope)")
    if "envelope" in line:
        value = encode(line["envelope"])
    else:
        value = str(line.get("raw", "")).encode()
    return LogRecord(partition, offset, line.get("key"), value, line=number)


@asynccontextmanager
async def open_log(bootstrap: str, topic: str, log_file: str | None = None):
    """The log to read: a dump file when ``log_file`` is given, else the Kafka topic."""
    if log_file:
        dump = DumpFile(log_file)
        dump.read_header()
        yield dump
    else:
        async with TopicReader(bootstrap, topic) as reader:
            yield reader
