import pytest
from pydantic import ValidationError

from shared.config import Settings, redact_url


def test_defaults_are_embedded(tmp_path):
    s = Settings(data_home=tmp_path)
    assert s.database_url is None and s.llm_base_url is None
    assert s.postgres_dir == tmp_path / "postgres"


def test_env_prefix_and_standard_database_url(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db.example:5432/app")
    monkeypatch.setenv("ASCENT_LLM_BASE_URL", "http://vllm:8000/v1")
    monkeypatch.setenv("ASCENT_WORKER_CONCURRENCY", "7")
    s = Settings(data_home=tmp_path)
    assert s.database_url.get_secret_value().endswith("@db.example:5432/app")
    assert s.llm_base_url == "http://vllm:8000/v1"
    assert s.worker_concurrency == 7
    assert "pw" not in repr(s)  # secrets never show in reprs or logs


def test_production_refuses_default_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("ASCENT_ENV", "production")
    with pytest.raises(ValidationError) as err:
        Settings(data_home=tmp_path)
    assert "ASCENT_SECRET_KEY" in str(err.value) and "DATABASE_URL" in str(err.value)


def test_production_refuses_default_llm_key_for_remote_endpoint(monkeypatch, tmp_path):
    monkeypatch.setenv("ASCENT_ENV", "production")
    monkeypatch.setenv("ASCENT_SECRET_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db:5432/app")
    monkeypatch.setenv("ASCENT_LLM_BASE_URL", "https://api.example/v1")
    with pytest.raises(ValidationError, match="ASCENT_LLM_API_KEY"):
        Settings(data_home=tmp_path)
    monkeypatch.setenv("ASCENT_LLM_API_KEY", "sk-real")
    assert Settings(data_home=tmp_path).env == "production"


def test_redact_url():
    assert redact_url("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"
