from pathlib import Path

from shared.config import Settings, settings_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_configuration_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert settings_table() in readme, "regenerate with: python -m shared.config"
    for name in Settings.model_fields:
        assert f"`{name}`" in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/test" in readme.split("## ")[0]
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
