-- Billing: the local mirror of Stripe (customers, subscriptions, entitlements), the webhook
-- events already applied, checkout sessions handed out, and metered usage.
--
-- org_id is accounts_orgs.id, deliberately without a foreign key: these are financial records
-- (who paid, what was used and reported to Stripe) and must outlive a deleted organisation.
-- No card data is ever stored; Stripe keeps it.

CREATE TABLE billing_customers (
    org_id                 text        PRIMARY KEY,
    stripe_customer_id     text        NOT NULL UNIQUE,
    -- Stripe Entitlements: the customer's active feature lookup keys, refreshed from Stripe.
    features               text[]      NOT NULL DEFAULT '{}',
    features_refreshed_at  timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing_subscriptions (
    stripe_subscription_id text        PRIMARY KEY,
    org_id                 text        NOT NULL,
    product                text        NOT NULL,
    plan                   text        NOT NULL,
    status                 text        NOT NULL,
    stripe_customer_id     text        NOT NULL,
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean     NOT NULL DEFAULT false,
    -- Set when a payment fails; the paid plan stays usable until then.
    grace_until            timestamptz,
    -- When this state was read from Stripe: an older read never overwrites a newer one.
    updated_from_stripe_at timestamptz NOT NULL
);
CREATE INDEX billing_subscriptions_org_idx ON billing_subscriptions (org_id, product);

-- Webhook events applied; the row is inserted in the same transaction as the event's effect.
CREATE TABLE billing_events (
    id           text        PRIMARY KEY,
    type         text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text        NOT NULL DEFAULT ''
);

-- Checkout sessions handed out; an org's open one is expired before a new one is made, so
-- two browser tabs can never complete two subscriptions to one product.
CREATE TABLE billing_checkouts (
    stripe_session_id text        PRIMARY KEY,
    org_id            text        NOT NULL,
    product           text        NOT NULL,
    plan              text        NOT NULL,
    status            text        NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'complete', 'expired')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_checkouts_open_idx ON billing_checkouts (org_id, product)
    WHERE status = 'open';

-- Metered usage. The idempotency key is unique, so a retried job never counts twice; it is
-- also the meter event's identifier at Stripe, so a retried report is de-duplicated there.
CREATE TABLE billing_usage (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key    text        NOT NULL UNIQUE CHECK (length(idempotency_key) <= 100),
    product            text        NOT NULL,
    tenant             text        NOT NULL,
    org_id             text,
    meter              text        NOT NULL,
    quantity           bigint      NOT NULL CHECK (quantity > 0),
    occurred_at        timestamptz NOT NULL,
    -- Set when the usage is billable at Stripe (a subscription with a metered price); rows
    -- without them are counted for quotas only.
    stripe_customer_id text,
    event_name         text,
    reported_at        timestamptz,
    report_attempts    integer     NOT NULL DEFAULT 0,
    report_error       text
);
CREATE INDEX billing_usage_org_idx ON billing_usage (org_id, product, meter, occurred_at)
    WHERE org_id IS NOT NULL;
CREATE INDEX billing_usage_tenant_idx ON billing_usage (product, tenant, meter, occurred_at)
    WHERE org_id IS NULL;
CREATE INDEX billing_usage_unreported_idx ON billing_usage (id)
    WHERE reported_at IS NULL AND event_name IS NOT NULL;
