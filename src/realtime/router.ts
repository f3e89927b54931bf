import type { FriendshipChange, Inbox, InboxMessage } from '../engine/bus.js';
import type { RouteTable } from '../engine/ports.js';
import type { PresenceChange } from '../domain/status-rule.js';

/** One open subscription, as the router delivers to it. */
export interface Delivery {
  /** A change of a user the subscription's viewer is routed for (a friend or themselves), or watches. */
  presence(change: PresenceChange): void;
  /** The viewer's friend set changed. */
  friendship(change: FriendshipChange): void;
  /**
   * Changes may have been routed to nobody here (the instance lost its lease while frozen and a
   * survivor dropped its routes; the inbox was resubscribed after a Redis restart or failover):
   * catch up from the stored state. Resolves once done.
   */
  resync(): Promise<void>;
}

/**
 * Local fan-out: the inbox messages of this instance to its open subscriptions. The routing table
 * lives in Redis (engine RouteTable); this keeps its local side, one entry per viewer (or watched
 * user) with the subscriptions that need it, and registers a viewer in Redis when their first
 * subscription opens here and unregisters them when the last one ends. Nothing is subscribed per
 * user: the instance listens on its one inbox.
 */
export interface Router {
  /** Opens this instance's inbox. */
  start(): Promise<void>;
  /** Routes the viewer's friends' changes (and their own) to `d`; resolves once Redis has the route. */
  join(viewerId: string, d: Delivery): Promise<void>;
  leave(viewerId: string, d: Delivery): void;
  /** Routes the changes of `userIds` to `d` whatever the friendship (visibility 'everyone'). */
  watch(userIds: readonly string[], d: Delivery): Promise<void>;
  unwatch(userIds: readonly string[], d: Delivery): void;
  /** This instance registered again under a new id (its lease was lost): moves the inbox and routes. */
  moved(previous: string, next: string): Promise<void>;
  /** Registers every local route again (after Redis lost them: restart, failover). */
  reassert(): Promise<void>;
  /** Subscriptions whose route is registered (tests wait on it; a gauge). */
  size(): number;
  stop(): Promise<void>;
}

export interface RouterDeps {
  routes: RouteTable;
  inbox: Inbox;
  /** The instance's current id (liveness: changes after a lost lease). */
  instanceId(): string;
  /** A route that could not be registered again after a reconnect (retried on the next one). */
  onError(err: Error): void;
}

/** Remote registrations sent per pipeline when re-asserting the whole table. @default 1_000 */
const CHUNK = 1_000;
/**
 * Subscriptions catching up at once after a reconnect or a move: each reads its friends and their
 * records (two round trips), so a whole instance's worth at once would flood Redis just as it
 * comes back. @default 50
 */
const RESYNC_CONCURRENCY = 50;

/** Runs every delivery's catch-up, at most RESYNC_CONCURRENCY at a time. */
async function resyncAll(deliveries: Iterable<Delivery>): Promise<void> {
  const queue = [...deliveries];
  const worker = async () => {
    for (let d = queue.shift(); d; d = queue.shift()) await d.resync().catch(() => {});
  };
  await Promise.all(Array.from({ length: Math.min(RESYNC_CONCURRENCY, queue.length) }, worker));
}

/**
 * Per key, the last remote operation: a key's SADD and SREM reach Redis in the order issued.
 * `settled` resolves once every operation issued so far is done.
 */
function keyedQueue() {
  const tails = new Map<string, Promise<void>>();
  const serial = (key: string, op: () => Promise<void>): Promise<void> => {
    const run = (tails.get(key) ?? Promise.resolve()).catch(() => {}).then(op);
    tails.set(key, run);
    void run.then(
      () => tails.get(key) === run && tails.delete(key),
      () => tails.get(key) === run && tails.delete(key),
    );
    return run;
  };
  return { serial, settled: () => Promise.allSettled([...tails.values()]) };
}

/** Hands each change of an inbox message to the subscriptions of its recipients here. */
function deliver(msg: InboxMessage, viewers: Map<string, Entry>, watched: Map<string, Entry>) {
  if (msg.kind === 'presence') {
    for (const c of msg.changes) {
      for (const v of c.to) viewers.get(v)?.deliveries.forEach((d) => d.presence(c));
      if (c.watched) watched.get(c.userId)?.deliveries.forEach((d) => d.presence(c));
    }
  } else {
    for (const c of msg.changes) viewers.get(c.to)?.deliveries.forEach((d) => d.friendship(c));
  }
}

interface Entry {
  deliveries: Set<Delivery>;
  /** Registered in Redis (or failed to): joins wait for it. */
  ready: Promise<void>;
}

export function createRouter(deps: RouterDeps): Router {
  const { routes, inbox } = deps;
  const viewers = new Map<string, Entry>();
  const watched = new Map<string, Entry>();
  const live = new Set<Delivery>();
  const { serial, settled } = keyedQueue();

  const add = (table: Map<string, Entry>, kind: 'route' | 'watch', key: string, d: Delivery): Promise<void> => {
    let entry = table.get(key);
    if (!entry) {
      const fresh: Entry = { deliveries: new Set(), ready: null as never };
      fresh.ready = serial(`${kind}:${key}`, () => routes[kind](deps.instanceId(), [key], true));
      // A failed registration leaves nothing behind: the next subscription tries again.
      fresh.ready.catch(() => table.get(key) === fresh && fresh.deliveries.size === 0 && table.delete(key));
      table.set(key, (entry = fresh));
    }
    entry.deliveries.add(d);
    return entry.ready;
  };
  const remove = (table: Map<string, Entry>, kind: 'route' | 'watch', key: string, d: Delivery) => {
    const entry = table.get(key);
    if (!entry?.deliveries.delete(d) || entry.deliveries.size > 0) return;
    table.delete(key);
    void serial(`${kind}:${key}`, () => routes[kind](deps.instanceId(), [key], false)).catch(() => {
      // Redis unreachable: the route outlives the subscription until reassert() or the instance's
      // takeover; a message it attracts finds no local subscription and is dropped.
    });
  };

  const dispatch = (msg: InboxMessage) => deliver(msg, viewers, watched);

  const registerAll = async (instanceId: string) => {
    for (const [table, kind] of [
      [viewers, 'route'],
      [watched, 'watch'],
    ] as const) {
      const keys = [...table.keys()];
      for (let i = 0; i < keys.length; i += CHUNK) await routes[kind](instanceId, keys.slice(i, i + CHUNK), true);
    }
  };

  const reassert = () => registerAll(deps.instanceId());
  // After the inbox was resubscribed (Redis restart, Cluster failover), changes published before
  // it went to nobody here: the routes are registered again, then every stream catches up.
  inbox.onReconnect(
    () =>
      void reassert()
        .then(() => resyncAll(live))
        .catch(deps.onError),
  );

  return {
    start: () => inbox.open(deps.instanceId(), dispatch),
    async join(viewerId, d) {
      await add(viewers, 'route', viewerId, d);
      if (viewers.get(viewerId)?.deliveries.has(d)) live.add(d);
    },
    leave(viewerId, d) {
      live.delete(d);
      remove(viewers, 'route', viewerId, d);
    },
    async watch(userIds, d) {
      await Promise.all(userIds.map((u) => add(watched, 'watch', u, d)));
      if (userIds.every((u) => watched.get(u)?.deliveries.has(d))) live.add(d);
    },
    unwatch(userIds, d) {
      live.delete(d);
      for (const u of userIds) remove(watched, 'watch', u, d);
    },
    async moved(previous, next) {
      // New inbox first, then the routes under the new id, then the old ones go: a message routed
      // in between may arrive twice, and subscriptions drop repeats by version.
      await inbox.open(next, dispatch);
      await registerAll(next);
      await routes.dropRoutes(previous);
      await inbox.release(previous);
      // Between a survivor dropping our routes and the move, changes went to nobody.
      void resyncAll(live);
    },
    reassert,
    size: () => live.size,
    /** After the subscriptions ended: drops whatever routes are left and closes the inbox. */
    async stop() {
      await settled();
      await routes.dropRoutes(deps.instanceId()).catch(() => {});
      await inbox.release(deps.instanceId()).catch(() => {});
    },
  };
}
