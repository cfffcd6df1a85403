"""How far behind the log each projection is: per partition, the last offset its
tracking says it applied against the topic's end offset. Rebuilds in progress
(``pj_<name>__rebuild``) are reported too."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from projections.base import Projection
from projections.rebuild.schemas import rebuild_schema, schema_exists
from projections.writer import tracked


@dataclass(frozen=True)
class PartitionLag:
    projection: str
    schema: str
    partition: int
    applied_offset: int | None  # last applied; None = nothing of this partition yet
    end_offset: int  # the next offset Kafka will assign
    lag: int  # records published but not applied (including ones the projection ignores)

    def as_dict(self) -> dict:
        return asdict(self)


def projection_lag(conn: psycopg.Connection, projections: list[Projection],
                   end_offsets: dict[int, int]) -> list[PartitionLag]:
    """One row per (schema, partition) for every live or rebuilding projection schema."""
    rows = []
    for projection in projections:
        for schema in (projection.schema, rebuild_schema(projection)):
            if not schema_exists(conn, schema):
                continue
            positions = tracked(conn, schema)
            for partition in sorted(set(end_offsets) | set(positions)):
                applied = positions[partition][1] if partition in positions else None
                end = end_offsets.get(partition, 0)
                rows.append(PartitionLag(projection.name, schema, partition, applied, end,
                                         max(0, end - (applied + 1 if applied is not None else 0))))
    return rows
