"""``cpd import`` end to end against a real PostgreSQL: summary, bad rows with line numbers, the
exit code, the bad-rows file, and a re-run that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cpd_cli import imports
from cpd_cli.main import app

pytestmark = pytest.mark.integration


def summary_row(output: str) -> list[str]:
    """The cells of the summary table's schools row, from ``imported`` to ``bad rows``."""
    [row] = [line for line in output.splitlines() if line.startswith("│ schools")]
    return [cell.strip() for cell in row.split("│")[3:8]]


def test_cpd_import_schools_reports_bad_rows_and_is_idempotent(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "console", Console(width=200))
    census = tmp_path / "census.csv"
    census.write_text(
        "URN,LA,SCHOOLTYPE,NOR,PNUMFSMEVER\n"
        "100000,201,State-funded primary,271,21.90%\n"
        "100001,201,Independent school,739,NA\n"
        "100005,202,State-funded nursery,c,x\n"
        "1000,202,State-funded primary,12,1.00%\n"
    )
    pp50 = tmp_path / "pp50.csv"
    pp50.write_text("urn\n100000\n")
    bad_rows = tmp_path / "bad.txt"
    runner = CliRunner()
    command = ["import", "schools", "--census", str(census), "--pp50", str(pp50)]
    command += ["--database-url", database_url, "--bad-rows", str(bad_rows)]

    first = runner.invoke(app, command)
    assert first.exit_code == 1, first.output
    assert "line 5: urn (URN): String should match pattern" in first.output
    # imported, unchanged, skipped (the independent school), conflicts, bad rows
    assert summary_row(first.output) == ["2", "0", "1", "0", "1"]
    assert bad_rows.read_text().startswith("bad\tline 5: urn (URN): ")

    census.write_text(census.read_text().replace("1000,", "100002,"))
    second = runner.invoke(app, command)
    assert second.exit_code == 0, second.output
    assert summary_row(second.output) == ["1", "2", "1", "0", "0"]

    missing = runner.invoke(app, ["import", "teachers", str(pp50), "--database-url", database_url])
    assert missing.exit_code == 2
    assert "missing column(s) trn" in missing.output
