"""The seed's phases: every write through the services' deciders, in chunks.

- catalogue (catalogue's store): providers and courses, the real NPQs from ``catalogue.seed``
  and generated courses, with quality badges: the provider, listing and course deciders;
- catalogue replica: catalogue events delivered to entitlement's ``catalogue-replica``;
- schools, trusts, trust members, teachers (entitlement): ``entitlement.importing``, the
  ``cpd import`` path, with generated rows;
- policy and grants: the policy decider; ``entitlement.grants.grant_year`` (``cpd grant``);
- leads and budgets: school and trust CPD leads (school and trust deciders), the year's
  budgets (budget decider) and the national premium pot;
- activity: each teacher's year to today: requests, approvals committing funding on the budgets
  that pay, declines, withdrawals and completions moving it, hours, moves: the teacher and
  budget deciders, combined as ``funding_app.approve`` / ``funding_app.settle`` and
  ``teacher_app`` combine them;
- registry replica: entitlement events delivered to mentoring's ``registry-replica``;
- mentoring (mentoring's store): mentors, induction mentorships (mentor and mentee streams in
  one write), weekly sessions in term time, mentor training;
- completions replica: entitlement events delivered to the catalogue's ``read-model``;
- feedback (catalogue's store): ratings from teachers who completed a course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from catalogue.app import course_stream, feedback_stream, provider_stream
from catalogue.domain import (
    BadgeCourse,
    FeedbackContext,
    ListCourse,
    Listing,
    SubmitFeedback,
    course_decider,
    feedback_decider,
    listing_decider,
    provider_decider,
)
from catalogue.domain.providers import RegisterProvider
from cpd_cli.seed.batch import Batch, Phase, Tally, at
from cpd_cli.seed.world import CourseSpec, Group, MentorPlan, ProviderSpec, World
from cpd_events import Event
from cpd_events.decider import Decider, RuleBroken
from cpd_events.entitlement_events import (
    BudgetHolder,
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDWithdrawn,
    EntitlementPolicyPublished,
)
from cpd_events.mentoring_events import MentorAssigned
from cpd_events.types import MentoringProgramme
from entitlement.domain.budget import (
    AllocateBudget,
    CommitFunding,
    Settlement,
    budget_decider,
    budget_id,
    budget_stream,
    premium_budget_id,
    settle_funding,
)
from entitlement.domain.funding import approvers, arrangement_of
from entitlement.domain.policy import PublishPolicy, policy_decider, policy_stream
from entitlement.domain.registry import (
    DesignateSchoolCPDLead,
    School,
    TeacherFacts,
    school_decider,
    school_stream,
)
from entitlement.domain.teacher import (
    ApproveCPD,
    CompleteCPD,
    CourseOffer,
    DeclineCPD,
    LogHours,
    MoveSchool,
    RequestCPD,
    Teacher,
    TeacherCommand,
    WithdrawCPD,
    entitlement_for,
    teacher_decider,
    teacher_stream,
)
from entitlement.domain.trust import DesignateTrustCPDLead, Trust, trust_decider, trust_stream
from mentoring.domain import (
    AssignMentor,
    CompleteMentorTraining,
    LogSession,
    MatchMentee,
    RegisterMentor,
    SetMentorCapacity,
    mentee_decider,
    mentee_stream,
    mentor_decider,
    mentor_stream,
)
from mentoring.domain import TeacherFacts as MentoringFacts

SCHOOL_LEAD_HOURS = Decimal(2)  # funded hours a week of a school's CPD lead
TRUST_LEAD_HOURS = Decimal(4)
MENTOR_TRAINING_HOURS = Decimal(12)
LEAD = "CPD lead"
S = TypeVar("S")
C = TypeVar("C")


def _teacher_facts(state: Teacher) -> TeacherFacts:
    return TeacherFacts(state.registered, state.school_urn, state.left)


# --- catalogue ---------------------------------------------------------------------------------


def provider_phase() -> Phase[ProviderSpec]:
    def decide(batch: Batch, spec: ProviderSpec, tally: Tally) -> None:
        stream = provider_stream(spec.provider_id)
        state = batch.state(stream, provider_decider)
        if state is not None:
            tally.unchanged += 1
            return
        command = RegisterProvider(spec.provider_id, spec.name, spec.kind)
        batch.add(stream, provider_decider.decide(command, state), "register")
        tally.applied += 1

    return Phase("providers", lambda spec: [provider_stream(spec.provider_id)], decide)


def course_phase(world: World, today: date) -> Phase[CourseSpec]:
    expires = world.calendar.last_day + timedelta(days=365)

    def decide(batch: Batch, spec: CourseSpec, tally: Tally) -> None:
        stream = course_stream(spec.course_id)
        course = batch.state(stream, course_decider)
        if course is None:
            provider = batch.state(provider_stream(spec.provider_id), provider_decider)
            command = ListCourse(
                course_id=spec.course_id,
                provider_id=spec.provider_id,
                title=spec.title,
                kind=spec.kind,
                npq_type=spec.npq_type,
                subjects=spec.subjects,
                phases=spec.phases,
                career_stages=spec.career_stages,
                hours=spec.hours,
                price_pence=spec.price_pence,
                government_funded=spec.government_funded,
                delivery_mode=spec.delivery_mode,
                evidence_summary=spec.evidence_summary,
            )
            try:
                events = listing_decider.decide(command, Listing(provider=provider, course=None))
            except RuleBroken as error:
                tally.refuse("list course", error)
                return
            batch.add(stream, events, "list")
            tally.applied += 1
            course = batch.state(stream, course_decider)
        else:
            tally.unchanged += 1
        if spec.badge and course is not None and course.badge is None and not course.badge_revoked:
            badge = BadgeCourse(spec.course_id, spec.badge, expires, today)
            try:
                batch.add(stream, course_decider.decide(badge, course), "badge")
            except RuleBroken as error:
                tally.refuse("badge course", error)

    def streams(spec: CourseSpec) -> list[str]:
        return [course_stream(spec.course_id), provider_stream(spec.provider_id)]

    return Phase("courses", streams, decide)


# --- policy ------------------------------------------------------------------------------------


def policy_phase(world: World) -> Phase[str]:
    def decide(batch: Batch, year: str, tally: Tally) -> None:
        stream = policy_stream(year)
        state = batch.state(stream, policy_decider)
        if state.current is not None:  # a second publication would be a new policy version
            tally.unchanged += 1
            return
        p = world.policy
        command = PublishPolicy(
            year,
            p.minimum_hours,
            p.base_funding_per_fte_pence,
            p.pp50_uplift_percent,
            p.early_career_uplift_percent,
            world.calendar.first_day,
        )
        batch.add(stream, policy_decider.decide(command, state), "publish")
        tally.applied += 1

    return Phase("policy", lambda year: [policy_stream(year)], decide)


# --- CPD leads and budgets ---------------------------------------------------------------------


def _group_streams(world: World, group: Group, teachers: bool = True) -> list[str]:
    year = world.academic_year
    found = [school_stream(u) for u in group.schools]
    found += [trust_stream(t) for t in group.trust_ids]
    found += [budget_stream(budget_id(year, "school", u)) for u in group.schools]
    found += [budget_stream(budget_id(year, "trust", t)) for t in group.trust_ids]
    if teachers:
        found += [teacher_stream(t.trn) for t in world.teachers_in(group)]
    return found


def leads_and_budgets_phase(world: World) -> Phase[Group]:
    year = world.academic_year
    first = world.calendar.first_day

    def decide(batch: Batch, group: Group, tally: Tally) -> None:
        # school CPD leads: the head
        for urn in group.schools:
            head = world.teachers_of[urn][0]
            school = batch.state(school_stream(urn), school_decider)
            if school.cpd_lead_trn is not None:
                tally.unchanged += 1
                continue
            teacher = batch.state(teacher_stream(head.trn), teacher_decider)
            command = DesignateSchoolCPDLead(
                head.trn, SCHOOL_LEAD_HOURS, first, _teacher_facts(teacher)
            )
            _try(
                batch,
                tally,
                "designate school CPD lead",
                school_stream(urn),
                school_decider,
                command,
                school,
                f"lead-{head.trn}",
            )
        # trust CPD leads of multi-academy trusts: the head of their first school
        for trust_id in group.trust_ids:
            plan = next(t for t in world.trusts if t.trust_id == trust_id)
            trust_state = batch.state(trust_stream(trust_id), trust_decider)
            if plan.kind != "mat" or trust_state.cpd_leads:
                continue
            head = world.teachers_of[plan.schools[0]][0]
            teacher = batch.state(teacher_stream(head.trn), teacher_decider)
            school = batch.state(school_stream(teacher.school_urn), school_decider)
            trust_command = DesignateTrustCPDLead(
                head.trn, TRUST_LEAD_HOURS, first, _teacher_facts(teacher), school.trust_id
            )
            _try(
                batch,
                tally,
                "designate trust CPD lead",
                trust_stream(trust_id),
                trust_decider,
                trust_command,
                trust_state,
                f"lead-{head.trn}",
            )
        # budgets: what the year's grants of each pot's teachers add up to, give or take
        owed: dict[tuple[BudgetHolder, str], Decimal] = {}
        for plan_teacher in world.teachers_in(group):
            teacher = batch.state(teacher_stream(plan_teacher.trn), teacher_decider)
            grant = teacher.grants.get(year)
            if grant is None:
                continue
            school = batch.state(school_stream(teacher.school_urn), school_decider)
            pays = _trust(batch, school)
            arrangement = arrangement_of(
                teacher.school_urn,
                school.trust_id,
                pays.funding_model if pays else None,
                pays.central_share_percent if pays else Decimal(0),
            )
            cost = Decimal(grant.funding_pence)
            shares: list[tuple[tuple[BudgetHolder, str], Decimal]]
            match arrangement.effective_model.value:
                case "centralised":
                    shares = [(("trust", school.trust_id or ""), cost)]
                case "hybrid":
                    central = cost * arrangement.central_share_percent / 100
                    shares = [
                        (("trust", school.trust_id or ""), central),
                        (("school", teacher.school_urn), cost - central),
                    ]
                case _:
                    shares = [(("school", teacher.school_urn), cost)]
            for pot, amount in shares:
                owed[pot] = owed.get(pot, Decimal(0)) + amount
        for (holder, holder_id), amount in sorted(owed.items()):
            stream = budget_stream(budget_id(year, holder, holder_id))
            budget = batch.state(stream, budget_decider)
            if budget.exists:
                tally.unchanged += 1
                continue
            factor = Decimal(str(round(world.budget_factor(holder, holder_id), 2)))
            pence = int((amount * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            registered = (
                batch.state(trust_stream(holder_id), trust_decider).registered
                if holder == "trust"
                else batch.state(school_stream(holder_id), school_decider).registered
            )
            allocate = AllocateBudget(year, holder, holder_id, max(pence, 1), registered)
            _try(
                batch,
                tally,
                "allocate budget",
                stream,
                budget_decider,
                allocate,
                budget,
                "allocate",
            )

    return Phase(
        "leads and budgets",
        lambda group: _group_streams(world, group),
        decide,
        lambda group: len(group.schools),
    )


def premium_pence(world: World, policy: EntitlementPolicyPublished) -> int:
    """The PP50 uplift in the year's grants of the world's teachers (the national premium)."""
    total = 0
    for teacher in world.teachers:
        if world.school[teacher.urn].urn not in world.pp50:
            continue
        _, with_uplift = entitlement_for(policy, teacher.career_stage, teacher.fte, True)
        _, without = entitlement_for(policy, teacher.career_stage, teacher.fte, False)
        total += with_uplift - without
    return total


def premium_phase(world: World, pence: int) -> Phase[str]:
    def decide(batch: Batch, key: str, tally: Tally) -> None:
        stream = budget_stream(key)
        budget = batch.state(stream, budget_decider)
        if budget.exists or pence <= 0:
            tally.unchanged += 1
            return
        command = AllocateBudget(world.academic_year, "national_premium", "england", pence, True)
        _try(batch, tally, "allocate budget", stream, budget_decider, command, budget, "allocate")

    return Phase("premium", lambda key: [budget_stream(key)], decide)


def premium_key(world: World) -> str:
    return premium_budget_id(world.academic_year)


def _trust(batch: Batch, school: School) -> Trust | None:
    if school.trust_id is None:
        return None
    return batch.state(trust_stream(school.trust_id), trust_decider)


def _try(
    batch: Batch,
    tally: Tally,
    what: str,
    stream: str,
    decider: Decider[S, C],
    command: C,
    state: S,
    key: str,
    when: date | None = None,
) -> bool:
    try:
        events = decider.decide(command, state)
    except RuleBroken as error:
        tally.refuse(what, error)
        return False
    batch.add(stream, events, key, at(when) if when else None)
    tally.applied += 1
    return True


# --- a teacher's year --------------------------------------------------------------------------


def activity_phase(world: World, offers: dict[str, CourseOffer], today: date) -> Phase[Group]:
    year = world.academic_year

    def decide(batch: Batch, group: Group, tally: Tally) -> None:
        for plan_teacher in world.teachers_in(group):
            stream = teacher_stream(plan_teacher.trn)
            for action in world.plan(plan_teacher):
                if action.day > today:
                    break
                _act(batch, stream, action, tally)

    def _act(batch: Batch, stream: str, action: object, tally: Tally) -> None:
        from cpd_cli.seed.world import Action

        assert isinstance(action, Action)
        state = batch.state(stream, teacher_decider)
        when = action.day
        request = state.requests.get(action.key)
        match action.kind:
            case "request":
                if request is not None:
                    tally.unchanged += 1
                    return
                command: TeacherCommand = RequestCPD(
                    action.key,
                    year,
                    action.course_id,
                    offers.get(action.course_id),
                    reason="Agreed at my development review",
                )
                _teacher(batch, tally, "request CPD", stream, command, state, action.key, when)
            case "approve":
                if request is None:
                    tally.skipped += 1
                elif request.status != "requested":
                    tally.unchanged += 1
                else:
                    _approve(batch, tally, stream, state, action.key, when)
            case "decline":
                if request is None:
                    tally.skipped += 1
                elif request.status != "requested":
                    tally.unchanged += 1
                else:
                    decline = DeclineCPD(action.key, LEAD, action.text)
                    _settle(batch, tally, "decline", stream, state, decline, action.key, when)
            case "withdraw":
                if request is None or request.status not in ("requested", "approved"):
                    tally.unchanged += request is not None and request.status == "withdrawn"
                    tally.skipped += request is None or request.status != "withdrawn"
                    return
                withdraw = WithdrawCPD(action.key, action.text)
                _settle(batch, tally, "withdraw", stream, state, withdraw, action.key, when)
            case "complete":
                if request is None or request.status != "approved":
                    done = request is not None and request.status == "completed"
                    tally.unchanged += done
                    tally.skipped += not done
                    return
                complete = CompleteCPD(action.key, action.day, today)
                _settle(batch, tally, "complete", stream, state, complete, action.key, when)
            case "hours":
                if action.key in state.logs:
                    tally.unchanged += 1
                    return
                if action.request_id is not None:
                    linked = state.requests.get(action.request_id)
                    if linked is None or linked.status not in ("approved", "completed"):
                        tally.skipped += 1  # its request was declined or withdrawn
                        return
                log = LogHours(
                    log_id=action.key,
                    academic_year=year,
                    hours=action.hours,
                    activity_type=action.activity,
                    activity_date=action.day,
                    request_id=action.request_id,
                    description=action.text,
                    today=today,
                )
                _teacher(batch, tally, "log hours", stream, log, state, action.key, when)
            case "move":
                if state.school_urn == action.key:
                    tally.unchanged += 1
                    return
                school = batch.state(school_stream(action.key), school_decider)
                move = MoveSchool(action.key, action.day, school.registered)
                _teacher(batch, tally, "move school", stream, move, state, "move", when)

    return Phase(
        "activity",
        lambda group: _group_streams(world, group),
        decide,
        lambda group: sum(world.staff_counts[u] for u in group.schools),
    )


def _teacher(
    batch: Batch,
    tally: Tally,
    what: str,
    stream: str,
    command: TeacherCommand,
    state: Teacher,
    key: str,
    when: date,
) -> None:
    _try(batch, tally, what, stream, teacher_decider, command, state, key, when)


def _approve(
    batch: Batch, tally: Tally, stream: str, state: Teacher, request_id: str, when: date
) -> None:
    """``funding_app.approve`` on the chunk's states: the approval and the funding it commits
    on the budgets that pay, all or nothing. Refused (the teacher's entitlement or a budget
    has too little left): the CPD lead declines it, giving the reason."""
    school = batch.state(school_stream(state.school_urn), school_decider)
    trust = _trust(batch, school)
    arrangement = arrangement_of(
        state.school_urn,
        school.trust_id,
        trust.funding_model if trust else None,
        trust.central_share_percent if trust else Decimal(0),
    )
    allowed = approvers(
        arrangement, school.cpd_lead_trn, trust.cpd_lead_trns if trust else frozenset()
    )
    approver = school.cpd_lead_trn if school.cpd_lead_trn in allowed else min(allowed, default=None)
    command = ApproveCPD(request_id, LEAD, approver, allowed, arrangement)
    writes: list[tuple[str, list[Event]]] = []
    try:
        decided = list(teacher_decider.decide(command, state))
        writes.append((stream, decided))
        for event in decided:
            if not isinstance(event, CPDApproved):
                continue
            year = state.requests[request_id].academic_year
            for share in event.funding:
                budget_id_ = share.budget_id
                budget = batch.state(budget_stream(budget_id_), budget_decider)
                commit = CommitFunding(
                    budget_id_,
                    request_id,
                    event.trn,
                    event.school_urn,
                    arrangement.trust_id,
                    year,
                    share.amount_pence,
                )
                writes.append(
                    (budget_stream(budget_id_), list(budget_decider.decide(commit, budget)))
                )
    except RuleBroken as error:
        tally.refuse("approve (declined instead)", error)
        reason = f"Not approved: {error.message}"
        decline = DeclineCPD(request_id, LEAD, reason[:4000])
        _settle(batch, tally, "decline", stream, state, decline, request_id, when)
        return
    for target, events in writes:
        batch.add(target, events, request_id, at(when))
    tally.applied += 1


def _settle(
    batch: Batch,
    tally: Tally,
    what: str,
    stream: str,
    state: Teacher,
    command: TeacherCommand,
    request_id: str,
    when: date,
) -> None:
    """``funding_app.settle``: a request closed, with the funding it moves (spent on completion,
    released on withdrawal or decline), in the same write."""
    try:
        decided = list(teacher_decider.decide(command, state))
        writes: list[tuple[str, list[Event]]] = [(stream, decided)]
        for event in decided:
            how: Settlement
            match event:
                case CPDCompleted():
                    how, reason = "spend", ""
                case CPDWithdrawn() | CPDDeclined():
                    how, reason = "release", event.reason
                case _:
                    continue
            request = state.requests.get(event.request_id)
            for share in request.funding if request else ():
                budget = batch.state(budget_stream(share.budget_id), budget_decider)
                moved = settle_funding(
                    {share.budget_id: budget},
                    event.request_id,
                    how,
                    reason,
                )
                writes.append((budget_stream(share.budget_id), moved.get(share.budget_id, [])))
    except RuleBroken as error:
        tally.refuse(what, error)
        return
    for target, events in writes:
        if events:
            batch.add(target, events, f"{request_id}:{what}", at(when, 5))
    tally.applied += 1


# --- mentoring ---------------------------------------------------------------------------------


def mentoring_phase(
    world: World,
    facts: dict[str, MentoringFacts],
    schools: set[str],
    today: date,
) -> Phase[Group]:
    programme = MentoringProgramme.EARLY_CAREER_INDUCTION
    starts_on = world.calendar.terms[0].first

    def decide(batch: Batch, group: Group, tally: Tally) -> None:
        for urn in group.schools:
            for plan in world.mentors_of[urn]:
                _mentor(batch, plan, tally)

    def _mentor(batch: Batch, plan: MentorPlan, tally: Tally) -> None:
        stream = mentor_stream(plan.trn)
        mentor = batch.state(stream, mentor_decider)
        teacher = facts.get(plan.trn)
        if mentor is None:
            command = RegisterMentor(plan.trn, plan.urn, teacher, plan.urn in schools)
            if not _try(
                batch,
                tally,
                "register mentor",
                stream,
                mentor_decider,
                command,
                mentor,
                "register",
                starts_on,
            ):
                return
        else:
            tally.unchanged += 1
        mentor = batch.state(stream, mentor_decider)
        assert mentor is not None
        if not any(e.event_type == "MentorCapacitySet" for e in batch.events(stream)):
            capacity = SetMentorCapacity(plan.trn, plan.capacity or 2)
            _try(
                batch,
                tally,
                "set capacity",
                stream,
                mentor_decider,
                capacity,
                mentor,
                "capacity",
                starts_on,
            )
        for mentee in plan.mentees:
            assignment_id = plan.assignment_id(mentee, world.academic_year)
            mentor = batch.state(stream, mentor_decider)
            assert mentor is not None
            if mentor.assignment(assignment_id) is None:
                if not _assign(batch, tally, plan, mentee, assignment_id):
                    continue
            else:
                tally.unchanged += 1
            for session in world.sessions(plan, mentee):
                if session.held_on > today:
                    break
                mentor = batch.state(stream, mentor_decider)
                assert mentor is not None
                if mentor.session(session.session_id) is not None:
                    tally.unchanged += 1
                    continue
                session_command = LogSession(
                    plan.trn,
                    session.session_id,
                    assignment_id,
                    session.held_on,
                    session.minutes,
                    session.focus,
                    teacher,
                )
                _try(
                    batch,
                    tally,
                    "log session",
                    stream,
                    mentor_decider,
                    session_command,
                    mentor,
                    session.session_id,
                    session.held_on,
                )
        training = world.mentor_training(plan)
        mentor = batch.state(stream, mentor_decider)
        if training is not None and training[1] <= today and mentor is not None:
            course_id, day = training
            if any(t.course_id == course_id for t in mentor.trainings):
                tally.unchanged += 1
            else:
                training_command = CompleteMentorTraining(
                    plan.trn, course_id, day, MENTOR_TRAINING_HOURS
                )
                _try(
                    batch,
                    tally,
                    "mentor training",
                    stream,
                    mentor_decider,
                    training_command,
                    mentor,
                    course_id,
                    day,
                )

    def _assign(
        batch: Batch, tally: Tally, plan: MentorPlan, mentee: str, assignment_id: str
    ) -> bool:
        """``Mentoring.assign``: the mentor's and the mentee's streams, together."""
        stream = mentor_stream(plan.trn)
        command = AssignMentor(
            trn=plan.trn,
            assignment_id=assignment_id,
            mentee_trn=mentee,
            school_urn=plan.urn,
            programme=programme,
            starts_on=starts_on,
            mentor_teacher=facts.get(plan.trn),
            mentee_teacher=facts.get(mentee),
        )
        try:
            assigned = mentor_decider.decide(command, batch.state(stream, mentor_decider))
            (event,) = assigned
            assert isinstance(event, MentorAssigned)
            match = MatchMentee(
                trn=mentee,
                assignment_id=event.assignment_id,
                mentor_trn=event.trn,
                programme=event.programme,
                school_urn=event.school_urn,
                starts_on=event.starts_on,
            )
            matched = mentee_decider.decide(
                match, batch.state(mentee_stream(mentee), mentee_decider)
            )
        except RuleBroken as error:
            tally.refuse("assign mentor", error)
            return False
        batch.add(stream, assigned, assignment_id, at(starts_on))
        batch.add(mentee_stream(mentee), matched, assignment_id, at(starts_on))
        tally.applied += 1
        return True

    def streams(group: Group) -> list[str]:
        found = []
        for urn in group.schools:
            for plan in world.mentors_of[urn]:
                found.append(mentor_stream(plan.trn))
                found += [mentee_stream(m) for m in plan.mentees]
        return found

    return Phase(
        "mentoring",
        streams,
        decide,
        lambda group: sum(len(world.mentors_of[u]) for u in group.schools),
    )


# --- feedback ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    trn: str
    course_id: str
    completed_on: date


def feedback_phase(world: World, today: date) -> Phase[Completion]:
    def decide(batch: Batch, done: Completion, tally: Tally) -> None:
        planned = world.feedback(done.trn, done.course_id)
        if planned is None:
            return
        rating, note = planned
        stream = feedback_stream(done.course_id, done.trn)
        submitted = batch.state(stream, feedback_decider).submitted
        if submitted is not None:
            tally.unchanged += 1
            return
        course = batch.state(course_stream(done.course_id), course_decider)
        command = SubmitFeedback(
            course_id=done.course_id,
            trn=done.trn,
            rating=rating,
            impact_note=note,
            completed=True,  # the catalogue's table of completions says so
        )
        state = FeedbackContext(course=course, submitted=None)
        when = min(today, done.completed_on + timedelta(days=3))
        _try(
            batch,
            tally,
            "submit feedback",
            stream,
            feedback_decider,
            command,
            state,
            "feedback",
            when,
        )

    def streams(done: Completion) -> list[str]:
        return [feedback_stream(done.course_id, done.trn), course_stream(done.course_id)]

    return Phase("feedback", streams, decide)
