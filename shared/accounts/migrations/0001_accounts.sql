-- Accounts: organisations (the billing unit), their users, the product tenants they own,
-- server-side sign-in sessions and the sign-in attempt counter.
CREATE TABLE accounts_orgs (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts_users (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lower-cased, so the unique constraint is case-insensitive.
    email           text        NOT NULL UNIQUE CHECK (email = lower(email)),
    -- argon2id PHC string; NULL for a user who cannot sign in with a password.
    password_hash   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz
);

CREATE TABLE accounts_memberships (
    org_id      text        NOT NULL REFERENCES accounts_orgs (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL REFERENCES accounts_users (id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX accounts_memberships_user_idx ON accounts_memberships (user_id);

-- Which organisation owns a product's tenant (a repurposer workspace, a reviewer
-- installation, a shopbot store): billing and quotas are looked up through this.
CREATE TABLE accounts_tenants (
    product     text        NOT NULL CHECK (product IN ('repurposer', 'reviewer', 'shopbot')),
    tenant      text        NOT NULL,
    org_id      text        NOT NULL REFERENCES accounts_orgs (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product, tenant)
);
CREATE INDEX accounts_tenants_org_idx ON accounts_tenants (org_id);

CREATE TABLE accounts_sessions (
    -- sha256 of the cookie's random id: a database leak does not hand out sessions.
    id_hash     bytea       PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES accounts_users (id) ON DELETE CASCADE,
    org_id      text        NOT NULL REFERENCES accounts_orgs (id) ON DELETE CASCADE,
    csrf_token  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX accounts_sessions_user_idx ON accounts_sessions (user_id);

-- Sign-in attempts per (email, client address) in fixed windows; the key is an HMAC-SHA256 so
-- neither is stored in the clear.
CREATE TABLE accounts_sign_in_attempts (
    key_hash     bytea       NOT NULL,
    window_start timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (key_hash, window_start)
);
