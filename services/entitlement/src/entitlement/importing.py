"""Bulk import for operators: schools from the school census and the PP50 list, trusts and
their schools, teachers. Run with ``cpd import schools|trusts|teachers`` (see ``cpd import
--help``); it writes straight to entitlement's event store, through the same deciders as the
HTTP API, and the outbox relay publishes the events afterwards as usual.

Files
-----
Census (``school_census_2022_23.csv``, DfE, shipped in ``entitlement/data``): columns ``URN``,
``LA``, ``SCHOOLTYPE``, ``NOR``, ``PNUMFSMEVER`` are read. Only state-funded schools
(``SCHOOLTYPE`` starting with "State-funded") are registered; other types and the national
totals (``URN`` = ``NAT``) are skipped. The census has no names: a school is named after its
type and URN ("State-funded primary school 100000"). Suppressed figures (``NA``, ``x``, ``c``,
empty) become unknown (None). ``region`` comes from the LA code (:func:`region_of`).

PP50 list (``pp50_school_urns.csv``): one column ``urn``; a school on it has ``pp50`` true.

Trusts (``cpd import trusts FILE``): columns ``trust_id`` (group UID, digits), ``name``,
``region`` (``london``, ``North East``, ``Yorkshire and the Humber``... or empty), and optional
``companies_house_number``, ``funding_model`` (``centralised``, ``delegated`` or ``hybrid``),
``central_share_percent`` (hybrid only: strictly between 0 and 100; centralised is 100,
delegated 0) and ``funding_effective_from`` (``YYYY-MM-DD``, needed with a funding model).

Trust membership (``cpd import trusts FILE --members MEMBERS``): columns ``trust_id``, ``urn``,
``joined_on`` (``YYYY-MM-DD``): one row per school joining a trust. A school is in at most one
trust: a row joining a school to a trust while it is in another is a conflict.

Teachers (``cpd import teachers FILE``): columns ``trn``, ``school_urn``, ``given_name``,
``family_name``, ``career_stage`` (``trainee``, ``ect_year_1``, ``ect_year_2``,
``early_career``, ``experienced``, ``middle_leader``, ``senior_leader``), ``fte`` (percent of
full time, 0-100) and ``registered_on`` (``YYYY-MM-DD``). The school must be registered.

Guarantees
----------
- Every row is validated with the event's contract; a bad row is reported as
  ``line N: field: message`` (N is the file's line, the header being line 1) and the good rows
  go through.
- Idempotent: a row whose facts are registered already, identically, is counted ``unchanged``
  and writes nothing; re-running an import (also after Ctrl-C) changes nothing already done. A
  row that clashes with what is registered (same URN, other details; a school in another trust)
  is reported as a conflict line and writes nothing. Event ids are deterministic (UUID5 of the
  stream, the version the event takes, its type and content), so two imports racing write each
  event once.
- Fast: rows go in chunks (500 by default); each chunk reads the current state of all its
  streams with one query and appends all its streams in one transaction (expected versions
  checked; a chunk that conflicts with a concurrent writer is re-read and re-decided).
"""

from __future__ import annotations

import csv
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from cpd_events import REGISTRY, Event, Metadata, NewEvent
from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.registry_events import (
    SchoolJoinedTrust,
    SchoolRegistered,
    TeacherRegistered,
    TrustFundingModelChosen,
    TrustRegistered,
)
from cpd_events.types import FundingModel, Region
from cpd_eventstore import ConcurrencyError, EventStore, PartiallyStoredError, StreamWrite
from cpd_eventstore.db import Pool
from entitlement.domain import registry, trust
from entitlement.domain.registry import JoinTrust, RegisterSchool, school_decider, school_stream
from entitlement.domain.teacher import RegisterTeacher, teacher_decider, teacher_stream
from entitlement.domain.trust import ChooseFundingModel, RegisterTrust, trust_decider, trust_stream

DATA = Path(__file__).parent / "data"
CENSUS = DATA / "school_census_2022_23.csv"
PP50 = DATA / "pp50_school_urns.csv"

#: Fixed namespace of the import's deterministic event ids (never change it).
EVENT_ID_NAMESPACE = uuid.UUID("5d0c6f0e-3c47-4a53-9a51-7d1b8f6c2e10")
CHUNK_SIZE = 500
SUPPRESSED = frozenset({"", "NA", "N/A", "x", "X", "c", "C", "SUPP", "NE", "z"})

S = TypeVar("S")
C = TypeVar("C")


# --- region of a local authority -----------------------------------------------------------

_LA_REGIONS: dict[Region, tuple[int, ...]] = {
    # DfE three-digit LA codes: 2xx inner London, 30x-31x outer London, 33x-39x metropolitan
    # districts, 420 Isles of Scilly, 8xx-9xx unitary and county councils
    Region.LONDON: (*range(201, 214), *range(301, 321)),
    Region.WEST_MIDLANDS: (*range(330, 337), 860, 861, 884, 885, 893, 894, 937),
    Region.NORTH_WEST: (*range(340, 345), *range(350, 360), 876, 877, 888, 889, 890, 895, 896,
                        909, 942, 943),
    Region.YORKSHIRE_AND_THE_HUMBER: (*range(370, 374), *range(380, 385), 810, 811, 812, 813,
                                      815, 816),
    Region.NORTH_EAST: (*range(390, 395), 805, 806, 807, 808, 840, 841, 929),
    Region.SOUTH_WEST: (420, 800, 801, 802, 803, 835, 836, 837, 838, 839, 865, 866, 878, 879,
                        880, 908, 916, 933),
    Region.EAST_OF_ENGLAND: (821, 822, 823, 873, 874, 881, 882, 883, 919, 926, 935),
    Region.SOUTH_EAST: (825, 826, 845, 846, 850, 851, 852, 867, 868, 869, 870, 871, 872, 886,
                        887, 921, 931, 936, 938),
    Region.EAST_MIDLANDS: (830, 831, 855, 856, 857, 891, 892, 925, 928, 940, 941),
}  # fmt: skip
_REGION_OF_LA = {code: region for region, codes in _LA_REGIONS.items() for code in codes}


def region_of(local_authority: str) -> Region | None:
    """The region of England of a DfE local-authority code (``"886"`` Kent -> south east)."""
    return _REGION_OF_LA.get(int(local_authority)) if local_authority.isdigit() else None


# --- report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """One row that was not imported: ``line N: field: message``."""

    line: int
    problems: tuple[tuple[str, str], ...]
    source: str = ""
    conflict: bool = False  # clashes with what is registered (else: invalid or refused)

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.source else f"line {self.line}"
        return "; ".join(f"{where}: {name}: {message}" for name, message in self.problems)


@dataclass
class ImportReport:
    what: str
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    skipped: int = 0
    events: int = 0
    bad: list[RowProblem] = field(default_factory=list)
    conflicts: list[RowProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.bad and not self.conflicts


# --- reading chunks of streams in bulk ------------------------------------------------------


class Chunk:
    """The stored events of a chunk's streams, plus what the chunk decided so far."""

    def __init__(self, stored: dict[str, list[Event]], versions: dict[str, int]) -> None:
        self._events = stored
        self._versions = versions
        self._new: dict[str, list[NewEvent]] = {}

    def events(self, stream_id: str) -> list[Event]:
        return self._events.get(stream_id, [])

    def state(self, stream_id: str, decider: Decider[S, Any]) -> S:
        return decider.fold(self.events(stream_id))

    def add(self, stream_id: str, events: Sequence[Event], key: str = "") -> None:
        """Decided events of one stream; their ids derive from stream, version and content."""
        version = self._versions.get(stream_id, 0) + len(self._new.get(stream_id, []))
        for offset, event in enumerate(events, start=1):
            name = f"{stream_id}|{version + offset}|{event.event_type}|{key}"
            new = NewEvent(event=event, event_id=uuid.uuid5(EVENT_ID_NAMESPACE, name))
            self._new.setdefault(stream_id, []).append(new)
            self._events.setdefault(stream_id, []).append(event)

    def writes(self) -> list[StreamWrite]:
        return [
            StreamWrite(stream_id, self._versions.get(stream_id, 0), events)
            for stream_id, events in self._new.items()
        ]


async def load_streams(
    pool: Pool, stream_ids: Iterable[str]
) -> tuple[dict[str, list[Event]], dict[str, int]]:
    """Every event of the given streams, in one query, and each stream's version."""
    rows = await pool.fetch(
        "select stream_id, stream_version, event_type, schema_version, data from es.events"
        " where stream_id = any($1::text[]) order by stream_id, stream_version",
        sorted(set(stream_ids)),
    )
    stored: dict[str, list[Event]] = {}
    versions: dict[str, int] = {}
    for row in rows:
        data = row["data"]
        event = REGISTRY.decode(
            row["event_type"],
            row["schema_version"],
            json.loads(data) if isinstance(data, str) else data,
        )
        stored.setdefault(row["stream_id"], []).append(event)
        versions[row["stream_id"]] = row["stream_version"]
    return stored, versions


async def load_chunk(pool: Pool, stream_ids: Iterable[str]) -> Chunk:
    """Every event of the given streams, in one query."""
    return Chunk(*await load_streams(pool, stream_ids))


# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    """A row deliberately not imported (e.g. an independent school in the census)."""


class Unchanged:
    """The row's facts are registered already."""


class Imported:
    pass


UNCHANGED = Unchanged()
IMPORTED = Imported()
Outcome = Imported | Unchanged | RowProblem

P = TypeVar("P")


@dataclass(frozen=True)
class Parsed(Generic[P]):
    line: int
    value: P | RowProblem | Skip


class Importer(Generic[P]):
    """One kind of row: how to parse it, which streams it touches, what it decides."""

    what = "rows"

    def parse(self, line: int, row: dict[str, str]) -> P | RowProblem | Skip:
        raise NotImplementedError

    def streams(self, value: P) -> Sequence[str]:
        raise NotImplementedError

    def apply(self, line: int, value: P, chunk: Chunk) -> Outcome:
        raise NotImplementedError


Progress = Callable[[int], None]


async def run_import(
    store: EventStore,
    importer: Importer[P],
    rows: Iterable[tuple[int, dict[str, str]]],
    metadata: Metadata,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    source: str = "",
) -> ImportReport:
    """Parse, validate, decide and append ``rows`` (line number, CSV row) in chunks."""
    started = time.perf_counter()
    report = ImportReport(importer.what)
    batch: list[Parsed[P]] = []

    async def flush() -> None:
        await _import_chunk(store, importer, batch, metadata, report, source)
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for line, row in rows:
        report.rows += 1
        batch.append(Parsed(line, importer.parse(line, row)))
        if len(batch) >= chunk_size:
            await flush()
    if batch:
        await flush()
    report.bad.sort(key=lambda problem: problem.line)
    report.conflicts.sort(key=lambda problem: problem.line)
    report.seconds = time.perf_counter() - started
    return report


async def _import_chunk(
    store: EventStore,
    importer: Importer[P],
    batch: Sequence[Parsed[P]],
    metadata: Metadata,
    report: ImportReport,
    source: str,
    attempts: int = 5,
) -> None:
    good: list[tuple[int, P]] = []
    for parsed in batch:
        if isinstance(parsed.value, RowProblem):
            report.bad.append(_sourced(parsed.value, source))
        elif isinstance(parsed.value, Skip):
            report.skipped += 1
        else:
            good.append((parsed.line, parsed.value))
    if not good:
        return
    stream_ids = {s for _, value in good for s in importer.streams(value)}
    for attempt in range(1, attempts + 1):
        chunk = await load_chunk(store.pool, stream_ids)
        outcomes = [importer.apply(line, value, chunk) for line, value in good]
        writes = chunk.writes()
        try:
            if writes:
                await store.append_many(writes, metadata)
            break
        except (ConcurrencyError, PartiallyStoredError):
            if attempt == attempts:
                raise  # another writer keeps changing these streams: run the import again
    for outcome in outcomes:
        match outcome:
            case Imported():
                report.imported += 1
            case Unchanged():
                report.unchanged += 1
            case RowProblem():
                problem = _sourced(outcome, source)
                (report.conflicts if outcome.conflict else report.bad).append(problem)
    report.events += sum(len(w.events) for w in writes)


def _sourced(problem: RowProblem, source: str) -> RowProblem:
    return replace(problem, source=source) if source and not problem.source else problem


def refused(line: int, error: RuleBroken) -> RowProblem:
    """A row the rules refused: a clash with what is registered, or a missing reference."""
    return RowProblem(
        line, ((error.field or "row", error.message),), conflict=error.rule is Rule.CONFLICT
    )


def conflict(line: int, name: str, message: str) -> RowProblem:
    return RowProblem(line, ((name, message),), conflict=True)


def invalid(
    line: int, error: ValidationError, columns: dict[str, str] | None = None, default: str = "row"
) -> RowProblem:
    """A pydantic error as ``field: message`` pairs, naming the CSV column where it differs."""
    columns = columns or {}
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or default
        column = columns.get(loc)
        name = f"{loc} ({column})" if column and column != loc else loc
        problems.append((name, str(item["msg"]).removeprefix("Value error, ")))
    return RowProblem(line, tuple(problems))


class ImportFileError(ValueError):
    """A file the import cannot read at all (missing columns, not CSV, not UTF-8)."""


def read_csv(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with their line number (the header is line 1; a row whose quoted
    field spans lines gets its last line)."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        try:
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportFileError(f"{path.name}: missing column(s) {', '.join(missing)}")
            for row in reader:
                cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
                yield reader.line_num, cells
        except (csv.Error, UnicodeDecodeError) as error:
            raise ImportFileError(f"{path.name} line {reader.line_num}: {error}") from error


def count_rows(path: Path) -> int:
    """Data rows of a CSV file (for progress bars)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return max(sum(1 for _ in csv.reader(file)) - 1, 0)
    except (csv.Error, UnicodeDecodeError) as error:
        raise ImportFileError(f"{path.name}: {error}") from error


def _blank(value: str) -> str | None:
    return None if value in SUPPRESSED else value


def _difference(stored: BaseModel | None, row: BaseModel) -> str:
    if stored is None:
        return "registered differently"
    old, new = stored.model_dump(), row.model_dump()

    def shown(value: object) -> str:
        return repr(str(value)) if isinstance(value, str) else str(value)

    changed = [f"{k} {shown(old.get(k))} -> {shown(v)}" for k, v in new.items() if old.get(k) != v]
    return "registered with other details: " + ", ".join(changed)


# --- schools: the census and the PP50 list --------------------------------------------------

CENSUS_COLUMNS = {
    "urn": "URN",
    "local_authority": "LA",
    "phase": "SCHOOLTYPE",
    "pupils_on_roll": "NOR",
    "fsm_percent": "PNUMFSMEVER",
}


def read_pp50(path: Path) -> tuple[frozenset[str], list[RowProblem]]:
    urns: set[str] = set()
    bad: list[RowProblem] = []
    for line, row in read_csv(path, ["urn"]):
        urn = row["urn"]
        if re.fullmatch(r"\d{6}", urn):
            urns.add(urn)
        else:
            problem = ("urn", f"a URN has 6 digits, not {urn!r}")
            bad.append(RowProblem(line, (problem,), path.name))
    return frozenset(urns), bad


def school_name(school_type: str, urn: str) -> str:
    kind = school_type if school_type.lower().endswith("school") else f"{school_type} school"
    return f"{kind} {urn}"


class CensusSchools(Importer[SchoolRegistered]):
    what = "schools"

    def __init__(self, pp50: frozenset[str]) -> None:
        self.pp50 = pp50

    def parse(self, line: int, row: dict[str, str]) -> SchoolRegistered | RowProblem | Skip:
        urn, school_type = row.get("URN", ""), row.get("SCHOOLTYPE", "")
        if urn == "NAT" or not school_type.startswith("State-funded"):
            return Skip()
        local_authority = row.get("LA", "")
        fsm = _blank(row.get("PNUMFSMEVER", ""))
        try:
            return SchoolRegistered.model_validate(
                {
                    "urn": urn,
                    "name": school_name(school_type, urn),
                    "local_authority": local_authority,
                    "phase": school_type,
                    "region": region_of(local_authority),
                    "pupils_on_roll": _blank(row.get("NOR", "")),
                    "fsm_percent": fsm.removesuffix("%").strip() if fsm else None,
                    "pp50": urn in self.pp50,
                }
            )
        except ValidationError as error:
            return invalid(line, error, CENSUS_COLUMNS)

    def streams(self, value: SchoolRegistered) -> Sequence[str]:
        return [school_stream(value.urn)]

    def apply(self, line: int, value: SchoolRegistered, chunk: Chunk) -> Outcome:
        stream = school_stream(value.urn)
        state = chunk.state(stream, school_decider)
        if state.registered:
            if registry.same_registration(state, value):
                return UNCHANGED
            return conflict(
                line, "urn", f"school {value.urn} is " + _difference(state.details, value)
            )
        try:
            events = school_decider.decide(RegisterSchool(value), state)
        except RuleBroken as error:
            return refused(line, error)
        chunk.add(stream, events)
        return IMPORTED


async def import_schools(
    store: EventStore,
    metadata: Metadata,
    census: Path = CENSUS,
    pp50: Path = PP50,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    pp50_urns, pp50_bad = read_pp50(pp50)
    report = await run_import(
        store,
        CensusSchools(pp50_urns),
        read_csv(census, ["URN", "LA", "SCHOOLTYPE", "NOR", "PNUMFSMEVER"]),
        metadata,
        progress,
        chunk_size,
    )
    report.bad[:0] = pp50_bad
    return report


# --- trusts and their schools ----------------------------------------------------------------


@dataclass(frozen=True)
class TrustRow:
    details: TrustRegistered
    funding: TrustFundingModelChosen | None


def parse_region(value: str) -> str | None:
    """``London``, ``north east``, ``Yorkshire and The Humber``... as a :class:`Region` value."""
    return re.sub(r"[\s-]+", "_", value.strip().lower()) or None


class Trusts(Importer[TrustRow]):
    what = "trusts"

    def parse(self, line: int, row: dict[str, str]) -> TrustRow | RowProblem | Skip:
        problems: list[tuple[str, str]] = []
        details = funding = None
        try:
            details = TrustRegistered.model_validate(
                {
                    "trust_id": row.get("trust_id", ""),
                    "name": row.get("name", ""),
                    "region": parse_region(row.get("region", "")),
                    "companies_house_number": row.get("companies_house_number") or None,
                }
            )
        except ValidationError as error:
            problems.extend(invalid(line, error).problems)
        model = row.get("funding_model", "")
        if model:
            share = row.get("central_share_percent", "")
            if not share and model in {FundingModel.CENTRALISED, FundingModel.DELEGATED}:
                share = "100" if model == FundingModel.CENTRALISED else "0"
            try:
                funding = TrustFundingModelChosen.model_validate(
                    {
                        "trust_id": row.get("trust_id", ""),
                        "model": model,
                        "central_share_percent": share or None,
                        "effective_from": row.get("funding_effective_from") or None,
                    }
                )
            except ValidationError as error:
                columns = {"effective_from": "funding_effective_from", "model": "funding_model"}
                for name, message in invalid(
                    line, error, columns, "central_share_percent"
                ).problems:
                    if not name.startswith("trust_id"):  # reported once, above
                        problems.append((name, message))
        elif row.get("central_share_percent") or row.get("funding_effective_from"):
            problems.append(("funding_model", "a central share or date needs a funding model"))
        if problems or details is None:
            return RowProblem(line, tuple(problems))
        return TrustRow(details, funding)

    def streams(self, value: TrustRow) -> Sequence[str]:
        return [trust_stream(value.details.trust_id)]

    def apply(self, line: int, value: TrustRow, chunk: Chunk) -> Outcome:
        stream = trust_stream(value.details.trust_id)
        state = chunk.state(stream, trust_decider)
        events: list[Event] = []
        try:
            if state.registered:
                if not trust.same_registration(state, value.details):
                    return conflict(
                        line,
                        "trust_id",
                        f"trust {value.details.trust_id} is "
                        + _difference(state.details, value.details),
                    )
            else:
                events += trust_decider.decide(RegisterTrust(value.details), state)
                state = trust_decider.fold([*chunk.events(stream), *events])
            choice = value.funding
            if choice is not None and not (
                state.funding_model is choice.model
                and state.central_share_percent == choice.central_share_percent
            ):
                events += trust_decider.decide(ChooseFundingModel(choice), state)
        except RuleBroken as error:
            return refused(line, error)
        if not events:
            return UNCHANGED
        funding = value.funding
        key = f"{funding.model}:{funding.central_share_percent}" if funding else ""
        chunk.add(stream, events, key)
        return IMPORTED


class TrustMembers(Importer[SchoolJoinedTrust]):
    what = "trust members"

    def parse(self, line: int, row: dict[str, str]) -> SchoolJoinedTrust | RowProblem | Skip:
        try:
            return SchoolJoinedTrust.model_validate(
                {
                    "urn": row.get("urn", ""),
                    "trust_id": row.get("trust_id", ""),
                    "effective_from": row.get("joined_on") or None,
                }
            )
        except ValidationError as error:
            return invalid(line, error, {"effective_from": "joined_on"})

    def streams(self, value: SchoolJoinedTrust) -> Sequence[str]:
        return [school_stream(value.urn), trust_stream(value.trust_id)]

    def apply(self, line: int, value: SchoolJoinedTrust, chunk: Chunk) -> Outcome:
        stream = school_stream(value.urn)
        school = chunk.state(stream, school_decider)
        if school.trust_id == value.trust_id and school.joined_trust_on == value.effective_from:
            return UNCHANGED
        trust_state = chunk.state(trust_stream(value.trust_id), trust_decider)
        command = JoinTrust(value.trust_id, value.effective_from, trust_state.registered)
        try:
            events = school_decider.decide(command, school)
        except RuleBroken as error:
            return refused(line, error)
        chunk.add(stream, events, f"{value.trust_id}:{value.effective_from}")
        return IMPORTED


async def import_trusts(
    store: EventStore,
    metadata: Metadata,
    trusts: Path,
    members: Path | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    members_progress: Progress | None = None,
) -> tuple[ImportReport, ImportReport | None]:
    """Trusts first, then (if given) the schools joining them."""
    trust_report = await run_import(
        store,
        Trusts(),
        read_csv(trusts, ["trust_id", "name", "region"]),
        metadata,
        progress,
        chunk_size,
        trusts.name if members else "",
    )
    if members is None:
        return trust_report, None
    member_report = await run_import(
        store,
        TrustMembers(),
        read_csv(members, ["trust_id", "urn", "joined_on"]),
        metadata,
        members_progress,
        chunk_size,
        members.name,
    )
    return trust_report, member_report


# --- teachers --------------------------------------------------------------------------------

TEACHER_COLUMNS = [
    "trn",
    "school_urn",
    "given_name",
    "family_name",
    "career_stage",
    "fte",
    "registered_on",
]


class Teachers(Importer[TeacherRegistered]):
    what = "teachers"

    def parse(self, line: int, row: dict[str, str]) -> TeacherRegistered | RowProblem | Skip:
        try:
            return TeacherRegistered.model_validate(
                {column: row.get(column) or None for column in TEACHER_COLUMNS}
            )
        except ValidationError as error:
            return invalid(line, error)

    def streams(self, value: TeacherRegistered) -> Sequence[str]:
        return [teacher_stream(value.trn), school_stream(value.school_urn)]

    def apply(self, line: int, value: TeacherRegistered, chunk: Chunk) -> Outcome:
        stream = teacher_stream(value.trn)
        stored = next((e for e in chunk.events(stream) if isinstance(e, TeacherRegistered)), None)
        if stored is not None:
            if stored == value:
                return UNCHANGED
            return conflict(line, "trn", f"teacher {value.trn} is " + _difference(stored, value))
        school = chunk.state(school_stream(value.school_urn), school_decider)
        state = chunk.state(stream, teacher_decider)
        try:
            events = teacher_decider.decide(RegisterTeacher(value, school.registered), state)
        except RuleBroken as error:
            return refused(line, error)
        chunk.add(stream, events)
        return IMPORTED


async def import_teachers(
    store: EventStore,
    metadata: Metadata,
    teachers: Path,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    return await run_import(
        store,
        Teachers(),
        read_csv(teachers, TEACHER_COLUMNS),
        metadata,
        progress,
        chunk_size,
    )
