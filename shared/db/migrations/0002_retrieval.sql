-- Retrieval store: documents and their chunks, isolated per tenant.
CREATE TABLE rag_documents (
    tenant       text        NOT NULL,
    collection   text        NOT NULL DEFAULT 'default',
    source       text        NOT NULL,
    title        text        NOT NULL DEFAULT '',
    url          text,
    content_hash text        NOT NULL,
    -- The full text, for sentence windows, parent-document retrieval and citations.
    body         text        NOT NULL DEFAULT '',
    attributes   jsonb       NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, collection, source)
);

CREATE TABLE rag_chunks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text    NOT NULL,
    collection   text    NOT NULL,
    source       text    NOT NULL,
    ordinal      integer NOT NULL,
    content_hash text    NOT NULL,
    title        text    NOT NULL DEFAULT '',
    body         text    NOT NULL,
    start_char   integer,
    end_char     integer,
    metadata     jsonb   NOT NULL DEFAULT '{}',
    embedding    vector(384) NOT NULL,
    -- Title words outrank body words.
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
    ) STORED,
    UNIQUE (tenant, collection, source, ordinal),
    FOREIGN KEY (tenant, collection, source)
        REFERENCES rag_documents (tenant, collection, source) ON DELETE CASCADE
);

CREATE INDEX rag_chunks_embedding_hnsw ON rag_chunks
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX rag_chunks_tsv_idx ON rag_chunks USING gin (tsv);
CREATE INDEX rag_chunks_title_trgm_idx ON rag_chunks USING gin (title gin_trgm_ops);
CREATE INDEX rag_chunks_metadata_idx ON rag_chunks USING gin (metadata jsonb_path_ops);
CREATE INDEX rag_chunks_scope_idx ON rag_chunks (tenant, collection, source);
CREATE INDEX rag_chunks_hash_idx ON rag_chunks (tenant, collection, content_hash);

-- Row-level security. Store queries run as ascent_tenant with ascent.tenant set, so even a
-- query that forgets its tenant predicate sees only that tenant's rows. (Superusers bypass
-- RLS, which is why the store switches role instead of relying on the login role.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ascent_tenant') THEN
        CREATE ROLE ascent_tenant NOLOGIN;
    END IF;
    EXECUTE format('GRANT ascent_tenant TO %I', current_user);
END
$$;
GRANT USAGE ON SCHEMA public TO ascent_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON rag_documents, rag_chunks TO ascent_tenant;
ALTER TABLE rag_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE rag_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rag_documents
    USING (tenant = current_setting('ascent.tenant', true))
    WITH CHECK (tenant = current_setting('ascent.tenant', true));
CREATE POLICY tenant_isolation ON rag_chunks
    USING (tenant = current_setting('ascent.tenant', true))
    WITH CHECK (tenant = current_setting('ascent.tenant', true));
