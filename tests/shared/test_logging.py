import logging

from pydantic import SecretStr

from shared.config import Settings
from shared.logging import SecretMaskFilter, settings_secrets

PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END"
)


def test_every_secret_setting_is_masked_in_logs(tmp_path):
    settings = Settings(data_home=tmp_path, reviewer_webhook_secret=SecretStr("whsec-1234567890"),
                        reviewer_github_private_key=SecretStr(PEM))  # fmt: skip
    mask = SecretMaskFilter(settings_secrets(settings))
    leaks = ("signature check with whsec-1234567890 failed", f"key loaded: {PEM}",
             "a line of it: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")  # fmt: skip
    for leaked in leaks:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, leaked, None, None)
        mask.filter(record)
        text = record.getMessage()
        assert "whsec-1234567890" not in text and "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in text
        assert "***" in text
