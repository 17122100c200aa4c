-- Reviewer, GitHub App side: installations and their repositories, webhook deliveries
-- (de-duplicated on X-GitHub-Delivery, kept so a job can always be re-run from its payload),
-- each pull request's review state, and the findings already posted on it.
CREATE TABLE reviewer_installations (
    id                   bigint      PRIMARY KEY,
    account              text        NOT NULL,
    account_type         text        NOT NULL DEFAULT 'User',
    repository_selection text        NOT NULL DEFAULT 'selected',
    suspended            boolean     NOT NULL DEFAULT false,
    deleted_at           timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reviewer_repositories (
    id              bigint      PRIMARY KEY,
    installation_id bigint      NOT NULL REFERENCES reviewer_installations (id) ON DELETE CASCADE,
    full_name       text        NOT NULL,
    private         boolean     NOT NULL DEFAULT false,
    added_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviewer_repositories_installation ON reviewer_repositories (installation_id);

CREATE TABLE reviewer_deliveries (
    id              text        PRIMARY KEY,  -- X-GitHub-Delivery
    event           text        NOT NULL,
    action          text,
    installation_id bigint,
    repository      text,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    outcome         text
);
CREATE INDEX reviewer_deliveries_received ON reviewer_deliveries (received_at);

CREATE TABLE reviewer_pulls (
    repository_id      bigint      NOT NULL,
    number             integer     NOT NULL,
    repository         text        NOT NULL,
    last_reviewed_sha  text,
    summary_comment_id bigint,
    check_run_id       bigint,
    check_run_sha      text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, number)
);

-- One row per finding posted inline: its key survives pushes (it hashes the line's text,
-- not its number), so a later run never repeats it; comment_id finds the bot's threads.
CREATE TABLE reviewer_posted_findings (
    repository_id bigint      NOT NULL,
    number        integer     NOT NULL,
    key           text        NOT NULL,
    path          text        NOT NULL,
    line          integer     NOT NULL,
    side          text        NOT NULL,
    severity      smallint    NOT NULL,
    category      text        NOT NULL,
    source        text        NOT NULL,
    rule          text,
    message       text        NOT NULL,
    anchor        text        NOT NULL,  -- the line's text, to tell whether it is still there
    commit_sha    text        NOT NULL,
    review_id     bigint,
    comment_id    bigint,
    posted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, number, key)
);
CREATE INDEX reviewer_posted_findings_comment ON reviewer_posted_findings (comment_id);
