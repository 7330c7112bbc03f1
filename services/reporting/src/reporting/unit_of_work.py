"""A batch's unit of work over the read-model tables: load once, change in memory, write once.

A projection applying thousands of events touches far fewer rows than events (a teacher's year
changes with every hour logged). So a batch first names the rows its events need
(:meth:`UnitOfWork.need`), loads them with one query per table, applies every event to the rows
in memory, in order, then writes each changed table with one COPY into a temporary table and one
``insert ... on conflict do update``. Statements per batch: about two per table touched,
whatever the batch size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from cpd_eventstore.db import Connection
from reporting.model import MODEL_VERSION, Table

Key = tuple[Any, ...]
Row = dict[str, Any]


class UnitOfWork:
    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = {table.name: table for table in tables}
        self._needed: dict[str, set[Key]] = defaultdict(set)
        self._rows: dict[str, dict[Key, Row]] = defaultdict(dict)
        self._dirty: dict[str, set[Key]] = defaultdict(set)
        self._loaded: dict[str, set[Key]] = defaultdict(set)

    # loading --------------------------------------------------------------------------------

    def need(self, table: Table, *key: Any) -> None:
        """Ask for the row of ``table`` at ``key`` to be loaded before the batch is applied."""
        self._needed[table.name].add(key)

    async def load(self, conn: Connection) -> None:
        """Load every row asked for: one query per table, keys passed as arrays."""
        for name, keys in self._needed.items():
            table = self.tables[name]
            wanted = [k for k in keys if k not in self._rows[name]]
            if not wanted:
                continue
            columns = ", ".join(table.all_columns)
            if len(table.key) == 1:
                rows = await conn.fetch(
                    f"select {columns} from {name} where {table.key[0]} = any($1::text[])",
                    [k[0] for k in wanted],
                )
            else:
                arrays = ", ".join(f"${i + 1}::text[]" for i in range(len(table.key)))
                matches = " and ".join(f"t.{k}::text = w.k{i}" for i, k in enumerate(table.key))
                names = ", ".join(f"k{i}" for i in range(len(table.key)))
                # unnest(a, b) pairs the arrays element by element
                rows = await conn.fetch(
                    f"""select {", ".join("t." + c for c in table.all_columns)}
                          from unnest({arrays}) as w({names})
                          join {name} t on {matches}""",
                    *([str(k[i]) for k in wanted] for i in range(len(table.key))),
                )
            for row in rows:
                record = dict(row)
                key = tuple(record[k] for k in table.key)
                self._rows[name][key] = record
                self._loaded[name].add(key)
        self._needed.clear()

    # reading and changing -------------------------------------------------------------------

    def get(self, table: Table, *key: Any) -> Row | None:
        """The row at ``key`` (loaded or made in this batch), or ``None``."""
        return self._rows[table.name].get(key)

    def put(self, table: Table, row: Mapping[str, Any]) -> Row:
        """Create or replace a row (columns not given take the table's defaults, else ``None``)."""
        merged = {**table.defaults, **row}
        record = {column: merged.get(column) for column in table.all_columns}
        key = tuple(record[k] for k in table.key)
        self._rows[table.name][key] = record
        self._dirty[table.name].add(key)
        return record

    def upsert(self, table: Table, key: Key, defaults: Mapping[str, Any]) -> Row:
        """The row at ``key``, made from ``defaults`` if missing; marked changed either way."""
        record = self._rows[table.name].get(key)
        if record is None:
            merged = {**table.defaults, **defaults}
            record = {column: merged.get(column) for column in table.all_columns}
            record.update(zip(table.key, key, strict=True))
            self._rows[table.name][key] = record
        self._dirty[table.name].add(key)
        return record

    def changed(self, table: Table, *key: Any) -> Row:
        """An existing row, marked changed: ``KeyError`` if it is neither loaded nor made."""
        record = self._rows[table.name][key]
        self._dirty[table.name].add(key)
        return record

    def add(self, table: Table, key: Key, **amounts: Any) -> Row:
        """Add ``amounts`` to the counters of a row, making it (counters at zero) if missing.

        On an additive table the row is not read: the batch keeps the sums it adds (and the
        ``fixed`` columns given), and :meth:`flush` adds them to the stored row.
        """
        if table.additive:
            record = self._rows[table.name].get(key)
            if record is None:
                record = {column: table.defaults.get(column) for column in table.all_columns}
                record.update(zip(table.key, key, strict=True))
                self._rows[table.name][key] = record
            self._dirty[table.name].add(key)
            for column, amount in amounts.items():
                if column in table.fixed:
                    record[column] = amount
                else:
                    record[column] += amount
            return record
        record = self.upsert(table, key, {})
        for column, amount in amounts.items():
            record[column] = (record[column] or 0) + amount
        return record

    # writing --------------------------------------------------------------------------------

    async def flush(self, conn: Connection) -> dict[str, int]:
        """Write every changed row; return the rows written per table."""
        written: dict[str, int] = {}
        for name, table in self.tables.items():
            keys = self._dirty.get(name)
            if not keys:
                continue
            rows = self._rows[name]
            columns = table.all_columns
            written[name] = len(keys)
            if table.insert_only:
                new = keys - self._loaded[name]
                if new:
                    await conn.copy_records_to_table(
                        name,
                        records=[tuple(rows[k][c] for c in columns) for k in new],
                        columns=list(columns),
                    )
                keys = keys - new
                if not keys:
                    continue
            records = [tuple(rows[k][c] for c in columns) for k in keys]
            staging = f"_stage_v{MODEL_VERSION}_{name}"
            await conn.execute(
                f"create temp table if not exists {staging}"
                f" (like {name} including defaults) on commit delete rows"
            )
            await conn.copy_records_to_table(staging, records=records, columns=list(columns))
            if table.additive:
                updates = ", ".join(
                    f"{c} = excluded.{c}"
                    if c in table.fixed
                    else f"{c} = {name}.{c} + excluded.{c}"
                    for c in table.columns
                )
            else:
                updates = ", ".join(f"{c} = excluded.{c}" for c in table.columns)
            conflict = f"do update set {updates}" if table.columns else "do nothing"
            # the staging rows are consumed by the same statement: a later flush in the same
            # transaction (the engine applies slices and parked events) starts empty
            listed = ", ".join(columns)
            await conn.execute(
                f"""with staged as (delete from {staging} returning {listed})
                    insert into {name} ({listed}) select {listed} from staged
                    on conflict ({", ".join(table.key)}) {conflict}"""
            )
        self._dirty.clear()
        return written
