"""Web plumbing shared by every service."""

from shared.web.app import create_app
from shared.web.auth import ApiKey, ApiKeyDep, create_api_key, require_api_key, require_scope
from shared.web.deps import LLMDep, PoolDep, SettingsDep
from shared.web.errors import problem

__all__ = [
    "ApiKey",
    "ApiKeyDep",
    "LLMDep",
    "PoolDep",
    "SettingsDep",
    "create_api_key",
    "create_app",
    "problem",
    "require_api_key",
    "require_scope",
]
