/**
 * The event bus: what one instance changes, every instance acts on. One channel carries
 * every event with its tenant id (see DESIGN.md): subscribers are few and cheap, and a
 * single subscription per instance is simpler to keep alive than one per tenant.
 */
export type AtriumEvent =
  | { type: 'tenant.created'; tenantId: string; slug: string }
  | { type: 'tenant.changed'; tenantId: string; slug: string }
  | { type: 'tenant.deleted'; tenantId: string; slug: string; domains: readonly string[] }
  | { type: 'keys.rotated'; tenantId: string; slug: string }
  | { type: 'client.changed'; tenantId: string; slug: string; clientId: string }
  /** The operator's policy (tenancy/platform-config.ts): every tenant at once. */
  | { type: 'platform.changed'; section: string; version: number };

export type EventHandler = (event: AtriumEvent) => void;

export interface EventBus {
  publish(event: AtriumEvent): Promise<void>;
  subscribe(handler: EventHandler): void;
  readonly healthy: boolean;
  close(): Promise<void>;
}

/** Delivers to this process only: the single-instance default. */
export function createInProcessBus(): EventBus {
  const handlers: EventHandler[] = [];
  return {
    healthy: true,
    async publish(event) {
      for (const h of handlers) h(event);
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    async close() {
      handlers.length = 0;
    },
  };
}
