import DataLoader from 'dataloader';
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
  presence: DataLoader<string, LoadedPresence>;
  /** The viewer's view of `userId`, applying the visibility rule. */
  view(userId: string, loaded: LoadedPresence): PresenceView;
}

/** What every context shares: built once per app. */
export type Services = Pick<Context, 'config' | 'engine' | 'metrics' | 'watch'>;

export function createContext(services: Services, viewer: Viewer | null, session: Context['session'] = null): Context {
  const { config, engine } = services;
  const viewerId = viewer?.userId ?? null;
  const relation = (userId: string, friend: boolean): Relation =>
    userId === viewerId ? 'self' : friend ? 'friend' : 'other';
  let loader: DataLoader<string, LoadedPresence> | undefined;
  let now: number | undefined;
  return {
    ...services,
    viewer,
    session,
    // Created on first use: a subscription's context lives as long as its socket and rarely reads.
    // Cache on: a request naming one id twice reads it once and sees one answer.
    get presence() {
      return (loader ??= new DataLoader((ids) => engine.load(viewerId, ids), { maxBatchSize: 10_000 }));
    },
    // One instant per request: an id named twice reads the same, lastActiveAt included.
    view: (userId, loaded) => project(userId, loaded.record, relation(userId, loaded.friend), config.visibility, (now ??= Date.now())),
  };
}
