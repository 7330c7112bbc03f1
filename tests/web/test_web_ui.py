"""The web dashboard end to end in headless Chromium: the reporting app with a real PostgreSQL,
served by uvicorn on a free port, its read models and trust feeds fed with events the way the
projection engine applies them.

Each view is screenshotted to tests/web/artifacts/ (kept by CI as test artifacts). Chromium is
Debian's (/usr/bin/chromium, or CPD_CHROMIUM): scripts/bootstrap.sh installs it when run as
root; without it these tests FAIL (they are never skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import CourseBadged, CourseListed, ProviderRegistered
from cpd_events.entitlement_events import (
    BudgetAllocated,
    CPDApproved,
    CPDRequested,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    EntitlementPolicyPublished,
    HoursLogged,
)
from cpd_events.mentoring_events import MentorAssigned, MentorRegistered
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolRegistered,
    TeacherRegistered,
    TrustFundingModelChosen,
    TrustRegistered,
)
from cpd_events.types import (
    ActivityType,
    CareerStage,
    CourseKind,
    FundingModel,
    MentoringProgramme,
    NpqType,
    Region,
    academic_year_of,
    hours,
)
from cpd_eventstore import list_dead_letters, migrate
from cpd_eventstore.db import Pool
from cpd_platform.embedded import free_port
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from cpd_platform.testing import Infrastructure, record_of
from reporting.access import POLICY
from reporting.analysts_api import router as analysts_router
from reporting.api import router as record_router
from reporting.dashboards_api import router as dashboards_router
from reporting.engine import Consumed
from reporting.feeds import FEED_MIGRATIONS, FeedProjection
from reporting.feeds.credentials import issue_credential
from reporting.feeds.webhooks import create_webhook
from reporting.generations import Generation
from reporting.testing import engine_of, live_generation
from reporting.web import install_web

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "operator-token-for-tests"
TODAY = date.today()
YEAR = academic_year_of(TODAY)
YEAR_START = date(int(YEAR[:4]), 9, 1)

TRUST_A, TRUST_B = "2044", "3055"
SCHOOL_A1, SCHOOL_A2, SCHOOL_B = "100001", "100002", "100003"
AMIRA, BEN, CHLOE, ZED = "1000001", "1000002", "1000003", "1000004"
COURSE = "npq-headship-test"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Debian's Chromium; a missing browser fails the run loudly (CI must not skip these)."""
    for candidate in (
        os.environ.get("CPD_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "Chromium not found (looked for CPD_CHROMIUM, /usr/bin/chromium, chromium on PATH):"
        " run scripts/bootstrap.sh as root, or `apt-get install chromium`",
        pytrace=False,
    )


# --- events, as the engine hands them to the read models and the trust feeds ------------------


def on(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


class World:
    """Numbers events per stream and feeds them to the live generation and the trust feeds."""

    def __init__(self, pool: Pool, generation: Generation) -> None:
        self.pool = pool
        self.generation = generation
        self._versions: dict[str, int] = defaultdict(int)
        self._offset = 0

    def event(self, stream_id: str, event: Event, day: date) -> Consumed:
        self._versions[stream_id] += 1
        self._offset += 1
        keys = event.tenancy()
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream_id,
            stream_version=self._versions[stream_id],
            occurred_at=on(day),
            recorded_at=on(day),
            correlation_id=f"corr-{self._offset}",
            actor="web-test",
            trust_id=keys.trust_id,
            school_urn=keys.school_urn,
            teacher_id=keys.teacher_id,
            data=event.model_dump(mode="json"),
        )
        return Consumed(
            envelope=envelope,
            event=event,
            payload=envelope.model_dump_json().encode(),
            topic="t",
            partition=0,
            offset=self._offset,
            timestamp_ms=0,
        )

    async def apply(self, batch: Sequence[Consumed]) -> None:
        engine = engine_of(self.pool, self.generation)
        await engine.prepare()
        await engine.handle([record_of(c.envelope, c.offset) for c in batch])
        assert engine.progress.failed == engine.progress.parked == 0, await list_dead_letters(
            self.pool
        )
        await engine.settle_all()  # school summaries, as the engine does once caught up
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("set local search_path to reporting_feed, public")
            await FeedProjection().apply(conn, batch)


def teacher(trn: str, school: str, given: str, family: str, stage: CareerStage) -> Event:
    return TeacherRegistered(
        trn=trn,
        school_urn=school,
        given_name=given,
        family_name=family,
        career_stage=stage,
        fte=Decimal(100),
        registered_on=YEAR_START,
    )


def grant(trn: str, school: str) -> Event:
    return EntitlementGranted(
        trn=trn,
        school_urn=school,
        academic_year=YEAR,
        policy_version=1,
        hours=hours("35"),
        funding_pence=60_000,
    )


def logged(trn: str, school: str, log_id: str, amount: str) -> Event:
    return HoursLogged(
        log_id=log_id,
        trn=trn,
        school_urn=school,
        academic_year=YEAR,
        hours=hours(amount),
        activity_type=ActivityType.COURSE,
        activity_date=YEAR_START,
    )


def story(w: World) -> list[Consumed]:
    """Trust A (two London schools, three teachers), trust B (one school, one teacher)."""
    d = YEAR_START
    people = [
        (AMIRA, SCHOOL_A1, "Amira", "Khan", CareerStage.EXPERIENCED),
        (BEN, SCHOOL_A1, "Ben", "Okafor", CareerStage.ECT_YEAR_1),
        (CHLOE, SCHOOL_A2, "Chloe", "Evans", CareerStage.ECT_YEAR_2),
        (ZED, SCHOOL_B, "Zed", "Beechman", CareerStage.EXPERIENCED),
    ]
    events = [
        w.event(
            f"trust-{TRUST_A}",
            TrustRegistered(trust_id=TRUST_A, name="Alder Learning Trust", region=Region.LONDON),
            d,
        ),
        w.event(
            f"trust-{TRUST_A}",
            TrustFundingModelChosen(
                trust_id=TRUST_A,
                model=FundingModel.HYBRID,
                central_share_percent=Decimal(40),
                effective_from=d,
            ),
            d,
        ),
        w.event(
            f"trust-{TRUST_B}",
            TrustRegistered(trust_id=TRUST_B, name="Beech Trust", region=Region.NORTH_WEST),
            d,
        ),
    ]
    for urn, name, la, region, pp50, trust in (
        (SCHOOL_A1, "Alder Primary", "Camden", Region.LONDON, True, TRUST_A),
        (SCHOOL_A2, "Aspen Academy", "Camden", Region.LONDON, False, TRUST_A),
        (SCHOOL_B, "Beech Secondary", "Manchester", Region.NORTH_WEST, False, TRUST_B),
    ):
        events.append(
            w.event(
                f"school-{urn}",
                SchoolRegistered(
                    urn=urn,
                    name=name,
                    local_authority=la,
                    phase="Primary",
                    region=region,
                    pp50=pp50,
                ),
                d,
            )
        )
        events.append(
            w.event(
                f"school-{urn}",
                SchoolJoinedTrust(urn=urn, trust_id=trust, effective_from=d),
                d,
            )
        )
    events.append(
        w.event(
            "policy-" + YEAR.replace("/", "-"),
            EntitlementPolicyPublished(
                academic_year=YEAR,
                policy_version=1,
                minimum_hours=hours("35"),
                base_funding_per_fte_pence=60_000,
                pp50_uplift_percent=Decimal(20),
                early_career_uplift_percent=Decimal(10),
                effective_from=d,
            ),
            d,
        )
    )
    events.append(
        w.event(
            "provider-ambition",
            ProviderRegistered(
                provider_id="ambition", name="Ambition Institute", kind="npq_lead_provider"
            ),
            d,
        )
    )
    events.append(
        w.event(
            f"course-{COURSE}",
            CourseListed(
                course_id=COURSE,
                provider_id="ambition",
                title="NPQ for Headship",
                kind=CourseKind.NPQ,
                npq_type=NpqType.NPQH,
                hours=hours("60"),
                price_pence=215_000,
            ),
            d,
        )
    )
    events.append(
        w.event(
            f"course-{COURSE}",
            CourseBadged(course_id=COURSE, level="gold", expires_on=d + timedelta(days=700)),
            d,
        )
    )
    for trn, school, given, family, stage in people:
        events.append(w.event(f"teacher-{trn}", teacher(trn, school, given, family, stage), d))
        events.append(w.event(f"teacher-{trn}", grant(trn, school), d))
    events += [
        w.event(
            f"school-{SCHOOL_A1}",
            CPDLeadDesignated(
                trn=AMIRA,
                school_urn=SCHOOL_A1,
                funded_hours_per_week=hours("2"),
                effective_from=d,
            ),
            d,
        ),
        w.event(
            f"budget-central-{TRUST_A}",
            BudgetAllocated(
                budget_id=f"central-{TRUST_A}",
                holder="trust",
                trust_id=TRUST_A,
                academic_year=YEAR,
                amount_pence=5_000_000,
            ),
            d,
        ),
        w.event(
            f"budget-school-{SCHOOL_A1}",
            BudgetAllocated(
                budget_id=f"school-{SCHOOL_A1}",
                holder="school",
                trust_id=TRUST_A,
                school_urn=SCHOOL_A1,
                academic_year=YEAR,
                amount_pence=1_200_000,
            ),
            d,
        ),
        w.event(
            f"teacher-{AMIRA}",
            DevelopmentPlanAgreed(
                trn=AMIRA,
                school_urn=SCHOOL_A1,
                academic_year=YEAR,
                goals=["Lead a phase team", "Improve reading across the school"],
                agreed_with="Head of CPD",
            ),
            d,
        ),
        w.event(
            f"teacher-{AMIRA}",
            CPDRequested(
                request_id="req-amira",
                trn=AMIRA,
                school_urn=SCHOOL_A1,
                course_id=COURSE,
                academic_year=YEAR,
                cost_pence=215_000,
                expected_hours=hours("60"),
                plan_goal="Lead a phase team",
            ),
            d,
        ),
        w.event(
            f"teacher-{AMIRA}",
            CPDApproved(
                request_id="req-amira",
                trn=AMIRA,
                school_urn=SCHOOL_A1,
                approved_by="Head of CPD",
                cost_pence=215_000,
            ),
            d,
        ),
        w.event(f"teacher-{AMIRA}", logged(AMIRA, SCHOOL_A1, "log-amira-1", "30"), d),
        w.event(
            f"teacher-{BEN}",
            CPDRequested(
                request_id="req-ben",
                trn=BEN,
                school_urn=SCHOOL_A1,
                course_id=COURSE,
                academic_year=YEAR,
                cost_pence=215_000,
                expected_hours=hours("60"),
            ),
            d,
        ),
        w.event(f"mentor-{AMIRA}", MentorRegistered(trn=AMIRA, school_urn=SCHOOL_A2), d),
        w.event(
            f"mentor-{AMIRA}",
            MentorAssigned(
                assignment_id="asg-chloe",
                trn=AMIRA,
                mentee_trn=CHLOE,
                school_urn=SCHOOL_A2,
                programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
                starts_on=d,
            ),
            d,
        ),
        w.event(f"teacher-{ZED}", logged(ZED, SCHOOL_B, "log-zed-1", "4"), d),
    ]
    return events


# --- the site ---------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    world: World
    browser: Browser
    key_a: str
    key_b: str

    async def page(self, javascript: bool = True) -> Page:
        context = await self.browser.new_context(
            java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        return await context.new_page()

    async def sign_in(self, page: Page, credential: str) -> None:
        await page.goto(f"{self.url}/ui/login")
        await page.fill("#credential", credential)
        await page.click("main button[type=submit]")
        await page.wait_for_load_state()


def app_for(pool: Pool, bootstrap_servers: str) -> FastAPI:
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="reporting",
            database_url="postgresql://unused/x",
            kafka_bootstrap_servers=bootstrap_servers,
        )
    )
    runtime.pool = pool
    app = create_app(
        runtime, title="CPD reporting", description="the web dashboard under test", access=POLICY
    )
    for part in (record_router, dashboards_router, analysts_router):
        app.include_router(part)
    install_web(app, operator_token=TOKEN)
    return app


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the test server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def site(pool: Pool, infra: Infrastructure) -> AsyncIterator[Site]:
    executable = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    await migrate(pool, "reporting_feed", FEED_MIGRATIONS)
    world = World(pool, await live_generation(pool))
    await world.apply(story(world))
    key_a = (await issue_credential(pool, TRUST_A, "HR system")).api_key
    key_b = (await issue_credential(pool, TRUST_B, "finance")).api_key
    await create_webhook(pool, TRUST_A, "https://hr.alder.example/cpd-events")
    async with (
        serving(app_for(pool, infra.bootstrap_servers)) as url,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield Site(url, world, browser, key_a, key_b)
        finally:
            await browser.close()


async def first_paint_ms(page: Page) -> float:
    """First contentful paint of the page last loaded, from the Performance API."""
    value = await page.evaluate(
        """() => new Promise((resolve) => {
            const found = () => performance.getEntriesByName('first-contentful-paint')[0];
            if (found()) { resolve(found().startTime); return; }
            new PerformanceObserver((list, observer) => {
                const paint = list.getEntriesByName('first-contentful-paint')[0];
                if (paint) { observer.disconnect(); resolve(paint.startTime); }
            }).observe({ type: 'paint', buffered: true });
            setTimeout(() => resolve(found() ? found().startTime : null), 5000);
        })"""
    )
    assert value is not None, "the browser reported no first contentful paint"
    return float(value)


async def figure(page: Page, name: str) -> str:
    return (await page.inner_text(f'[data-figure="{name}"]')).strip()


def report(line: str) -> None:
    print(line)
    with (ARTIFACTS / "measurements.txt").open("a") as out:
        out.write(line + "\n")


# --- the tests --------------------------------------------------------------------------------


async def test_national_view_updates_live_when_an_event_arrives(site: Site) -> None:
    page = await site.page()
    await site.sign_in(page, TOKEN)
    assert page.url.endswith("/ui/national"), page.url
    assert await figure(page, "teachers-granted") == "4"
    assert await figure(page, "schools-with-lead") == "33.3%"  # 1 of 3 schools
    assert await figure(page, "ects-without-mentor") == "1"  # Ben (Chloe has Amira)
    assert await figure(page, "funding-entitled") == "£2,400"
    assert "Gold badge" in await page.inner_text('[data-live="uptake"]')
    assert "London" in await page.inner_text('[data-live="regions"]')
    assert "Camden" in (await page.text_content('[data-live="regions"]') or "")  # folded

    await page.goto(f"{site.url}/ui/national")
    paint = await first_paint_ms(page)
    report(f"first contentful paint, national view (small data): {paint:.0f} ms")
    assert paint < 1000
    await page.wait_for_function(
        "() => !document.querySelector('[data-live=\"health\"]').innerText.includes('Checking')",
        timeout=15_000,
    )
    assert "Dead letters" in await page.inner_text('[data-live="health"]')
    await page.screenshot(path=str(ARTIFACTS / "national.png"), full_page=True)

    # a new teacher is registered and granted: the figure changes on screen, without a reload
    await page.evaluate("window.notReloaded = true")
    w = site.world
    await w.apply(
        [
            w.event(
                "teacher-1000005",
                teacher("1000005", SCHOOL_A2, "Dara", "New", CareerStage.ECT_YEAR_1),
                TODAY,
            ),
            w.event("teacher-1000005", grant("1000005", SCHOOL_A2), TODAY),
        ]
    )
    await page.wait_for_function(
        "() => document.querySelector('[data-figure=\"teachers-granted\"]').innerText.trim()"
        " === '5'",
        timeout=10_000,
    )
    assert await page.evaluate("window.notReloaded === true"), "the page was reloaded"
    assert await figure(page, "ects-without-mentor") == "2"
    assert "Figures updated" in await page.inner_text("#live-status")
    await page.wait_for_timeout(1500)  # let the highlight of the changed parts fade
    await page.screenshot(path=str(ARTIFACTS / "national-after-event.png"), full_page=True)


async def test_a_trust_sees_its_own_dashboard_and_nothing_of_another_trust(site: Site) -> None:
    page = await site.page()
    await site.sign_in(page, site.key_a)
    assert page.url.endswith(f"/ui/trusts/{TRUST_A}"), page.url
    await page.goto(f"{site.url}/ui/trusts/{TRUST_A}")
    paint = await first_paint_ms(page)
    report(f"first contentful paint, trust view (small data): {paint:.0f} ms")
    text = await page.inner_text("main")
    assert "Alder Learning Trust" in text
    assert "Alder Primary" in text
    assert "Aspen Academy" in text
    assert "Beech" not in text  # nothing of trust B
    assert "Hybrid" in text
    assert "40%" in text
    assert await figure(page, "pending") == "1"
    pending = await page.inner_text('[data-live="trust-pending"]')
    assert "Ben Okafor" in pending
    assert "NPQ for Headship" in pending
    behind = await page.inner_text('[data-live="trust-behind"]')
    assert "Ben Okafor" in behind
    assert "Amira" not in behind
    assert "Ben Okafor" in await page.inner_text('[data-live="trust-ects"]')
    feeds = await page.inner_text('[data-live="trust-feeds"]')
    assert "https://hr.alder.example/cpd-events" in feeds
    assert "HR system" in feeds
    assert "Trust central budget" in await page.inner_text('[data-live="trust-funding"]')
    await page.screenshot(path=str(ARTIFACTS / "trust.png"), full_page=True)

    for path in (
        f"/ui/trusts/{TRUST_B}",
        f"/ui/teachers/{ZED}",
        "/ui/national",
        "/ui/analysts",
        "/ui/analysts/export?dataset=teachers&format=csv",
    ):
        response = await page.goto(f"{site.url}{path}")
        assert response is not None, path
        assert response.status == 403, path
        body = await page.inner_text("main")
        assert "You cannot see this page" in body, path
        assert "Beech" not in body, path
    await page.screenshot(path=str(ARTIFACTS / "trust-forbidden.png"), full_page=True)

    # the other trust's key sees its own trust, and not trust A
    other = await site.page()
    await site.sign_in(other, site.key_b)
    assert "Beech Secondary" in await other.inner_text("main")
    response = await other.goto(f"{site.url}/ui/trusts/{TRUST_A}")
    assert response is not None
    assert response.status == 403


async def test_teacher_record_view(site: Site) -> None:
    page = await site.page()
    await site.sign_in(page, site.key_a)  # a trust sees the records of its own teachers
    response = await page.goto(f"{site.url}/ui/teachers/{AMIRA}")
    assert response is not None
    assert response.status == 200
    text = await page.inner_text("main")
    assert "Amira Khan" in text
    slug = YEAR.replace("/", "-")
    assert await figure(page, f"hours-logged-{slug}") == "30"
    assert "of a minimum of 35 hours" in text
    plan = await page.inner_text('[data-live="teacher-plan"]')
    assert "Lead a phase team" in plan
    assert "Improve reading across the school" in plan
    timeline = await page.inner_text('[data-live="teacher-timeline"]')
    assert "Logged 30 hours of course" in timeline
    assert "Request req-amira approved by Head of CPD" in timeline
    await page.screenshot(path=str(ARTIFACTS / "teacher.png"), full_page=True)


async def test_analysts_filter_a_read_model_and_download_it(site: Site) -> None:
    page = await site.page()
    await site.sign_in(page, TOKEN)
    await page.goto(f"{site.url}/ui/analysts")
    await page.select_option("#dataset", "teacher_years")
    await page.fill("#academic_year", YEAR)
    await page.fill("#region", "london")
    await page.fill("#sort", "-hours_logged")
    await page.click("main button[type=submit]")
    await page.wait_for_load_state()
    rows = page.locator('[data-live="analyst-rows"] tbody tr')
    assert await rows.count() == 3  # the London teachers
    assert "30" in await rows.nth(0).inner_text()  # Amira first, by hours logged
    await page.screenshot(path=str(ARTIFACTS / "analysts.png"), full_page=True)

    async with page.expect_download() as csv_download:
        await page.click("text=Download as CSV")
    path = await (await csv_download.value).path()
    table = list(csv.DictReader(io.StringIO(await anyio.Path(path).read_text())))
    assert len(table) == 3
    assert "teacher_id" in table[0]
    assert "trn" not in table[0]
    async with page.expect_download() as parquet_download:
        await page.click("text=Download as Parquet")
    path = await (await parquet_download.value).path()
    assert (await anyio.Path(path).read_bytes())[:4] == b"PAR1"

    await page.goto(f"{site.url}/ui/analysts?dataset=courses&region=london")
    assert "There is a problem" in await page.inner_text("main")


async def test_core_tables_work_without_javascript(site: Site) -> None:
    page = await site.page(javascript=False)
    await site.sign_in(page, TOKEN)
    assert page.url.endswith("/ui/national")
    assert "Camden" in (await page.text_content('[data-live="regions"]') or "")  # folded
    await page.goto(f"{site.url}/ui/trusts/{TRUST_A}")
    assert "Alder Primary" in await page.inner_text('[data-live="trust-schools"]')
    await page.screenshot(path=str(ARTIFACTS / "trust-without-javascript.png"), full_page=True)


async def test_sign_in_refuses_a_wrong_token_and_pages_need_a_session(site: Site) -> None:
    page = await site.page()
    response = await page.goto(f"{site.url}/ui/national")
    assert response is not None
    assert page.url.startswith(f"{site.url}/ui/login")
    await page.fill("#credential", "not-the-token")
    await page.click("main button[type=submit]")
    assert "There is a problem" in await page.inner_text("main")
    await page.screenshot(path=str(ARTIFACTS / "login-error.png"), full_page=True)
    live: Any = await page.request.get(f"{site.url}/ui/live/version")
    assert live.status == 401
