"""The operators' national view and the biggest trust's view on large read models, in headless
Chromium: they answer and render.

The read models are generated with reporting.synthetic (``CPD_WEB_SCALE_SCHOOLS``,
``CPD_WEB_SCALE_TEACHERS``, ``CPD_WEB_SCALE_TRUSTS``; a tenth of the nation by default, so the
test stays quick). The first contentful paint of each load is written to
tests/web/artifacts/first-paint.json; it is a figure, not a test: ``bench/web_first_paint.py``
runs this at national size (22,000 schools, 470,000 teachers) and judges the 1 s target.
"""

from __future__ import annotations

import json
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

SCHOOLS = int(os.environ.get("CPD_WEB_SCALE_SCHOOLS", "2200"))
TEACHERS = int(os.environ.get("CPD_WEB_SCALE_TEACHERS", "47000"))
TRUSTS = int(os.environ.get("CPD_WEB_SCALE_TRUSTS", "130"))


async def test_national_and_trust_views_on_large_read_models(
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
    (ARTIFACTS / "first-paint.json").write_text(
        json.dumps(
            {"schools": SCHOOLS, "teachers": TEACHERS, "trusts": TRUSTS, "first_paint_ms": paints}
        )
    )
