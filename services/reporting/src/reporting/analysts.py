"""Datasets for analysts: filtered, sorted, paged queries and streamed CSV/Parquet exports.

A dataset is one analyst view (:mod:`reporting.analyst_views`): the same columns, pseudonyms
instead of TRNs, no names. Queries run on the generation :func:`reporting.reading.read_model`
chose (so ``as_of`` snapshots work too), as ``select ... from (<view query>) d``, with:

- filters by academic year, region, local authority, phase, trust, disadvantage band (pp50),
  course kind and badge level, each a column of the dataset or of its school or course (joined
  on the dataset's school URN or course id); a filter a dataset cannot answer is refused
  (:class:`QueryError` naming it). Several values of one filter mean any of them.
- sorting by any (non-array) column of the dataset, with its unique key appended, so pages are
  stable; paging by keyset with an opaque cursor (the last row's sort values).

SQL is made only of the identifiers registered here; values are always parameters.
Exports read through a server-side cursor in chunks and encode chunk by chunk: CSV rows, or
Parquet row groups drained from an in-memory sink, so memory does not grow with the result.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpd_eventstore.db import Connection, Row
from reporting.analyst_views import KEY_TABLE, VIEWS, View
from reporting.reading import ReadModelUnavailable

#: Rows fetched from the server-side cursor at a time.
FETCH_ROWS = 5000
#: Rows per Parquet row group (kept as Arrow batches until written).
PARQUET_ROW_GROUP_ROWS = 50_000
MAX_LIMIT = 1000
MAX_SORT_KEYS = 5
MAX_FILTER_VALUES = 200

#: The filters analysts may use, and what they mean.
FILTERS: dict[str, str] = {
    "academic_year": "Academic year, e.g. 2024/25",
    "region": "Region of the school (of the trust, for trusts)",
    "local_authority": "Local authority of the school",
    "phase": "Phase of the school (primary, secondary...)",
    "trust_id": "Trust of the school today (for school_days: on the day)",
    "pp50": "Disadvantage band of the school: 'pp50' (top 50 % pupil premium) or 'other'",
    "course_kind": "Kind of course",
    "badge": "Badge level of the course",
}

_SCHOOL_FILTERS = ("region", "local_authority", "phase", "pp50", "trust_id")
_COURSE_FILTERS = {"course_kind": "kind", "badge": "badge_level"}
_ARRAY_COLUMNS = frozenset({"progress_histogram", "goals"})
_ACADEMIC_YEAR = re.compile(r"^\d{4}/\d{2}$")


class QueryError(ValueError):
    """A query an analyst may not make: ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Dataset:
    """A queryable dataset: a view and, per filter it answers, a SQL condition on ``{v}``."""

    name: str
    view: View
    #: filter -> (condition with ``{v}`` for the parameter, join it needs or None)
    filters: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    joins: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.view.column_names

    @property
    def key(self) -> tuple[str, ...]:
        return self.view.key

    @property
    def sortable(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in _ARRAY_COLUMNS)


def _dataset(name: str, view: View) -> Dataset:
    columns = set(view.column_names)
    filters: dict[str, tuple[str, str | None]] = {}
    joins: dict[str, str] = {}
    if view.school:
        joins["school"] = f"left join schools f_s on f_s.urn = d.{view.school}"
    if view.course and "badge_level" not in columns:
        joins["course"] = f"left join courses f_c on f_c.course_id = d.{view.course}"
    if "academic_year" in columns:
        filters["academic_year"] = ("d.academic_year = any({v})", None)
    for name_ in _SCHOOL_FILTERS:
        if name_ in columns:
            filters[name_] = (f"d.{name_} = any({{v}})", None)
        elif name_ == "trust_id" and "day" in columns and view.school:
            # additive facts by day count for the trust the school was in on the day
            filters[name_] = (
                "exists (select from school_trusts f_st where f_st.urn = d.urn"
                " and f_st.trust_id = any({v}) and f_st.joined_on <= d.day"
                " and (f_st.left_on is null or d.day < f_st.left_on))",
                None,
            )
        elif view.school:
            filters[name_] = (f"f_s.{name_} = any({{v}})", "school")
    for name_, column in _COURSE_FILTERS.items():
        if "badge_level" in columns:  # the courses themselves
            filters[name_] = (f"d.{column} = any({{v}})", None)
        elif view.course:
            filters[name_] = (f"f_c.{column} = any({{v}})", "course")
    return Dataset(name, view, filters, joins)


#: The datasets analysts can query and export, by name (the name of their view).
DATASETS: dict[str, Dataset] = {
    ("hours" if v.name == "hours_log" else v.name): _dataset(
        "hours" if v.name == "hours_log" else v.name, v
    )
    for v in VIEWS
}


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise QueryError(
            "name", f"no dataset {name!r}; there are: {', '.join(sorted(DATASETS))}"
        ) from None


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False

    def sql(self) -> str:
        return f"d.{self.column} " + ("desc nulls first" if self.descending else "asc nulls last")

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.column


def parse_sort(ds: Dataset, sort: str | None) -> list[SortKey]:
    """``col,-col`` (minus: descending) checked against the dataset, then its key appended."""
    keys: list[SortKey] = []
    for part in (sort or "").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        column = part.lstrip("+-").strip()
        if column not in ds.sortable:
            raise QueryError(
                "sort",
                f"cannot sort {ds.name} by {column!r}; sortable: {', '.join(ds.sortable)}",
            )
        if any(k.column == column for k in keys):
            raise QueryError("sort", f"{column!r} given twice")
        keys.append(SortKey(column, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise QueryError("sort", f"at most {MAX_SORT_KEYS} sort columns")
    given = {k.column for k in keys}
    return keys + [SortKey(c) for c in ds.key if c not in given]


def check_filters(ds: Dataset, filters: Mapping[str, Sequence[str]]) -> dict[str, list[Any]]:
    """The filters given (names to values), checked and converted to parameter values."""
    checked: dict[str, list[Any]] = {}
    for name, values in filters.items():
        values = [v for v in values if v is not None]
        if not values:
            continue
        if name not in FILTERS:
            raise QueryError(name, f"no filter {name!r}")
        if name not in ds.filters:
            can = ", ".join(sorted(ds.filters)) or "none"
            raise QueryError(name, f"dataset {ds.name} cannot be filtered by {name} (can: {can})")
        if len(values) > MAX_FILTER_VALUES:
            raise QueryError(name, f"at most {MAX_FILTER_VALUES} values")
        if name == "pp50":
            bad = [v for v in values if v not in ("pp50", "other")]
            if bad:
                raise QueryError(name, f"{bad[0]!r} is not a band: 'pp50' or 'other'")
            checked[name] = sorted({v == "pp50" for v in values})
        elif name == "academic_year":
            bad = [v for v in values if not _ACADEMIC_YEAR.match(v)]
            if bad:
                raise QueryError(name, f"{bad[0]!r} is not an academic year like 2024/25")
            checked[name] = list(values)
        else:
            checked[name] = list(values)
    return checked


# -- cursors: the sort values of the last row of a page, typed, in opaque text


def _tag(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, str):
        return {"s": value}
    raise TypeError(f"cannot page on a {type(value).__name__}")


def _untag(item: Any) -> Any:
    if item is None:
        return None
    if not isinstance(item, dict) or len(item) != 1:
        raise ValueError("bad value")
    ((tag, raw),) = item.items()
    converters: dict[str, Any] = {
        "b": lambda v: v if isinstance(v, bool) else _bad(),
        "i": lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _bad(),
        "n": lambda v: Decimal(str(v)),
        "f": float,
        "t": lambda v: datetime.fromisoformat(str(v)),
        "d": lambda v: date.fromisoformat(str(v)),
        "s": lambda v: v if isinstance(v, str) else _bad(),
    }
    if tag not in converters:
        raise ValueError("bad tag")
    return converters[tag](raw)


def _bad() -> Any:
    raise ValueError("bad value")


def _fingerprint(ds: Dataset, sort: Sequence[SortKey], filters: Mapping[str, list[Any]]) -> str:
    text = json.dumps(
        [ds.name, [str(k) for k in sort], {k: [str(v) for v in filters[k]] for k in filters}],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(
    ds: Dataset, sort: Sequence[SortKey], filters: Mapping[str, list[Any]], row: Row
) -> str:
    body = {"q": _fingerprint(ds, sort, filters), "k": [_tag(row[k.column]) for k in sort]}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    ds: Dataset, sort: Sequence[SortKey], filters: Mapping[str, list[Any]], cursor: str
) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        values = [_untag(v) for v in body["k"]]
        fingerprint = body["q"]
    except (ValueError, KeyError, TypeError, binascii.Error, ArithmeticError):
        raise QueryError("cursor", "not a cursor this API gave") from None
    if fingerprint != _fingerprint(ds, sort, filters) or len(values) != len(sort):
        raise QueryError(
            "cursor", "the cursor belongs to another dataset, sort or filters: start again"
        )
    return values


# -- SQL


@dataclass
class Query:
    sql: str
    params: list[Any]


def build_query(
    ds: Dataset,
    filters: Mapping[str, list[Any]],
    sort: Sequence[SortKey] | None,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
    casts: Mapping[str, str] | None = None,
) -> Query:
    """The SQL of a dataset query: ``filters`` checked, ``sort`` None for no order (exports).

    ``casts`` maps columns to a type of :data:`_CASTS` to convert them to on the server.
    """
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions: list[str] = []
    joins: list[str] = []
    for name, values in filters.items():
        condition, join = ds.filters[name]
        conditions.append(condition.replace("{v}", param(values)))
        if join is not None and ds.joins[join] not in joins:
            joins.append(ds.joins[join])
    if after is not None:
        assert sort is not None
        conditions.append(_after(sort, after, param))
    casts = casts or {}
    columns = ", ".join(
        f"d.{c}::{_CASTS[casts[c]]} as {c}" if c in casts else f"d.{c}" for c in ds.columns
    )
    sql = f"select {columns}\n  from ({ds.view.select()}) d"
    for join in joins:
        sql += f"\n  {join}"
    if conditions:
        sql += "\n where " + "\n   and ".join(conditions)
    if sort:
        sql += "\n order by " + ", ".join(k.sql() for k in sort)
    if limit is not None:
        sql += f"\n limit {int(limit)}"
    return Query(sql, params)


_CASTS = {"float8": "float8"}


def _after(sort: Sequence[SortKey], values: Sequence[Any], param: Any) -> str:
    """Rows after the row whose sort values are ``values`` (nulls last ascending, first desc)."""
    terms: list[str] = []
    equal: list[str] = []
    for key, value in zip(sort, values, strict=True):
        column = f"d.{key.column}"
        if value is None:
            later = f"{column} is not null" if key.descending else None
            same = f"{column} is null"
        else:
            p = param(value)
            later = f"{column} < {p}" if key.descending else f"({column} > {p} or {column} is null)"
            same = f"{column} = {p}"
        if later is not None:
            terms.append("(" + " and ".join([*equal, later]) + ")")
        equal.append(same)
    return "(" + (" or ".join(terms) or "false") + ")"


async def _require_key(conn: Connection) -> None:
    if await conn.fetchval("select to_regclass($1) is null", KEY_TABLE):
        raise ReadModelUnavailable(
            "the analysts' pseudonym key is not made yet: it is made when a generation goes"
            " live (install_analyst_views)"
        )


@dataclass
class Page:
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def query_page(
    conn: Connection,
    ds: Dataset,
    filters: Mapping[str, Sequence[str]],
    sort: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """One page of a dataset (on ``conn``'s generation) and the cursor of the next, if any."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"between 1 and {MAX_LIMIT}")
    checked = check_filters(ds, filters)
    keys = parse_sort(ds, sort)
    after = decode_cursor(ds, keys, checked, cursor) if cursor else None
    await _require_key(conn)
    query = build_query(ds, checked, keys, after, limit + 1)
    rows = await conn.fetch(query.sql, *query.params)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(ds, keys, checked, rows[-1]) if more else None
    return Page(list(ds.columns), [_json_row(r) for r in rows], next_cursor)


def _json_row(row: Row) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


# -- exports


@dataclass
class Export:
    """A prepared export: its columns and their Postgres types, and the chunks of rows."""

    columns: list[str]
    types: list[str]
    chunks: AsyncIterator[list[Row]]


async def open_export(
    conn: Connection,
    ds: Dataset,
    filters: Mapping[str, Sequence[str]],
    sort: str | None = None,
    fetch_rows: int = FETCH_ROWS,
    numeric_as_float: bool = False,
) -> Export:
    """Prepare an export on ``conn`` (in a transaction): rows come through a server-side cursor.

    Unsorted unless ``sort`` is given (then with the key appended, so the order is total).
    ``numeric_as_float``: numeric columns come as float8, converted by the server (cheaper than
    decoding decimals and converting them here).
    """
    checked = check_filters(ds, filters)
    keys = parse_sort(ds, sort) if sort else None
    query = build_query(ds, checked, keys)
    await _require_key(conn)
    statement = await conn.prepare(query.sql)
    types = [attribute.type.name for attribute in statement.get_attributes()]
    if numeric_as_float and "numeric" in types:
        casts = {c: "float8" for c, t in zip(ds.columns, types, strict=True) if t == "numeric"}
        query = build_query(ds, checked, keys, casts=casts)
        statement = await conn.prepare(query.sql)
        types = [attribute.type.name for attribute in statement.get_attributes()]

    async def chunks() -> AsyncIterator[list[Row]]:
        cursor = await statement.cursor(*query.params)
        while rows := await cursor.fetch(fetch_rows):
            yield rows

    return Export(list(ds.columns), types, chunks())


def _csv_value(value: Any) -> Any:
    """What the csv module would not write as wanted: booleans, timestamps, arrays."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps([_json_value(v) for v in value])
    return value


#: Postgres types whose values csv writes as wanted (None as empty, str() of the rest).
_CSV_AS_IS = frozenset({"text", "varchar", "bpchar", "name", "int2", "int4", "int8", "numeric"})
_CSV_AS_IS |= {"float4", "float8", "date"}


async def csv_chunks(export: Export) -> AsyncGenerator[bytes, None]:
    """The export as CSV (UTF-8, header row, RFC 4180 quoting), one piece per chunk of rows.

    Values as in the JSON API: ISO dates and timestamps, true/false, arrays as JSON, empty for
    null; numbers exactly as stored.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.columns)
    yield buffer.getvalue().encode()
    convert = [i for i, pg_type in enumerate(export.types) if pg_type not in _CSV_AS_IS]
    async for rows in export.chunks:
        buffer.seek(0)
        buffer.truncate()
        if convert:
            writer.writerows(_csv_row(row, convert) for row in rows)
        else:
            writer.writerows(rows)  # records are sequences of their values
        yield buffer.getvalue().encode()


def _csv_row(row: Row, convert: Sequence[int]) -> list[Any]:
    values = list(row)
    for i in convert:
        values[i] = _csv_value(values[i])
    return values


_ARROW_TYPES: dict[str, Any] = {
    "bool": pa.bool_(),
    "int2": pa.int32(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float64(),
    "float8": pa.float64(),
    "numeric": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "int2[]": pa.list_(pa.int32()),
    "int4[]": pa.list_(pa.int32()),
    "int8[]": pa.list_(pa.int64()),
    "text[]": pa.list_(pa.string()),
    "varchar[]": pa.list_(pa.string()),
}


def arrow_schema(export: Export) -> Any:
    """The Arrow schema of an export (numeric as float64; types unknown here as strings)."""
    return pa.schema(
        [
            pa.field(name, _ARROW_TYPES.get(pg_type, pa.string()))
            for name, pg_type in zip(export.columns, export.types, strict=True)
        ]
    )


def _arrow_column(values: Sequence[Any], pg_type: str, arrow_type: Any) -> Any:
    if pg_type == "numeric":
        values = [None if v is None else float(v) for v in values]
    elif pg_type not in _ARROW_TYPES:
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, type=arrow_type)


class _Sink(io.RawIOBase):
    """Where the Parquet writer writes: kept until drained, so only a row group's bytes wait."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


async def parquet_chunks(
    export: Export, row_group_rows: int = PARQUET_ROW_GROUP_ROWS
) -> AsyncGenerator[bytes, None]:
    """The export as one Parquet file (zstd), written a row group at a time and drained."""
    schema = arrow_schema(export)
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    batches: list[Any] = []
    pending = 0
    try:
        async for rows in export.chunks:
            columns = list(zip(*rows, strict=True)) if rows else []
            arrays = [
                _arrow_column(values, pg_type, f.type)
                for values, pg_type, f in zip(columns, export.types, schema, strict=True)
            ]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            pending += len(rows)
            if pending >= row_group_rows:
                writer.write_table(pa.Table.from_batches(batches, schema=schema))
                batches.clear()
                pending = 0
                if data := sink.drain():
                    yield data
        if batches:
            writer.write_table(pa.Table.from_batches(batches, schema=schema))
            batches.clear()
    finally:
        writer.close()
    yield sink.drain()
