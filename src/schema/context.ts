import DataLoader from 'dataloader';
import type { Viewer } from '../infra/auth.js';
import type { Config } from '../config.js';
import type { LoadedPresence, PresenceEngine } from '../engine/ports.js';
import type { SocketSession } from '../liveness/index.js';
import type { Metrics } from '../infra/metrics.js';
import type { WatchDeps } from '../realtime/watch.js';
import { project, type PresenceView, type Relation } from '../domain/visibility.js';

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
  /** The viewer's view of `userId`, applying the visibility rule (without reciprocity: for the viewer's own record). */
  view(userId: string, loaded: LoadedPresence): PresenceView;
  /**
   * What the viewer may see of each id, in order (duplicates allowed): every rule applied, the
   * viewer's own lastActive setting included, in one batched read with it.
   */
  views(ids: readonly string[]): Promise<PresenceView[]>;
}

/**
 * What the yoga context factory receives from a WebSocket operation (src/transport/ws.ts): the
 * viewer verified when the socket connected, and the device session it holds. Plugins tell socket
 * operations apart by it.
 */
export interface SocketContext {
  socketViewer: Viewer;
  socketSession: SocketSession | null;
}

/** What every context shares: built once per app. */
export type Services = Pick<Context, 'config' | 'engine' | 'metrics' | 'watch'>;

/** The part of a DataLoader the resolvers use. */
export type PresenceLoader = Pick<DataLoader<string, LoadedPresence>, 'load' | 'loadMany'>;

/**
 * A DataLoader made on first use. Not a getter: envelop merges the context into the transport's
 * with Object.assign, which reads every getter, so a lazy getter built one DataLoader (~0.5 KB) per
 * WebSocket operation, for subscriptions that never read. An own object with prototype methods
 * survives that copy and costs two fields until a resolver reads.
 */
class LazyPresenceLoader implements PresenceLoader {
  private loader: DataLoader<string, LoadedPresence> | undefined;
  constructor(
    private readonly engine: PresenceEngine,
    private readonly viewerId: string | null,
  ) {}
  private get(): DataLoader<string, LoadedPresence> {
    // Cache on: a request naming one id twice reads it once and sees one answer.
    return (this.loader ??= new DataLoader((ids) => this.engine.load(this.viewerId, ids), { maxBatchSize: 10_000 }));
  }
  load(id: string): Promise<LoadedPresence> {
    return this.get().load(id);
  }
  loadMany(ids: ArrayLike<string>): Promise<(LoadedPresence | Error)[]> {
    return this.get().loadMany(ids);
  }
}

export function createContext(services: Services, viewer: Viewer | null, session: Context['session'] = null): Context {
  const { config, engine } = services;
  const viewerId = viewer?.userId ?? null;
  const relation = (userId: string, friend: boolean): Relation => (userId === viewerId ? 'self' : friend ? 'friend' : 'other');
  let now: number | undefined;
  const presence = new LazyPresenceLoader(engine, viewerId);
  return {
    ...services,
    viewer,
    session,
    // The DataLoader is created on first use: a subscription's context lives as long as its socket and rarely reads.
    presence,
    // One instant per request: an id named twice reads the same, lastActiveAt included.
    view: (userId, loaded) => project(userId, loaded.record, relation(userId, loaded.friend), config.visibility, (now ??= Date.now())),
    async views(ids) {
      // Both go into one engine.load (DataLoader batches what is asked in one tick).
      const [self, loaded] = await Promise.all([viewerId === null ? null : presence.load(viewerId), presence.loadMany(ids)]);
      const viewerNobody = self?.record?.x?.nobody ?? false;
      const at = (now ??= Date.now());
      const plain = { viewerNobody };
      const hidden = { viewerNobody, hidden: true };
      return loaded.map((l, i) => {
        if (l instanceof Error) throw l;
        const id = ids[i]!;
        return project(id, l.record, relation(id, l.friend), config.visibility, at, l.hidden ? hidden : plain);
      });
    },
  };
}
