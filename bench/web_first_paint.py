"""First paint of the web dashboard's national and trust views on national-size read models.

Runs tests/web/test_web_national_scale.py (headless Chromium against the reporting app on a
generated national dataset: reporting.synthetic) at national size, reads the first contentful
paint of each page load it recorded, prints the figures against the 1 s target and writes JSON
to bench/results/. Needs Debian's chromium (scripts/bootstrap.sh installs it as root).

    uv run python bench/web_first_paint.py [--schools 22000 --teachers 470000 --trusts 1300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "tests" / "web" / "artifacts" / "first-paint.json"
TARGET_MS = 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=22_000)
    parser.add_argument("--teachers", type=int, default=470_000)
    parser.add_argument("--trusts", type=int, default=1_300)
    args = parser.parse_args()
    env = {
        **os.environ,
        "CPD_WEB_SCALE_SCHOOLS": str(args.schools),
        "CPD_WEB_SCALE_TEACHERS": str(args.teachers),
        "CPD_WEB_SCALE_TRUSTS": str(args.trusts),
    }
    MEASURED.unlink(missing_ok=True)
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "tests/web/test_web_national_scale.py"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    measured = json.loads(MEASURED.read_text())
    figures = {
        view: {
            "loads_ms": values,
            "best_ms": min(values),
            "target_ms": TARGET_MS,
            "met": min(values) < TARGET_MS,
        }
        for view, values in measured["first_paint_ms"].items()
    }
    print(f"\nfirst contentful paint, {args.schools:,} schools, {args.teachers:,} teachers:")
    for view, figure in figures.items():
        verdict = "met" if figure["met"] else "NOT met"
        loads = ", ".join(f"{v:.0f}" for v in figure["loads_ms"])
        print(f"  {view:9} {loads} ms (best {figure['best_ms']:.0f} ms; < 1,000 ms {verdict})")
    out = ROOT / "bench" / "results" / f"web_first_paint-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "web_first_paint",
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "load_average": os.getloadavg(),
                },
                "python": sys.version.split()[0],
                "dataset": measured | {"first_paint_ms": None},
                "figures": figures,
                "seconds": round(time.time() - started, 1),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
