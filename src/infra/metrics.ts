import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Presence's own Prometheus metrics, on one registry per app (tests run several apps in one
 * process). yoga's Prometheus plugin adds request and operation metrics to the same registry.
 * The names here are what deploy/prometheus/alerts.yml pages on; a test keeps them in step.
 */
/** Gauges read at scrape time; the app fills these in once the engine and liveness exist. */
export interface MetricSources {
  channels(): number;
  /** Inbox messages refused, by reason. */
  malformed(): Readonly<Record<string, number>>;
  sessions(): number;
  redisUp(): boolean;
  online(): Promise<number>;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = { registers: [registry] };
  const sources: Partial<MetricSources> = {};
  return {
    registry,
    sources,
    connections: new Gauge({ name: 'presence_ws_connections', help: 'Open authenticated WebSocket connections', ...r }),
    subscriptions: new Gauge({ name: 'presence_subscriptions_active', help: 'Open GraphQL subscriptions (WebSocket and SSE)', ...r }),
    ...scrapedGauges(sources, r),
    fanoutFailures: new Counter({
      name: 'presence_fanout_failures_total',
      help: 'Stored changes whose routing to viewers failed (those events were lost)',
      ...r,
    }),
    published: new Counter({ name: 'presence_events_published_total', help: 'Presence changes published by this instance', ...r }),
    delivered: new Counter({ name: 'presence_events_delivered_total', help: 'Events sent to subscribers of this instance', ...r }),
    rendered: new Counter({
      name: 'presence_events_rendered_total',
      help: 'Subscription events executed (once per event and distinct selection, shared by its subscribers here)',
      ...r,
    }),
    deliveryLag: new Histogram({
      name: 'presence_event_delivery_lag_seconds',
      help: 'From the change being written to its event being handed to a subscriber',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ...r,
    }),
    sweeps: new Counter({ name: 'presence_sweeps_total', help: 'Liveness sweeps run by this instance', ...r }),
    sweepFailures: new Counter({ name: 'presence_sweep_failures_total', help: 'Liveness sweeps that failed', ...r }),
    sweepDuration: new Histogram({
      name: 'presence_sweep_duration_seconds',
      help: 'Duration of one liveness sweep (deadlines, dead instances, retention)',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ...r,
    }),
    sweptUsers: new Counter({ name: 'presence_swept_users_total', help: 'Users re-evaluated because a session deadline passed', ...r }),
    takeovers: new Counter({ name: 'presence_takeovers_total', help: 'Dead instances taken over by this instance', ...r }),
    takenOverSessions: new Counter({
      name: 'presence_taken_over_sessions_total',
      help: 'Sessions of dead instances ended by this instance',
      ...r,
    }),
    retained: new Counter({ name: 'presence_retention_removed_total', help: 'Records removed after the retention period', ...r }),
    rateLimited: new Counter({
      name: 'presence_rate_limited_total',
      help: 'Calls refused by the per-user rate limit',
      labelNames: ['operation'],
      ...r,
    }),
    // With the Redis engine each operation is one round trip (one script or one pipeline per node).
    engineDuration: new Histogram({
      name: 'presence_engine_duration_seconds',
      help: 'Duration of storage engine operations (Redis round trips with the Redis engine)',
      labelNames: ['operation'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      ...r,
    }),
    engineErrors: new Counter({
      name: 'presence_engine_errors_total',
      help: 'Failed storage engine operations',
      labelNames: ['operation'],
      ...r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Gauges whose value is read from the app (`sources`) when Prometheus scrapes. */
function scrapedGauges(sources: Partial<MetricSources>, r: { registers: Registry[] }) {
  return {
    channels: new Gauge({
      name: 'presence_redis_channels',
      help: 'Pub/sub channels this instance is subscribed to (its inbox: 1, whatever the load)',
      collect() {
        this.set(sources.channels?.() ?? 0);
      },
      ...r,
    }),
    sessions: new Gauge({
      name: 'presence_sessions',
      help: 'Socket device sessions held by this instance',
      collect() {
        this.set(sources.sessions?.() ?? 0);
      },
      ...r,
    }),
    online: new Gauge({
      name: 'presence_online_users',
      help: 'Users present now, fleet-wide',
      async collect() {
        // Redis unreachable: keep the last value; presence_redis_up says why.
        const n = await sources.online?.().catch(() => null);
        if (n !== null && n !== undefined) this.set(n);
      },
      ...r,
    }),
    malformed: new Gauge({
      name: 'presence_inbox_malformed_total',
      help: 'Inbox messages dropped because they did not parse, by the reason they were refused',
      labelNames: ['reason'],
      collect() {
        for (const [reason, n] of Object.entries(sources.malformed?.() ?? {})) this.set({ reason }, n);
      },
      ...r,
    }),
    redisUp: new Gauge({
      name: 'presence_redis_up',
      help: '1 while every Redis connection of this instance is ready (always 1 on the memory engine)',
      collect() {
        this.set(sources.redisUp?.() === false ? 0 : 1);
      },
      ...r,
    }),
  };
}
