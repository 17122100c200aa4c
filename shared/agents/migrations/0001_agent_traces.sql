-- One row per agent turn: the whole trace as JSON, for debugging and replay.
CREATE TABLE agent_traces (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     text        NOT NULL,
    agent      text        NOT NULL,
    session    text        NOT NULL,
    turn       integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    trace      jsonb       NOT NULL
);
-- Every read is one tenant's session, in turn order.
CREATE INDEX agent_traces_tenant_session_turn_idx ON agent_traces (tenant, session, turn);

-- Row-level security, as for the retrieval tables (platform migration 0002 creates the
-- ascent_tenant role): the store runs as that role with ascent.tenant set, so a query that
-- lost its tenant predicate still sees one tenant's traces only.
GRANT SELECT, INSERT, DELETE ON agent_traces TO ascent_tenant;
ALTER TABLE agent_traces ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agent_traces
    USING (tenant = current_setting('ascent.tenant', true))
    WITH CHECK (tenant = current_setting('ascent.tenant', true));
