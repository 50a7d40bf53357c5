-- A webhook subscription can be switched off without deleting it (its secret, its
-- deliveries and its receiver's setup stay): a disabled subscription gets no new outbox
-- rows; rows already queued are still delivered (they were events when it was on).
ALTER TABLE webhook_subscriptions ADD COLUMN enabled boolean NOT NULL DEFAULT true;
