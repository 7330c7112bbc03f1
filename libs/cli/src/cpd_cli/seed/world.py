"""The seed's world, generated deterministically from the real school census and a seed.

Pure: no I/O but reading the shipped data files. Everything about one thing (a school's staff,
a teacher's year, a trust's schools) is drawn from its own ``random.Random("<seed>:<what>:<id>")``,
so it does not depend on the scale, on the order of generation or on today's date; the scale
and today only choose which of those things are written. Hence:

- schools are chosen by *selection unit* (a multi-academy trust with all its schools, a
  single-academy trust, a maintained school): a unit is in when a hash of the seed and the unit
  falls below the scale, so a larger scale includes every unit of a smaller one and the
  regional and phase mix is kept (in expectation);
- trusts are formed over the whole census (about 1,300 multi-academy trusts with a skewed size,
  most running 1-10 schools and a few 30-80, about 1,000 single-academy trusts, the rest
  maintained), neighbours in the same region and local authority grouped together;
- teachers per school come from pupils on roll and the pupil-teacher ratio of its phase; TRNs
  are numbered over the whole census, so a teacher keeps their TRN at every scale;
- a teacher's year (requests, decisions, course days, hours, a move) is planned for the whole
  academic year and written up to today: re-running on a later day adds only what became past.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from catalogue import seed as npq_seed
from cpd_cli.seed.calendar import SchoolYear
from cpd_events.types import ActivityType, CareerStage, CourseKind, NpqType, ProviderKind
from entitlement import importing

# --- national shape --------------------------------------------------------------------------

PRIMARY = "State-funded primary"
SECONDARY = "State-funded secondary"
SPECIAL = "State-funded special school"
AP = "State-funded AP school"
NURSERY = "State-funded nursery"

#: Pupils per teacher by school type (DfE: about 20.5 primary, 16.8 secondary).
PUPIL_TEACHER_RATIO = {PRIMARY: 20.5, SECONDARY: 16.8, SPECIAL: 6.0, AP: 4.5, NURSERY: 15.0}
#: Pupils assumed where the census suppresses the figure or records none.
DEFAULT_PUPILS = {PRIMARY: 230, SECONDARY: 950, SPECIAL: 110, AP: 40, NURSERY: 90}
#: Chance that a school of a type is in a multi-academy trust, or a single-academy trust
#: (about 9,600 and 1,000 schools nationally; the rest are maintained).
P_MAT = {PRIMARY: 0.40, SECONDARY: 0.70, SPECIAL: 0.40, AP: 0.35, NURSERY: 0.05}
P_SAT = {PRIMARY: 0.03, SECONDARY: 0.12, SPECIAL: 0.03, AP: 0.03, NURSERY: 0.02}
#: Multi-academy trust sizes: log-normal, median about 5 schools, a few 30-80.
MAT_SIZE_MU, MAT_SIZE_SIGMA, MAT_SIZE_MAX = 1.55, 0.95, 80
#: Career stages of teachers other than the head (about 22,000 ECTs in each induction year).
STAGE_WEIGHTS = {
    CareerStage.TRAINEE: 0.010,
    CareerStage.ECT_YEAR_1: 0.048,
    CareerStage.ECT_YEAR_2: 0.047,
    CareerStage.EARLY_CAREER: 0.130,
    CareerStage.EXPERIENCED: 0.445,
    CareerStage.MIDDLE_LEADER: 0.220,
    CareerStage.SENIOR_LEADER: 0.100,
}
ECTS = frozenset({CareerStage.ECT_YEAR_1, CareerStage.ECT_YEAR_2})
MENTOR_STAGES = frozenset(
    {CareerStage.EXPERIENCED, CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER}
)
NPQ_STAGES = MENTOR_STAGES
FIRST_TRN = 2_000_000
FIRST_MAT_ID = 5000
FIRST_SAT_ID = 15000
CLUSTER = 12  # maintained and single-academy schools per group (same local authority)


#: The policy the seed publishes when the year has none (the demo's figures).
@dataclass(frozen=True)
class PolicyFigures:
    minimum_hours: Decimal = Decimal(35)
    base_funding_per_fte_pence: int = 60_000
    pp50_uplift_percent: Decimal = Decimal(20)
    early_career_uplift_percent: Decimal = Decimal(10)


POLICY = PolicyFigures()

# --- activity ----------------------------------------------------------------------------------

MAX_PLANNED_HOURS_A_DAY = Decimal(10)  # the decider allows 12: room for mentoring sessions
P_INSET_LOGGED = 0.85
P_WEEKLY_LOG = 0.20
REQUESTS_PER_TEACHER = (0, 1, 2, 3)
REQUEST_WEIGHTS = (0.38, 0.38, 0.17, 0.07)
P_NPQ = 0.08
P_DECLINE = 0.10
P_WITHDRAW = 0.05
P_MOVE = 0.03
P_FEEDBACK = 0.45
P_SESSION_HELD = 0.92
P_MENTOR_TRAINED = 0.40
COURSE_DAY_HOURS = Decimal(6)
TERM_WEIGHTS = (0.5, 0.3, 0.2)  # when requests are made: autumn, spring, summer

WEEKLY = (
    (ActivityType.PEER_OBSERVATION, "Peer observation and feedback"),
    (ActivityType.RESEARCH, "Reading and discussing research on {topic}"),
    (ActivityType.NETWORK, "Subject network meeting: {topic}"),
    (ActivityType.COACHING, "Instructional coaching: {topic}"),
    (ActivityType.INSET, "Twilight training: {topic}"),
    (ActivityType.OTHER, "Department CPD session: {topic}"),
    (ActivityType.SHADOWING, "Shadowing a colleague: {topic}"),
)
WEEKLY_HOURS = (Decimal(1), Decimal(1), Decimal("1.5"), Decimal(2), Decimal(2), Decimal(3))
TOPICS = (
    "adaptive teaching", "retrieval practice", "behaviour and routines", "questioning",
    "formative assessment", "reading fluency", "phonics", "oracy", "metacognition",
    "SEND in the mainstream classroom", "curriculum sequencing", "feedback that moves learning",
    "working memory", "disciplinary literacy", "mathematical reasoning", "scientific enquiry",
    "pastoral care", "attendance", "safeguarding", "modelling and worked examples",
)  # fmt: skip
DECLINE_REASONS = (
    "Not aligned with the school improvement plan this year",
    "Cover cannot be arranged on the course dates",
    "A similar programme is being run in school this term",
    "Please discuss with your line manager at your next review first",
)
FOCUSES = (
    "Planning and sequencing lessons", "Behaviour and classroom routines", "Adaptive teaching",
    "Assessment and feedback", "Workload and wellbeing", "Subject knowledge",
    "Observation debrief", "Questioning", "Parents' evening preparation",
    "Professional behaviours",
)  # fmt: skip
IMPACT = (
    "I now plan {topic} into my lessons and pupils' work shows it.",
    "Useful: our department changed how we approach {topic}.",
    "Practical ideas on {topic} that I used the following week.",
    "Some good material on {topic}, though parts were too general.",
    "Transformed how I think about {topic}; shared it at a staff meeting.",
)
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (0.03, 0.07, 0.20, 0.42, 0.28)

GIVEN = (
    "Aisha", "Amelia", "Ben", "Chloe", "Daniel", "Ella", "Farah", "George", "Hannah", "Isaac",
    "Jack", "Jasmine", "Kai", "Laura", "Leo", "Maya", "Mohammed", "Noah", "Olivia", "Priya",
    "Rachel", "Ravi", "Sam", "Sophie", "Thomas", "Uma", "Victoria", "William", "Yusuf", "Zara",
    "Adam", "Bethany", "Callum", "Deborah", "Emeka", "Fiona", "Grace", "Harry", "Imran", "Joanne",
    "Karen", "Liam", "Megan", "Nadia", "Owen", "Paul", "Rosie", "Sean", "Tariq", "Zoe",
)  # fmt: skip
FAMILY = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Ali", "Hussain", "Okafor", "Mensah", "Nowak", "Kowalski",
    "Murphy", "O'Brien", "Campbell", "Stewart", "Hughes", "Edwards", "Lewis", "Harris", "Martin",
    "Cooper", "King", "Lee", "Begum", "Ahmed", "Shah", "Singh", "Chen", "Wang", "Ward", "Turner",
    "Hill", "Moore",
)  # fmt: skip
TRUST_WORDS = (
    "Oak", "Willow", "River", "Meadow", "Beacon", "Horizon", "Summit", "Harbour", "Valley",
    "Forest", "Castle", "Bridge", "Orchard", "Heath", "Moor", "Vale", "Spire", "Anchor", "Compass",
    "Lantern", "Pennine", "Downs", "Weald", "Fen", "Marsh", "Crown", "Star", "Cedar", "Rowan",
    "Elm", "Ash", "Birch", "Maple", "Aspire", "Unity", "Pioneer", "Northern", "Southern",
    "Eastern", "Western",
)  # fmt: skip
TRUST_KINDS = (
    "Learning Trust",
    "Academy Trust",
    "Education Trust",
    "Schools Partnership",
    "Multi-Academy Trust",
    "Learning Partnership",
)


# --- small helpers -----------------------------------------------------------------------------


def rng(seed: int, *key: object) -> random.Random:
    """The random stream of one thing: string seeds are hashed (sha512), so stable across runs."""
    return random.Random(":".join(map(str, (seed, *key))))


def fraction(seed: int, key: str) -> float:
    """A stable number in [0, 1) for a key (which selection units a scale includes)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def year_tag(academic_year: str) -> str:
    """``2026/27`` -> ``2627`` (inside ids)."""
    return academic_year[2:4] + academic_year[5:7]


# --- the world ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CensusSchool:
    urn: str
    local_authority: str
    phase: str
    pupils: int | None
    region: str | None
    line: int
    row: dict[str, str] = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        """``primary``, ``secondary`` or ``early_years``: which courses suit its teachers."""
        if self.phase == PRIMARY:
            return "primary"
        if self.phase == NURSERY:
            return "early_years"
        if self.phase == SECONDARY or self.phase == AP:
            return "secondary"
        return "primary" if int(self.urn) % 2 else "secondary"  # special schools: either


@dataclass(frozen=True)
class TrustPlan:
    trust_id: str
    name: str
    kind: Literal["mat", "sat"]
    region: str | None
    funding_model: str | None  # None: no model chosen (single-academy trusts)
    central_share_percent: Decimal | None
    schools: tuple[str, ...]
    joined_on: tuple[date, ...]


@dataclass(frozen=True)
class TeacherPlan:
    trn: str
    urn: str
    index: int  # 0 is the head (and the school's CPD lead)
    given_name: str
    family_name: str
    career_stage: CareerStage
    fte: Decimal
    registered_on: date


@dataclass(frozen=True)
class MentorPlan:
    trn: str
    urn: str
    mentees: tuple[str, ...]
    capacity: int | None  # more than 2 mentees (else 2, the usual caseload)

    def assignment_id(self, mentee: str, academic_year: str) -> str:
        return f"ect-{year_tag(academic_year)}-{mentee}"


@dataclass(frozen=True)
class Group:
    """Schools written together: a multi-academy trust, or a cluster of maintained and
    single-academy schools of one local authority. Moves stay inside a group, so one group's
    teachers, schools, trusts and budgets are one chunk's streams."""

    key: str
    schools: tuple[str, ...]
    trust_ids: tuple[str, ...]


@dataclass(frozen=True)
class ProviderSpec:
    provider_id: str
    name: str
    kind: ProviderKind


@dataclass(frozen=True)
class CourseSpec:
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: NpqType | None
    subjects: tuple[str, ...]
    phases: tuple[str, ...]
    career_stages: tuple[CareerStage, ...]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    evidence_summary: str
    badge: str | None = None
    topic: str = ""
    identifier: str = ""  # the NPQ's DfE course identifier, for NPQs


# --- actions of a teacher's year ------------------------------------------------------------

ActionKind = Literal["move", "request", "approve", "decline", "withdraw", "hours", "complete"]
_ORDER: dict[str, int] = {
    "move": 0,
    "request": 1,
    "approve": 2,
    "decline": 2,
    "hours": 3,
    "complete": 4,
    "withdraw": 4,
}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    day: date
    key: str  # the request id, the log id or the destination school
    course_id: str = ""
    hours: Decimal = Decimal(0)
    activity: ActivityType = ActivityType.OTHER
    request_id: str | None = None
    text: str = ""

    @property
    def order(self) -> tuple[date, int]:
        return self.day, _ORDER[self.kind]


@dataclass(frozen=True)
class Session:
    session_id: str
    held_on: date
    minutes: int
    focus: str


class World:
    """Everything the seed writes, for a seed, a scale and an academic year."""

    policy = POLICY

    def __init__(
        self,
        seed: int,
        scale: float,
        academic_year: str,
        census: Path = importing.CENSUS,
        pp50: Path = importing.PP50,
    ) -> None:
        if not 0 < scale <= 1:
            raise ValueError(f"scale must be more than 0 and at most 1, not {scale}")
        self.seed = seed
        self.scale = scale
        self.academic_year = academic_year
        self.calendar = SchoolYear(academic_year)
        self.tag = year_tag(academic_year)
        self.pp50, self.pp50_problems = importing.read_pp50(pp50)
        self.census = _read_census(census)
        self._build()

    # -- schools, trusts, teachers --------------------------------------------------------------

    def _build(self) -> None:
        by_urn = {s.urn: s for s in self.census}
        self.staff_counts = {s.urn: self._staff_count(s) for s in self.census}
        first = FIRST_TRN
        self.first_trn: dict[str, int] = {}
        for school in self.census:  # in URN order: TRNs do not depend on the scale
            self.first_trn[school.urn] = first
            first += self.staff_counts[school.urn]
        mats, sats, maintained = self._trusts()
        self.all_trusts = mats + sats
        chosen_trusts = [
            t for t in self.all_trusts if fraction(self.seed, f"trust:{t.trust_id}") < self.scale
        ]
        chosen_maintained = [
            urn for urn in maintained if fraction(self.seed, f"school:{urn}") < self.scale
        ]
        self.trusts = chosen_trusts
        self.trust_of = {urn: t for t in chosen_trusts for urn in t.schools}
        urns = sorted({*self.trust_of, *chosen_maintained})
        self.schools = [by_urn[urn] for urn in urns]
        self.school = {s.urn: s for s in self.schools}
        self.teachers_of = {s.urn: self._teachers(s) for s in self.schools}
        self.teachers = [t for s in self.schools for t in self.teachers_of[s.urn]]
        self.teacher = {t.trn: t for t in self.teachers}
        self.mentors_of = {s.urn: self._mentors(s.urn) for s in self.schools}
        self.groups = self._groups(chosen_maintained)
        self.group_of = {urn: g for g in self.groups for urn in g.schools}

    def _staff_count(self, school: CensusSchool) -> int:
        r = rng(self.seed, "staff", school.urn)
        pupils = school.pupils or DEFAULT_PUPILS.get(school.phase, 200)
        ratio = PUPIL_TEACHER_RATIO.get(school.phase, 18.0)
        return max(1, round(pupils / ratio * r.uniform(0.92, 1.08)))

    def _trusts(self) -> tuple[list[TrustPlan], list[TrustPlan], list[str]]:
        in_mats: dict[str, list[CensusSchool]] = {}
        sat_schools: list[CensusSchool] = []
        maintained: list[str] = []
        for school in self.census:
            u = rng(self.seed, "status", school.urn).random()
            p_mat, p_sat = P_MAT.get(school.phase, 0.3), P_SAT.get(school.phase, 0.03)
            if u < p_mat:
                in_mats.setdefault(school.region or "", []).append(school)
            elif u < p_mat + p_sat:
                sat_schools.append(school)
            else:
                maintained.append(school.urn)
        mats: list[TrustPlan] = []
        for region in sorted(in_mats):
            schools = sorted(
                in_mats[region], key=lambda s: (s.local_authority, fraction(self.seed, s.urn))
            )
            sizes = rng(self.seed, "mat-sizes", region)
            start = 0
            while start < len(schools):
                size = round(math.exp(sizes.gauss(MAT_SIZE_MU, MAT_SIZE_SIGMA)))
                size = min(max(size, 1), MAT_SIZE_MAX)
                members = schools[start : start + size]
                start += size
                mats.append(self._mat(FIRST_MAT_ID + len(mats), members))
        sats = [
            self._sat(FIRST_SAT_ID + k, school)
            for k, school in enumerate(sorted(sat_schools, key=lambda s: s.urn))
        ]
        return mats, sats, maintained

    def _mat(self, number: int, members: Sequence[CensusSchool]) -> TrustPlan:
        trust_id = str(number)
        r = rng(self.seed, "trust", trust_id)
        k = number - FIRST_MAT_ID
        name = (
            f"{TRUST_WORDS[k % len(TRUST_WORDS)]} "
            f"{TRUST_WORDS[(k // len(TRUST_WORDS) + 7) % len(TRUST_WORDS)]} "
            f"{TRUST_KINDS[(k // len(TRUST_WORDS) ** 2 + k) % len(TRUST_KINDS)]}"
        )
        u = r.random()
        model: str
        share: Decimal | None = None
        if u < 0.30:
            model = "centralised"
        elif u < 0.75:
            model = "delegated"
        else:
            model = "hybrid"
            share = Decimal(r.choice((20, 25, 30, 40, 50, 60)))
        return TrustPlan(
            trust_id=trust_id,
            name=name,
            kind="mat",
            region=members[0].region,
            funding_model=model,
            central_share_percent=share,
            schools=tuple(s.urn for s in members),
            joined_on=tuple(self._conversion_date(s.urn) for s in members),
        )

    def _sat(self, number: int, school: CensusSchool) -> TrustPlan:
        r = rng(self.seed, "trust", number)
        name = f"{r.choice(TRUST_WORDS)} {r.choice(TRUST_WORDS)} Academy Trust"
        return TrustPlan(
            trust_id=str(number),
            name=name,
            kind="sat",
            region=school.region,
            funding_model=None,
            central_share_percent=None,
            schools=(school.urn,),
            joined_on=(self._conversion_date(school.urn),),
        )

    def _conversion_date(self, urn: str) -> date:
        """Academies convert on the first of a month, from 2011 to the year before this one."""
        r = rng(self.seed, "joined", urn)
        last = self.calendar.start_year - 1
        return date(r.randint(2011, last), r.randint(1, 12), 1)

    def _teachers(self, school: CensusSchool) -> list[TeacherPlan]:
        r = rng(self.seed, "teachers", school.urn)
        count = self.staff_counts[school.urn]
        stages = list(STAGE_WEIGHTS)
        weights = list(STAGE_WEIGHTS.values())
        first = self.first_trn[school.urn]
        teachers = []
        for index in range(count):
            stage = CareerStage.SENIOR_LEADER if index == 0 else r.choices(stages, weights)[0]
            fte = Decimal(100) if r.random() < 0.76 else Decimal(r.choice((40, 50, 60, 70, 80, 90)))
            teachers.append(
                TeacherPlan(
                    trn=f"{first + index:07d}",
                    urn=school.urn,
                    index=index,
                    given_name=r.choice(GIVEN),
                    family_name=r.choice(FAMILY),
                    career_stage=stage,
                    fte=fte,
                    registered_on=self.calendar.first_day,
                )
            )
        return teachers

    def _mentors(self, urn: str) -> list[MentorPlan]:
        """Every ECT gets a mentor at their school: experienced teachers and middle leaders
        first, at most two mentees each where the school has enough of them, the head last."""
        teachers = self.teachers_of[urn]
        ects = [t.trn for t in teachers if t.career_stage in ECTS]
        if not ects:
            return []
        candidates = [t for t in teachers[1:] if t.career_stage in MENTOR_STAGES]
        candidates.sort(key=lambda t: (t.career_stage == CareerStage.SENIOR_LEADER, t.index))
        candidates = candidates or [teachers[0]]
        wanted = min(len(candidates), math.ceil(len(ects) / 2))
        mentees: dict[str, list[str]] = {t.trn: [] for t in candidates[:wanted]}
        mentor_trns = list(mentees)
        for k, ect in enumerate(ects):
            mentees[mentor_trns[k % wanted]].append(ect)
        return [
            MentorPlan(trn, urn, tuple(load), len(load) if len(load) > 2 else None)
            for trn, load in mentees.items()
        ]

    def _groups(self, maintained: Iterable[str]) -> list[Group]:
        groups = [
            Group(f"trust-{t.trust_id}", t.schools, (t.trust_id,))
            for t in self.trusts
            if t.kind == "mat"
        ]
        singles: dict[str, list[str]] = {}
        for urn in sorted({*maintained, *(t.schools[0] for t in self.trusts if t.kind == "sat")}):
            singles.setdefault(self.school[urn].local_authority, []).append(urn)
        for la in sorted(singles):
            urns = singles[la]
            for start in range(0, len(urns), CLUSTER):
                cluster = tuple(urns[start : start + CLUSTER])
                trust_ids = tuple(self.trust_of[u].trust_id for u in cluster if u in self.trust_of)
                groups.append(Group(f"la-{la}-{start // CLUSTER}", cluster, trust_ids))
        return groups

    def budget_factor(self, holder: str, holder_id: str) -> float:
        """A budget as a share of what its teachers' grants add up to: some run out."""
        return rng(self.seed, "budget", self.academic_year, holder, holder_id).uniform(0.3, 1.2)

    def teachers_in(self, group: Group) -> list[TeacherPlan]:
        return [t for urn in group.schools for t in self.teachers_of[urn]]

    def chunks(self, teachers_per_chunk: int) -> list[list[Group]]:
        """Groups packed into chunks of about ``teachers_per_chunk`` teachers (big trusts alone)."""
        chunks: list[list[Group]] = []
        current: list[Group] = []
        size = 0
        for group in self.groups:
            count = sum(self.staff_counts[u] for u in group.schools)
            if current and size + count > teachers_per_chunk:
                chunks.append(current)
                current, size = [], 0
            current.append(group)
            size += count
        if current:
            chunks.append(current)
        return chunks

    # -- import rows (the same parsers as `cpd import`) -----------------------------------------

    def school_rows(self) -> list[tuple[int, dict[str, str]]]:
        return [(s.line, s.row) for s in self.schools]

    def trust_rows(self) -> list[tuple[int, dict[str, str]]]:
        start = self.calendar.first_day.isoformat()
        rows = []
        for line, t in enumerate(self.trusts, start=2):
            row = {"trust_id": t.trust_id, "name": t.name, "region": t.region or ""}
            if t.funding_model is not None:
                row["funding_model"] = t.funding_model
                row["central_share_percent"] = str(t.central_share_percent or "")
                row["funding_effective_from"] = start
            rows.append((line, row))
        return rows

    def member_rows(self) -> list[tuple[int, dict[str, str]]]:
        rows = [
            {"trust_id": t.trust_id, "urn": urn, "joined_on": day.isoformat()}
            for t in self.trusts
            for urn, day in zip(t.schools, t.joined_on, strict=True)
        ]
        return list(enumerate(rows, start=2))

    def teacher_rows(self) -> list[tuple[int, dict[str, str]]]:
        rows = [
            {
                "trn": t.trn,
                "school_urn": t.urn,
                "given_name": t.given_name,
                "family_name": t.family_name,
                "career_stage": t.career_stage.value,
                "fte": str(t.fte),
                "registered_on": t.registered_on.isoformat(),
            }
            for t in self.teachers
        ]
        return list(enumerate(rows, start=2))

    # -- the catalogue ------------------------------------------------------------------------

    @cached_property
    def providers(self) -> list[ProviderSpec]:
        npq = [
            ProviderSpec(body["provider_id"], body["name"], ProviderKind(body["kind"]))
            for path, body in npq_seed.commands()
            if path == "/providers"
        ]
        return npq + _generated_providers()

    @cached_property
    def courses(self) -> list[CourseSpec]:
        npq = []
        for path, body in npq_seed.commands():
            if path != "/courses":
                continue
            identifier = next(
                i
                for i in npq_seed.NPQ_COURSES
                if body["course_id"] == npq_seed.course_id(i, _provider_name(body["provider_id"]))
            )
            npq.append(
                CourseSpec(
                    course_id=body["course_id"],
                    provider_id=body["provider_id"],
                    title=body["title"],
                    kind=CourseKind(body["kind"]),
                    npq_type=body["npq_type"],
                    subjects=tuple(body["subjects"]),
                    phases=tuple(body["phases"]),
                    career_stages=tuple(CareerStage(s) for s in body["career_stages"]),
                    hours=Decimal(body["hours"]),
                    price_pence=body["price_pence"],
                    government_funded=body["government_funded"],
                    delivery_mode=body["delivery_mode"],
                    evidence_summary=body["evidence_summary"],
                    topic="leadership" if "lead" in body["title"].lower() else "teaching",
                    identifier=identifier,
                )
            )
        count = min(3000, max(200, round(3000 * math.sqrt(self.scale))))
        return npq + _generated_courses(self.seed, count, self.providers)

    @cached_property
    def course(self) -> dict[str, CourseSpec]:
        return {c.course_id: c for c in self.courses}

    @cached_property
    def _pools(self) -> dict[tuple[str, CareerStage], tuple[list[str], list[float]]]:
        """Generated courses each (phase, stage) may ask for, with cumulative popularity."""
        generated = [c for c in self.courses if c.npq_type is None and not c.identifier]
        order = sorted(generated, key=lambda c: fraction(self.seed, f"popularity:{c.course_id}"))
        pools: dict[tuple[str, CareerStage], tuple[list[str], list[float]]] = {}
        for phase in ("primary", "secondary", "early_years"):
            for stage in CareerStage:
                ids: list[str] = []
                cumulative: list[float] = []
                total = 0.0
                for rank, c in enumerate(order):
                    if phase not in c.phases or (c.career_stages and stage not in c.career_stages):
                        continue
                    if c.kind == CourseKind.MENTOR_DEVELOPMENT:
                        continue
                    total += 1 / (rank + 8) ** 0.9
                    ids.append(c.course_id)
                    cumulative.append(total)
                pools[(phase, stage)] = (ids, cumulative)
        return pools

    @cached_property
    def _npqs(self) -> dict[str, list[str]]:
        """NPQ course ids (every lead provider's) by DfE course identifier."""
        found: dict[str, list[str]] = {}
        for c in self.courses:
            if c.identifier:
                found.setdefault(c.identifier, []).append(c.course_id)
        return found

    @cached_property
    def mentor_training_courses(self) -> list[str]:
        return [c.course_id for c in self.courses if c.kind == CourseKind.MENTOR_DEVELOPMENT]

    # -- a teacher's year ---------------------------------------------------------------------

    def plan(self, teacher: TeacherPlan) -> list[Action]:
        """Everything the teacher does this academic year, in order (not cut at today)."""
        r = rng(self.seed, "year", self.academic_year, teacher.trn)
        cal = self.calendar
        school = self.school[teacher.urn]
        actions: list[Action] = []
        planned: dict[date, Decimal] = {}
        logs = 0

        def log(
            day: date,
            amount: Decimal,
            activity: ActivityType,
            text: str,
            request_id: str | None = None,
            shift: bool = True,
        ) -> date | None:
            nonlocal logs
            for _ in range(5 if shift else 1):
                if day > cal.school_days[-1]:
                    return None  # no room left in this year's term time
                if planned.get(day, Decimal(0)) + amount <= MAX_PLANNED_HOURS_A_DAY:
                    planned[day] = planned.get(day, Decimal(0)) + amount
                    logs += 1
                    actions.append(
                        Action(
                            "hours",
                            day,
                            f"l{self.tag}-{teacher.trn}-{logs:03d}",
                            hours=amount,
                            activity=activity,
                            request_id=request_id,
                            text=text,
                        )
                    )
                    return day
                day = cal.school_days_after(day, 1)
            return None

        for day in cal.inset_days:
            if r.random() < P_INSET_LOGGED:
                log(day, Decimal(5), ActivityType.INSET, f"Staff training day: {r.choice(TOPICS)}")
        engagement = r.uniform(0.4, 1.6)
        ect = teacher.career_stage in ECTS
        for number, week in enumerate(cal.term_weeks):
            if r.random() < P_WEEKLY_LOG * engagement:
                activity, text = r.choice(WEEKLY)
                log(
                    r.choice(week),
                    r.choice(WEEKLY_HOURS),
                    activity,
                    text.format(topic=r.choice(TOPICS)),
                )
            if ect and number % 2 == 0:
                log(
                    week[-1],
                    Decimal("1.5"),
                    ActivityType.COURSE,
                    f"Early career framework training: {r.choice(TOPICS)}",
                )

        requests = r.choices(REQUESTS_PER_TEACHER, REQUEST_WEIGHTS)[0]
        wanted: list[str] = []
        if teacher.career_stage in NPQ_STAGES and r.random() < P_NPQ:
            wanted.append(self._npq_for(teacher, school, r))
        ids, cumulative = self._pools[(school.key, teacher.career_stage)]
        for _ in range(requests):
            if ids:
                choice = r.choices(ids, cum_weights=cumulative)[0]
                if choice not in wanted:
                    wanted.append(choice)
        for number, course_id in enumerate(wanted, start=1):
            self._request(actions, log, r, teacher, number, self.course[course_id])

        if (
            r.random() < P_MOVE
            and teacher.index > 0
            and teacher.career_stage not in ECTS | {CareerStage.TRAINEE}
            and not any(teacher.trn == m.trn for m in self.mentors_of[teacher.urn])
        ):
            others = [u for u in self.group_of[teacher.urn].schools if u != teacher.urn]
            if others:
                day = r.choice(cal.school_days[10:])
                actions.append(Action("move", day, r.choice(others)))
        actions.sort(key=lambda a: a.order)
        return actions

    def _npq_for(self, teacher: TeacherPlan, school: CensusSchool, r: random.Random) -> str:
        stage = teacher.career_stage
        if school.key == "early_years" and stage != CareerStage.EXPERIENCED:
            choices = ["npq-early-years-leadership"]
        elif stage == CareerStage.SENIOR_LEADER:
            choices = [
                "npq-headship",
                "npq-senior-leadership",
                "npq-executive-leadership",
                "npq-early-headship-coaching-offer",
            ]
        elif stage == CareerStage.MIDDLE_LEADER:
            choices = [
                "npq-senior-leadership",
                "npq-leading-teaching-development",
                "npq-leading-behaviour-culture",
                "npq-senco",
                "npq-leading-literacy",
            ]
        else:
            choices = [
                "npq-leading-teaching",
                "npq-leading-behaviour-culture",
                "npq-leading-literacy",
                "npq-senco",
                "npq-leading-teaching-development",
            ]
            if school.key == "primary":
                choices.append("npq-leading-primary-mathematics")
        options = [i for i in choices if i in self._npqs] or sorted(self._npqs)
        return r.choice(self._npqs[r.choice(options)])

    def _request(
        self,
        actions: list[Action],
        log: Any,
        r: random.Random,
        teacher: TeacherPlan,
        number: int,
        course: CourseSpec,
    ) -> None:
        cal = self.calendar
        request_id = f"r{self.tag}-{teacher.trn}-{number}"
        term = r.choices(cal.terms, TERM_WEIGHTS)[0]
        day = r.choice(term.days)
        actions.append(Action("request", day, request_id, course_id=course.course_id))
        decided = cal.school_days_after(day, r.randint(2, 8))
        if r.random() < P_DECLINE:
            actions.append(Action("decline", decided, request_id, text=r.choice(DECLINE_REASONS)))
            return
        actions.append(Action("approve", decided, request_id))
        if course.npq_type is not None or course.identifier:
            # NPQs last 12-18 months: monthly study logged against the request, no completion
            day = cal.school_days_after(decided, r.randint(5, 15))
            while day <= cal.school_days[-1]:
                log(
                    day,
                    Decimal(3),
                    ActivityType.NPQ,
                    f"{course.title}: study and sessions",
                    request_id,
                )
                day = cal.school_days_after(day, 20)
            return
        if r.random() < P_WITHDRAW:
            day = cal.school_days_after(decided, r.randint(3, 15))
            actions.append(Action("withdraw", day, request_id, text="Could no longer attend"))
            return
        remaining = course.hours
        day = cal.school_days_after(decided, r.randint(5, 20))
        activity = _activity_of(course.kind)
        last = day
        while remaining > 0:
            if day > cal.school_days[-1]:
                return  # runs on into next year: not completed this year
            amount = min(COURSE_DAY_HOURS, remaining)
            logged = log(day, amount, activity, f"{course.title}", request_id)
            remaining -= amount
            if logged is not None:
                last = logged
            day = cal.school_days_after(last, 5)
        actions.append(Action("complete", last, request_id, course_id=course.course_id))

    def sessions(self, mentor: MentorPlan, mentee: str) -> list[Session]:
        """Weekly induction mentoring in term time, on a weekday of its own per mentee."""
        slot = mentor.mentees.index(mentee)
        r = rng(self.seed, "sessions", self.academic_year, mentee)
        found = []
        for week in self.calendar.term_weeks:
            if r.random() >= P_SESSION_HELD:
                continue
            day = week[min(slot, len(week) - 1)]
            found.append(
                Session(
                    f"s{self.tag}-{mentee}-{day:%Y%m%d}",
                    day,
                    r.choice((45, 50, 60, 60)),
                    r.choice(FOCUSES),
                )
            )
        return found

    def mentor_training(self, mentor: MentorPlan) -> tuple[str, date] | None:
        r = rng(self.seed, "mentor-training", self.academic_year, mentor.trn)
        if r.random() >= P_MENTOR_TRAINED or not self.mentor_training_courses:
            return None
        autumn = self.calendar.terms[0].days
        return r.choice(self.mentor_training_courses), r.choice(autumn[5:])

    def feedback(self, trn: str, course_id: str) -> tuple[int, str] | None:
        """Whether a teacher who completed a course rates it, and how."""
        r = rng(self.seed, "feedback", trn, course_id)
        if r.random() >= P_FEEDBACK:
            return None
        course = self.course.get(course_id)
        topic = course.topic if course and course.topic else r.choice(TOPICS)
        rating = r.choices(RATINGS, RATING_WEIGHTS)[0]
        return rating, r.choice(IMPACT).format(topic=topic)


def _activity_of(kind: CourseKind) -> ActivityType:
    return {
        CourseKind.COACHING: ActivityType.COACHING,
        CourseKind.SHADOWING: ActivityType.SHADOWING,
        CourseKind.INSET: ActivityType.INSET,
        CourseKind.HUB: ActivityType.NETWORK,
    }.get(kind, ActivityType.COURSE)


def _provider_name(provider_id: str) -> str:
    for _, name in npq_seed.rows():
        if npq_seed.slug(name) == provider_id:
            return name
    return provider_id


def _read_census(path: Path) -> list[CensusSchool]:
    """The state-funded schools of the census, in URN order (the import's own filter)."""
    found = []
    for line, row in importing.read_csv(path, ["URN", "LA", "SCHOOLTYPE", "NOR", "PNUMFSMEVER"]):
        urn, phase = row.get("URN", ""), row.get("SCHOOLTYPE", "")
        if urn == "NAT" or not phase.startswith("State-funded") or not urn.isdigit():
            continue
        pupils = row.get("NOR", "")
        la = row.get("LA", "")
        region = importing.region_of(la)
        found.append(
            CensusSchool(
                urn=urn,
                local_authority=la,
                phase=phase,
                pupils=int(pupils) if pupils.isdigit() else None,
                region=region.value if region else None,
                line=line,
                row=row,
            )
        )
    found.sort(key=lambda s: s.urn)
    return found


# --- generated providers and courses ---------------------------------------------------------

CITIES = (
    "Birmingham", "Bristol", "Leeds", "Manchester", "Liverpool", "Sheffield", "Newcastle",
    "Nottingham", "Leicester", "Southampton", "Plymouth", "Exeter", "Norwich", "Cambridge",
    "Oxford", "York", "Durham", "Lancaster", "Brighton", "Reading", "Derby", "Hull", "Coventry",
    "Bath", "Kent", "Essex", "Sussex", "Warwick", "Northumbria", "Cumbria",
)  # fmt: skip
SUBJECTS = (
    "mathematics", "English", "science", "history", "geography", "computing", "music", "art",
    "design and technology", "modern languages", "physical education", "religious education",
    "phonics", "early reading", "SEND", "physics", "chemistry", "biology",
)  # fmt: skip
COURSE_SHAPES = (
    # kind, provider kinds, title pattern, hours range, price range (pounds), funded
    (CourseKind.HUB, (ProviderKind.CURRICULUM_HUB, ProviderKind.TEACHING_SCHOOL_HUB),
     "{subject} teaching for mastery: {topic}", (6, 18), (0, 0), True),
    (CourseKind.HUB, (ProviderKind.TEACHING_SCHOOL_HUB,), "Developing {topic} across the school",
     (3, 12), (0, 150), True),
    (CourseKind.UNIVERSITY, (ProviderKind.UNIVERSITY,), "Postgraduate module: {topic} in {subject}",
     (20, 30), (400, 1200), False),
    (CourseKind.OTHER, (ProviderKind.OTHER, ProviderKind.CHARTERED_COLLEGE),
     "{topic}: a practical course for {subject} teachers", (3, 12), (60, 450), False),
    (CourseKind.INSET, (ProviderKind.SCHOOL_OR_TRUST_INTERNAL, ProviderKind.OTHER),
     "Whole-school training: {topic}", (3, 6), (30, 200), False),
    (CourseKind.COACHING, (ProviderKind.OTHER, ProviderKind.CHARTERED_COLLEGE),
     "Instructional coaching programme: {topic}", (6, 18), (150, 700), False),
    (CourseKind.SHADOWING, (ProviderKind.TEACHING_SCHOOL_HUB,), "Leadership shadowing: {topic}",
     (6, 12), (0, 120), False),
    (CourseKind.PROFESSIONAL_MEMBERSHIP, (ProviderKind.CHARTERED_COLLEGE,),
     "Chartered Teacher pathway: {topic}", (12, 30), (150, 500), False),
    (CourseKind.MENTOR_DEVELOPMENT, (ProviderKind.MENTOR_TRAINING_PROVIDER,),
     "Mentor development for ECT mentors: {topic}", (12, 24), (0, 450), False),
)  # fmt: skip
SHAPE_WEIGHTS = (0.16, 0.14, 0.08, 0.22, 0.10, 0.10, 0.05, 0.05, 0.10)
PHASE_SETS = (
    ("primary",), ("secondary",), ("primary", "secondary"), ("early_years", "primary"),
    ("primary", "secondary"),
)  # fmt: skip
BADGES = ("gold", "silver", "bronze")


def _generated_providers() -> list[ProviderSpec]:
    providers = [
        ProviderSpec(
            "chartered-college-of-teaching",
            "Chartered College of Teaching",
            ProviderKind.CHARTERED_COLLEGE,
        )
    ]
    for city in CITIES:
        slug = npq_seed.slug(city)
        providers += [
            ProviderSpec(f"university-of-{slug}", f"University of {city}", ProviderKind.UNIVERSITY),
            ProviderSpec(
                f"{slug}-teaching-school-hub",
                f"{city} Teaching School Hub",
                ProviderKind.TEACHING_SCHOOL_HUB,
            ),
            ProviderSpec(f"{slug}-maths-hub", f"{city} Maths Hub", ProviderKind.CURRICULUM_HUB),
            ProviderSpec(
                f"{slug}-education-partnership", f"{city} Education Partnership", ProviderKind.OTHER
            ),
        ]
    for name in (
        "Early Career Mentoring Institute",
        "Mentor Development Network",
        "Teach First Mentoring",
        "Induction Partners",
    ):
        providers.append(
            ProviderSpec(npq_seed.slug(name), name, ProviderKind.MENTOR_TRAINING_PROVIDER)
        )
    providers.append(
        ProviderSpec(
            "in-house-cpd", "School and trust in-house CPD", ProviderKind.SCHOOL_OR_TRUST_INTERNAL
        )
    )
    return providers


def _generated_courses(seed: int, count: int, providers: list[ProviderSpec]) -> list[CourseSpec]:
    by_kind: dict[ProviderKind, list[ProviderSpec]] = {}
    for p in providers:
        by_kind.setdefault(p.kind, []).append(p)
    courses = []
    for number in range(1, count + 1):
        r = rng(seed, "course", number)
        kind, provider_kinds, pattern, (low, high), (p_low, p_high), funded = r.choices(
            COURSE_SHAPES, SHAPE_WEIGHTS
        )[0]
        provider = r.choice([p for k in provider_kinds for p in by_kind.get(k, [])])
        subject, topic = r.choice(SUBJECTS), r.choice(TOPICS)
        title = pattern.format(subject=subject, topic=topic)
        title = title[0].upper() + title[1:]
        hours = Decimal(r.randint(low, high))
        price = r.randint(p_low, p_high) // 5 * 5 * 100
        stages: tuple[CareerStage, ...] = ()
        if kind == CourseKind.SHADOWING:
            stages = (CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER)
        elif kind == CourseKind.MENTOR_DEVELOPMENT:
            stages = (CareerStage.EXPERIENCED, CareerStage.MIDDLE_LEADER)
        slug = npq_seed.slug(title)[:50].strip("-")
        courses.append(
            CourseSpec(
                course_id=f"c{number:04d}-{slug}",
                provider_id=provider.provider_id,
                title=title,
                kind=kind,
                npq_type=None,
                subjects=(subject,),
                phases=r.choice(PHASE_SETS),
                career_stages=stages,
                hours=hours,
                price_pence=price,
                government_funded=funded,
                delivery_mode=r.choice(("face_to_face", "online", "blended", "blended")),
                evidence_summary=f"{title}. Draws on the evidence on {topic}.",
                badge=r.choice(BADGES) if r.random() < 0.35 else None,
                topic=topic,
            )
        )
    return courses
