-- Shopbot: stores (tenants), their catalogue, chat sessions with replayable events, analytics.
CREATE TABLE shop_stores (
    id              text PRIMARY KEY,
    name            text        NOT NULL,
    -- The public widget key (pk_...): it identifies the store to the widget and is only
    -- accepted from the allowed origins. The secret admin key lives hashed in api_keys.
    widget_key      text        NOT NULL UNIQUE,
    allowed_origins text[]      NOT NULL DEFAULT '{}',
    currency        text        NOT NULL DEFAULT 'USD',
    -- External APIs (order status, shipping rates): URLs and credentials per store.
    integrations    jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop_products (
    store_id     text    NOT NULL REFERENCES shop_stores (id) ON DELETE CASCADE,
    sku          text    NOT NULL,
    -- Variants of one product (Shopify sizes and colours) share a group.
    group_id     text    NOT NULL,
    title        text    NOT NULL,
    description  text    NOT NULL DEFAULT '',
    price        numeric(12, 2) NOT NULL CHECK (price >= 0),
    currency     text    NOT NULL,
    stock        integer,
    in_stock     boolean GENERATED ALWAYS AS (stock IS NULL OR stock > 0) STORED,
    category     text    NOT NULL DEFAULT '',
    attributes   jsonb   NOT NULL DEFAULT '{}',
    image        text,
    url          text,
    content_hash text    NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, sku)
);
CREATE INDEX shop_products_category_idx ON shop_products (store_id, category, price);
CREATE INDEX shop_products_price_idx ON shop_products (store_id, price);
CREATE INDEX shop_products_attributes_idx ON shop_products USING gin (attributes jsonb_path_ops);
CREATE INDEX shop_products_title_trgm_idx ON shop_products USING gin (title gin_trgm_ops);
CREATE INDEX shop_products_fts_idx ON shop_products USING gin (
    to_tsvector('english', title || ' ' || category || ' ' || description)
);

CREATE TABLE shop_imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id    text        NOT NULL REFERENCES shop_stores (id) ON DELETE CASCADE,
    status      text        NOT NULL DEFAULT 'running',  -- running, done, failed
    total       integer     NOT NULL DEFAULT 0,
    done        integer     NOT NULL DEFAULT 0,
    report      jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE shop_sessions (
    store_id   text        NOT NULL REFERENCES shop_stores (id) ON DELETE CASCADE,
    id         text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    -- The id of the session's latest event: incremented atomically per event.
    last_event bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, id)
);

-- Everything the widget was sent, in order: replayed after a reconnect, and the memory the
-- assistant reads back.
CREATE TABLE shop_events (
    store_id   text        NOT NULL,
    session_id text        NOT NULL,
    id         bigint      NOT NULL,
    turn       integer     NOT NULL,
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, session_id, id),
    FOREIGN KEY (store_id, session_id) REFERENCES shop_sessions (store_id, id) ON DELETE CASCADE
);

CREATE TABLE shop_searches (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id   text        NOT NULL REFERENCES shop_stores (id) ON DELETE CASCADE,
    session_id text,
    query      text        NOT NULL,
    results    integer     NOT NULL,
    channel    text        NOT NULL,  -- search, chat
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shop_searches_store_idx ON shop_searches (store_id, created_at);

CREATE TABLE shop_product_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id   text        NOT NULL REFERENCES shop_stores (id) ON DELETE CASCADE,
    session_id text,
    sku        text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('shown', 'clicked')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shop_product_events_store_idx ON shop_product_events (store_id, kind, sku);
