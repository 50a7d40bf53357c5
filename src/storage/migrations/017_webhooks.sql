-- Webhooks (issue 17, item 2), following Standard Webhooks. Both tables are tenant-owned;
-- the platform's own subscriptions (tenant lifecycle) belong to the platform tenant, so the
-- same forced RLS covers them and there is no platform-only table.
--
-- webhook_subscriptions: where to post which event types. The signing secret (whsec_…) is
-- sealed with the master key (secret_enc); it is shown once at creation and never again.
CREATE TABLE webhook_subscriptions (
  tenant_id    uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  id           uuid NOT NULL,
  url          text NOT NULL,
  event_types  text[] NOT NULL,
  description  text,
  secret_enc   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

-- webhook_outbox: one row per (event, subscription), written in the transaction of the change
-- that caused it, so an event exists exactly when its change committed. `id` is the
-- webhook-id: the same on every attempt, so a receiver can drop duplicates. Workers claim due
-- rows with FOR UPDATE SKIP LOCKED; `status` is pending until delivered or, after the last
-- attempt, failed (a replay makes it pending again with a fresh budget).
CREATE TABLE webhook_outbox (
  tenant_id        uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  id               text NOT NULL,
  subscription_id  uuid NOT NULL,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_by_subscription ON webhook_outbox (tenant_id, subscription_id, status, created_at);
-- Delivered rows are kept a week for the record, then swept (runtime/expiry-sweeper.ts).
CREATE INDEX webhook_outbox_delivered ON webhook_outbox (delivered_at) WHERE status = 'delivered';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['webhook_subscriptions', 'webhook_outbox'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = (SELECT atrium_current_tenant())) WITH CHECK (tenant_id = (SELECT atrium_current_tenant()))', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING ((SELECT atrium_platform_context())) WITH CHECK ((SELECT atrium_platform_context()))', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions, webhook_outbox TO atrium_app, atrium_platform;
