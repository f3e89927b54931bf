import type { Viewer } from './auth.js';
import type { Config } from './config.js';
import type { LoadedPresence, PresenceEngine } from './engine/types.js';
import type { SocketSession } from './liveness/index.js';
import type { Metrics } from './metrics.js';
import type { WatchDeps } from './realtime/watch.js';
import { project, type PresenceView, type Relation } from './presence.js';

/** What every resolver gets. Built once per HTTP request or per WebSocket operation. */
export interface Context {
  viewer: Viewer | null;
  config: Readonly<Config>;
  engine: PresenceEngine;
  metrics: Metrics;
  /** What a subscription stream needs (src/realtime/watch.ts): built once per app, shared by every stream. */
  watch: WatchDeps;
  /** The device session of the WebSocket this operation came on; null over HTTP. */
  session: SocketSession | null;
  /** Batches every presence read of one request into one engine.load() (one Redis round trip). */
  presence: PresenceLoader;
  /** The viewer's view of `userId`, applying the visibility rule. */
  view(userId: string, loaded: LoadedPresence): PresenceView;
}

/** What every context shares: built once per app. */
export type Services = Pick<Context, 'config' | 'engine' | 'metrics' | 'watch'>;

/** What the resolvers read presence through (DataLoader's `load` and `loadMany`). */
export interface PresenceLoader {
  load(id: string): Promise<LoadedPresence>;
  /** One answer per id, in order; an id whose read failed holds the Error. */
  loadMany(ids: ArrayLike<string>): Promise<(LoadedPresence | Error)[]>;
}

/** Ids per engine.load call: a larger batch is split (a Redis script takes ~8,000 arguments at most). */
const MAX_BATCH = 10_000;

/**
 * DataLoader's contract for one request, without a promise per id: every id asked for in the same
 * tick goes to engine.load together (one round trip, whatever the fields that ask), an id named
 * twice is read once and answers the same, and a failed read fails the loads that waited for it
 * (and is not remembered). DataLoader itself cost ~75 µs per 100-id loadMany against ~4 µs for the
 * engine's own read on the memory engine (bench/plugins.ts), 15% of a presence(ids) request.
 *
 * Made on first use and small until then: a subscription's context lives as long as its socket
 * and rarely reads. Not a getter: envelop merges the context into the transport's with
 * Object.assign, which reads every getter.
 */
class RequestPresenceLoader implements PresenceLoader {
  /** What this request read, by id. */
  private known: Map<string, LoadedPresence> | undefined;
  /** Ids being read now or in the next batch, with the promise of their batch. */
  private waiting: Map<string, Promise<void>> | undefined;
  /** The next batch: its ids and its promise (null once dispatched). */
  private next: { ids: string[]; done: Promise<void> } | null = null;
  constructor(
    private readonly engine: PresenceEngine,
    private readonly viewerId: string | null,
  ) {}

  async load(id: string): Promise<LoadedPresence> {
    const [answer] = await this.loadMany([id]);
    if (answer instanceof Error) throw answer;
    return answer!;
  }

  async loadMany(ids: ArrayLike<string>): Promise<(LoadedPresence | Error)[]> {
    const known = (this.known ??= new Map());
    const waiting = (this.waiting ??= new Map());
    let batches: Set<Promise<void>> | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (known.has(id)) continue;
      let batch = waiting.get(id);
      if (!batch) waiting.set(id, (batch = this.enqueue(id)));
      (batches ??= new Set()).add(batch);
    }
    let failure: Error | undefined;
    if (batches) {
      try {
        await Promise.all(batches);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
    }
    return Array.from(ids, (id) => known.get(id) ?? failure ?? new Error(`no answer for ${id}`));
  }

  private enqueue(id: string): Promise<void> {
    if (!this.next) {
      const next = { ids: [] as string[], done: Promise.resolve() };
      // Dispatched after the current tick's promise jobs, as DataLoader does: the resolvers that
      // run together (sibling fields, list items) join one batch.
      next.done = Promise.resolve()
        .then(() => new Promise<void>((resolve) => process.nextTick(resolve)))
        .then(() => this.dispatch(next.ids));
      this.next = next;
    }
    this.next.ids.push(id);
    return this.next.done;
  }

  private async dispatch(ids: string[]): Promise<void> {
    this.next = null;
    try {
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += MAX_BATCH) chunks.push(ids.slice(i, i + MAX_BATCH));
      const answers = await Promise.all(chunks.map((chunk) => this.engine.load(this.viewerId, chunk)));
      answers.forEach((loaded, c) => {
        const chunk = chunks[c]!;
        if (loaded.length !== chunk.length) throw new TypeError(`engine.load answered ${loaded.length} records for ${chunk.length} ids`);
        chunk.forEach((id, i) => this.known!.set(id, loaded[i]!));
      });
    } finally {
      // Read or failed: a failed id is read again if asked again, as DataLoader forgets failures.
      for (const id of ids) this.waiting!.delete(id);
    }
  }
}

export function createContext(services: Services, viewer: Viewer | null, session: Context['session'] = null): Context {
  const { config, engine } = services;
  const viewerId = viewer?.userId ?? null;
  const relation = (userId: string, friend: boolean): Relation => (userId === viewerId ? 'self' : friend ? 'friend' : 'other');
  let now: number | undefined;
  return {
    ...services,
    viewer,
    session,
    // The loader is empty until first used: a subscription's context lives as long as its socket and rarely reads.
    presence: new RequestPresenceLoader(engine, viewerId),
    // One instant per request: an id named twice reads the same, lastActiveAt included.
    view: (userId, loaded) => project(userId, loaded.record, relation(userId, loaded.friend), config.visibility, (now ??= Date.now())),
  };
}
