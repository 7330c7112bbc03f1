"""First paint of the operators' national view and of the biggest trust's view on national-size
read models, in headless Chromium.

The read models are generated with reporting.synthetic
(services/reporting/tests/test_dashboards_scale.py: 22,000 schools, 1,300 trusts; teachers
``CPD_WEB_SCALE_TEACHERS``, 470,000 by default, with five requests each). The first contentful
paint is printed and written to tests/web/artifacts/measurements.txt; the budget is 1 second
(``CPD_WEB_FIRST_PAINT_BUDGET_MS``).
"""

from __future__ import annotations

import os
import time

import asyncpg
import pytest
from playwright.async_api import async_playwright

from cpd_eventstore import migrate
from cpd_eventstore.db import Pool
from cpd_platform.testing import Infrastructure
from reporting import dashboards_api
from reporting.engine import BOOKKEEPING_DDL
from reporting.feeds import FEED_MIGRATIONS
from reporting.synthetic import TODAY, YEAR, generate
from reporting.testing import live_generation

from .test_web_ui import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    TOKEN,
    app_for,
    chromium,
    first_paint_ms,
    report,
    serving,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHOOLS = int(os.environ.get("CPD_WEB_SCALE_SCHOOLS", "22000"))
TEACHERS = int(os.environ.get("CPD_WEB_SCALE_TEACHERS", "470000"))
TRUSTS = int(os.environ.get("CPD_WEB_SCALE_TRUSTS", "1300"))
BUDGET_MS = float(os.environ.get("CPD_WEB_FIRST_PAINT_BUDGET_MS", "1000"))


async def test_first_paint_on_national_data(
    pool: Pool, database_url: str, infra: Infrastructure, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    generation = await live_generation(pool)
    conn = await asyncpg.connect(database_url)  # no statement timeout: generating takes minutes
    try:
        await conn.execute(f"set search_path to {generation.schema_name}")
        await generate(conn, schools=SCHOOLS, teachers=TEACHERS, trusts=TRUSTS)
        await conn.execute(BOOKKEEPING_DDL.format(schema=generation.schema_name))
    finally:
        await conn.close()
    await migrate(pool, "reporting_feed", FEED_MIGRATIONS)
    took = time.perf_counter() - started
    print(f"\ngenerated {SCHOOLS:,} schools and {TEACHERS:,} teachers in {took:.0f} s")
    monkeypatch.setattr(dashboards_api, "today", lambda: TODAY)
    biggest = await pool.fetchval(
        f"select trust_id from {generation.schema_name}.schools where trust_id is not null"
        " group by trust_id order by count(*) desc limit 1"
    )
    async with serving(app_for(pool, infra.bootstrap_servers)) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await page.goto(f"{url}/ui/login")
            await page.fill("#credential", TOKEN)
            await page.click("main button[type=submit]")
            await page.wait_for_load_state()
            paints: dict[str, list[float]] = {}
            for name, path in (
                ("national", f"/ui/national?academic_year={YEAR}"),
                ("trust", f"/ui/trusts/{biggest}?academic_year={YEAR}"),
            ):
                for _ in range(3):
                    response = await page.goto(f"{url}{path}")
                    assert response is not None
                    assert response.status == 200, await page.inner_text("main")
                    paints.setdefault(name, []).append(await first_paint_ms(page))
                await page.screenshot(path=str(ARTIFACTS / f"scale-{name}.png"), full_page=False)
        finally:
            await browser.close()
    for name, values in paints.items():
        report(
            f"first contentful paint, {name} view, {SCHOOLS:,} schools and {TEACHERS:,} teachers:"
            f" {', '.join(f'{v:.0f}' for v in values)} ms (best {min(values):.0f} ms)"
        )
    for name, values in paints.items():
        assert min(values) < BUDGET_MS, f"{name}: first paint {min(values):.0f} ms"
