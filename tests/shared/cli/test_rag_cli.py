import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _ascent(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "rag", *args],
        env={**os.environ, "COLUMNS": "200", **env}, cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_ingest_and_search_files_with_bad_ones_reported(tmp_path, database_url, data_home):
    env = {"DATABASE_URL": database_url, "ASCENT_DATA_HOME": str(data_home)}
    (tmp_path / "tents.md").write_text("# Tents\n\nThe Trail Tent sleeps two and weighs 1.6 kg.\n")
    (tmp_path / "stoves.txt").write_text("The Pocket Stove boils a litre of water in 3 minutes.\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "image.bin").write_bytes(b"\x00\x01\x02")
    files = [str(tmp_path / n) for n in ("tents.md", "stoves.txt", "empty.txt", "image.bin")]
    result = _ascent("ingest", *files, "--tenant", "acme", env=env)
    assert result.returncode == 0, result.stderr
    assert "empty.txt" in result.stderr and "image.bin" in result.stderr
    assert "documents added" in result.stdout and "2" in result.stdout

    found = _ascent("search", "how fast does it boil water", "--tenant", "acme", env=env)
    assert found.returncode == 0, found.stderr
    first_row = next(line for line in found.stdout.splitlines() if "│ 1 " in line)
    assert "stoves.txt" in first_row

    other = _ascent("search", "boil water", "--tenant", "someone-else", env=env)
    assert "0 hits" in other.stdout

    bad = _ascent("search", "x", "--tenant", "acme", "--filter", "colour=red", env=env)
    assert bad.returncode == 1 and "unknown filter field 'colour'" in bad.stderr
