-- Platform basics: the extensions every service relies on, and hashed API keys.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The first characters of the key, shown in UIs and logs so a key can be recognised
    -- without being revealed.
    prefix      text        NOT NULL,
    -- sha256 of the whole key; the key itself is never stored.
    key_hash    bytea       NOT NULL UNIQUE,
    tenant      text        NOT NULL,
    name        text        NOT NULL DEFAULT '',
    scopes      text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant);
