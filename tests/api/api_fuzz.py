"""Schemathesis against one running service, as a process of its own:
``python tests/api/api_fuzz.py BASE_URL REPORT.json``.

It runs schemathesis' engine (what its CLI runs: the examples, coverage and fuzzing phases) over
HTTP with the checks of the bad-input suite, and writes what it found as JSON. The suite starts
one such process per service so that the four run side by side (the engine is not thread-safe).
Extra request headers (a token) come as JSON in ``CPD_API_FUZZ_HEADERS``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema

SEED = 20251
EXAMPLES = int(os.environ.get("CPD_API_FUZZ_EXAMPLES", "25"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
#: Operator routes that start long work per call (a full rebuild or replay of the topics):
#: a couple of generated examples each covers their validation.
HEAVY = ("/admin/read-models/check", "/admin/read-models/rebuild", "/admin/read-models/snapshots")
STREAM = "/trusts/{trust_id}/feed/stream"
#: Operator routes whose documented answer to a slow broker or rebuild (a loaded machine) is
#: 503: there it is no fault. The check waits up to 120 s for its scratch rebuild.
SLOW = ("/admin/lag", "/admin/read-models/check")


def _operation(path: str) -> dict[str, Any]:
    config: dict[str, Any] = {"include-path": path}
    if path in HEAVY:
        config["generation"] = {"max-examples": 2}
    if path in SLOW:
        config["request-timeout"] = 150
        config["checks"] = {
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}
        }
    return config


def config_for(base_url: str, headers: dict[str, str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "workers": 1,
            "continue-on-failure": True,
            "request-timeout": 30,
            "headers": {"x-actor": "schemathesis", **headers},
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "stateful": {"enabled": False},
                # other methods on each path (405): no check here looks at them
                "coverage": {"unexpected-methods": []},
            },
            "operations": [_operation(path) for path in sorted({*HEAVY, *SLOW})]
            + [
                {  # server-sent events never end: the first event is enough, soon
                    "include-path": STREAM,
                    "request-timeout": 2,
                    "max-stream-events": 1,
                    "generation": {"max-examples": 5},
                },
            ],
        }
    )


@dataclass
class Found:
    operation: str
    title: str
    message: str
    curl: str


@dataclass
class Report:
    sent: int = 0
    seconds: float = 0.0
    failures: list[Found] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: requests sent per phase (examples, coverage, fuzzing)
    phases: dict[str, int] = field(default_factory=dict)


def fuzz(base_url: str, headers: dict[str, str] | None = None) -> Report:
    """One failure per operation and kind of failure, with a curl command to reproduce it."""
    started = time.monotonic()
    config = config_for(base_url, headers or {})
    schema = schemathesis.openapi.from_url(
        f"{base_url}/openapi.json", config=config, headers=headers or {}
    )
    report = Report()
    seen: set[tuple[str, str]] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            report.sent += len(recorder.interactions)
            phase = str(event.phase)
            report.phases[phase] = report.phases.get(phase, 0) + len(recorder.interactions)
            for checks in recorder.checks.values():
                for check in checks:
                    info = check.failure_info
                    if info is None or (recorder.label, info.failure.title) in seen:
                        continue
                    seen.add((recorder.label, info.failure.title))
                    curl = info.steps[-1].curl if info.steps else info.code_sample
                    report.failures.append(
                        Found(recorder.label, info.failure.title, info.failure.message, curl)
                    )
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
    report.seconds = time.monotonic() - started
    return report


def main(base_url: str, out: str) -> None:
    headers = json.loads(os.environ.get("CPD_API_FUZZ_HEADERS") or "{}")
    report = fuzz(base_url, headers)
    with open(out, "w") as file:
        json.dump(asdict(report), file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
