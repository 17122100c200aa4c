-- Repurposer: workspaces (tenants), resumable uploads, jobs with per-stage state, assets.
CREATE TABLE rp_workspaces (
    id         text PRIMARY KEY,
    name       text        NOT NULL,
    -- Default caption / audiogram style (BrandStyle JSON); a job may override it.
    style      jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rp_uploads (
    id           text PRIMARY KEY,
    workspace_id text        NOT NULL REFERENCES rp_workspaces (id) ON DELETE CASCADE,
    -- The client's file name: display text only, never part of a path.
    filename     text        NOT NULL DEFAULT '',
    length       bigint      NOT NULL CHECK (length >= 0),
    "offset"     bigint      NOT NULL DEFAULT 0 CHECK ("offset" >= 0 AND "offset" <= length),
    status       text        NOT NULL DEFAULT 'receiving'
                 CHECK (status IN ('receiving', 'ready', 'failed')),
    media        jsonb,
    error        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rp_uploads_workspace_idx ON rp_uploads (workspace_id, created_at DESC);

CREATE TABLE rp_jobs (
    id           text PRIMARY KEY,
    workspace_id text        NOT NULL REFERENCES rp_workspaces (id) ON DELETE CASCADE,
    upload_id    text        NOT NULL REFERENCES rp_uploads (id),
    status       text        NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'failed')),
    options      jsonb       NOT NULL DEFAULT '{}',
    callback_url text,
    error        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX rp_jobs_workspace_idx ON rp_jobs (workspace_id, created_at DESC);

-- One row per job and stage; a stage is finished when its output is stored and status='done'.
CREATE TABLE rp_stages (
    job_id      text        NOT NULL REFERENCES rp_jobs (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    position    smallint    NOT NULL,
    status      text        NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'done', 'failed')),
    progress    real        NOT NULL DEFAULT 0,
    error       text,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE rp_assets (
    job_id     text        NOT NULL REFERENCES rp_jobs (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    asset      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, kind)
);

-- Webhook deliveries on job completion, retried by the worker until they succeed.
CREATE TABLE rp_callbacks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      text        NOT NULL REFERENCES rp_jobs (id) ON DELETE CASCADE,
    url         text        NOT NULL,
    event       text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    last_status integer,
    last_error  text,
    delivered_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
