"""Logging: one JSON object per line, with the request id, and secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from asgi_correlation_id import CorrelationIdFilter
from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from shared.config import Settings

MASK = "***"


class SecretMaskFilter(logging.Filter):
    """Replace any configured secret that slips into a log message with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would mask innocent words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def settings_secrets(settings: Settings) -> list[str]:
    from urllib.parse import urlsplit

    secrets = [settings.secret_key.get_secret_value(), settings.llm_api_key.get_secret_value()]
    # Every other SecretStr setting too (webhook secrets, private keys), whatever its name.
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and name not in ("database_url",):
            text = value.get_secret_value()
            secrets += [text, *text.splitlines()] if "\n" in text else [text]
    if settings.database_url is not None:
        password = urlsplit(settings.database_url.get_secret_value()).password
        if password:
            secrets.append(password)
    return secrets


def configure_logging(settings: Settings, extra_secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
                rename_fields={
                    "levelname": "level",
                    "asctime": "time",
                    "correlation_id": "request_id",
                },
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"
            )
        )
    handler.addFilter(CorrelationIdFilter(uuid_length=32, default_value="-"))
    handler.addFilter(SecretMaskFilter([*settings_secrets(settings), *extra_secrets]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpx2", "httpcore", "openai._base_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
