"""Bad input against every service's OpenAPI: schemathesis generates valid and invalid
requests for every documented operation of the four running services and checks each answer:
no 5xx, every response matches its documented schema, status code and content type.

Deterministic (a fixed seed) and bounded (a few dozen generated examples per operation, see
api_fuzz.py), the four services fuzzed side by side, so the suite takes a couple of minutes;
``CPD_API_FUZZ_EXAMPLES`` raises the bound for a deeper run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpd_platform.launcher import SERVICES, Platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

FUZZER = Path(__file__).with_name("api_fuzz.py")


class Runs:
    """One fuzzing process per service, all started at once."""

    def __init__(self, platform: Platform, folder: Path, headers: dict[str, str]) -> None:
        env = {
            **os.environ,
            "CPD_API_FUZZ_HEADERS": json.dumps(headers),
            "HYPOTHESIS_STORAGE_DIRECTORY": str(folder / "hypothesis"),  # not in the work tree
        }
        self.reports = {service: folder / f"{service}.json" for service in SERVICES}
        self.logs = {service: folder / f"{service}.log" for service in SERVICES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for service in SERVICES:
            with self.logs[service].open("wb") as log:
                self.processes[service] = subprocess.Popen(
                    [sys.executable, FUZZER, platform.url(service), self.reports[service]],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def report(self, service: str, within: float = 280) -> dict[str, Any]:
        """What api_fuzz.py found: sent, seconds, phases, failures, errors."""
        process = self.processes[service]
        code = process.wait(within)
        log = self.logs[service].read_text(errors="replace")
        assert code == 0, f"the fuzzer of {service} exited with {code}:\n{log[-5000:]}"
        report: dict[str, Any] = json.loads(self.reports[service].read_text())
        return report

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def fuzz_runs(api_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    # an operator may call every route: what is fuzzed is the input, not the access rules
    runs = Runs(api_platform, tmp_path_factory.mktemp("fuzz"), api_platform.operator_headers())
    try:
        yield runs
    finally:
        runs.stop()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_operation_answers_bad_input_as_documented(service: str, fuzz_runs: Runs) -> None:
    report = fuzz_runs.report(service)
    failures, errors = report["failures"], report["errors"]
    print(
        f"\n{service}: {report['sent']} requests in {report['seconds']:.0f} s"
        f" {report['phases']}, {len(failures)} failures, {len(errors)} errors"
    )
    found = [f"{f['operation']}: {f['title']}\n{f['message']}\n  {f['curl']}" for f in failures]
    assert (failures, errors) == ([], []), "\n\n".join([service, *found, *errors])
