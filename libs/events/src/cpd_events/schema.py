"""Export the JSON Schema of every event (``python -m cpd_events.schema DIR``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cpd_events import REGISTRY
from cpd_events.envelope import Envelope


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    schemas = {"Envelope": Envelope.model_json_schema(), **REGISTRY.json_schemas()}
    for name, schema in schemas.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    print(f"wrote {len(export(target))} schemas to {target}")
