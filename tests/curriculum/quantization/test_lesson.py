"""``ascent learn quantization --quick`` end to end: report, figures, results, MLflow run."""

import json

import pytest
from typer.testing import CliRunner

from curriculum.cli import app
from shared.config import get_settings


@pytest.fixture
def home(data_home, tmp_path, monkeypatch):
    monkeypatch.setenv("ASCENT_DATA_HOME", str(data_home))
    monkeypatch.setenv("ASCENT_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.slow  # ~40 s on a busy 2-core machine: it trains a tiny GPT first
def test_quick_lesson_writes_its_report(home, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["quantization", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["int8_max_error_over_half_step"] <= 1 + 1e-4
    toy = results["toy_gptq"]
    assert toy["GPTQ act-order"] <= toy["GPTQ"] < toy["RTN"]
    variants = {row["variant"]: row for row in results["gpt_comparison"]}
    assert variants["RTN int4 g64"]["linear_bytes"] < variants["float32"]["linear_bytes"] / 6
    assert (out / "gpt_comparison.png").exists() and (out / "group_size.png").exists()
    assert "MLflow run" in (out / "report.md").read_text()
