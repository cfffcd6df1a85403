"""Every row of a projection being rebuilt, in memory, with the lookups ``select`` needs
indexed: a rebuild applies millions of events, so a linear scan per ``select`` (what
MemoryStore does) or a deep copy per ``get`` would dominate its time.

Rows handed out are copies, as with :class:`projections.store.MemoryStore`, but shallow
ones: a JSON value (list or dict) is shared with the stored row until the row is put
again. Projection functions replace such values or put the row after changing them
(all of them do); the deep copy per ``get`` cost a rebuild a fifth of its time.
"""
from __future__ import annotations

from operator import itemgetter

from projections.store import Table


class _Rows:
    """One table's rows and its secondary indexes (columns -> values -> keys)."""

    def __init__(self, table: Table) -> None:
        self.by_key: dict[tuple, dict] = {}
        self.indexes: dict[tuple, dict[tuple, set]] = {}
        self.columns = table.columns
        self.column_set = frozenset(table.columns)
        self.getters: dict[tuple, object] = {}  # index columns -> row -> their values, a tuple
        single = itemgetter(*table.key)
        self.key_of = (lambda row: (single(row),)) if len(table.key) == 1 else single


def _values_getter(columns: tuple, column_set: frozenset):
    """row -> the values of ``columns`` as a tuple. Stored rows hold every column of their
    table, so those are picked in C; a name that is no column reads as None."""
    if not set(columns) <= column_set:
        return lambda row: tuple([row.get(c) for c in columns])
    if len(columns) == 1:
        column = columns[0]
        return lambda row: (row[column],)
    return itemgetter(*columns)


class FreshRows:
    """A RowStore over dictionaries, plus secondary indexes built on the first ``select``
    by a given set of columns and maintained from then on."""

    def __init__(self) -> None:
        self.tables: dict[str, _Rows] = {}

    def _of(self, table: Table) -> _Rows:
        rows = self.tables.get(table.name)
        if rows is None:
            rows = self.tables[table.name] = _Rows(table)
        return rows

    def row(self, table_name: str, key: tuple) -> dict | None:
        """The stored row itself (not a copy): for writing it out."""
        rows = self.tables.get(table_name)
        return rows.by_key.get(key) if rows is not None else None

    def get(self, table: Table, key: tuple) -> dict | None:
        rows = self.tables.get(table.name)
        row = rows.by_key.get(key if type(key) is tuple else tuple(key)) if rows is not None else None
        return dict(row) if row is not None else None

    def put(self, table: Table, row: dict) -> tuple:
        """Store a copy of ``row``'s columns; returns its key."""
        rows = self._of(table)
        try:
            # A row of exactly the table's columns (the usual case) is copied in C.
            new = dict(row) if row.keys() == rows.column_set else {c: row[c] for c in rows.columns}
        except KeyError:
            raise KeyError(f"{table.name}: row lacks {[c for c in rows.columns if c not in row]}") from None
        key = rows.key_of(new)
        old = rows.by_key.get(key)
        rows.by_key[key] = new
        for columns, index in rows.indexes.items():
            values_of = rows.getters[columns]
            values = values_of(new)
            if old is not None:
                before = values_of(old)
                if before == values:
                    continue
                index[before].discard(key)
            index.setdefault(values, set()).add(key)
        return key

    def delete(self, table: Table, key: tuple) -> None:
        rows = self._of(table)
        key = tuple(key)
        old = rows.by_key.pop(key, None)
        if old is not None:
            for columns, index in rows.indexes.items():
                index[rows.getters[columns](old)].discard(key)

    def select(self, table: Table, **equals) -> list[dict]:
        rows = self._of(table)
        columns = tuple(sorted(equals))
        index = rows.indexes.get(columns)
        if index is None:
            index = rows.indexes[columns] = {}
            values_of = rows.getters[columns] = _values_getter(columns, rows.column_set)
            for key, row in rows.by_key.items():
                index.setdefault(values_of(row), set()).add(key)
        keys = index.get(tuple([equals[c] for c in columns]), ())
        return [dict(rows.by_key[k]) for k in sorted(keys)]  # sorted: the same order every run
