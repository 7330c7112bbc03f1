"""The operators' bulk import against a real PostgreSQL: a 30-row sample of the real census
(with bad, suppressed and skipped rows), trusts with their schools, teachers; every import run
twice (the second changes nothing)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from cpd_events import Metadata
from cpd_events.types import FundingModel, Region
from cpd_eventstore import EventStore
from cpd_eventstore.application import load
from entitlement import importing
from entitlement.domain.registry import school_decider, school_stream
from entitlement.domain.teacher import teacher_decider, teacher_stream
from entitlement.domain.trust import trust_decider, trust_stream

pytestmark = pytest.mark.integration

META = Metadata(actor="test import")


def census_sample(tmp_path: Path) -> Path:
    """Header + lines 2-30 of the real census + its first national-totals row: 30 data rows.

    Line 9 (URN 100008) gets an impossible FSM percentage, line 13 (100013) a five-digit URN,
    line 10 (100009) suppressed figures; lines 3-5 are independent schools, line 31 a total.
    """
    lines = importing.CENSUS.read_text().splitlines()
    sample = [*lines[:30], next(line for line in lines if line.startswith("NAT,"))]

    def edit(number: int, column: str, value: str) -> None:
        header = sample[0].split(",")
        cells = sample[number - 1].split(",")
        cells[header.index(column)] = value
        sample[number - 1] = ",".join(cells)

    assert sample[8].startswith("100008,")
    assert sample[12].startswith("100013,")
    edit(9, "PNUMFSMEVER", "121.00%")
    edit(13, "URN", "10013")
    edit(10, "NOR", "NA")
    edit(10, "PNUMFSMEVER", "x")
    path = tmp_path / "census.csv"
    path.write_text("\n".join(sample) + "\n")
    return path


def pp50_sample(tmp_path: Path) -> Path:
    path = tmp_path / "pp50.csv"
    path.write_text("urn\n100000\n100006\nnot-a-urn\n")
    return path


async def event_count(store: EventStore) -> int:
    return int(await store.pool.fetchval("select count(*) from es.events"))


async def test_census_import_validates_every_row_and_a_rerun_changes_nothing(
    store: EventStore, tmp_path: Path
) -> None:
    census, pp50 = census_sample(tmp_path), pp50_sample(tmp_path)
    seen: list[int] = []
    first = await importing.import_schools(store, META, census, pp50, seen.append, chunk_size=7)
    assert sum(seen) == first.rows == 30
    assert (first.imported, first.unchanged, first.skipped) == (24, 0, 4)
    assert first.events == 24 == await event_count(store)
    problems = [str(p) for p in first.bad]
    assert problems[0] == "pp50.csv line 4: urn: a URN has 6 digits, not 'not-a-urn'"
    assert problems[1].startswith("line 9: fsm_percent (PNUMFSMEVER): ")
    assert "less than or equal to 100" in problems[1]
    assert problems[2].startswith("line 13: urn (URN): String should match pattern")
    assert not first.conflicts

    school = (await load(store, school_stream("100000"), school_decider)).state
    assert school.name == "State-funded primary school 100000"
    assert (school.local_authority, school.phase, school.region) == (
        "201",
        "State-funded primary",
        Region.LONDON,
    )
    assert (school.pupils_on_roll, school.fsm_percent, school.pp50) == (271, Decimal("21.9"), True)
    suppressed = (await load(store, school_stream("100009"), school_decider)).state
    assert (suppressed.pupils_on_roll, suppressed.fsm_percent, suppressed.pp50) == (
        None,
        None,
        False,
    )
    ap = (await load(store, school_stream("100006"), school_decider)).state
    assert (ap.name, ap.pp50) == ("State-funded AP school 100006", True)
    assert not (await load(store, school_stream("100001"), school_decider)).state.registered

    second = await importing.import_schools(store, META, census, pp50, chunk_size=7)
    assert (second.imported, second.unchanged, second.skipped, second.events) == (0, 24, 4, 0)
    assert [str(p) for p in second.bad] == problems
    assert await event_count(store) == 24

    row = "100010,202,2065,State-funded primary,"
    census.write_text(census.read_text().replace(f"{row}338,", f"{row}339,"))  # pupils on roll
    third = await importing.import_schools(store, META, census, pp50)
    assert (third.imported, third.unchanged) == (0, 23)
    assert [str(c) for c in third.conflicts] == [
        "line 11: urn: school 100010 is registered with other details: pupils_on_roll 338 -> 339"
    ]
    assert await event_count(store) == 24


async def test_racing_imports_write_each_event_once(store: EventStore, tmp_path: Path) -> None:
    census, pp50 = census_sample(tmp_path), pp50_sample(tmp_path)
    await asyncio.gather(
        *(importing.import_schools(store, META, census, pp50, chunk_size=5) for _ in range(3))
    )
    assert await event_count(store) == 24


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def test_trusts_their_schools_and_teachers(store: EventStore, tmp_path: Path) -> None:
    await importing.import_schools(store, META, census_sample(tmp_path), pp50_sample(tmp_path))
    trusts = write(
        tmp_path / "trusts.csv",
        "trust_id,name,region,funding_model,central_share_percent,funding_effective_from\n"
        "2044,Harbour Learning Trust,London,hybrid,30,2025-09-01\n"
        "2045,Moorland Schools,North East,centralised,,2025-09-01\n"
        "2046,Atlantis Trust,Atlantis,,,\n"
        "2047,Half Trust,london,hybrid,0,2025-09-01\n"
        "2048,Plain Trust,,,,\n",
    )
    members = write(
        tmp_path / "members.csv",
        "trust_id,urn,joined_on\n"
        "2044,100000,2025-09-01\n"
        "2044,100008,2025-09-01\n"  # not registered (a bad census row)
        "2045,100000,2025-09-01\n"  # in trust 2044 since line 2
        "2099,100005,2025-09-01\n"  # no such trust
        "2045,100006,2025-09-01\n"
        "2045,100007,not-a-date\n",
    )
    trust_report, member_report = await importing.import_trusts(
        store, META, trusts, members, chunk_size=50
    )
    assert (trust_report.imported, trust_report.unchanged) == (3, 0)
    assert [str(p) for p in trust_report.bad] == [
        "trusts.csv line 4: region: Input should be 'north_east', 'north_west',"
        " 'yorkshire_and_the_humber', 'east_midlands', 'west_midlands', 'east_of_england',"
        " 'london', 'south_east' or 'south_west'",
        "trusts.csv line 5: central_share_percent: a hybrid model's central share lies strictly"
        " between 0 and 100",
    ]
    harbour = (await load(store, trust_stream("2044"), trust_decider)).state
    assert (harbour.region, harbour.funding_model, harbour.central_share_percent) == (
        Region.LONDON,
        FundingModel.HYBRID,
        30,
    )
    moorland = (await load(store, trust_stream("2045"), trust_decider)).state
    assert (moorland.funding_model, moorland.central_share_percent) == (
        FundingModel.CENTRALISED,
        100,
    )
    assert member_report is not None
    assert (member_report.imported, member_report.unchanged) == (2, 0)
    assert [str(p) for p in member_report.conflicts] == [
        "members.csv line 4: trust_id: school 100000 is in trust 2044: it must leave that trust"
        " first"
    ]
    assert [str(p) for p in member_report.bad] == [
        "members.csv line 3: urn: no such school: register the school first",
        "members.csv line 5: trust_id: no trust 2099: register the trust first",
        "members.csv line 7: effective_from (joined_on): Input should be a valid date or"
        " datetime, invalid character in year",
    ]
    assert (await load(store, school_stream("100006"), school_decider)).state.trust_id == "2045"

    before = await event_count(store)
    again = await importing.import_trusts(store, META, trusts, members)
    assert again[0].unchanged == 3
    assert again[1] is not None
    assert (again[1].imported, again[1].unchanged, len(again[1].conflicts)) == (0, 2, 1)
    assert await event_count(store) == before

    teachers = write(
        tmp_path / "teachers.csv",
        "trn,school_urn,given_name,family_name,career_stage,fte,registered_on\n"
        "1000001,100000,Ada,Lovelace,experienced,100,2025-09-01\n"
        "1000002,100006,Alan,Turing,ect_year_1,80,2025-09-01\n"
        "1000003,999999,Grace,Hopper,experienced,100,2025-09-01\n"
        "100000X,100000,Barbara,Liskov,experienced,100,2025-09-01\n"
        "1000004,100000,Edsger,Dijkstra,wizard,100,2025-09-01\n",
    )
    first = await importing.import_teachers(store, META, teachers)
    assert (first.imported, first.unchanged) == (2, 0)
    assert [str(p) for p in first.bad] == [
        "line 4: school_urn: school 999999 is not registered",
        "line 5: trn: String should match pattern '^\\d{7}$'",
        "line 6: career_stage: Input should be 'trainee', 'ect_year_1', 'ect_year_2',"
        " 'early_career', 'experienced', 'middle_leader' or 'senior_leader'",
    ]
    alan = (await load(store, teacher_stream("1000002"), teacher_decider)).state
    assert (alan.school_urn, alan.fte) == ("100006", 80)

    before = await event_count(store)
    teachers.write_text(
        teachers.read_text().replace("Lovelace,experienced,100", "Lovelace,experienced,90")
    )
    second = await importing.import_teachers(store, META, teachers)
    assert (second.imported, second.unchanged) == (0, 1)
    assert [str(c) for c in second.conflicts] == [
        "line 2: trn: teacher 1000001 is registered with other details: fte 100 -> 90"
    ]
    assert await event_count(store) == before


def test_region_of_a_local_authority() -> None:
    assert importing.region_of("886") is Region.SOUTH_EAST  # Kent
    assert importing.region_of("330") is Region.WEST_MIDLANDS  # Birmingham
    assert importing.region_of("201") is Region.LONDON  # City of London
    assert importing.region_of("420") is Region.SOUTH_WEST  # Isles of Scilly
    assert importing.region_of("999") is None
    assert importing.region_of("") is None


def test_every_census_school_has_a_region() -> None:
    rows = importing.read_csv(importing.CENSUS, ["URN", "LA"])
    assert {
        row["LA"] for _, row in rows if row["URN"] != "NAT" and not importing.region_of(row["LA"])
    } == set()
